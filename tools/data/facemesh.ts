/**
 * The FaceMesh teacher (BlazeFace + FaceMesh through @vladmandic/human on tfjs-wasm): per face, the
 * 468 MediaPipe points in image pixels with z converted to pixels towards the camera.
 *
 * Frames: image pixels, x right, y down; z towards the camera (larger = nearer), in the same pixel
 * scale as x and y, offset as FaceMesh gives it (about 0 near the face's centre plane).
 *
 * Conversions from human's result (version 3.3.6, read from its source):
 * - x, y of `mesh` are truncated to integers (Math.trunc) by human; `+0.5·sign` undoes the bias of
 *   the truncation on average (the points are otherwise unchanged);
 * - z of `mesh` is FaceMesh's raw z, in pixels of the 192-px model input, negative = nearer; the
 *   model input is a square crop of side S (the face box human used, `boxRaw` width × image width,
 *   not clamped to the image), so z_px = z · (−S / 192).
 */
import { pointsBounds } from '../../src/crop/rules.js';
import { loadHuman, type HumanFaceResult } from '../../src/detect/human-node.js';
import { padImage } from '../../src/detect/resize.js';
import type { RgbImage } from '../../src/types.js';

/** FaceMesh's model input side in pixels. */
export const FACEMESH_INPUT = 192;

/**
 * The 68 iBUG landmarks as FaceMesh vertex indices: human's own table (`VTX68` in
 * @vladmandic/human src/face/facemeshcoords.ts, v3.3.6): jaw 17, brows 10, nose 9, eyes 12, lips 20.
 */
export const FACEMESH_68: readonly number[] = [
  127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 454, 356,
  70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
  168, 6, 195, 4, 98, 97, 2, 326, 327,
  33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
  57, 40, 37, 0, 267, 270, 287, 321, 314, 17, 84, 91,
  78, 81, 13, 311, 308, 402, 14, 178,
];

/** A box in image pixels. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FaceMeshFace {
  /** 468 × 3: x, y image pixels; z pixels towards the camera. */
  points: Float32Array;
  /** The square face box human cropped for FaceMesh, image pixels, not clamped to the image. */
  box: Box;
  /** S, the side of that crop in image pixels (the z scale: 1 FaceMesh z unit = S/192 px). */
  cropSide: number;
  /** human's face score (the mesh model's confidence when the mesh ran). */
  score: number;
  boxScore: number;
  faceScore: number;
}

export interface FaceMeshOptions {
  /** Black border added around the photo before detection, pixels (default 50). */
  pad?: number;
  /** Faces with a lower score are left out (default 0: all that human returns). */
  minScore?: number;
}

function untrunc(v: number): number {
  return v === 0 ? 0 : v + 0.5 * Math.sign(v);
}

/** Converts one of human's face results on a padded image of width pw, height ph to image frame. */
export function convertHumanFace(f: HumanFaceResult & { boxRaw?: number[] }, pad: number, pw: number, ph: number): FaceMeshFace {
  const raw = f.boxRaw;
  const box: Box = raw
    ? { x: raw[0] * pw - pad, y: raw[1] * ph - pad, width: raw[2] * pw, height: raw[3] * ph }
    : { x: f.box[0] - pad, y: f.box[1] - pad, width: f.box[2], height: f.box[3] };
  const cropSide = (box.width + box.height) / 2;
  const zScale = -cropSide / FACEMESH_INPUT;
  const n = Math.min(468, f.mesh.length);
  const points = new Float32Array(468 * 3);
  for (let i = 0; i < n; i++) {
    const p = f.mesh[i];
    points[3 * i] = untrunc(p[0]) - pad;
    points[3 * i + 1] = untrunc(p[1]) - pad;
    points[3 * i + 2] = untrunc(p[2]) * zScale;
  }
  return { points, box, cropSide, score: f.score, boxScore: f.boxScore, faceScore: f.faceScore };
}

/**
 * Detects faces and runs FaceMesh on them. The photo gets a black border first (small tight chips
 * otherwise lose faces), and coordinates are mapped back to the photo. Faces come largest first.
 */
export async function detectFaceMesh(image: RgbImage, options: FaceMeshOptions = {}): Promise<FaceMeshFace[]> {
  const pad = options.pad ?? 50;
  const minScore = options.minScore ?? 0;
  const human = await loadHuman({ mesh: true });
  const padded = padImage(image, pad);
  const t = human.tf.tensor3d(padded.data, [padded.height, padded.width, 3], 'int32');
  let faces: HumanFaceResult[];
  try {
    faces = (await human.detect(t)).face;
  } finally {
    t.dispose();
  }
  return faces
    .filter((f) => f.mesh && f.mesh.length >= 468 && f.score >= minScore)
    .map((f) => convertHumanFace(f, pad, padded.width, padded.height))
    .sort((a, b) => b.cropSide - a.cropSide);
}

/**
 * FaceMesh's faces of an image as 68 landmarks each, detected once per image (a cache keyed by the
 * image object): the evaluations score them and seed 3DDFA_V2's crop from them.
 */
export function facemesh68Cache(): (image: RgbImage) => Promise<Float32Array[]> {
  const cache = new WeakMap<object, Promise<Float32Array[]>>();
  return (image) => {
    let p = cache.get(image);
    if (!p) {
      p = detectFaceMesh(image).then((faces) => faces.map((f) => facemesh68(f.points)));
      cache.set(image, p);
    }
    return p;
  };
}

/** FaceMesh's 68 iBUG points (68 × 3) picked from its 468 with human's table. */
export function facemesh68(points468: Float32Array): Float32Array {
  const out = new Float32Array(68 * 3);
  FACEMESH_68.forEach((v, k) => {
    out[3 * k] = points468[3 * v];
    out[3 * k + 1] = points468[3 * v + 1];
    out[3 * k + 2] = points468[3 * v + 2];
  });
  return out;
}

/** The axis-aligned box of the first `count` points (x, y) of an N × 3 array. */
export function pointsBox(points: Float32Array, count = points.length / 3): Box {
  const [x0, y0, x1, y1] = pointsBounds(points.subarray(0, 3 * count), 3);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
