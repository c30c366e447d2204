import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blankLabelRecord } from './helpers/labels.js';
import { gradientPng } from './helpers/images.js';
import { runLabelCommand } from '../tools/data/label-runner.js';
import { startCli } from './helpers/spawn.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { detectFaceMesh, facemesh68, pointsBox } from '../tools/data/facemesh.js';
import { cropFromLandmarks, runTddfa, sharedDir } from '../tools/data/tddfa.js';
import { innerDisagreement, labelImage, labelPhotos } from '../tools/data/label.js';
import { doneFiles, LabelsWriter, readLabels, type LabelRecord } from '../tools/data/labels-file.js';

const shared = sharedDir();
const photos = [
  join(shared, 'eval', 'aflw2000-3d', 'image00050.jpg'),
  join(shared, 'faces', 'utkface', '100_0_0_20170112213500903.jpg.chip.jpg'),
  join(shared, 'faces', 'utkface', '26_0_0_20170117172613381.jpg.chip.jpg'),
];
const tmp = mkdtempSync(join(tmpdir(), 'prnet-label-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('teachers on real photos', () => {
  for (const file of photos) {
    it(`FaceMesh finds 468 points inside ${file.split('/').pop()} and 3DDFA_V2 agrees on the inner 68`, async () => {
      const image = await decodeImageFile(file);
      const faces = await detectFaceMesh(image, { pad: 50, minScore: 0.5 });
      expect(faces.length).toBeGreaterThan(0);
      const f = faces[0];
      expect(f.points.length).toBe(468 * 3);
      for (let i = 0; i < 468; i++) {
        expect(f.points[3 * i]).toBeGreaterThanOrEqual(-1);
        expect(f.points[3 * i]).toBeLessThanOrEqual(image.width);
        expect(f.points[3 * i + 1]).toBeGreaterThanOrEqual(-1);
        expect(f.points[3 * i + 1]).toBeLessThanOrEqual(image.height);
        expect(Number.isFinite(f.points[3 * i + 2])).toBe(true);
      }
      // z towards the camera: the nose tip (vertex 4) is nearer than the face's outline (vertex 234).
      expect(f.points[3 * 4 + 2]).toBeGreaterThan(f.points[3 * 234 + 2]);
      const fm68 = facemesh68(f.points);
      const td = await runTddfa(image, cropFromLandmarks(fm68));
      expect(td.length).toBe(68 * 3);
      expect(innerDisagreement(td, fm68)).toBeLessThan(0.08);
      // 3DDFA_V2's z: nose tip (30) nearer than the jaw corner (0), in pixels of the same scale.
      expect(td[3 * 30 + 2]).toBeGreaterThan(td[3 * 0 + 2]);
      const box = pointsBox(fm68);
      expect(td[3 * 30 + 2] - td[3 * 0 + 2]).toBeLessThan(Math.max(box.width, box.height));
    });
  }
});

