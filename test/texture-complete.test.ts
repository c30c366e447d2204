/**
 * completeUvTexture and pullPush on a small synthetic layout whose answers are known: a 16² layout
 * mirrored about its middle column, each texel looking at its own 10×10 patch of a photo whose left
 * half is brighter than its right, the right edge of the face hidden from the camera.
 */
import { describe, expect, it } from 'vitest';
import { completeUvTexture, pullPush } from '../src/render/texture-complete.js';
import type { RgbImage } from '../src/types.js';

const L = 16;
const faceIndex: number[] = [];
for (let r = 2; r <= 13; r++) for (let c = 1; c <= 14; c++) faceIndex.push(r * L + c);
const vertexOf = new Map(faceIndex.map((p, i) => [p, i]));
const flip = Int32Array.from(faceIndex, (p) => vertexOf.get(Math.floor(p / L) * L + (L - 1 - (p % L)))!);
const layout = { size: L, faceIndex: Int32Array.from(faceIndex), flip };
const map = { size: L, data: new Float32Array(L * L * 3) };
for (let p = 0; p < L * L; p++) {
  map.data[3 * p] = 10 * (p % L) + 5;
  map.data[3 * p + 1] = 10 * Math.floor(p / L) + 5;
  map.data[3 * p + 2] = 0;
}
// Left half (x < 80) grey 200, right half 100, with a small red mark per column so mirroring shows.
const image: RgbImage = { width: 160, height: 160, data: new Uint8Array(160 * 160 * 3) };
for (let y = 0; y < 160; y++) {
  for (let x = 0; x < 160; x++) {
    const o = 3 * (y * 160 + x);
    const v = x < 80 ? 200 : 100;
    image.data[o] = v + Math.floor(x / 10);
    image.data[o + 1] = v;
    image.data[o + 2] = v;
  }
}
const visible = new Uint8Array(L * L);
for (const p of faceIndex) if (p % L <= 11) visible[p] = 1; // columns 12–14 hidden

