/** Resampling between the image and crop frames. Pure typed-array code (shared with the browser). */
import type { FloatImage, PositionMap, RgbImage } from '../types.js';
import type { CropTransform } from './transform.js';
import { mirrorImage } from '../geometry/flip.js';
import { enlargeRows, hwcToChw, resizeSquare } from '../runtime/resample.js';

/**
 * The crop as the network's input: size × size RGB floats in 0..1, bilinear, black (0) outside the
 * image, as the original (skimage `warp(image / 255, tform.inverse, order=1, mode='constant')`):
 * each of the four neighbours of a sample point counts as 0 where it lies outside the image.
 */
export function warpCrop(image: RgbImage, t: CropTransform, size = t.size): FloatImage {
  const out = new Float32Array(size * size * 3);
  warpInto(image, t, size, out, 0, 3, 1);
  return { width: size, height: size, data: out };
}

/**
 * warpCrop's samples written into `out` from `offset` on: pixel p's channel c at
 * offset + p · pixelStride + c · channelStride (3, 1: interleaved HWC; 1, size²: planar CHW, the
 * network's layout). Every sample is written (0 outside the image), so `out` may hold old values.
 * The same arithmetic as warpCrop's, so the same values.
 */
function warpInto(image: RgbImage, t: CropTransform, size: number, out: Float32Array, offset: number, pixelStride: number, channelStride: number): void {
  const { width: w, height: h, data: src } = image;
  // If asked for another size than the transform's, scale crop pixels onto the transform's frame.
  const r = size === t.size ? 1 : (t.size - 1) / (size - 1);
  const [a, b, c, d, e, f] = t.inverse;
  const k = 1 / 255;
  const c1 = channelStride;
  const c2 = 2 * channelStride;
  if (b === 0 && d === 0) {
    // An upright crop (every box crop): x depends on the column alone and y on the row alone, so
    // the sample positions, neighbours and weights are worked out once per column and per row.
    // b·v and d·u are +0 for the crop's v, u ≥ 0, as written here: the same x and y as below.
    const x0s = new Int32Array(size);
    const fxs = new Float64Array(size);
    const colState = new Uint8Array(size); // 0: all neighbours outside, 1: at the edge, 2: inside
    for (let u = 0; u < size; u++) {
      const x = a * (u * r) + b * 0 + c;
      const x0 = Math.floor(x);
      x0s[u] = x0;
      fxs[u] = x - x0;
      colState[u] = !(x > -1 && x < w) ? 0 : x0 >= 0 && x0 + 1 < w ? 2 : 1;
    }
    let o = offset;
    for (let v = 0; v < size; v++) {
      const y = d * 0 + e * (v * r) + f;
      const rowOutside = !(y > -1 && y < h);
      const y0 = Math.floor(y);
      const fy = y - y0;
      const rowInside = y0 >= 0 && y0 + 1 < h;
      for (let u = 0; u < size; u++, o += pixelStride) {
        const state = colState[u];
        if (rowOutside || state === 0) {
          out[o] = out[o + c1] = out[o + c2] = 0;
          continue;
        }
        const x0 = x0s[u];
        const fx = fxs[u];
        if (rowInside && state === 2) {
          insideSample(src, w, x0, y0, fx, fy, out, o, c1, k);
          continue;
        }
        edgeSample(src, w, h, x0, y0, fx, fy, out, o, c1, k);
      }
    }
    return;
  }
  let o = offset;
  for (let v = 0; v < size; v++) {
    const vv = v * r;
    for (let u = 0; u < size; u++, o += pixelStride) {
      const uu = u * r;
      const x = a * uu + b * vv + c;
      const y = d * uu + e * vv + f;
      if (!(x > -1 && y > -1 && x < w && y < h)) {
        // All four neighbours outside (also NaN).
        out[o] = out[o + c1] = out[o + c2] = 0;
        continue;
      }
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
        // All four neighbours inside (most of a crop): the same sums without the edge tests.
        insideSample(src, w, x0, y0, fx, fy, out, o, c1, k);
        continue;
      }
      edgeSample(src, w, h, x0, y0, fx, fy, out, o, c1, k);
    }
  }
}

