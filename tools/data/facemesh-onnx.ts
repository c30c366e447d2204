/**
 * The FaceMesh teacher on onnxruntime-node: MediaPipe's FaceMesh v1 (468 points,
 * `<shared>/reference/mediapipe/onnx/face_landmark.onnx`, read at run time, never copied into the
 * repo) on crops found by the product's own BlazeFace detector (src/detect), with MediaPipe's crop
 * rule. A labelling tool, not part of the shipped product. A third less CPU per photo than FaceMesh through
 * @vladmandic/human on tfjs-wasm (facemesh.ts), whose points it reproduces (docs/labels-format.md).
 *
 * Crop rule (MediaPipe's face_detection_front_detection_to_roi and face_landmark_landmarks_to_roi):
 * - pass 1: the detector's box centre; rotation from the right eye to the left eye keypoint (the
 *   eye line made horizontal); side 1.5 × the box's longer side;
 * - later passes (up to `passes`, default 3): MediaPipe's tracking ROI from the previous pass's
 *   points: centre of the 468 points' axis-aligned box, rotation from vertex 33 to vertex 263, side
 *   1.5 × the box's longer side. The model is trained on such crops. The product's detector boxes
 *   frame-filling chips tightly, so the first crop is too small; each pass corrects part of that.
 *
 * Model input: 1 × 3 × 192 × 192 RGB in 0..1 (checked against human on the same crops); output
 * 1404 = 468 × (x, y, z) in input pixels (pixel edges, 0..192) and a face-presence logit.
 *
 * Frames of the result (as facemesh.ts): photo pixels, x right, y down, origin at the centre of the
 * top-left pixel; z towards the camera (larger = nearer) in photo pixels: raw z × (−S / 192), S the
 * crop side, FaceMesh's own offset (≈ 0 at the face's centre plane).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createDetector } from '../../src/detect/create-node.js';
import type { Detector } from '../../src/detect/detector.js';
import { ModelError } from '../../src/errors.js';
import type { FaceBox, RgbImage } from '../../src/types.js';
import { FACEMESH_INPUT, type Box, type FaceMeshFace } from './facemesh.js';
import { sharedDir } from './tddfa.js';

/** A rotated square region of the photo (pixel-edge frame: the photo spans 0..width). */
export interface MeshRoi {
  cx: number;
  cy: number;
  side: number;
  /** Radians; the crop's x axis in the photo is (cos, sin). */
  angle: number;
}

export interface OnnxFaceMeshFace extends FaceMeshFace {
  /** The region the points come from (last pass). */
  roi: MeshRoi;
  /** Distance between the eye centres (mean of each eye's corners, vertices 33/133 and 362/263), px. */
  eyeDistance: number;
}

export interface FaceMeshOnnxOptions {
  shared?: string;
  /** Lowest FaceMesh face probability kept (default 0.5). */
  minScore?: number;
  /**
   * Most passes (default 3): pass 1 crops from the detector, each later pass from the previous
   * pass's points (MediaPipe's tracking ROI); it stops early once the region moves by less than 1 %
   * of its side.
   */
  passes?: number;
  /**
   * When no face reaches FaceMesh score 0.5, run FaceMesh once more from the whole photo as its
   * first region (default true; recovers most UTKFace chips the detector misses).
   */
  wholeImageFallback?: boolean;
  /** Detector's lowest score (default 0.5, the product's). */
  detectorMinScore?: number;
  /** Intra-op threads of both sessions (default 1: labelling runs one process per core). */
  threads?: number;
  /** The model's input range (default '0..1', which matches human; '-1..1' only for that check). */
  inputRange?: '0..1' | '-1..1';
}

export interface FaceMeshOnnx {
  /** Every face, largest first (duplicates of one face removed). */
  detect(image: RgbImage): Promise<OnnxFaceMeshFace[]>;
  /** FaceMesh on one region: 468 × 3 points (photo frame, z in px towards the camera) and the face probability. */
  meshOnRoi(image: RgbImage, roi: MeshRoi, border?: 'edge' | 'black'): Promise<{ points: Float32Array; score: number }>;
  detector: Detector;
}

/** The side factor of MediaPipe's face ROI (RectTransformationCalculator scale 1.5, square_long). */
export const MESH_ROI_SCALE = 1.5;

/** MediaPipe's pass-1 ROI from a detection's box and its eye keypoints (subject's right eye first). */
export function roiFromDetection(box: Pick<FaceBox, 'x' | 'y' | 'width' | 'height'>, keypoints?: Float32Array): MeshRoi {
  // The product's keypoints are pixel-centre coordinates; boxes are pixel edges.
  const angle = keypoints && keypoints.length >= 4 ? Math.atan2(keypoints[3] - keypoints[1], keypoints[2] - keypoints[0]) : 0;
  return { cx: box.x + box.width / 2, cy: box.y + box.height / 2, side: MESH_ROI_SCALE * Math.max(box.width, box.height), angle };
}

