/** Resampling between the image and crop frames. Pure typed-array code (shared with the browser). */
import type { FloatImage, PositionMap, RgbImage } from '../types.js';
import type { CropTransform } from './transform.js';

/**
 * The crop as the network's input: size × size RGB floats in 0..1, bilinear, black (0) outside the
 * image, as the original (skimage `warp(image / 255, tform.inverse, order=1, mode='constant')`):
 * each of the four neighbours of a sample point counts as 0 where it lies outside the image.
 */
export function warpCrop(image: RgbImage, t: CropTransform, size = t.size): FloatImage {
  const { width: w, height: h, data: src } = image;
  const out = new Float32Array(size * size * 3);
  // If asked for another size than the transform's, scale crop pixels onto the transform's frame.
  const r = size === t.size ? 1 : (t.size - 1) / (size - 1);
  const [a, b, c, d, e, f] = t.inverse;
  const k = 1 / 255;
  let o = 0;
  for (let v = 0; v < size; v++) {
    const vv = v * r;
    for (let u = 0; u < size; u++, o += 3) {
      const uu = u * r;
      const x = a * uu + b * vv + c;
      const y = d * uu + e * vv + f;
      if (!(x > -1 && y > -1 && x < w && y < h)) continue; // all four neighbours outside (also NaN)
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
        // All four neighbours inside (most of a crop): the same sums without the edge tests.
        const w00 = (1 - fx) * (1 - fy);
        const w10 = fx * (1 - fy);
        const w01 = (1 - fx) * fy;
        const w11 = fx * fy;
        const i00 = (y0 * w + x0) * 3;
        const i01 = i00 + w * 3;
        out[o] = (w00 * src[i00] + w10 * src[i00 + 3] + w01 * src[i01] + w11 * src[i01 + 3]) * k;
        out[o + 1] = (w00 * src[i00 + 1] + w10 * src[i00 + 4] + w01 * src[i01 + 1] + w11 * src[i01 + 4]) * k;
        out[o + 2] = (w00 * src[i00 + 2] + w10 * src[i00 + 5] + w01 * src[i01 + 2] + w11 * src[i01 + 5]) * k;
        continue;
      }
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
        out[o + ch] = s * k;
      }
    }
  }
  return { width: size, height: size, data: out };
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

/** A crop-frame point (or position-map value) back in the image frame: [x, y, z]. */
export function uncropPoint(t: CropTransform, x: number, y: number, z = 0): [number, number, number] {
  const m = t.inverse;
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5], z / t.scale];
}
