/**
 * What the HTTP thread sends to an inference worker and what comes back. Plain data, so that it
 * crosses the thread boundary by structured clone.
 */

/** Files `?format=` can ask for instead of the JSON faces. */
export const FILE_FORMATS = ['glb', 'obj', 'ply', 'posmap', 'frontal', 'mask', 'mat'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

export const CONTENT_TYPES: Record<FileFormat | 'json', string> = {
  json: 'application/json; charset=utf-8',
  glb: 'model/gltf-binary',
  obj: 'model/obj',
  ply: 'application/octet-stream',
  posmap: 'application/octet-stream',
  frontal: 'model/obj',
  mask: 'image/png',
  mat: 'application/x-matlab-data',
};

/** The attachment's file name after `face<i>` (the CLI's face file endings). */
export const FILE_ENDINGS: Record<FileFormat, string> = {
  glb: '.glb',
  obj: '.obj',
  ply: '.ply',
  posmap: '_posmap.npy',
  frontal: '_frontal.obj',
  mask: '_texture_mask.png',
  mat: '_mesh.mat',
};

/** Int32 slots of ReconstructTask.cancelled. */
export const TASK_FLAGS = 3;

export interface ReconstructTask {
  kind: 'reconstruct';
  /** The encoded image (any format sharp reads). */
  image: Uint8Array;
  /** A model name the workers loaded ('default', 'light', …). */
  model: string;
  maxFaces?: number;
  flip: boolean;
  /** Smoothing σ in UV pixels (undefined: the model's default). */
  smooth?: number;
  /** 'json' for every face as JSON, else that file for one face. */
  format: FileFormat | 'json';
  /** The face whose file is returned (default 0, the largest). */
  face?: number;
  /** Largest image decoded, in pixels (the server's maxPixels; the header check already applied it). */
  maxPixels: number;
  /** Epoch milliseconds after which the answer is no longer wanted (a queued task is skipped). */
  deadline: number;
  /**
   * Shared flags: [0] set to 1 by the HTTP thread when the client went away or the deadline
   * passed (a task not started yet is skipped, a running one stops at its next step: the
   * pipeline's `signal`); [1] set to 1 by the worker when it starts the task; [2] 1 while the
   * worker is inside the pipeline (onnxruntime: its thread must not be ended there, which aborts
   * the process). TASK_FLAGS Int32s.
   */
  cancelled: Int32Array;
}

/** Answers once the worker's models are loaded (used by /readyz). */
export interface PingTask {
  kind: 'ping';
}

export type WorkerTask = ReconstructTask | PingTask;

export type TaskResult =
  | { ok: true; body: string | Uint8Array; faces: number; ms: number }
  | { ok: false; status: number; code: string; message: string };
