import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySimilarity, fitSimilarity, loadCorrespondence, MEDIAPIPE_68, MEDIAPIPE_JAW_CONTOUR } from '../tools/data/correspondence.js';
import {
  buildKernel, countFolds, createTargetSetup, evaluateMap, evaluateTps, fitTargets, judgeTarget, lossWeights, solveCoefficients, tpsSystemInverse,
} from '../tools/data/groundtruth.js';
import { LabelsWriter, labelsDir, readLabels } from '../tools/data/labels-file.js';
import { blankLabelRecord } from './helpers/labels.js';
import { loadLayout } from '../src/layout/node.js';
import { buildPack, canonicalKeypoints, faceStats, readPack, samplingWeight, verifyPack } from '../scripts/pack-training.js';
import { fnv1a } from '../src/util/hash.js';
import { readFileSync } from 'node:fs';

/** A small deterministic pseudo-random generator. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function rotation(yaw: number, pitch: number, roll: number): Float64Array {
  const [cy, sy, cp, sp, cr, sr] = [Math.cos(yaw), Math.sin(yaw), Math.cos(pitch), Math.sin(pitch), Math.cos(roll), Math.sin(roll)];
  const Ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const Rx = [1, 0, 0, 0, cp, -sp, 0, sp, cp];
  const Rz = [cr, -sr, 0, sr, cr, 0, 0, 0, 1];
  const mul = (a: number[], b: number[]) => {
    const o: number[] = [];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) o.push(a[3 * r]! * b[c]! + a[3 * r + 1]! * b[3 + c]! + a[3 * r + 2]! * b[6 + c]!);
    return o;
  };
  return Float64Array.from(mul(Rz, mul(Ry, Rx)));
}

describe('3D thin-plate spline targets', () => {
  it('reproduces the control targets within the regularisation tolerance', () => {
    const r = rng(1);
    const P = 40;
    const controls = Float64Array.from({ length: P * 3 }, () => r() * 200 - 100);
    const weights = Float64Array.from({ length: P }, (_, j) => (j < 10 ? 10 : 1));
    const Y = Float64Array.from(controls, (v) => v * 0.8 + 50 + (r() - 0.5) * 6);
    for (const lambda of [0, 1e-3]) {
      const setup = { controls, weights, systemInverse: tpsSystemInverse(controls, weights, lambda) } as Parameters<typeof solveCoefficients>[0];
      const { coeffs } = solveCoefficients(setup, Y);
      const at = evaluateTps(controls, controls, coeffs);
      let max = 0;
      for (let i = 0; i < at.length; i++) max = Math.max(max, Math.abs(at[i]! - Y[i]!));
      // λ = 0 interpolates; a small λ moves each control by at most λ/w_j · |coefficient|.
      expect(max).toBeLessThan(lambda === 0 ? 1e-6 : 0.05);
    }
  });

  it('reproduces a pure similarity of the canonical face exactly (affine part only, zero kernel weights)', async () => {
    const layout = await loadLayout();
    const corr = await loadCorrespondence();
    const setup = createTargetSetup(layout, corr, { lambda: 30 });
    const R = rotation(0.5, -0.2, 0.1);
    const sim = { s: 0.7, R, t: Float64Array.from([120, 90, 15]) };
    const Y = applySimilarity(sim, setup.controls);
    const { coeffs } = solveCoefficients(setup, Y);
    const P = setup.controls.length / 3;
    for (let j = 0; j < P * 3; j++) expect(Math.abs(coeffs[j]!)).toBeLessThan(1e-9);
    // The affine rows hold (sR)ᵀ and t.
    for (let c = 0; c < 3; c++) for (let d = 0; d < 3; d++) expect(coeffs[3 * (P + c) + d]).toBeCloseTo(0.7 * R[3 * d + c]!, 9);
    for (let d = 0; d < 3; d++) expect(coeffs[3 * (P + 3) + d]).toBeCloseTo(sim.t[d]!, 7);
    // And the whole map is the similarity of the canonical face.
    const pts = setup.canonical.subarray(0, 3 * 500);
    const direct = evaluateTps(pts, setup.controls, coeffs);
    const expected = applySimilarity(sim, pts);
    for (let i = 0; i < direct.length; i++) expect(Math.abs(direct[i]! - expected[i]!)).toBeLessThan(1e-6);
  });

  it('coefficient form K · W equals direct evaluation of the spline', () => {
    const r = rng(7);
    const P = 25;
    const controls = Float64Array.from({ length: P * 3 }, () => r() * 200);
    const points = Float64Array.from({ length: 300 * 3 }, () => r() * 220 - 10);
    const coeffs = Float64Array.from({ length: (P + 4) * 3 }, () => r() - 0.5);
    const K = buildKernel(points, controls);
    expect(K.length).toBe(300 * (P + 4));
    const a = evaluateMap(K, coeffs);
    const b = evaluateTps(points, controls, coeffs);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(b[i]!)));
  });

  it('counts folds: a flat grid has none, flipping part of it over counts exactly those triangles', () => {
    // 2 × 2 cells of a flat grid in x, y (z = 0), triangles counter-clockwise seen from +z.
    const pos: number[] = [];
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) pos.push(x, -y, 0);
    const tris: number[] = [];
    for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) {
      const tl = y * 3 + x, tr = tl + 1, bl = tl + 3, br = tl + 4;
      tris.push(tl, bl, tr, tr, bl, br);
    }
    const triangles = Int32Array.from(tris);
    const normals = new Float64Array(triangles.length);
    for (let t = 0; t < triangles.length / 3; t++) normals[3 * t + 2] = 1;
    const I = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    expect(countFolds(pos, triangles, normals, I)).toBe(0);
    // Rotated by 180° about y (seen from behind): with R the same rotation, no fold.
    const Ry = [-1, 0, 0, 0, 1, 0, 0, 0, -1];
    const back = pos.map((v, i) => (i % 3 === 0 ? -v : v));
    expect(countFolds(back, triangles, normals, Ry)).toBe(0);
    // Fold: push the middle column's x past the right column (x 1 → 2.5): the left cells stretch,
    // the right cells (4 triangles) flip.
    const folded = [...pos];
    for (let y = 0; y < 3; y++) folded[3 * (y * 3 + 1)] = 2.5;
    expect(countFolds(folded, triangles, normals, I)).toBe(4);
    // Degenerate triangles (zero canonical normal) are never counted.
    expect(countFolds(folded, triangles, new Float64Array(triangles.length), I)).toBe(0);
  });

  it('fits a synthetic photo: rotated canonical face + small deformation, both teachers consistent', async () => {
    const layout = await loadLayout();
    const corr = await loadCorrespondence();
    const setup = createTargetSetup(layout, corr);
    expect(setup.facemeshIndex.length).toBeGreaterThan(60);
    for (const i of setup.facemeshIndex) expect(MEDIAPIPE_JAW_CONTOUR.includes(i)).toBe(false);
    const sim = { s: 0.6, R: rotation(0.4, 0.1, -0.05), t: Float64Array.from([100, 110, 0]) };
    const bump = (p: Float64Array) => { for (let i = 0; i < p.length; i += 3) p[i + 2] = p[i + 2]! + 3 * Math.sin(p[i]! / 40); return p; };
    const facemesh = bump(applySimilarity(sim, corr.matched));
    const kpt = new Float64Array(68 * 3);
    for (let k = 0; k < 68; k++) for (let d = 0; d < 3; d++) kpt[3 * k + d] = setup.canonical[3 * setup.kptVertex[k]! + d]!;
    const tddfa = bump(applySimilarity(sim, kpt));
    for (let i = 2; i < tddfa.length; i += 3) tddfa[i] = tddfa[i]! + 40; // another z origin
    const fit = fitTargets({ facemesh, tddfa }, setup);
    // FaceMesh's 68 and PRNet's keypoints are not the same points (3.75 px apart on average), so
    // the z alignment is close to, not exactly, the identity scale and the −40 shift.
    expect(Math.abs(fit.zScale - 1)).toBeLessThan(0.15);
    expect(Math.abs(fit.zShift + 40)).toBeLessThan(5);
    expect(fit.foldedTriangles).toBeLessThan(0.001 * fit.checkedTriangles);
    expect(judgeTarget(fit)).toBe('');
    expect(fit.controlResidual.keypoints).toBeLessThan(0.5);
    // Keypoints land on the (z-shifted) 3DDFA points.
    let minZ = Infinity;
    for (let i = 2; i < fit.map!.length; i += 3) minZ = Math.min(minZ, fit.map![i]!);
    expect(Math.abs(minZ)).toBeLessThan(1e-3);
    // Table sanity: the 68 table is human's, and its jaw starts at 127.
    expect(corr.table68[0]).toBe(MEDIAPIPE_68[0]);
  });

  it('loss weights: layout classes inside the coverage, 1 where extrapolated, 0 off the face, 16 at keypoints', async () => {
    const layout = await loadLayout();
    const corr = await loadCorrespondence();
    const { weights, counts } = lossWeights(layout, corr.coverage);
    let face = 0;
    for (let p = 0; p < weights.length; p++) {
      if (!layout.faceMask[p]) expect(weights[p]).toBe(0);
      else face++;
    }
    expect(face).toBe(43867);
    expect(counts[16]).toBe(68);
    expect((counts[1] ?? 0) + (counts[3] ?? 0) + (counts[4] ?? 0) + (counts[16] ?? 0)).toBe(43867);
  });

  it('similarity fit recovers a known similarity', () => {
    const r = rng(3);
    const src = Float64Array.from({ length: 60 }, () => r() * 10);
    const sim = { s: 2.5, R: rotation(-0.3, 0.8, 0.2), t: Float64Array.from([1, -2, 3]) };
    const dst = applySimilarity(sim, src);
    const fit = fitSimilarity(src, dst);
    expect(fit.s).toBeCloseTo(2.5, 9);
    for (let i = 0; i < 9; i++) expect(fit.R[i]).toBeCloseTo(sim.R[i]!, 9);
  });
});

const haveLabels = existsSync(labelsDir('eval')) && readLabels(labelsDir('eval')).records.length > 0;

describe.runIf(haveLabels)('training pack', () => {
  it('weighs rare faces up: AFLW2000-3D pose from the teachers and the ground truth agree, profiles and upward pitch draw more', async () => {
    const kc = canonicalKeypoints(await loadLayout());
    const recs = new Map(readLabels(labelsDir('eval')).records.map((r) => [r.file.replace(/^.*\//, ''), r]));
    const frontal = recs.get('image00050.jpg'), profile = recs.get('image00475.jpg'), up = recs.get('image01038.jpg'), open = recs.get('image03324.jpg');
    if (!frontal || !profile || !up || !open) throw new Error('eval labels lack the AFLW2000-3D images');
    const [f, p, u, o] = [frontal, profile, up, open].map((r) => faceStats(r.tddfa, kc));
    // AFLW2000-3D's own pose (Pose_Para, degrees): 00050 yaw ~1; 00475 yaw ~66 and looking up; 01038 looking up
    expect(Math.abs(f!.yaw)).toBeLessThan(10);
    expect(Math.abs(p!.yaw)).toBeGreaterThan(50);
    expect(u!.pitch).toBeGreaterThan(15);
    expect(o!.mouth).toBeGreaterThan(0.12);
    expect(f!.mouth).toBeLessThan(0.06);
    expect(samplingWeight(f!)).toBeLessThan(1.5);
    for (const s of [p!, u!, o!]) expect(samplingWeight(s)).toBeGreaterThanOrEqual(4);
  });


  it('round-trips: K from meta.controls + canonical times the stored coefficients reproduces the fit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-pack-'));
    try {
      const meta = await buildPack({ out: join(dir, 'pack'), sets: ['eval'], holdoutFraction: 0.25, log: () => {} });
      expect(meta.count).toBeGreaterThan(0);
      const pack = readPack(join(dir, 'pack'));
      expect(pack.count).toBe(meta.count);
      expect(pack.offsets[pack.count]).toBe(pack.images.length);
      const names = readFileSync(join(dir, 'pack', 'names.txt'), 'utf8').trim().split('\n');
      expect(names.length).toBe(pack.count);
      names.forEach((n, i) => expect((pack.flags[i]! & 2) !== 0).toBe(fnv1a(n) < 0.25 * 2 ** 32));
      expect(pack.weights.length).toBe(65536);
      // JPEG magic at each offset.
      for (let i = 0; i < pack.count; i++) expect(pack.images[pack.offsets[i]!]).toBe(0xff);
      // every sample has its draw weight, the one its teachers' pose gives, relative within the pack
      // (mean 1 over the training samples; test/pack-mix.test.ts checks the mix under a budget)
      const recs = new Map(readLabels(labelsDir('eval')).records.map((r) => [r.file, r]));
      const kc = canonicalKeypoints(await loadLayout());
      const ratios = names.map((n, i) => pack.sampleWeights[i]! / samplingWeight(faceStats(recs.get(n)!.tddfa, kc)));
      ratios.forEach((r) => expect(r).toBeCloseTo(ratios[0]!, 4));
      const train = names.map((_, i) => i).filter((i) => !(pack.flags[i]! & 2));
      expect(train.reduce((a, i) => a + pack.sampleWeights[i]!, 0) / train.length).toBeCloseTo(1, 4);
      const v = await verifyPack(join(dir, 'pack'), 0);
      // Exact against the float16-rounded coefficients; float16 itself costs a fraction of a pixel.
      expect(v.vsFp16).toBeLessThan(0.05);
      expect(v.vsFit).toBeLessThan(0.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('training pack without labels', () => {
  it('refuses at once, naming the labels folders, and writes nothing (a 0-sample pack was written and its --verify crashed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-nopack-'));
    try {
      await expect(buildPack({ out: join(dir, 'pack'), sets: ['no-such-set'], log: () => {} })).rejects.toThrow(/^no labelled faces in .*no-such-set: run `npx prnet data label` first/);
      expect(existsSync(join(dir, 'pack'))).toBe(false);
      // Labels, but the photos read from another folder than the one they were labelled in (make_pack.sh
      // passed --shared to the labeller only): one line, nothing written.
      const cache = process.env.PRNET_CACHE;
      process.env.PRNET_CACHE = join(dir, 'cache');
      try {
        const w = new LabelsWriter(labelsDir('misc'), 0);
        w.append({ file: 'faces/misc/not-here.jpg', ok: true, w: 1, h: 1 }, blankLabelRecord());
        w.close();
        await expect(buildPack({ out: join(dir, 'pack'), sets: ['misc'], shared: dir, log: () => {} })).rejects.toThrow(/^no sample could be packed \(dropped \{"photo-error":1\}\): the photos are read from /);
      } finally {
        if (cache === undefined) delete process.env.PRNET_CACHE;
        else process.env.PRNET_CACHE = cache;
      }
      expect(existsSync(join(dir, 'pack'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the command refuses AFLW images, unknown options and numbers that are not (one line, exit 2)', () => {
    const script = join(import.meta.dirname, '..', 'scripts', 'pack-training.ts');
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', timeout: 60_000 });
    for (const [args, line] of [
      [['--out', 'x', '--sets', 'misc,eval'], 'pack-training: --sets: eval holds AFLW2000-3D images (part of AFLW, the benchmark), which are never trained on'],
      [['--out', 'x', '--max-mb', '1'], "pack-training: Unknown option '--max-mb'"],
      [['--out', 'x', '--holdout-fraction', 'abc'], "pack-training: --holdout-fraction must be a fraction from 0 to below 1, got 'abc'"],
    ] as const) {
      const r = run(...args);
      expect([r.status, r.stderr.split('\n')[0]]).toEqual([2, line]);
    }
  });
});