describe('completeUvTexture', () => {
  it('keeps seen texels, fills hidden ones from the mirror with the lighting ratio, never black in the face', () => {
    const { texture, mask, faceMask, sources } = completeUvTexture(image, map, visible, layout);
    expect([texture.width, texture.height]).toEqual([L, L]);
    const px = (c: number, r: number) => Array.from(texture.data.subarray(3 * (r * L + c), 3 * (r * L + c) + 3));
    // Well inside the seen part: the photo's own colour at the texel's point.
    expect(px(3, 7)).toEqual([203, 200, 200]);
    expect(mask[7 * L + 3]).toBe(255);
    expect(mask[7 * L + 13]).toBe(0);
    // Hidden column 13 mirrors column 2 (red mark 2 + 200), scaled by right/left = 100/200.
    const hidden = px(13, 7);
    expect(hidden[1]).toBeGreaterThan(95);
    expect(hidden[1]).toBeLessThan(105);
    // Without lighting matching, the mirrored colour as it is: column 2's (red mark 2).
    const raw = completeUvTexture(image, map, visible, layout, { matchLighting: false }).texture;
    expect(Array.from(raw.data.subarray(3 * (7 * L + 13), 3 * (7 * L + 13) + 3))).toEqual([202, 200, 200]);
    for (const p of faceIndex) {
      expect(faceMask[p]).toBe(1);
      expect(texture.data[3 * p] + texture.data[3 * p + 1] + texture.data[3 * p + 2]).toBeGreaterThan(0);
    }
    expect(sources.own + sources.mirrored + sources.filled).toBeCloseTo(1, 9);
    expect(sources.mirrored).toBeGreaterThan(0.1);
    // Beyond the fill margin the texture stays black (here the face's 2-texel margin covers the
    // whole 16² grid; without a margin the corner is black).
    expect(px(0, 15)).not.toEqual([0, 0, 0]);
    const tight = completeUvTexture(image, map, visible, layout, { margin: 0 }).texture;
    expect(Array.from(tight.data.subarray(3 * (15 * L), 3 * (15 * L) + 3))).toEqual([0, 0, 0]);
  });

  it('a turned face\'s far side showing background (sky) takes its mirror\'s skin; the same texels facing the camera keep their own colour', () => {
    // Skin everywhere, and a cyan sky where the far side's columns 10–14 look (x ≥ 100).
    const sky: RgbImage = { width: 160, height: 160, data: new Uint8Array(160 * 160 * 3) };
    for (let y = 0; y < 160; y++) {
      for (let x = 0; x < 160; x++) sky.data.set(x >= 100 ? [87, 182, 182] : [200, 150, 120], 3 * (y * 160 + x));
    }
    const all = new Uint8Array(L * L);
    for (const p of faceIndex) all[p] = 1;
    const column = (i: number): number => faceIndex[i] % L;
    // The near side (columns 1–7) faces the camera, the far side (8–14) is turned away (normal z 0.3).
    const turned = Float32Array.from(faceIndex, (_, i) => (column(i) <= 7 ? 0.9 : 0.3));
    const at = (t: RgbImage, c: number, r: number): number[] => Array.from(t.data.subarray(3 * (r * L + c), 3 * (r * L + c) + 3));
    for (const matchLighting of [true, false]) {
      const fixed = completeUvTexture(sky, map, all, layout, { facing: turned, matchLighting }).texture;
      // Column 12, inside the sky patch: skin from its mirror (column 3), not cyan.
      const [r, g, b] = at(fixed, 12, 7);
      expect(Math.abs(r - 200) + Math.abs(g - 150) + Math.abs(b - 120), `${matchLighting}: ${[r, g, b]}`).toBeLessThan(30);
    }
    // Without the check (or with both sides facing the camera) the photo's sky stays.
    expect(at(completeUvTexture(sky, map, all, layout, { facing: turned, rejectBackground: false }).texture, 12, 7)).toEqual([87, 182, 182]);
    const frontal = Float32Array.from(faceIndex, () => 0.9);
    expect(at(completeUvTexture(sky, map, all, layout, { facing: frontal }).texture, 12, 7)).toEqual([87, 182, 182]);
    // Shading alone (the same chromaticity, darker) is not background: kept.
    const shaded: RgbImage = { width: 160, height: 160, data: sky.data.map((v, k) => (Math.floor(k / 3) % 160 >= 100 ? [120, 90, 72][k % 3] : v)) };
    expect(at(completeUvTexture(shaded, map, all, layout, { facing: turned, matchLighting: false }).texture, 12, 7)).toEqual([120, 90, 72]);
  });

  it('fills smoothly where neither side is seen, and upsamples: a 64² texture of the same picture', () => {
    const none = new Uint8Array(L * L);
    for (const p of faceIndex) if (p % L <= 5) none[p] = 1; // columns 6–14 unseen; mirrors of 9–14 (6–1) are seen
    const small = completeUvTexture(image, map, none, layout, { matchLighting: false });
    // Columns 7–8: mirror unseen too → filled between the seen 200s on both sides.
    const mid = small.texture.data[3 * (7 * L + 7) + 1];
    expect(mid).toBeGreaterThan(150);
    expect(mid).toBeLessThanOrEqual(200);
    expect(small.sources.filled).toBeGreaterThan(0.05);
    const big = completeUvTexture(image, map, visible, layout, { size: 64 });
    expect([big.texture.width, big.texture.height]).toEqual([64, 64]);
    // Texel (3, 7) of the layout covers 64-texels 12–15 × 28–31: the photo through the upsampled position map.
    const q = 29 * 64 + 13;
    expect(big.texture.data[3 * q + 1]).toBe(200);
    for (let t = 0; t < 64 * 64; t++) {
      if (!big.faceMask[t]) continue;
      expect(big.texture.data[3 * t] + big.texture.data[3 * t + 1] + big.texture.data[3 * t + 2]).toBeGreaterThan(0);
    }
    expect(() => completeUvTexture(image, map, visible, layout, { size: 7 })).toThrow(RangeError);
  });
});

describe('pullPush', () => {
  it('keeps weight-1 texels, fills holes from around them, blends partial weights', () => {
    const n = 8;
    const col = new Float32Array(n * n * 3);
    const w = new Float32Array(n * n);
    for (let i = 0; i < n * n; i++) {
      const x = i % n;
      if (x < 2 || x > 5) {
        w[i] = 1;
        col[3 * i] = col[3 * i + 1] = col[3 * i + 2] = 100;
      }
    }
    w[3] = 0.5; // premultiplied 0.5 · 20
    col[9] = col[10] = col[11] = 10;
    pullPush(col, w, n);
    expect(col[3 * 8]).toBe(100); // (0, 1): known
    const hole = col[3 * (4 * n + 3)]; // surrounded by 100s (and, further off, the half-weight 10)
    expect(hole).toBeGreaterThan(90);
    expect(hole).toBeLessThanOrEqual(100);
    expect(col[9]).toBeGreaterThan(10);
    expect(col[9]).toBeLessThan(100);
    expect(w.every((v) => v === 1)).toBe(true);
    const empty = new Float32Array(12);
    pullPush(empty, new Float32Array(4), 2);
    expect(Array.from(empty)).toEqual(new Array(12).fill(128));
  });
});
