import { mkdtempSync, mkdirSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createPrnet } from '../src/pipeline/node.js';
import { nearestFace } from '../tools/eval/nme.js';
import { evaluatePts, readPts } from '../tools/eval/pts.js';
import { runMain } from './helpers/main-inprocess.js';

const AFW = join(import.meta.dirname, '..', '..', 'shared', 'eval', 'afw68');

describe('prnet eval pts (iBUG .pts ground truth)', () => {
  it('reads 68 points from a .pts file, shifted from 1-based pixels', async () => {
    const p = await readPts(join(AFW, '1051618982_1.pts'));
    expect(p).toHaveLength(136);
    expect(p[0]).toBeCloseTo(171.693 - 1, 3);
    expect(p[1]).toBeCloseTo(201.919 - 1, 3);
  });

  it('rejects a .pts file without 68 points, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-pts-'));
    try {
      writeFileSync(join(dir, 'bad.pts'), 'version: 1\nn_points: 2\n{\n1 2\n3 4\n}\n');
      await expect(readPts(join(dir, 'bad.pts'))).rejects.toThrow(/bad\.pts.*68 points|68 points.*bad\.pts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches the annotated face by landmark centroid', () => {
    const gt = new Float64Array(136).map((_, i) => (i % 2 ? 100 : 300));
    const far = new Float32Array(204).fill(10);
    const near = new Float32Array(204).map((_, i) => (i % 3 === 0 ? 305 : i % 3 === 1 ? 98 : 0));
    expect(nearestFace([far, near], gt)).toBe(near);
    expect(nearestFace([], gt)).toBeNull();
    // AFLW's ground truth has x, y, z per point; a face farther than maxDistance is none
    const gt3 = new Float64Array(204).map((_, i) => (i % 3 === 0 ? 300 : i % 3 === 1 ? 100 : 7));
    expect(nearestFace([far, near], gt3, 3)).toBe(near);
    expect(nearestFace([far, near], gt3, 3, 6)).toBe(near);
    expect(nearestFace([far, near], gt3, 3, 5)).toBeNull();
  });

  it('scores the bundled model on AFW faces (without peers): every face found, NME under 10 %', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-pts-'));
    try {
      for (const n of ['1051618982_1', '111076519_1', '111076519_2']) for (const ext of ['.jpg', '.pts']) copyFileSync(join(AFW, n + ext), join(dir, n + ext));
      const prnet = await createPrnet();
      const seen: string[] = [];
      const r = await evaluatePts(prnet, dir, { peers: false, onImage: (f) => seen.push(f) });
      // The test-time options of `prnet eval --no-flip --smooth σ` reach the reconstruction.
      const noFlip = await evaluatePts(prnet, dir, { peers: false, flip: false });
      const raw = await evaluatePts(prnet, dir, { peers: false, smooth: 0 });
      await prnet.dispose();
      expect(r.images).toBe(3);
      expect(seen).toHaveLength(3);
      expect(r.ours.failed).toBe(0);
      for (const s of r.ours.perImage) expect(s.nme2d!, s.image).toBeLessThan(0.1);
      expect(r.ours.nme2d).toBeGreaterThan(0.005);
      // Each row carries the scored face's quality signals (docs/evaluation.md §0.17): faces read
      // right, both low; without flip, no flip disagreement.
      for (const s of r.ours.perImage) {
        expect(s.flipDisagreement!, s.image).toBeGreaterThan(0);
        expect(s.flipDisagreement!, s.image).toBeLessThan(0.1);
        expect(s.keypointDisagreement!, s.image).toBeGreaterThan(0);
        expect(s.keypointDisagreement!, s.image).toBeLessThan(0.12);
      }
      for (const s of noFlip.ours.perImage) {
        expect(s.flipDisagreement, s.image).toBeUndefined();
        expect(s.keypointDisagreement!, s.image).toBeGreaterThan(0);
      }
      // …so none is suspect, and the summary says so
      for (const s of r.ours.perImage) expect(s.suspect, s.image).toBe(false);
      expect(r.ours.suspect).toEqual({ faces: 3, suspect: 0, suspectFailures: 0, failures: 0, meanNotSuspect: r.ours.nme2d });
      for (const other of [noFlip, raw]) {
        expect(other.ours.failed).toBe(0);
        expect(other.ours.nme2d!).toBeLessThan(0.1);
        expect(Math.abs(other.ours.nme2d! - r.ours.nme2d!)).toBeGreaterThan(1e-5);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreadable .pts is reported on stderr with exit 1, not counted as "no face"; images in any format the product reads are scored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-pts-'));
    try {
      copyFileSync(join(AFW, '111076519_1.jpg'), join(dir, 'good.jpg'));
      copyFileSync(join(AFW, '111076519_1.pts'), join(dir, 'good.pts'));
      await sharp(join(AFW, '111076519_2.jpg')).webp({ quality: 95 }).toFile(join(dir, 'other.webp'));
      copyFileSync(join(AFW, '111076519_2.pts'), join(dir, 'other.pts'));
      copyFileSync(join(AFW, '1051618982_1.jpg'), join(dir, 'broken.jpg'));
      writeFileSync(join(dir, 'broken.pts'), 'garbage\n');
      const r = await runMain(['eval', 'pts', dir, '--no-peers', '--json', '--quiet', '--model', 'light']);
      expect(r.code).toBe(1);
      expect(r.errLines).toEqual([`prnet: ${join(dir, 'broken.pts')}: expected 68 points between braces, got 0`]);
      type Scores = { scored: number; failed: number; common: { images: number }; perImage: { image: string; nme2d: number | null }[] };
      // as `eval aflw2000 --json`: ours at the top level, the peers under `peers`
      const out = JSON.parse(r.stdout) as Scores & { images: number; crop: string; peers: Record<string, Scores> };
      expect([out.images, out.crop, out.peers]).toEqual([3, 'detector', {}]);
      const ours = out;
      expect(ours.perImage.map((s) => [s.image, s.nme2d !== null])).toEqual([['broken.jpg', false], ['good.jpg', true], ['other.webp', true]]);
      expect([ours.scored, ours.failed, ours.common.images]).toEqual([2, 1, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a run that scores none of its images (--min-score 1: no face kept) says so, exit 1 (it printed empty means and exited 0)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-pts-'));
    try {
      copyFileSync(join(AFW, '111076519_1.jpg'), join(dir, 'a.jpg'));
      copyFileSync(join(AFW, '111076519_1.pts'), join(dir, 'a.pts'));
      const none = await runMain(['eval', 'pts', dir, '--no-peers', '--quiet', '--model', 'light', '--min-score', '1']);
      expect(none.code).toBe(1);
      expect(none.errLines).toEqual(["prnet: prnet-ts scored none of the 1 image(s): no annotated face found near its ground truth in any (the report lists each image's reason)"]);
      expect(none.stdout).toMatch(/faces scored +0/);
      const json = await runMain(['eval', 'pts', dir, '--no-peers', '--quiet', '--json', '--model', 'light', '--min-score', '1']);
      expect([json.code, (JSON.parse(json.stdout) as { scored: number }).scored]).toEqual([1, 0]);
      // Scored, the same image exits 0.
      const some = await runMain(['eval', 'pts', dir, '--no-peers', '--quiet', '--model', 'light']);
      expect([some.code, some.errLines]).toEqual([0, []]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a .pts that cannot be read (a folder of that name) is one unreadable pair, exit 1; the run goes on (it ended with exit 70, the file unnamed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-pts-'));
    try {
      copyFileSync(join(AFW, '111076519_1.jpg'), join(dir, 'good.jpg'));
      copyFileSync(join(AFW, '111076519_1.pts'), join(dir, 'good.pts'));
      copyFileSync(join(AFW, '1051618982_1.jpg'), join(dir, 'folder.jpg'));
      mkdirSync(join(dir, 'folder.pts'));
      await expect(readPts(join(dir, 'folder.pts'))).rejects.toThrow(`${join(dir, 'folder.pts')}: is a folder, not a .pts file`);
      await expect(readPts(join(dir, 'absent.pts'))).rejects.toThrow(`${join(dir, 'absent.pts')}: no such file`);
      const r = await runMain(['eval', 'pts', dir, '--no-peers', '--json', '--quiet', '--model', 'light']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.errLines).toEqual([`prnet: ${join(dir, 'folder.pts')}: is a folder, not a .pts file`]);
      const out = JSON.parse(r.stdout) as { scored: number; perImage: { image: string; nme2d: number | null; error?: string }[] };
      expect(out.perImage.map((s) => [s.image, s.nme2d !== null])).toEqual([['folder.jpg', false], ['good.jpg', true]]);
      expect(out.scored).toBe(1);
      // The progress bar counts that pair as failed (it ticked every image as a success)
      const ticks: [string, boolean][] = [];
      const prnet = await createPrnet({ model: 'light' });
      try {
        await evaluatePts(prnet, dir, { peers: false, onImage: (f, ok) => ticks.push([basename(f), ok]) });
      } finally {
        await prnet.dispose();
      }
      expect(ticks).toEqual([['folder.jpg', false], ['good.jpg', true]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('another person\'s face is not scored for the annotated one (greyed out): a row without a face; unpaired files and .PTS in capitals are said', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-pts-'));
    try {
      // Two faces side by side; the .pts of the right one, whose half is then greyed out.
      const [a, b] = ['111076519_1', '1051618982_1'].map((n) => join(AFW, n + '.jpg'));
      const [ma, mb] = await Promise.all([sharp(a).metadata(), sharp(b).metadata()]);
      const h = Math.max(ma.height!, mb.height!);
      const pair = async (hideRight: boolean): Promise<Buffer> => sharp({ create: { width: ma.width! + mb.width!, height: h, channels: 3, background: '#808080' } })
        .composite([{ input: a, left: 0, top: 0 }, ...(hideRight ? [] : [{ input: b, left: ma.width!, top: 0 }])]).jpeg().toBuffer();
      const shifted = (await import('node:fs')).readFileSync(join(AFW, '1051618982_1.pts'), 'utf8').replace(/^([\d.]+) ([\d.]+)$/gm, (_, x: string, y: string) => `${Number(x) + ma.width!} ${y}`);
      writeFileSync(join(dir, 'both.jpg'), await pair(false));
      writeFileSync(join(dir, 'both.PTS'), shifted);
      writeFileSync(join(dir, 'hidden.jpg'), await pair(true));
      writeFileSync(join(dir, 'hidden.pts'), shifted);
      copyFileSync(b, join(dir, 'alone.jpg')); // no .pts
      writeFileSync(join(dir, 'orphan.pts'), shifted); // no image
      // the same photo as PNG beside both.jpg: one image per ground truth (both were scored, the face counted twice)
      await sharp(join(dir, 'both.jpg')).png().toFile(join(dir, 'both.png'));
      const r = await runMain(['eval', 'pts', dir, '--no-peers', '--json', '--quiet', '--model', 'light']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.errLines).toEqual([
        `prnet: ${join(dir, 'alone.jpg')}: left out of the evaluation (no .pts ground truth of that name beside it)`,
        `prnet: ${join(dir, 'both.png')}: left out of the evaluation (its .pts ground truth is both.jpg's: one image per ground truth)`,
        `prnet: ${join(dir, 'orphan.pts')}: left out of the evaluation (no image of that name beside it)`,
      ]);
      const out = JSON.parse(r.stdout) as { images: number; unpaired: string[]; perImage: { image: string; nme2d: number | null; error?: string }[] };
      expect(out.unpaired).toEqual(['alone.jpg', 'both.png', 'orphan.pts']);
      expect(out.perImage.map((s) => s.image)).toEqual(['both.jpg', 'hidden.jpg']);
      expect(out.perImage[0].nme2d).toBeLessThan(0.1);
      // Before: the face on the left was scored for the hidden one (NME in the hundreds of per cent).
      expect(out.perImage[1]).toMatchObject({ nme2d: null, error: expect.stringMatching(/^no face near the annotated one \(\d+ elsewhere\)$/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the wrong folder or a file: one line, not one per file left out', async () => {
    // The AFW folder given to the AFLW2000-3D benchmark printed 337 "left out" lines before the cause.
    let r = await runMain(['eval', 'aflw2000', AFW, '--no-peers', '--quiet', '--model', 'light']);
    expect([r.code, r.errLines]).toEqual([1, [`prnet: ${AFW}: no images with a .mat ground truth beside them (337 files left out; it holds 337 .pts files: prnet eval pts)`]]);
    const file = join(AFW, '111076519_1.jpg');
    r = await runMain(['eval', 'pts', file, '--no-peers', '--quiet', '--model', 'light']);
    expect([r.code, r.errLines]).toEqual([1, [`prnet: ${file}: not a folder (eval takes the folder of images and their ground truth)`]]);
    r = await runMain(['eval', 'pts', join(AFW, 'no-such-folder'), '--no-peers', '--quiet', '--model', 'light']);
    expect([r.code, r.errLines]).toEqual([1, [`prnet: ${join(AFW, 'no-such-folder')}: no such folder`]]);
  });
});
