/**
 * Test-time flip: a crop and its mirror image go through the network; the mirrored prediction is
 * mapped back through the layout's left-right correspondence and averaged with the direct one.
 * This cancels much of the network's left-right bias (measured on AFLW2000-3D: 68-point NME
 * 6.6 % → 5.4 % with the bundled model).
 */
import type { Layout } from '../layout/index.js';
import type { FloatImage, PositionMap } from '../types.js';

/** A crop mirrored left-right (x → size − 1 − x). */
export function mirrorImage(image: FloatImage): FloatImage {
  const { width, height, data } = image;
  const out = new Float32Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + (width - 1 - x) * 3;
      const d = row + x * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width, height, data: out };
}

/**
 * Averages a crop-frame position map with the map predicted for the mirrored crop: the surface
 * point at face pixel i is the mirror of the mirrored prediction's point at flip[i] (x → size − 1 − x).
 * Keypoint pixels use the 68-point mirror permutation. Other pixels keep the direct prediction.
 * `into` (optional, the maps' length, neither map's array) receives the result instead of a new array.
 */
export function mergeFlippedMap(direct: PositionMap, mirrored: PositionMap, layout: Pick<Layout, 'faceIndex' | 'flip' | 'kptIndex' | 'kptFlip'>, into?: Float32Array): PositionMap {
  const size = direct.size;
  if (mirrored.size !== size) throw new RangeError(`maps differ in size: ${size} vs ${mirrored.size}`);
  const a = direct.data;
  const b = mirrored.data;
  const usable = into && into.length === a.length && into.buffer !== a.buffer && into.buffer !== b.buffer;
  const out = usable ? into : new Float32Array(a.length);
  out.set(a);
  const last = size - 1;
  const merge = (p: number, q: number): void => {
    out[3 * p] = 0.5 * (a[3 * p] + last - b[3 * q]);
    out[3 * p + 1] = 0.5 * (a[3 * p + 1] + b[3 * q + 1]);
    out[3 * p + 2] = 0.5 * (a[3 * p + 2] + b[3 * q + 2]);
  };
  const { faceIndex, flip, kptIndex, kptFlip } = layout;
  for (let i = 0; i < faceIndex.length; i++) merge(faceIndex[i], faceIndex[flip[i]]);
  for (let k = 0; k < kptIndex.length; k++) merge(kptIndex[k], kptIndex[kptFlip[k]]);
  return { size, data: out };
}

/**
 * How far the direct and the mirrored predictions of a face disagree: the mean distance (x, y) of
 * the 68 landmarks from their mirrored counterparts mapped back (as mergeFlippedMap maps them), in
 * mean sides of the direct landmarks' box. 0 for a network that is exactly mirror-consistent; a
 * face the network gets wrong usually disagrees more (docs/evaluation.md §0.11).
 */
export function flipDisagreement(direct: PositionMap, mirrored: PositionMap, layout: Pick<Layout, 'kptIndex' | 'kptFlip'>): number {
  if (mirrored.size !== direct.size) throw new RangeError(`maps differ in size: ${direct.size} vs ${mirrored.size}`);
  const a = direct.data;
  const b = mirrored.data;
  const last = direct.size - 1;
  const { kptIndex, kptFlip } = layout;
  let sum = 0;
  let l = Infinity, r = -Infinity, t = Infinity, bo = -Infinity;
  for (let k = 0; k < kptIndex.length; k++) {
    const p = 3 * kptIndex[k];
    const q = 3 * kptIndex[kptFlip[k]];
    sum += Math.hypot(a[p] - (last - b[q]), a[p + 1] - b[q + 1]);
    l = Math.min(l, a[p]);
    r = Math.max(r, a[p]);
    t = Math.min(t, a[p + 1]);
    bo = Math.max(bo, a[p + 1]);
  }
  const side = (r - l + (bo - t)) / 2;
  return side > 0 ? sum / kptIndex.length / side : NaN;
}
