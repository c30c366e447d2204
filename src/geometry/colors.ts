/** Vertex colours sampled from an image. */
import type { RgbImage } from '../types.js';

/**
 * The colour of the image under each vertex, N×3 in 0..1: bilinear interpolation at (x, y) in
 * image pixels (pixel (i, j) has its centre at x = i, y = j), with x, y clamped to the image
 * (so points outside take the nearest border colour). z is ignored. A vertex with a non-finite x
 * or y gets colour 0.
 */
export function sampleColors(image: RgbImage, vertices: Float32Array): Float32Array {
  const { width: w, height: h, data } = image;
  const n = Math.floor(vertices.length / 3);
  const out = new Float32Array(n * 3);
  const s = 1 / 255;
  for (let i = 0; i < n; i++) {
    let x = vertices[3 * i];
    let y = vertices[3 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    x = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
    y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const x1 = x0 + 1 < w ? x0 + 1 : x0;
    const y1 = y0 + 1 < h ? y0 + 1 : y0;
    const fx = x - x0;
    const fy = y - y0;
    const p00 = 3 * (y0 * w + x0);
    const p01 = 3 * (y0 * w + x1);
    const p10 = 3 * (y1 * w + x0);
    const p11 = 3 * (y1 * w + x1);
    const w00 = (1 - fx) * (1 - fy);
    const w01 = fx * (1 - fy);
    const w10 = (1 - fx) * fy;
    const w11 = fx * fy;
    for (let c = 0; c < 3; c++) {
      out[3 * i + c] = (w00 * data[p00 + c] + w01 * data[p01 + c] + w10 * data[p10 + c] + w11 * data[p11 + c]) * s;
    }
  }
  return out;
}
