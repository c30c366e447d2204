/** Messages between the page and the inference worker (worker.ts). */
import type { ExecutionBackend, Precision } from '../../src/browser.js';

export type ModelName = 'default' | 'light';

export interface InitRequest {
  type: 'init';
  /** The app's root URL (models, layout and wasm files lie under it). */
  base: string;
  model: ModelName;
  backends: ExecutionBackend[];
  threads?: number;
  /** Network precision; default the model file's (int8 for the default model, fp32 for the light one). */
  precision?: Precision;
  /**
   * onnxruntime-web's binary: 'jsep' (WebGPU and WebAssembly) or 'plain' (WebAssembly only: half
   * the download, full speed sooner). Default: plain when the backends are WebAssembly only.
   */
  ortBuild?: 'jsep' | 'plain';
}

export interface FrameRequest {
  type: 'frame';
  /**
   * RGB pixels (3 bytes each, row-major), transferred. The page drops ImageData's alpha itself: it
   * has a core to spare, while the worker's thread is the frame's critical path.
   */
  rgb: ArrayBuffer;
  width: number;
  height: number;
  /** Frame time, milliseconds. */
  time: number;
  /**
   * A video file's own time of the frame (its currentTime, milliseconds): a recording uses it, so
   * the GLB's keys fall at the video's times (in step with the clip in Blender), a pause does not
   * count, and a loop ends the recording. Absent for the camera (the recording uses `time`).
   */
  mediaTime?: number;
  /** The page's sequence number of the frame (a download names the one shown by it). */
  seq: number;
  /** 'video': track and stabilise across frames; 'still': detect every face of one image. */
  mode: 'video' | 'still';
  stabilize: boolean;
  /** Test-time flip: also run the mirrored crop and average (twice the network's time, steadier). */
  flip: boolean;
  maxFaces: number;
}

export interface ExportRequest {
  type: 'export';
  kind: 'obj' | 'glb' | 'json';
  stem: string;
  /**
   * The frame to export, by its FrameRequest seq (the one the page shows); no files when the worker
   * no longer holds it. Default: the newest result.
   */
  seq?: number;
}

export interface ResetRequest {
  type: 'reset';
}

/**
 * Recording the face's motion as an animated GLB (the head's pose on a node, the expression in
 * shape keys: src/export/track-animation.ts). 'start': from the next video frame on, the largest
 * tracked face's frames are kept (its track followed; when it is lost, the largest face present is
 * taken up), for at most MAX_RECORD_SECONDS; 'stop': a FilesReply with `<stem>.glb` (no files when
 * no face was kept); 'cancel': dropped. A reset or a new model drops it too. The keys' times: a
 * video file's own (FrameRequest.mediaTime, from where the recording started in the clip), the
 * camera's from its first recorded frame.
 */
export interface RecordRequest {
  type: 'record';
  action: 'start' | 'stop' | 'cancel';
  /** The file's stem ('stop'). */
  stem?: string;
}

/**
 * The longest recording, seconds (at 30 frames/s about 100 MB of frames in the worker), counted on
 * the keys' times: a video file's own, the camera frames' send times.
 */
export const MAX_RECORD_SECONDS = 60;

export type WorkerRequest = InitRequest | FrameRequest | ExportRequest | ResetRequest | RecordRequest;

export interface ReadyReply {
  type: 'ready';
  backend: ExecutionBackend;
  threads: number;
  crossOriginIsolated: boolean;
  model: ModelName;
  /** The precision the network runs at. */
  precision: Precision;
  /** onnxruntime-web's binary in use. */
  ortBuild: 'jsep' | 'plain';
  /** The model file's name metadata (random stand-ins say so). */
  modelName: string;
  width: number;
  inputSize: number;
  loadMs: number;
  /** T×3 triangles over the dense vertices, and the vertex count. */
  triangles: Int32Array;
  vertexCount: number;
  /** The UV layout: side, and each vertex's texel (row-major index). */
  layoutSize: number;
  faceIndex: Int32Array;
}

export interface FaceMessage {
  trackId: number;
  box: { x: number; y: number; width: number; height: number };
  /** 68×3, image pixels. */
  landmarks: Float32Array;
  /** N×3 dense vertices, image pixels (x right, y down, z towards the camera). */
  vertices: Float32Array;
  yaw: number;
  pitch: number;
  roll: number;
  rotation: number[];
  scale: number;
  translation: number[];
  still: boolean;
  /**
   * With test-time flip only: how far the direct and the mirrored predictions of the landmarks lie
   * apart (Face.flipDisagreement). Its presence shows that the mirrored crop ran.
   */
  flipDisagreement?: number;
  /** For a face the detector's keypoints can check (a photo's, or a video frame's the detector ran for): Face.keypointDisagreement. */
  keypointDisagreement?: number;
  /** Face.suspect: a quality signal over its threshold; absent where the face has neither signal. */
  suspect?: boolean;
}

export interface FrameTimings {
  detect: number;
  crop: number;
  network: number;
  readoff: number;
  stabilize: number;
  /** Everything the worker did for the frame, conversion included. */
  total: number;
}

export interface ResultReply {
  type: 'result';
  faces: FaceMessage[];
  timings: FrameTimings;
  detected: boolean;
  /**
   * While recording: the frames kept so far, the seconds they span, and why it takes no more frames
   * (the limit reached, or the video went back: a loop or a seek), if it has stopped.
   */
  recording?: { frames: number; seconds: number; stopped?: 'limit' | 'loop' };
}

export interface FilesReply {
  type: 'files';
  files: { name: string; data: Uint8Array | string }[];
}

export interface ErrorReply {
  type: 'error';
  message: string;
}

export type WorkerReply = ReadyReply | ResultReply | FilesReply | ErrorReply;