/** A sample whose four neighbours all lie inside the image (channels at o, o + cs, o + 2·cs). */
function insideSample(src: Uint8Array, w: number, x0: number, y0: number, fx: number, fy: number, out: Float32Array, o: number, cs: number, k: number): void {
  const gy = 1 - fy;
  const w00 = (1 - fx) * gy;
  const w10 = fx * gy;
  const w01 = (1 - fx) * fy;
  const w11 = fx * fy;
  const i00 = (y0 * w + x0) * 3;
  const i01 = i00 + w * 3;
  out[o] = (w00 * src[i00] + w10 * src[i00 + 3] + w01 * src[i01] + w11 * src[i01 + 3]) * k;
  out[o + cs] = (w00 * src[i00 + 1] + w10 * src[i00 + 4] + w01 * src[i01 + 1] + w11 * src[i01 + 4]) * k;
  out[o + 2 * cs] = (w00 * src[i00 + 2] + w10 * src[i00 + 5] + w01 * src[i01 + 2] + w11 * src[i01 + 5]) * k;
}

/** A sample some of whose four neighbours lie outside the image (they count as 0). */
function edgeSample(src: Uint8Array, w: number, h: number, x0: number, y0: number, fx: number, fy: number, out: Float32Array, o: number, cs: number, k: number): void {
  const inX0 = x0 >= 0;
  const inX1 = x0 + 1 < w;
  const inY0 = y0 >= 0;
  const inY1 = y0 + 1 < h;
  const w00 = inX0 && inY0 ? (1 - fx) * (1 - fy) : 0;
  const w10 = inX1 && inY0 ? fx * (1 - fy) : 0;
  const w01 = inX0 && inY1 ? (1 - fx) * fy : 0;
  const w11 = inX1 && inY1 ? fx * fy : 0;
  const i00 = (y0 * w + x0) * 3;
  const i10 = i00 + 3;
  const i01 = i00 + w * 3;
  const i11 = i01 + 3;
  for (let ch = 0; ch < 3; ch++) {
    let s = 0;
    if (w00) s += w00 * src[i00 + ch];
    if (w10) s += w10 * src[i10 + ch];
    if (w01) s += w01 * src[i01 + ch];
    if (w11) s += w11 * src[i11 + ch];
    out[o + ch * cs] = s * k;
  }
}

/** The 256² crop of writeCropInput's smaller inputs (reused; each call overwrites all of it). */
let scratch = new Float32Array(0);

/**
 * One crop as the network's input, written straight into an NCHW float batch `out` at `offset`
 * (3 planes of S × S): the values of warpCrop, shrunk to S when the network's input is smaller
 * (runtime/resample.ts's resizeSquare: the light model's 2 × 2 area average), in planar layout, as
 * hwcToChw of those would give. With `mirrorOffset` ≥ 0, also the mirrored crop there (as
 * mirrorImage of the crop, then the same): the test-time flip's second input. Bit for bit the
 * values of those steps, without their intermediate arrays (test/crop.test.ts).
 */
export function writeCropInput(image: RgbImage, t: CropTransform, S: number, out: Float32Array, offset: number, mirrorOffset = -1): void {
  const size = t.size;
  const plane = S * S;
  if (S === size) {
    warpInto(image, t, size, out, offset, 1, plane);
    if (mirrorOffset >= 0) {
      for (let ch = 0; ch < 3; ch++) {
        for (let v = 0; v < S; v++) {
          const from = offset + ch * plane + v * S;
          const to = mirrorOffset + ch * plane + v * S + S - 1;
          for (let u = 0; u < S; u++) out[to - u] = out[from + u];
        }
      }
    }
    return;
  }
  const n = size * size * 3;
  if (scratch.length !== n) scratch = new Float32Array(n);
  const crop = scratch;
  warpInto(image, t, size, crop, 0, 3, 1);
  if (2 * S === size) {
    shrinkHalfChw(crop, size, out, offset, false);
    if (mirrorOffset >= 0) shrinkHalfChw(crop, size, out, mirrorOffset, true);
    return;
  }
  hwcToChw(resizeSquare(crop, size, S, 3), S, 3, out, offset);
  if (mirrorOffset >= 0) hwcToChw(resizeSquare(mirrorImage({ width: size, height: size, data: crop }).data, size, S, 3), S, 3, out, mirrorOffset);
}