describe('labels file', () => {
  it('round-trips records and entries (write, read back equal)', async () => {
    const dir = join(tmp, 'roundtrip');
    const image = await decodeImageFile(photos[0]);
    const r = await labelImage(image);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const w = new LabelsWriter(dir, 0);
    w.append({ file: 'a.jpg', ok: false, reason: 'no-face', w: 10, h: 10 });
    w.append({ file: 'b.jpg', ok: true, w: image.width, h: image.height }, r.record);
    w.close();
    const set = readLabels(dir);
    expect(set.entries.map((e) => [e.file, e.ok, e.reason])).toEqual([['a.jpg', false, 'no-face'], ['b.jpg', true, undefined]]);
    expect(set.records.length).toBe(1);
    const back = set.records[0];
    const want: LabelRecord = { ...r.record, line: 1 };
    expect(back.file).toBe('b.jpg');
    for (const k of ['width', 'height', 'cropSide', 'faceCount', 'line'] as const) expect(back[k]).toBe(want[k]);
    for (const k of ['score', 'boxScore', 'faceScore', 'disagreement'] as const) expect(back[k]).toBeCloseTo(want[k], 6);
    expect(back.box.x).toBeCloseTo(want.box.x, 4);
    expect(back.crop.side).toBeCloseTo(want.crop.side, 4);
    expect(Array.from(back.facemesh)).toEqual(Array.from(Float32Array.from(want.facemesh)));
    expect(Array.from(back.tddfa)).toEqual(Array.from(want.tddfa));
    expect(Array.from(back.params)).toEqual(Array.from(want.params));
  });

  it('repairs a torn tail left by a killed run', () => {
    const dir = join(tmp, 'torn');
    const rec = blankLabelRecord(1);
    const w = new LabelsWriter(dir, 0);
    w.append({ file: 'a.jpg', ok: true }, rec);
    w.close();
    appendFileSync(join(dir, 'part-0.bin'), Buffer.alloc(100)); // half a record
    appendFileSync(join(dir, 'part-0.jsonl'), '{"file":"b.jpg","ok":tr'); // half a line
    const w2 = new LabelsWriter(dir, 0);
    expect([w2.records, w2.lines]).toEqual([1, 1]);
    w2.append({ file: 'c.jpg', ok: true }, rec);
    w2.close();
    const set = readLabels(dir);
    expect(set.entries.map((e) => e.file)).toEqual(['a.jpg', 'c.jpg']);
    expect(set.records.map((r) => r.line)).toEqual([0, 1]);
  });

  it('resuming skips photos already done, kept or dropped', async () => {
    const dir = join(tmp, 'resume');
    const files = [...photos, join(tmp, 'not-an-image.jpg')];
    appendFileSync(files[3], 'garbage');
    const first = await labelPhotos({ files: files.slice(0, 2).concat(files[3]), out: dir, root: shared });
    expect(first.done).toBe(3);
    expect(first.reasons['decode-error']).toBe(1);
    const second = await labelPhotos({ files, out: dir, root: shared });
    expect(second.skipped).toBe(3);
    expect(second.done).toBe(1);
    const set = readLabels(dir);
    expect(set.entries.length).toBe(4);
    expect(new Set(set.entries.map((e) => e.file)).size).toBe(4);
    expect(doneFiles(dir).has('eval/aflw2000-3d/image00050.jpg')).toBe(true);
  });

  it('a limit takes the first photos, done or not: a rerun with the same limit labels nothing more, a higher one the difference', async () => {
    const dir = join(tmp, 'limit');
    const first = await labelPhotos({ files: photos, out: dir, root: shared, limit: 1 });
    expect([first.done, first.skipped]).toEqual([1, 0]);
    const again = await labelPhotos({ files: photos, out: dir, root: shared, limit: 1 });
    expect([again.total, again.done, again.skipped]).toEqual([0, 0, 1]);
    const more = await labelPhotos({ files: photos, out: dir, root: shared, limit: 2 });
    expect([more.done, more.skipped]).toEqual([1, 1]);
    expect(readLabels(dir).entries.map((e) => e.file).filter((f, i, a) => a.indexOf(f) === i)).toEqual(photos.slice(0, 2).map((f) => relative(shared, f)));
  });

  it('a teacher model that cannot be loaded stops the run before its first photo, recording nothing; an unreadable photo is named', async () => {
    const dir = join(tmp, 'no-models');
    const noModels = join(tmp, 'shared-without-models');
    mkdirSync(noModels);
    // (every photo was recorded as dropped, facemesh-error, and a run after the models were in place skipped them all)
    await expect(labelPhotos({ files: photos.slice(1, 2), out: dir, root: shared, shared: noModels })).rejects.toThrow(/face_landmark\.onnx: cannot load FaceMesh/);
    expect(readLabels(dir).entries).toEqual([]);
    const bad = join(tmp, 'truncated.jpg');
    writeFileSync(bad, readFileSync(photos[1]).subarray(0, 2000));
    const named: string[] = [];
    const p = await labelPhotos({ files: [bad, photos[1]], out: dir, root: tmp, onUnreadable: (file, cause) => named.push(`${file} | ${cause}`) });
    expect([p.kept, p.dropped]).toEqual([1, 1]);
    expect(named).toEqual([expect.stringMatching(/^.*truncated\.jpg \| .*truncated\.jpg: cannot decode image \(VipsJpeg: premature end of JPEG image/)]);
  });

  it('prnet data label: 0 when faces are dropped by its rules (no face), 1 only for a photo it cannot read', async () => {
    const own = join(tmp, 'own-shared');
    mkdirSync(join(own, 'faces', 'misc'), { recursive: true });
    symlinkSync(join(shared, 'reference'), join(own, 'reference'));
    copyFileSync(photos[1], join(own, 'faces', 'misc', 'face.jpg'));
    writeFileSync(join(own, 'faces', 'misc', 'blank.png'), await gradientPng(200, 200));
    const args = ['--set', 'misc', '--shared', own, '--out', join(tmp, 'own-labels'), '--workers', '1'];
    // (a dropped face made it exit 1, which stopped training/make_pack.sh before its pack on every fresh run)
    expect(await runLabelCommand(args)).toBe(0);
    expect(readLabels(join(tmp, 'own-labels', 'misc')).entries.map((e) => [e.file, e.ok, e.reason])).toEqual(
      expect.arrayContaining([['faces/misc/face.jpg', true, undefined], ['faces/misc/blank.png', false, 'no-face']]));
    writeFileSync(join(own, 'faces', 'misc', 'truncated.jpg'), readFileSync(photos[1]).subarray(0, 2000));
    expect(await runLabelCommand(args)).toBe(1);
  });

  it('prnet data label with two workers: the progress counts both from its first line; Ctrl-C says what was done and a rerun goes on', async () => {
    const cache = join(tmp, 'cli-cache');
    const args = ['data', 'label', '--set', 'misc', '--limit', '1000', '--workers', '2'];
    const run = startCli(args, { PRNET_CACHE: cache });
    let code: number | null;
    try {
      // (the first lines counted worker 0's share only: 0/500 of 1000)
      await run.waitFor(/\[misc\] .* \d+\/1000 \(\+0 done before\)/, 120_000);
      await new Promise((r) => setTimeout(r, 8000));
      run.child.kill('SIGINT');
      ({ code } = await run.exited);
    } finally {
      run.child.kill('SIGKILL'); // (the workers stop with the parent: their IPC channel closes)
    }
    expect(code).toBe(130);
    const said = run.lines.map((l) => /^misc: interrupted; (\d+) of 1000 photos were done at the last report/.exec(l)).find(Boolean);
    expect(said, run.lines.join('\n')).toBeTruthy();
    const again = startCli(['data', 'label', '--set', 'misc', '--summary'], { PRNET_CACHE: cache });
    expect((await again.exited).code).toBe(0);
    const photos = Number(/^misc: (\d+) photos in /.exec(again.lines.join('\n'))?.[1]);
    expect(photos).toBeGreaterThanOrEqual(Number(said![1]));
  }, 180_000);
});
