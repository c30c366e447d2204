import { describe, expect, it } from 'vitest';
import { resizeSquare } from '../src/runtime/resample.js';
import { createRng } from '../src/model/weights.js';

/** The generic loops (any factor, any channel count), written out plainly: what the fast paths must equal. */
function shrinkReference(src: Float32Array, inSize: number, f: number, ch: number): Float32Array {
  const n = inSize / f;
  const out = new Float32Array(n * n * ch);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) for (let c = 0; c < ch; c++) {
    const o = (y * n + x) * ch + c;
    for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) out[o] += src[((y * f + dy) * inSize + x * f + dx) * ch + c];
    out[o] *= 1 / (f * f);
  }
  return out;
}

function bilinearReference(src: Float32Array, inSize: number, outSize: number, ch: number): Float32Array {
  const out = new Float32Array(outSize * outSize * ch);
  const at = (o: number): [number, number, number] => {
    const x = Math.min(Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
    const lo = Math.floor(x);
    return [lo, Math.min(lo + 1, inSize - 1), Math.fround(x - lo)];
  };
  for (let y = 0; y < outSize; y++) for (let x = 0; x < outSize; x++) {
    const [y0, y1, wy] = at(y);
    const [x0, x1, wx] = at(x);
    for (let c = 0; c < ch; c++) {
      const v = (yy: number, xx: number): number => src[(yy * inSize + xx) * ch + c];
      const top = v(y0, x0) * (1 - wx) + v(y0, x1) * wx;
      const bottom = v(y1, x0) * (1 - wx) + v(y1, x1) * wx;
      out[(y * outSize + x) * ch + c] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

describe('resizeSquare fast paths (3 channels: the light model\'s input shrink and map upsample)', () => {
  const rng = createRng(7);
  const random = (n: number): Float32Array => new Float32Array(n).map(() => 300 * rng.uniform() - 20);

  it('shrinks 256² → 128² RGB to the same float32 values as the generic area average', () => {
    const src = random(256 * 256 * 3);
    expect(resizeSquare(src, 256, 128, 3)).toEqual(shrinkReference(src, 256, 2, 3));
    // Other factors and channel counts keep the generic loop.
    const one = random(12 * 12);
    expect(resizeSquare(one, 12, 4, 1)).toEqual(shrinkReference(one, 12, 3, 1));
  });

  it('upsamples 128² → 256² RGB to the same float32 values as the generic bilinear', () => {
    const src = random(128 * 128 * 3);
    expect(resizeSquare(src, 128, 256, 3)).toEqual(bilinearReference(src, 128, 256, 3));
    const two = random(5 * 5 * 2);
    expect(resizeSquare(two, 5, 7, 2)).toEqual(bilinearReference(two, 5, 7, 2));
    // The separable enlargement at other sizes, into a given array holding old values.
    for (const [a, b] of [[100, 256], [7, 13], [64, 96]]) {
      const s = random(a * a * 3);
      const into = new Float32Array(b * b * 3).fill(-1);
      expect(resizeSquare(s, a, b, 3, into)).toBe(into);
      expect(into).toEqual(bilinearReference(s, a, b, 3));
    }
  });
});
