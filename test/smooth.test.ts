import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { foldFraction, foldedTriangles, readVertices, smoothPositionMap } from '../src/geometry/index.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import type { PositionMap } from '../src/types.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { nme } from '../tools/eval/nme.js';

const EVAL = join(import.meta.dirname, '..', '..', 'shared', 'eval');

/** A square grid of vertices on a plane (two triangles per cell, counter-clockwise), z from `z(x, y)`. */
function planeGrid(n: number, z: (x: number, y: number) => number): { vertices: Float32Array; triangles: Int32Array } {
  const vertices = new Float32Array(n * n * 3);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) vertices.set([x, -y, z(x, y)], (y * n + x) * 3);
  const tri: number[] = [];
  for (let y = 0; y + 1 < n; y++) for (let x = 0; x + 1 < n; x++) {
    const tl = y * n + x, tr = tl + 1, bl = tl + n, br = bl + 1;
    tri.push(tl, bl, tr, tr, bl, br);
  }
  return { vertices, triangles: Int32Array.from(tri) };
}

describe('folds and position-map smoothing (pure)', () => {
  it('a plane has no folds; a vertex pushed past its neighbour folds the triangles around it', () => {
    const flat = planeGrid(6, () => 0);
    expect(foldFraction(flat.vertices, flat.triangles)).toBe(0);
    const pushed = planeGrid(6, () => 0);
    pushed.vertices[(2 * 6 + 2) * 3] = 3.5; // vertex (2, 2) moved past (3, 2): its triangles turn over
    const f = foldedTriangles(pushed.vertices, pushed.triangles);
    const n = f.reduce((a, b) => a + b, 0);
    expect(n).toBeGreaterThan(2);
    expect(n).toBeLessThan(16);
    // A gentle bump (slopes well under 45°) folds nothing.
    const bump = planeGrid(6, (x, y) => (x === 2 && y === 2 ? 0.4 : 0));
    expect(foldFraction(bump.vertices, bump.triangles)).toBe(0);
  });

  it('keeps a plane, smooths noise inside the mask, and leaves pixels outside it unchanged', () => {
    const S = 16;
    const mask = new Uint8Array(S * S);
    for (let y = 2; y < 14; y++) for (let x = 2; x < 14; x++) mask[y * S + x] = 1;
    const plane: PositionMap = { size: S, data: new Float32Array(S * S * 3) };
    for (let i = 0; i < S * S; i++) plane.data.set([i % S, Math.floor(i / S), mask[i] ? 2 * (i % S) + 5 : 999], 3 * i);
    const sm = smoothPositionMap(plane, mask, 1);
    for (let i = 0; i < S * S; i++) {
      if (!mask[i]) expect(sm.data[3 * i + 2]).toBe(999); // outside: copied, never averaged in
      else {
        // Inside, away from the border, a linear field is kept exactly; at the border the
        // renormalised weights pull it at most a little inwards.
        const x = i % S, y = Math.floor(i / S);
        const inner = x >= 5 && x <= 10 && y >= 5 && y <= 10;
        expect(Math.abs(sm.data[3 * i + 2] - (2 * x + 5))).toBeLessThan(inner ? 1e-4 : 2.5);
      }
    }
    expect(smoothPositionMap(plane, mask, 0)).toBe(plane);
    // Noise: alternating ±1 in z inside the mask is mostly removed.
    const noisy: PositionMap = { size: S, data: Float32Array.from(plane.data) };
    for (let i = 0; i < S * S; i++) if (mask[i]) noisy.data[3 * i + 2] += (i + Math.floor(i / S)) % 2 ? 1 : -1;
    const out = smoothPositionMap(noisy, mask, 1);
    const i = 8 * S + 8;
    expect(Math.abs(out.data[3 * i + 2] - (2 * 8 + 5))).toBeLessThan(0.2);
  });
});

/** The plain per-pixel form of the smoothing (face taps only, tested per tap): the reference. */
function smoothReference(map: PositionMap, mask: Uint8Array, sigma: number): PositionMap {
  const S = map.size;
  const r = Math.max(1, Math.ceil(2.5 * sigma));
  const k = new Float32Array(2 * r + 1);
  for (let i = -r; i <= r; i++) k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  const src = map.data;
  const tmp = new Float32Array(src.length);
  const out = Float32Array.from(src);
  const pass = (from: Float32Array, to: Float32Array, along: (i: number, t: number) => number, pos: (i: number) => number): void => {
    for (let i = 0; i < S * S; i++) {
      if (!mask[i]) continue;
      const p = pos(i);
      let a = 0, b = 0, c = 0, w = 0;
      for (let t = Math.max(0, p - r); t <= Math.min(S - 1, p + r); t++) {
        const j = along(i, t);
        if (!mask[j]) continue;
        const wt = k[t - p + r];
        a += wt * from[3 * j]; b += wt * from[3 * j + 1]; c += wt * from[3 * j + 2]; w += wt;
      }
      to[3 * i] = a / w; to[3 * i + 1] = b / w; to[3 * i + 2] = c / w;
    }
  };
  pass(src, tmp, (i, t) => i - (i % S) + t, (i) => i % S);
  pass(tmp, out, (i, t) => t * S + (i % S), (i) => Math.floor(i / S));
  return { size: S, data: out };
}