/** MediaPipe's tracking ROI from 468 points (photo frame): their box's centre, rotation 33 → 263, 1.5 × the longer side. */
export function roiFromPoints(points: Float32Array): MeshRoi {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < 468; i++) {
    const x = points[3 * i] + 0.5, y = points[3 * i + 1] + 0.5;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  const angle = Math.atan2(points[3 * 263 + 1] - points[3 * 33 + 1], points[3 * 263] - points[3 * 33]);
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, side: MESH_ROI_SCALE * Math.max(x1 - x0, y1 - y0), angle };
}

/** Distance between the eye centres of 468 points (corners 33/133 and 362/263). */
export function eyeDistance468(p: Float32Array): number {
  const lx = (p[3 * 33] + p[3 * 133]) / 2, ly = (p[3 * 33 + 1] + p[3 * 133 + 1]) / 2;
  const rx = (p[3 * 362] + p[3 * 263]) / 2, ry = (p[3 * 362 + 1] + p[3 * 263 + 1]) / 2;
  return Math.hypot(rx - lx, ry - ly);
}

/**
 * Samples a rotated square region of the photo into a 3 × n × n float planar tensor, values 0..1,
 * bilinear; outside the photo: the nearest edge pixel ('edge', MediaPipe's replicate border) or black.
 */
export function sampleRoi(image: RgbImage, roi: MeshRoi, n: number, out: Float32Array, border: 'edge' | 'black' = 'edge', range: '0..1' | '-1..1' = '0..1'): void {
  const { width: w, height: h, data } = image;
  const s = roi.side / n;
  const c = Math.cos(roi.angle) * s, sn = Math.sin(roi.angle) * s;
  const plane = n * n;
  const k = range === '0..1' ? 1 / 255 : 2 / 255;
  const lo = range === '0..1' ? 0 : -1;
  for (let v = 0; v < n; v++) {
    const dv = v + 0.5 - n / 2;
    for (let u = 0; u < n; u++) {
      const du = u + 0.5 - n / 2;
      // Pixel-edge photo point, then pixel-centre sample coordinates.
      let x = roi.cx + c * du - sn * dv - 0.5;
      let y = roi.cy + sn * du + c * dv - 0.5;
      const o = v * n + u;
      if (border === 'black' && (x < -0.5 || y < -0.5 || x > w - 0.5 || y > h - 0.5)) {
        out[o] = lo; out[o + plane] = lo; out[o + 2 * plane] = lo;
        continue;
      }
      x = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
      y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
      const fx = x - x0, fy = y - y0;
      const a = (y0 * w + x0) * 3, b = (y0 * w + x1) * 3, cc = (y1 * w + x0) * 3, d = (y1 * w + x1) * 3;
      const wa = (1 - fx) * (1 - fy), wb = fx * (1 - fy), wc = (1 - fx) * fy, wd = fx * fy;
      for (let ch = 0; ch < 3; ch++) {
        out[o + ch * plane] = (data[a + ch] * wa + data[b + ch] * wb + data[cc + ch] * wc + data[d + ch] * wd) * k + lo;
      }
    }
  }
}

/** Maps the model's 1404 raw outputs (input pixels, pixel edges) to the photo frame (pixel centres, z px towards the camera). */
export function roiPointsToPhoto(raw: Float32Array, roi: MeshRoi, out = new Float32Array(468 * 3)): Float32Array {
  const s = roi.side / FACEMESH_INPUT;
  const c = Math.cos(roi.angle) * s, sn = Math.sin(roi.angle) * s;
  for (let i = 0; i < 468; i++) {
    const du = raw[3 * i] - FACEMESH_INPUT / 2, dv = raw[3 * i + 1] - FACEMESH_INPUT / 2;
    out[3 * i] = roi.cx + c * du - sn * dv - 0.5;
    out[3 * i + 1] = roi.cy + sn * du + c * dv - 0.5;
    out[3 * i + 2] = -raw[3 * i + 2] * s;
  }
  return out;
}

function roiBox(roi: MeshRoi): Box {
  return { x: roi.cx - roi.side / 2 - 0.5, y: roi.cy - roi.side / 2 - 0.5, width: roi.side, height: roi.side };
}

function pointsIou(a: Float32Array, b: Float32Array): number {
  const box = (p: Float32Array) => {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < p.length; i += 3) {
      x0 = Math.min(x0, p[i]); x1 = Math.max(x1, p[i]); y0 = Math.min(y0, p[i + 1]); y1 = Math.max(y1, p[i + 1]);
    }
    return [x0, y0, x1, y1];
  };
  const [a0, a1, a2, a3] = box(a), [b0, b1, b2, b3] = box(b);
  const iw = Math.max(0, Math.min(a2, b2) - Math.max(a0, b0)), ih = Math.max(0, Math.min(a3, b3) - Math.max(a1, b1));
  const inter = iw * ih;
  const u = (a2 - a0) * (a3 - a1) + (b2 - b0) * (b3 - b1) - inter;
  return u > 0 ? inter / u : 0;
}

