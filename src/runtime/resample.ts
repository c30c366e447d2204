/**
 * Resampling between the 256² crop / UV layout and a network's smaller input size. Pixel centres
 * are aligned (half-pixel convention: source coordinate = (dst + 0.5) · in / out − 0.5), so a
 * 128² map covers exactly the same UV area as the 256² layout.
 */

/**
 * Resizes an interleaved (HWC) float image from `inSize`² to `outSize`² pixels with `channels`
 * channels. Shrinking by an integer factor averages each factor × factor block (area); every
 * other case is bilinear with clamped edges.
 */
export function resizeSquare(src: Float32Array, inSize: number, outSize: number, channels: number): Float32Array {
  if (src.length !== inSize * inSize * channels) {
    throw new Error(`resize: ${src.length} values for ${inSize}×${inSize}×${channels}`);
  }
  if (inSize === outSize) return src.slice();
  if (inSize > outSize && inSize % outSize === 0) return shrinkArea(src, inSize, inSize / outSize, channels);
  return resizeBilinear(src, inSize, outSize, channels);
}

function shrinkArea(src: Float32Array, inSize: number, f: number, channels: number): Float32Array {
  const outSize = inSize / f;
  const out = new Float32Array(outSize * outSize * channels);
  const norm = 1 / (f * f);
  for (let oy = 0; oy < outSize; oy++) {
    for (let ox = 0; ox < outSize; ox++) {
      const o = (oy * outSize + ox) * channels;
      for (let dy = 0; dy < f; dy++) {
        const row = (oy * f + dy) * inSize;
        for (let dx = 0; dx < f; dx++) {
          const s = (row + ox * f + dx) * channels;
          for (let c = 0; c < channels; c++) out[o + c] += src[s + c];
        }
      }
      for (let c = 0; c < channels; c++) out[o + c] *= norm;
    }
  }
  return out;
}

function resizeBilinear(src: Float32Array, inSize: number, outSize: number, channels: number): Float32Array {
  const out = new Float32Array(outSize * outSize * channels);
  const scale = inSize / outSize;
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w1 = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), inSize - 1);
    const lo = Math.floor(x);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, inSize - 1);
    w1[o] = x - lo;
  }
  for (let oy = 0; oy < outSize; oy++) {
    const r0 = i0[oy] * inSize;
    const r1 = i1[oy] * inSize;
    const wy = w1[oy];
    for (let ox = 0; ox < outSize; ox++) {
      const c0 = i0[ox];
      const c1 = i1[ox];
      const wx = w1[ox];
      const o = (oy * outSize + ox) * channels;
      for (let c = 0; c < channels; c++) {
        const top = src[(r0 + c0) * channels + c] * (1 - wx) + src[(r0 + c1) * channels + c] * wx;
        const bottom = src[(r1 + c0) * channels + c] * (1 - wx) + src[(r1 + c1) * channels + c] * wx;
        out[o + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}

/** HWC (interleaved) → CHW (planar), writing into `out` at `offset`. */
export function hwcToChw(src: Float32Array, size: number, channels: number, out: Float32Array, offset = 0): void {
  const plane = size * size;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) out[offset + c * plane + p] = src[p * channels + c];
  }
}

/** CHW (planar) starting at `offset` → a new HWC (interleaved) array. */
export function chwToHwc(src: Float32Array, size: number, channels: number, offset = 0): Float32Array {
  const plane = size * size;
  const out = new Float32Array(plane * channels);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) out[p * channels + c] = src[offset + c * plane + p];
  }
  return out;
}
