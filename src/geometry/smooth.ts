/**
 * Smoothing of a position map inside the face: a Gaussian blur in UV space whose weights are
 * renormalised over face pixels only (the background never bleeds in, and the border keeps its
 * place). The network's map carries pixel-level noise, mostly in depth, that folds neighbouring
 * triangles against each other (a "waffle" surface when the mesh is shaded: ~28 % of the
 * triangles touch a fold sharper than 90° on the bundled default model); σ = 1 UV pixel removes
 * almost all of it (< 1 %) while moving the 68 landmarks by a few hundredths of a point of NME
 * (docs/evaluation.md). Separable, two passes, typed arrays only.
 *
 * Speed: the passes read a copy of the map that is zero outside the face, so no tap tests the mask
 * (taps outside add exact zeros), and the renormalising weight sums, which depend on the mask
 * alone, are computed once per mask and σ. The sums are taken in the same order as a per-pixel
 * loop over face taps, so the result is that loop's, bit for bit (test/smooth.test.ts).
 */
import type { PositionMap } from '../types.js';

/**
 * Below this σ the kernel is the identity to float precision (its side taps are exp(−1 / 2σ²) = 0),
 * and far below it 2σ² underflows to 0 and the centre tap would be exp(−0 / 0) = NaN: such a σ
 * returns the map as σ = 0 does.
 */
const MIN_SMOOTH_SIGMA = 1e-3;

/** The largest smoothing σ the pipeline and its front ends accept (UV pixels); 0 is the raw map. */
export const MAX_SMOOTH = 8;

/**
 * Kernels and weight sums are cached per σ. A service takes σ from its requests, so the caches are
 * bounded: past this many values of σ (per mask for the sums, ~1 MiB each at 256²) they start over.
 */
const MAX_CACHED_SIGMAS = 8;

const kernels = new Map<number, Float32Array>();

function gaussian(sigma: number): Float32Array {
  let k = kernels.get(sigma);
  if (!k) {
    if (kernels.size >= MAX_CACHED_SIGMAS) kernels.clear();
    const r = Math.max(1, Math.ceil(2.5 * sigma));
    k = new Float32Array(2 * r + 1);
    for (let i = -r; i <= r; i++) k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
    kernels.set(sigma, k);
  }
  return k;
}

/** Per face pixel, the sum of the kernel's weights over the face pixels of its row and of its column. */
interface Norms {
  h: Float64Array;
  v: Float64Array;
}

const normCache = new WeakMap<Uint8Array, Map<number, Norms>>();

function norms(mask: Uint8Array, S: number, sigma: number, k: Float32Array): Norms {
  let bySigma = normCache.get(mask);
  if (!bySigma) normCache.set(mask, (bySigma = new Map()));
  let n = bySigma.get(sigma);
  if (n) return n;
  if (bySigma.size >= MAX_CACHED_SIGMAS) bySigma.clear();
  const r = (k.length - 1) >> 1;
  const h = new Float64Array(S * S);
  const v = new Float64Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x;
      if (!mask[i]) continue;
      let wh = 0;
      for (let xx = Math.max(0, x - r); xx <= Math.min(S - 1, x + r); xx++) if (mask[y * S + xx]) wh += k[xx - x + r];
      let wv = 0;
      for (let yy = Math.max(0, y - r); yy <= Math.min(S - 1, y + r); yy++) if (mask[yy * S + x]) wv += k[yy - y + r];
      h[i] = wh;
      v[i] = wv;
    }
  }
  n = { h, v };
  bySigma.set(sigma, n);
  return n;
}

/** Scratch buffers reused between calls (the map's values zeroed outside the face, the horizontal pass). */
let masked = new Float32Array(0);
let across = new Float32Array(0);

/**
 * The map smoothed inside `mask` (size × size, non-zero = face pixel) with a Gaussian of `sigma`
 * UV pixels; pixels outside the mask are copied unchanged. σ < MIN_SMOOTH_SIGMA (σ ≤ 0 included) returns the map itself. `into`
 * (optional, the map's length, not the map's own array) receives the result instead of a new array.
 */