const cache = new Map<string, Promise<FaceMeshOnnx>>();

/** Loads the FaceMesh ONNX session and the product's detector once per option set. */
export function loadFaceMeshOnnx(options: FaceMeshOnnxOptions = {}): Promise<FaceMeshOnnx> {
  const key = JSON.stringify(options);
  let p = cache.get(key);
  if (!p) {
    p = createFaceMeshOnnx(options);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** The model file: `<shared>/reference/mediapipe/onnx/face_landmark.onnx`. */
export function faceMeshOnnxPath(shared = sharedDir()): string {
  return join(shared, 'reference', 'mediapipe', 'onnx', 'face_landmark.onnx');
}

async function createFaceMeshOnnx(options: FaceMeshOnnxOptions): Promise<FaceMeshOnnx> {
  const path = faceMeshOnnxPath(options.shared ?? sharedDir());
  const threads = options.threads ?? 1;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(new Uint8Array(await readFile(path)), {
      intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    });
  } catch (e) {
    throw new ModelError(`cannot load FaceMesh (${(e as Error).message})`, path);
  }
  const detector = await createDetector({ kind: 'blazeface', threads, minScore: options.detectorMinScore ?? 0.5 });
  const minScore = options.minScore ?? 0.5;
  const passes = options.passes ?? 3;
  const wholeImageFallback = options.wholeImageFallback ?? true;
  const n = FACEMESH_INPUT;
  const input = new Float32Array(3 * n * n);
  const inName = session.inputNames[0], ptsName = session.outputNames[0], scoreName = session.outputNames[1];
  // One call at a time (the input buffer is shared).
  let queue: Promise<unknown> = Promise.resolve();

  async function meshOnRoi(image: RgbImage, roi: MeshRoi, border: 'edge' | 'black' = 'edge'): Promise<{ points: Float32Array; score: number }> {
    const run = queue.then(async () => {
      sampleRoi(image, roi, n, input, border, options.inputRange);
      const res = await session.run({ [inName]: new ort.Tensor('float32', input, [1, 3, n, n]) });
      const raw = res[ptsName].data as Float32Array;
      const logit = (res[scoreName].data as Float32Array)[0];
      return { points: roiPointsToPhoto(raw, roi), score: 1 / (1 + Math.exp(-logit)) };
    });
    queue = run.catch(() => undefined);
    return run;
  }

  /** FaceMesh from a first region, then up to `passes − 1` tracking passes. */
  async function refine(image: RgbImage, first: MeshRoi): Promise<{ roi: MeshRoi; r: { points: Float32Array; score: number } }> {
    let roi = first;
    let r = await meshOnRoi(image, roi);
    for (let pass = 2; pass <= passes && r.score >= minScore; pass++) {
      const next = roiFromPoints(r.points);
      const moved = Math.max(Math.hypot(next.cx - roi.cx, next.cy - roi.cy), Math.abs(next.side - roi.side)) / roi.side;
      if (pass > 2 && moved < 0.01) break;
      const r2 = await meshOnRoi(image, next);
      if (r2.score < minScore) break;
      roi = next; r = r2;
    }
    return { roi, r };
  }

  async function detect(image: RgbImage): Promise<OnnxFaceMeshFace[]> {
    const boxes = await detector.detect(image);
    const faces: OnnxFaceMeshFace[] = [];
    const add = (roi: MeshRoi, r: { points: Float32Array; score: number }, boxScore: number): void => {
      if (r.score < minScore || !r.points.every(Number.isFinite)) return;
      // The same face twice (two boxes, or the fallback below over an unsure face): the more
      // confident result stays.
      const same = faces.findIndex((f) => pointsIou(f.points, r.points) > 0.5);
      if (same >= 0) {
        if (faces[same].score >= r.score) return;
        faces.splice(same, 1);
      }
      faces.push({ points: r.points, box: roiBox(roi), cropSide: roi.side, score: r.score, boxScore, faceScore: r.score, roi, eyeDistance: eyeDistance468(r.points) });
    };
    for (const b of boxes) {
      const { roi, r } = await refine(image, roiFromDetection(b, b.keypoints));
      add(roi, r, b.score);
    }
    // No confident face from the detector (it misses ~1 % of UTKFace's frame-filling chips): FaceMesh
    // from the whole photo as its first region, as the tracker would; boxScore 0 marks such faces.
    if (wholeImageFallback && !faces.some((f) => f.score >= 0.5)) {
      const { roi, r } = await refine(image, { cx: image.width / 2, cy: image.height / 2, side: Math.max(image.width, image.height), angle: 0 });
      if (r.score >= 0.5) add(roi, r, 0);
    }
    return faces.sort((a, b) => b.cropSide - a.cropSide);
  }

  return { detect, meshOnRoi, detector };
}
