/**
 * Resampling between the 256² crop / UV layout and a network's smaller input size. Pixel centres
 * are aligned (half-pixel convention: source coordinate = (dst + 0.5) · in / out − 0.5), so a
 * 128² map covers exactly the same UV area as the 256² layout.
 */

/**
 * Resizes an interleaved (HWC) float image from `inSize`² to `outSize`² pixels with `channels`
 * channels. Shrinking by an integer factor averages each factor × factor block (area); every
 * other case is bilinear with clamped edges. `into` (optional, the output's length, not `src`)
 * receives a bilinear result instead of a new array.
 */
export function resizeSquare(src: Float32Array, inSize: number, outSize: number, channels: number, into?: Float32Array): Float32Array {
  if (src.length !== inSize * inSize * channels) {
    throw new Error(`resize: ${src.length} values for ${inSize}×${inSize}×${channels}`);
  }
  if (inSize === outSize) return src.slice();
  if (inSize > outSize && inSize % outSize === 0) return shrinkArea(src, inSize, inSize / outSize, channels);
  const n = outSize * outSize * channels;
  const out = into && into !== src && into.length === n ? into : new Float32Array(n);
  if (channels === 3 && outSize > inSize) return enlargeRgb(src, inSize, outSize, out);
  return resizeBilinear(src, inSize, outSize, channels, out);
}

/** Bilinear taps of resizeBilinear along one axis: the lower and upper source index and the upper weight (float32). */
function bilinearTaps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; w1: Float32Array } {
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
  return { i0, i1, w1 };
}

/** Rows of enlargeRgb's horizontal pass (doubles, reused). */
let rowsAcross = new Float64Array(0);

/**
 * resizeBilinear for 3 channels when enlarging (a smaller model's map to the 256² layout),
 * separably: each source row is interpolated across once (kept in doubles, as resizeBilinear keeps
 * `top` and `bottom`), then every output row blends two of those rows. The same arithmetic on the
 * same numbers, so the same values, with a third of the horizontal work.
 */
function enlargeRgb(src: Float32Array, inSize: number, outSize: number, out: Float32Array): Float32Array {
  const { rows: h, i0, i1, w1 } = enlargeRows(src, inSize, outSize);
  const row = outSize * 3;
  for (let oy = 0, o = 0; oy < outSize; oy++) {
    const wy = w1[oy];
    const gy = 1 - wy;
    const t = i0[oy] * row;
    const d = i1[oy] * row;
    for (let j = 0; j < row; j++, o++) out[o] = h[t + j] * gy + h[d + j] * wy;
  }
  return out;
}

/**
 * The horizontal pass of enlarging a 3-channel inSize² map to outSize² (resizeSquare's bilinear):
 * every source row interpolated across to outSize pixels, in doubles (rows, inSize × outSize × 3,
 * reused between calls), and the taps (i0, i1, w1) along either axis. Output row oy is
 * rows[i0[oy]] · (1 − w1[oy]) + rows[i1[oy]] · w1[oy], stored as float32.
 */
export function enlargeRows(src: Float32Array, inSize: number, outSize: number): { rows: Float64Array; i0: Int32Array; i1: Int32Array; w1: Float32Array } {
  const { i0, i1, w1 } = bilinearTaps(inSize, outSize);
  const row = outSize * 3;
  if (rowsAcross.length < inSize * row) rowsAcross = new Float64Array(inSize * row);
  const h = rowsAcross;
  for (let y = 0; y < inSize; y++) {
    const base = y * inSize * 3;
    for (let ox = 0, o = y * row; ox < outSize; ox++, o += 3) {
      const wx = w1[ox];
      const gx = 1 - wx;
      const a = base + i0[ox] * 3;
      const b = base + i1[ox] * 3;
      h[o] = src[a] * gx + src[b] * wx;
      h[o + 1] = src[a + 1] * gx + src[b + 1] * wx;
      h[o + 2] = src[a + 2] * gx + src[b + 2] * wx;
    }
  }
  return { rows: h, i0, i1, w1 };
}

function shrinkArea(src: Float32Array, inSize: number, f: number, channels: number): Float32Array {
  if (f === 2 && channels === 3) return shrinkHalfRgb(src, inSize);
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

/**
 * shrinkArea for the light model's input (factor 2, 3 channels) without the generic loops: the
 * same float32 sums in the same order (each partial sum rounded to float32 as the generic
 * loop's stores do), so the same values, in ~half the time.
 */
function shrinkHalfRgb(src: Float32Array, inSize: number): Float32Array {
  const outSize = inSize >> 1;
  const out = new Float32Array(outSize * outSize * 3);
  const row = inSize * 3;
  const f = Math.fround;
  for (let oy = 0, o = 0; oy < outSize; oy++) {
    let s = 2 * oy * row;
    for (let ox = 0; ox < outSize; ox++, o += 3, s += 6) {
      const t = s + row;
      out[o] = f(f(f(src[s] + src[s + 3]) + src[t]) + src[t + 3]) * 0.25;
      out[o + 1] = f(f(f(src[s + 1] + src[s + 4]) + src[t + 1]) + src[t + 4]) * 0.25;
      out[o + 2] = f(f(f(src[s + 2] + src[s + 5]) + src[t + 2]) + src[t + 5]) * 0.25;
    }
  }
  return out;
}

function resizeBilinear(src: Float32Array, inSize: number, outSize: number, channels: number, out: Float32Array): Float32Array {
  const { i0, i1, w1 } = bilinearTaps(inSize, outSize);
  if (channels === 3) {
    // The position maps' case, unrolled over the channels: the same arithmetic, so the same values.
    for (let oy = 0, o = 0; oy < outSize; oy++) {
      const r0 = i0[oy] * inSize;
      const r1 = i1[oy] * inSize;
      const wy = w1[oy];
      for (let ox = 0; ox < outSize; ox++, o += 3) {
        const wx = w1[ox];
        const a = (r0 + i0[ox]) * 3;
        const b = (r0 + i1[ox]) * 3;
        const c = (r1 + i0[ox]) * 3;
        const d = (r1 + i1[ox]) * 3;
        for (let k = 0; k < 3; k++) {
          const top = src[a + k] * (1 - wx) + src[b + k] * wx;
          const bottom = src[c + k] * (1 - wx) + src[d + k] * wx;
          out[o + k] = top * (1 - wy) + bottom * wy;
        }
      }
    }
    return out;
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

/**
 * A network output's 3-channel CHW map (from `offset`) as a new HWC array, or null when any of its
 * values is not finite (NaN, ±∞): chwToHwc and the finiteness check in one pass over the values.
 * `into` (optional, size² × 3 floats, not in `src`'s buffer) receives the map instead of a new array.
 */
export function chwToHwcFinite(src: Float32Array, size: number, offset = 0, into?: Float32Array): Float32Array | null {
  const plane = size * size;
  const out = into && into.length === plane * 3 && into.buffer !== src.buffer ? into : new Float32Array(plane * 3);
  // x − x is 0 for a finite x and NaN otherwise; a NaN sticks in the sum.
  let check = 0;
  for (let p = 0, o = 0, i = offset; p < plane; p++, o += 3, i++) {
    const x = src[i];
    const y = src[i + plane];
    const z = src[i + 2 * plane];
    out[o] = x;
    out[o + 1] = y;
    out[o + 2] = z;
    check += (x - x) + (y - y) + (z - z);
  }
  return check === 0 ? out : null;
}
