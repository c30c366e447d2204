/** Downscaling for detection. Pure typed-array code (shared with the browser). */
import type { RgbImage } from '../types.js';

/** Default long side of the copy a detector sees (see docs/detectors.md). */
export const DETECT_MAX_SIDE = 640;

/**
 * A copy of `image` whose long side is at most `maxSide` (area-averaged, so small faces keep their
 * contrast), and the factors from the copy's pixels back to the image's: x_image = x_copy · scaleX
 * for lengths and for coordinates measured from the image's edge (as detectors' boxes are);
 * (x_copy + 0.5) · scaleX − 0.5 for pixel-centre coordinates. Returns the image itself (factors 1)
 * when it is small enough.
 */
export function downscaleToFit(image: RgbImage, maxSide = DETECT_MAX_SIDE): { image: RgbImage; scaleX: number; scaleY: number } {
  const long = Math.max(image.width, image.height);
  if (long <= maxSide) return { image, scaleX: 1, scaleY: 1 };
  const s = maxSide / long;
  const w = Math.max(1, Math.round(image.width * s));
  const h = Math.max(1, Math.round(image.height * s));
  return { image: resizeArea(image, w, h), scaleX: image.width / w, scaleY: image.height / h };
}

/** Area-averaging resize (each output pixel averages the input area it covers). For shrinking. */
export function resizeArea(image: RgbImage, width: number, height: number): RgbImage {
  const { width: W, height: H, data: src } = image;
  const cols = spans(W, width);
  const rows = spans(H, height);
  // Horizontal pass into floats, then vertical pass.
  const tmp = new Float32Array(H * width * 3);
  for (let y = 0; y < H; y++) {
    const rowIn = y * W * 3;
    const rowOut = y * width * 3;
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const { start, weights } = cols[x];
      for (let k = 0; k < weights.length; k++) {
        const i = rowIn + (start + k) * 3;
        const wt = weights[k];
        r += wt * src[i];
        g += wt * src[i + 1];
        b += wt * src[i + 2];
      }
      const o = rowOut + x * 3;
      tmp[o] = r;
      tmp[o + 1] = g;
      tmp[o + 2] = b;
    }
  }
  const out = new Uint8Array(width * height * 3);
  const stride = width * 3;
  // Vertical pass (separate loop so each output row accumulates in floats).
  const acc = new Float32Array(stride);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    const { start, weights } = rows[y];
    for (let k = 0; k < weights.length; k++) {
      const wt = weights[k];
      const i = (start + k) * stride;
      for (let j = 0; j < stride; j++) acc[j] += wt * tmp[i + j];
    }
    const o = y * stride;
    for (let j = 0; j < stride; j++) out[o + j] = Math.min(255, Math.round(acc[j]));
  }
  return { width, height, data: out };
}

/** For each output index, the first input index and the weights (summing to 1) it averages. */
function spans(n: number, m: number): { start: number; weights: Float32Array }[] {
  const step = n / m;
  const result: { start: number; weights: Float32Array }[] = [];
  for (let i = 0; i < m; i++) {
    const a = i * step;
    const b = Math.min(n, (i + 1) * step);
    const start = Math.floor(a);
    const end = Math.ceil(b);
    const weights = new Float32Array(end - start);
    for (let k = start; k < end; k++) weights[k - start] = (Math.min(b, k + 1) - Math.max(a, k)) / step;
    result.push({ start, weights });
  }
  return result;
}

/** The image inside a black border `pad` pixels wide on every side. */
export function padImage(image: RgbImage, pad: number): RgbImage {
  const width = image.width + 2 * pad;
  const height = image.height + 2 * pad;
  const data = new Uint8Array(width * height * 3);
  const row = image.width * 3;
  for (let y = 0; y < image.height; y++) {
    data.set(image.data.subarray(y * row, (y + 1) * row), ((y + pad) * width + pad) * 3);
  }
  return { width, height, data };
}