/**
 * resizeSquare's 2 × 2 area average of an interleaved size² crop (or of its mirror image), written
 * planar: each sum in the order resizeSquare takes it over the (mirrored) crop's pixels.
 */
function shrinkHalfChw(src: Float32Array, size: number, out: Float32Array, offset: number, mirrored: boolean): void {
  const S = size >> 1;
  const plane = S * S;
  const row = size * 3;
  const fr = Math.fround;
  for (let oy = 0, o = offset; oy < S; oy++) {
    const top = 2 * oy * row;
    const bottom = top + row;
    for (let ox = 0; ox < S; ox++, o++) {
      // The two source columns, in the order of the (mirrored) crop's pixels.
      const c0 = 3 * (mirrored ? size - 1 - 2 * ox : 2 * ox);
      const c1 = 3 * (mirrored ? size - 2 - 2 * ox : 2 * ox + 1);
      for (let ch = 0; ch < 3; ch++) {
        out[o + ch * plane] = fr(fr(fr(src[top + c0 + ch] + src[top + c1 + ch]) + src[bottom + c0 + ch]) + src[bottom + c1 + ch]) * 0.25;
      }
    }
  }
}

/**
 * A position map from the crop frame to the image frame (a new map): x, y through the inverse
 * affine, z divided by the scale (crop pixels per image pixel), as the original. The map's size
 * need not equal the crop's: its values, not its grid, are in crop pixels.
 */
export function uncropPositionMap(map: PositionMap, t: CropTransform): PositionMap {
  const src = map.data;
  const out = new Float32Array(src.length);
  const [a, b, c, d, e, f] = t.inverse;
  const iz = 1 / t.scale;
  for (let i = 0; i < src.length; i += 3) {
    const x = src[i];
    const y = src[i + 1];
    out[i] = a * x + b * y + c;
    out[i + 1] = d * x + e * y + f;
    out[i + 2] = src[i + 2] * iz;
  }
  return { size: map.size, data: out };
}

/**
 * uncropPositionMap of a smaller map enlarged to `size`² (resizeSquare's bilinear): both in one
 * pass, without the enlarged crop-frame map. The enlarged values are rounded to float32 before the
 * affine, as the stored map's would be, so the result is bit for bit uncropPositionMap(
 * { size, data: resizeSquare(map.data, map.size, size, 3) }, t).
 */
export function uncropEnlarged(map: PositionMap, t: CropTransform, size: number): PositionMap {
  if (!(size > map.size)) return uncropPositionMap({ size, data: resizeSquare(map.data, map.size, size, 3) }, t);
  const { rows, i0, i1, w1 } = enlargeRows(map.data, map.size, size);
  const out = new Float32Array(size * size * 3);
  const [a, b, c, d, e, f] = t.inverse;
  const iz = 1 / t.scale;
  const fr = Math.fround;
  const row = size * 3;
  for (let oy = 0, o = 0; oy < size; oy++) {
    const wy = w1[oy];
    const gy = 1 - wy;
    const top = i0[oy] * row;
    const bottom = i1[oy] * row;
    for (let j = 0; j < row; j += 3, o += 3) {
      const x = fr(rows[top + j] * gy + rows[bottom + j] * wy);
      const y = fr(rows[top + j + 1] * gy + rows[bottom + j + 1] * wy);
      const z = fr(rows[top + j + 2] * gy + rows[bottom + j + 2] * wy);
      out[o] = a * x + b * y + c;
      out[o + 1] = d * x + e * y + f;
      out[o + 2] = z * iz;
    }
  }
  return { size, data: out };
}

/** A crop-frame point (or position-map value) back in the image frame: [x, y, z]. */
export function uncropPoint(t: CropTransform, x: number, y: number, z = 0): [number, number, number] {
  const m = t.inverse;
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5], z / t.scale];
}