describe('smoothing: the fast form equals the per-pixel reference', () => {
  it('bit for bit, for σ 0.5–3, two masks in turn (scratch buffers reused), non-finite values outside the face', () => {
    const S = 64;
    let seed = 7;
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const disc = new Uint8Array(S * S);
    const blobs = new Uint8Array(S * S);
    for (let i = 0; i < S * S; i++) {
      const x = i % S, y = Math.floor(i / S);
      disc[i] = (x - 30) ** 2 + (y - 34) ** 2 < 26 ** 2 ? 1 : 0;
      blobs[i] = rnd() < 0.6 ? 1 : 0;
    }
    const map: PositionMap = { size: S, data: new Float32Array(S * S * 3) };
    for (let i = 0; i < map.data.length; i++) map.data[i] = 200 * rnd() - 50;
    for (let i = 0; i < S * S; i++) if (!disc[i] && i % 5 === 0) map.data[3 * i] = NaN;
    for (const sigma of [0.5, 1, 2, 3]) {
      for (const mask of [disc, blobs, disc]) {
        const fast = smoothPositionMap(map, mask, sigma).data;
        const ref = smoothReference(map, mask, sigma).data;
        let differing = 0;
        for (let i = 0; i < ref.length; i++) if (!Object.is(fast[i], ref[i]) && !(fast[i] === 0 && ref[i] === 0)) differing++;
        expect(differing).toBe(0);
      }
    }
  });

  it('a σ too small to blur returns the map (no NaN from 2σ² underflowing); past 8 cached σ values the caches start over and stay right', () => {
    const S = 32;
    const mask = new Uint8Array(S * S).fill(1);
    const map: PositionMap = { size: S, data: Float32Array.from({ length: S * S * 3 }, (_, i) => (i * 37) % 101) };
    for (const sigma of [1e-200, 1e-9, 9.9e-4]) expect(smoothPositionMap(map, mask, sigma)).toBe(map);
    const once = smoothPositionMap(map, mask, 1).data.slice();
    // A service takes σ from its requests: many distinct values, then σ = 1 again, recomputed after the caches were cleared.
    for (let i = 1; i <= 20; i++) smoothPositionMap(map, mask, 1 + i / 1000);
    expect(smoothPositionMap(map, mask, 1).data).toEqual(once);
    expect(once.every(Number.isFinite)).toBe(true);
  });
});

describe('smoothed surfaces of the bundled models', () => {
  const prnets: Record<string, Prnet> = {};
  beforeAll(async () => {
    prnets.default = await createPrnet();
    prnets.light = await createPrnet({ model: 'light' });
  });

  // Raw maps, measured: default 32.5 %, light 12.1 % (the mobile light model of stop 19; its
  // predecessors 28–30 %). Smoothing must take both under 3 %, and the raw share must stay well
  // above it, or this test no longer shows what smoothing does.
  it.each(['default', 'light'])('%s model: under 3 % of triangles touch a fold on the astronaut (over 8 % unsmoothed)', async (name) => {
    const p = prnets[name];
    const image = await decodeImageFile(join(import.meta.dirname, '..', 'examples', 'astronaut.jpg'));
    const [smooth] = (await p.reconstruct(image)).faces;
    const [raw] = (await p.reconstruct(image, { smooth: 0 })).faces;
    const folds = foldFraction(smooth.vertices, p.layout.triangles);
    const rawFolds = foldFraction(raw.vertices, p.layout.triangles);
    console.log(`${name}: folded triangles ${(100 * rawFolds).toFixed(1)} % raw → ${(100 * folds).toFixed(1)} % smoothed`);
    expect(folds).toBeLessThan(0.03);
    expect(rawFolds).toBeGreaterThan(0.08);
    expect(readVertices(smooth.positionMap, p.layout)).toEqual(smooth.vertices);
  });

  it('smoothing moves the 68 landmarks by under 0.1 point of NME on AFLW2000-3D images', async () => {
    const p = prnets.default;
    for (const name of ['image00050', 'image00475', 'image03324']) {
      const image = await decodeImageFile(join(EVAL, 'aflw2000-3d', `${name}.jpg`));
      const gt = await loadAflwGroundTruth(join(EVAL, 'aflw2000-3d', `${name}.mat`));
      const [a] = (await p.reconstruct(image, { maxFaces: 1 })).faces;
      const [b] = (await p.reconstruct(image, { maxFaces: 1, smooth: 0 })).faces;
      expect(Math.abs(nme(a.landmarks, gt.pt3d68, 2) - nme(b.landmarks, gt.pt3d68, 2)), name).toBeLessThan(0.001);
    }
  });

  it('a vanishing σ gives the raw map\'s landmarks, not NaN', async () => {
    const image = await decodeImageFile(join(import.meta.dirname, '..', 'examples', 'astronaut.jpg'));
    const [tiny] = (await prnets.light.reconstruct(image, { smooth: 1e-200 })).faces;
    const [raw] = (await prnets.light.reconstruct(image, { smooth: 0 })).faces;
    expect(tiny.landmarks.every(Number.isFinite)).toBe(true);
    expect(tiny.landmarks).toEqual(raw.landmarks);
  });

  it('rejects a smoothing outside 0..8', async () => {
    const image = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3) };
    await expect(prnets.default.reconstruct(image, { boxes: [{ x: 0, y: 0, width: 8, height: 8, score: 1 }], smooth: -1 })).rejects.toThrow(/smooth must be/);
  });
});
