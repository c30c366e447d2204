import { describe, expect, it } from 'vitest';
import {
  applyAffine,
  cropFromBox,
  cropFromLandmarks,
  cropFromUserBox,
  cropTransform,
  uncropPoint,
  uncropPositionMap,
  warpCrop,
} from '../src/crop/index.js';
import type { RgbImage } from '../src/types.js';

describe('CropTransform', () => {
  it('maps the square corners to crop pixels 0 and 255 and round-trips through its inverse', () => {
    const t = cropTransform({ cx: 200, cy: 150, side: 100 });
    expect(t.scale).toBeCloseTo(255 / 100, 12);
    const [u0, v0] = applyAffine(t.forward, 150, 100);
    const [u1, v1] = applyAffine(t.forward, 250, 200);
    expect([u0, v0, u1, v1].map((n) => +n.toFixed(9))).toEqual([0, 0, 255, 255]);
    for (const [x, y] of [[0, 0], [123.4, -56.7], [1e4, 3.25]]) {
      const [u, v] = applyAffine(t.forward, x, y);
      const [x2, y2] = applyAffine(t.inverse, u, v);
      expect(x2).toBeCloseTo(x, 9);
      expect(y2).toBeCloseTo(y, 9);
    }
  });

  it('rejects a degenerate square', () => {
    expect(() => cropTransform({ cx: 0, cy: 0, side: 0 })).toThrow(RangeError);
    expect(() => cropTransform({ cx: NaN, cy: 0, side: 10 })).toThrow(RangeError);
  });
});

describe('crop rules', () => {
  it('dlib boxes and user boxes follow the original rule: 1.58 × mean side, centre 0.14 × mean side lower', () => {
    const box = { x: 100, y: 50, width: 80, height: 120, score: 1 };
    const t = cropFromBox(box, 'dlib');
    expect(t.square.cx).toBeCloseTo(140, 9);
    expect(t.square.cy).toBeCloseTo(110 + 0.14 * 100, 9);
    expect(t.square.side).toBeCloseTo(158, 9);
    expect(cropFromUserBox(100, 50, 80, 120).square).toEqual(t.square);
    expect(() => cropFromUserBox(0, 0, 0, 10)).toThrow(RangeError);
  });

  it('landmarks give the centre of their box and 1.6 × its mean side, flat or as pairs', () => {
    const pts = [[10, 20], [50, 20], [30, 80], [20, 60]];
    const a = cropFromLandmarks(pts);
    expect(a.square).toEqual({ cx: 30, cy: 50, side: 1.6 * 50 });
    const flat3 = new Float32Array([10, 20, 5, 50, 20, 1, 30, 80, 0, 20, 60, 9]);
    expect(cropFromLandmarks(flat3, 3).square).toEqual(a.square);
  });
});

describe('warpCrop', () => {
  // A 4×3 image whose pixel (i, j) has red 10·i + 50·j, green 200, blue 255.
  const img: RgbImage = { width: 4, height: 3, data: new Uint8Array(4 * 3 * 3) };
  for (let j = 0; j < 3; j++) {
    for (let i = 0; i < 4; i++) {
      const o = (j * 4 + i) * 3;
      img.data[o] = 10 * i + 50 * j;
      img.data[o + 1] = 200;
      img.data[o + 2] = 255;
    }
  }

  it('samples bilinearly in 0..1: crop pixel (u, v) reads image point inverse(u, v)', () => {
    // Square centred at (1.5, 1), side 3 → 4×4 crop: scale 1, crop (u, v) = image (u, v − 0.5).
    const t = cropTransform({ cx: 1.5, cy: 1, side: 3 }, 4);
    const c = warpCrop(img, t);
    expect(c.width).toBe(4);
    // crop (1, 2) ← image (1, 1.5): red = 10·1 + 50·1.5 = 85 (hand-computed), green 200, blue 255.
    const o = (2 * 4 + 1) * 3;
    expect(c.data[o] * 255).toBeCloseTo(85, 3);
    expect(c.data[o + 1]).toBeCloseTo(200 / 255, 6);
    expect(c.data[o + 2]).toBeCloseTo(1, 6);
    // crop (2, 1) ← image (2, 0.5): red = 20 + 25 = 45.
    expect(c.data[(1 * 4 + 2) * 3] * 255).toBeCloseTo(45, 3);
  });

  it('is black outside the image and fades at the border like skimage (constant mode)', () => {
    // Square centred at (0, 0), side 3 → 4×4 crop: crop (u, v) = image (u − 1.5, v − 1.5).
    const t = cropTransform({ cx: 0, cy: 0, side: 3 }, 4);
    const c = warpCrop(img, t);
    expect(Array.from(c.data.subarray(0, 3))).toEqual([0, 0, 0]); // image (−1.5, −1.5)
    // crop (2, 2) ← image (0.5, 0.5): all neighbours inside: red = 5 + 25 = 30.
    expect(c.data[(2 * 4 + 2) * 3] * 255).toBeCloseTo(30, 3);
    // crop (1, 2) ← image (−0.5, 0.5): only the right-hand neighbours count, weight 0.5 each row.
    // blue = 0.5 · 255 → 0.5.
    expect(c.data[(2 * 4 + 1) * 3 + 2]).toBeCloseTo(0.5, 6);
  });

  it('warps a 256² crop of a real-sized image quickly', () => {
    const big: RgbImage = { width: 1920, height: 1080, data: new Uint8Array(1920 * 1080 * 3).fill(128) };
    const t = cropFromBox({ x: 900, y: 400, width: 200, height: 240, score: 1 }, 'dlib');
    const t0 = performance.now();
    const c = warpCrop(big, t);
    const ms = performance.now() - t0;
    expect(c.data.length).toBe(256 * 256 * 3);
    expect(c.data[(128 * 256 + 128) * 3]).toBeCloseTo(128 / 255, 6);
    expect(ms).toBeLessThan(200);
  });
});

describe('uncropPositionMap', () => {
  it('moves x, y through the inverse affine and divides z by the scale, without touching the input', () => {
    const t = cropTransform({ cx: 300, cy: 200, side: 510 }); // scale 255/510 = 0.5
    const map = { size: 2, data: new Float32Array([0, 0, 10, 255, 255, -4, 127.5, 127.5, 0, 51, 102, 255]) };
    const copy = map.data.slice();
    const out = uncropPositionMap(map, t);
    expect(out.size).toBe(2);
    expect(Array.from(map.data)).toEqual(Array.from(copy));
    const expected = [45, -55, 20, 555, 455, -8, 300, 200, 0, 147, 149, 510];
    out.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 3));
    expect(uncropPoint(t, 255, 255, -4)).toEqual([555, 455, -8]);
  });
});