export function smoothPositionMap(map: PositionMap, mask: Uint8Array, sigma: number, into?: Float32Array): PositionMap {
  if (!(sigma >= MIN_SMOOTH_SIGMA)) return map;
  const S = map.size;
  if (mask.length !== S * S) throw new RangeError(`smoothPositionMap: a ${S}×${S} map needs a ${S}×${S} mask, got ${mask.length} pixels`);
  const k = gaussian(sigma);
  const r = (k.length - 1) >> 1;
  const { h: hNorm, v: vNorm } = norms(mask, S, sigma, k);
  const src = map.data;
  const n = src.length;
  if (masked.length < n) {
    masked = new Float32Array(n);
    across = new Float32Array(n);
  }
  const m = masked;
  const tmp = across;
  for (let i = 0, p = 0; i < S * S; i++, p += 3) {
    if (mask[i]) {
      m[p] = src[p];
      m[p + 1] = src[p + 1];
      m[p + 2] = src[p + 2];
    } else {
      // Outside the face both buffers hold zeros: taps there add nothing to either pass.
      m[p] = m[p + 1] = m[p + 2] = 0;
      tmp[p] = tmp[p + 1] = tmp[p + 2] = 0;
    }
  }
  // Horizontal pass over face pixels: tmp = Σ taps k · masked / the taps' face-weight sum. Pixels
  // whose taps all lie inside the map take the unrolled form for the default radius (3: σ = 1),
  // the same sums in the same order.
  const r3 = r === 3;
  const k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = r3 ? k[4] : 0, k5 = r3 ? k[5] : 0, k6 = r3 ? k[6] : 0;
  for (let y = 0; y < S; y++) {
    const rowStart = y * S;
    for (let x = 0; x < S; x++) {
      const i = rowStart + x;
      if (!mask[i]) continue;
      let a = 0, b = 0, c = 0;
      if (r3 && x >= 3 && x + 3 < S) {
        const j = 3 * (i - 3);
        a += k0 * m[j]; b += k0 * m[j + 1]; c += k0 * m[j + 2];
        a += k1 * m[j + 3]; b += k1 * m[j + 4]; c += k1 * m[j + 5];
        a += k2 * m[j + 6]; b += k2 * m[j + 7]; c += k2 * m[j + 8];
        a += k3 * m[j + 9]; b += k3 * m[j + 10]; c += k3 * m[j + 11];
        a += k4 * m[j + 12]; b += k4 * m[j + 13]; c += k4 * m[j + 14];
        a += k5 * m[j + 15]; b += k5 * m[j + 16]; c += k5 * m[j + 17];
        a += k6 * m[j + 18]; b += k6 * m[j + 19]; c += k6 * m[j + 20];
      } else {
        const lo = Math.max(0, x - r);
        const hi = Math.min(S - 1, x + r);
        for (let xx = lo, j = 3 * (rowStart + lo), t = lo - x + r; xx <= hi; xx++, j += 3, t++) {
          const wt = k[t];
          a += wt * m[j];
          b += wt * m[j + 1];
          c += wt * m[j + 2];
        }
      }
      const w = hNorm[i];
      tmp[3 * i] = a / w;
      tmp[3 * i + 1] = b / w;
      tmp[3 * i + 2] = c / w;
    }
  }
  // Vertical pass over the horizontal results (zero outside the face).
  const out = into && into !== src && into.length === n ? into : new Float32Array(n);
  out.set(src);
  const step = 3 * S;
  for (let y = 0; y < S; y++) {
    const lo = Math.max(0, y - r);
    const hi = Math.min(S - 1, y + r);
    const full = r3 && y >= 3 && y + 3 < S;
    for (let x = 0; x < S; x++) {
      const i = y * S + x;
      if (!mask[i]) continue;
      let a = 0, b = 0, c = 0;
      if (full) {
        let j = 3 * (i - 3 * S);
        a += k0 * tmp[j]; b += k0 * tmp[j + 1]; c += k0 * tmp[j + 2]; j += step;
        a += k1 * tmp[j]; b += k1 * tmp[j + 1]; c += k1 * tmp[j + 2]; j += step;
        a += k2 * tmp[j]; b += k2 * tmp[j + 1]; c += k2 * tmp[j + 2]; j += step;
        a += k3 * tmp[j]; b += k3 * tmp[j + 1]; c += k3 * tmp[j + 2]; j += step;
        a += k4 * tmp[j]; b += k4 * tmp[j + 1]; c += k4 * tmp[j + 2]; j += step;
        a += k5 * tmp[j]; b += k5 * tmp[j + 1]; c += k5 * tmp[j + 2]; j += step;
        a += k6 * tmp[j]; b += k6 * tmp[j + 1]; c += k6 * tmp[j + 2];
      } else {
        for (let yy = lo, j = 3 * (lo * S + x), t = lo - y + r; yy <= hi; yy++, j += step, t++) {
          const wt = k[t];
          a += wt * tmp[j];
          b += wt * tmp[j + 1];
          c += wt * tmp[j + 2];
        }
      }
      const w = vNorm[i];
      out[3 * i] = a / w;
      out[3 * i + 1] = b / w;
      out[3 * i + 2] = c / w;
    }
  }
  return { size: S, data: out };
}

/**
 * A face mask (size L², row-major) on a coarser size² grid: a pixel is face when any mask pixel it
 * covers is. For smoothing a smaller model's map on its own grid.
 */
export function coarseMask(mask: Uint8Array, L: number, size: number): Uint8Array {
  const f = L / size;
  const m = new Uint8Array(size * size);
  for (let y = 0; y < L; y++) for (let x = 0; x < L; x++) if (mask[y * L + x]) m[Math.floor(y / f) * size + Math.floor(x / f)] = 1;
  return m;
}
