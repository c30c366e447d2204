/**
 * What Node and the browser share about @vladmandic/human: its configuration for this project
 * (BlazeFace, optionally FaceMesh, everything else off) and the conversion of its faces to boxes.
 * Pure: no package loading here (see human-node.ts and human-web.ts).
 */
import type { FaceBox, RgbImage } from '../types.js';

/** The slice of human's face result the project reads. */
export interface HumanFaceLike {
  box: [number, number, number, number];
  score: number;
  boxScore: number;
  mesh: [number, number, number][];
}

/** The slice of a loaded Human the detectors use. */
export interface HumanDetectLike {
  detect(input: unknown): Promise<{ face: HumanFaceLike[] }>;
  tf: { tensor3d(data: Uint8Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void } };
}

export interface HumanConfigOptions {
  backend: string;
  wasmPath: string;
  modelBasePath: string;
  /** Run FaceMesh after BlazeFace. */
  mesh: boolean;
  maxFaces: number;
  /** human's own box-score threshold (the project filters again on its own scores). */
  minConfidence: number;
  /** Extra top-level settings (e.g. the browser's `warmup`). */
  extra?: Record<string, unknown>;
}

/** human's configuration: face detection (and mesh), every other model off, no result caching. */
export function humanConfig(o: HumanConfigOptions): Record<string, unknown> {
  return {
    backend: o.backend,
    wasmPath: o.wasmPath,
    modelBasePath: o.modelBasePath,
    debug: false,
    cacheSensitivity: 0,
    ...o.extra,
    face: {
      enabled: true,
      detector: { rotation: false, maxDetected: o.maxFaces, minConfidence: o.minConfidence, return: false },
      mesh: { enabled: o.mesh },
      iris: { enabled: false },
      description: { enabled: false },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      attention: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
    filter: { enabled: false },
  };
}

/**
 * A raw detector over a loaded Human: boxes in the given image's pixels. With the mesh, the box
 * is the bounding box of FaceMesh's points and the score human's face score; without, BlazeFace's
 * box and score. Faces under `minScore` are dropped.
 */
export function humanBoxes(human: HumanDetectLike, mesh: boolean, minScore: number): (image: RgbImage) => Promise<FaceBox[]> {
  return async (image) => {
    const t = human.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
    let faces: HumanFaceLike[];
    try {
      faces = (await human.detect(t)).face;
    } finally {
      t.dispose();
    }
    const out: FaceBox[] = [];
    for (const f of faces) {
      const score = mesh ? f.score : f.boxScore;
      if (!(score >= minScore)) continue;
      out.push(mesh && f.mesh.length ? meshBox(f.mesh, score) : { x: f.box[0], y: f.box[1], width: f.box[2], height: f.box[3], score });
    }
    return out;
  };
}

/** Bounding box of mesh points (pixel centres → pixel edges: +0.5 on each side). */
function meshBox(points: [number, number, number][], score: number): FaceBox {
  let l = Infinity, t = Infinity, r = -Infinity, b = -Infinity;
  for (const [x, y] of points) {
    if (x < l) l = x;
    if (x > r) r = x;
    if (y < t) t = y;
    if (y > b) b = y;
  }
  return { x: l - 0.5, y: t - 0.5, width: r - l + 1, height: b - t + 1, score };
}
