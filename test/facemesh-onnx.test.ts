/**
 * The ONNX FaceMesh teacher (tools/data/facemesh-onnx.ts) against FaceMesh through human
 * (tools/data/facemesh.ts) on real photos, and face-by-face labelling of a multi-face web photo.
 * Tolerances from `npx tsx scripts/facemesh-onnx-check.ts --count 300` (docs/labels-format.md):
 * on human's own crop the two agree to 1.1 % NME (95th percentile 1.9 %); as the labeller runs
 * (own detector, rotated crop, 3 passes) to ~1.5–2 % (95th percentile ~5 %).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blankLabelRecord } from './helpers/labels.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { detectFaceMesh } from '../tools/data/facemesh.js';
import { eyeDistance468, loadFaceMeshOnnx, roiFromPoints, roiPointsToPhoto } from '../tools/data/facemesh-onnx.js';
import { labelImageFaces, labelPhotos } from '../tools/data/label.js';
import { LabelsWriter, readLabels } from '../tools/data/labels-file.js';
import { sharedDir } from '../tools/data/tddfa.js';
import { diffPoints } from '../scripts/facemesh-onnx-check.js';
import { packRegion, packedTeachers } from '../scripts/pack-training.js';
import { squareFromLandmarks } from '../src/crop/rules.js';

const shared = sharedDir();
const tmp = mkdtempSync(join(tmpdir(), 'prnet-fmonnx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('FaceMesh on onnxruntime agrees with FaceMesh through human', () => {
  const photos = [
    'faces/utkface/100_0_0_20170112213500903.jpg.chip.jpg',
    'faces/misc/0.jpg',
    'faces/webfaces/pic00161.jpg',
  ];
  for (const name of photos) {
    it(`on ${name.split('/').pop()}: same crop ≤ 2.5 % NME, labeller ≤ 4 %, z in the same units`, async () => {
      const image = await decodeImageFile(join(shared, name));
      const human = (await detectFaceMesh(image, { pad: 50, minScore: 0.5 }))[0];
      expect(human).toBeDefined();
      const fm = await loadFaceMeshOnnx();
      // Exactly human's crop (axis-aligned square, black outside the photo).
      const roi = { cx: human!.box.x + human!.box.width / 2, cy: human!.box.y + human!.box.height / 2, side: human!.cropSide, angle: 0 };
      const same = await fm.meshOnRoi(image, roi, 'black');
      expect(same.score).toBeGreaterThan(0.5);
      const d1 = diffPoints(same.points, human!.points);
      expect(d1.nme).toBeLessThan(0.025);
      expect(d1.zScale).toBeGreaterThan(0.85);
      expect(d1.zScale).toBeLessThan(1.15);
      // As the labeller runs it: the product's detector, MediaPipe's rotated crop, up to 3 passes.
      const faces = await fm.detect(image);
      expect(faces.length).toBeGreaterThan(0);
      const d2 = diffPoints(faces[0]!.points, human!.points);
      expect(d2.nme).toBeLessThan(0.04);
      // z towards the camera: the nose tip (vertex 4) nearer than the face's outline (vertex 234).
      expect(faces[0]!.points[3 * 4 + 2]).toBeGreaterThan(faces[0]!.points[3 * 234 + 2]!);
    });
  }

  it('maps the model frame to the photo: a rotated crop round-trips through roiFromPoints', () => {
    // Synthetic model output: a square of points around the crop centre, read back through a rotated region.
    const roi = { cx: 100, cy: 80, side: 96, angle: 0.3 };
    const raw = new Float32Array(468 * 3);
    for (let i = 0; i < 468; i++) { raw[3 * i] = 48 + (i % 97); raw[3 * i + 1] = 48 + ((i * 7) % 97); raw[3 * i + 2] = -10; }
    const p = roiPointsToPhoto(raw, roi);
    // Input pixel 96, 96 (the crop centre) would land on the region's centre (pixel-centre frame: −0.5).
    const c = roiPointsToPhoto(Float32Array.from({ length: 1404 }, (_, k) => (k % 3 === 2 ? 0 : 96)), roi);
    expect(c[0]).toBeCloseTo(99.5, 5);
    expect(c[1]).toBeCloseTo(79.5, 5);
    // z: raw −10 input px → +10 · side / 192 photo px towards the camera.
    expect(p[2]).toBeCloseTo(5, 5);
    // Round trip: points on a circle of radius 64 model px about the crop centre (its box is 64 photo
    // px whatever the rotation, so 1.5 × 64 = the region's side), eye corners 33 and 263 on the
    // crop's horizontal through the centre (so the region's angle): the region comes back.
    const ring = new Float32Array(468 * 3);
    for (let i = 0; i < 468; i++) {
      const t = (2 * Math.PI * i) / 468;
      ring[3 * i] = 96 + 64 * Math.cos(t);
      ring[3 * i + 1] = 96 + 64 * Math.sin(t);
    }
    ring.set([96 - 30, 96, 0], 3 * 33);
    ring.set([96 + 30, 96, 0], 3 * 263);
    const back = roiFromPoints(roiPointsToPhoto(ring, roi));
    expect(back.cx).toBeCloseTo(roi.cx, 5);
    expect(back.cy).toBeCloseTo(roi.cy, 5);
    expect(back.angle).toBeCloseTo(roi.angle, 6);
    expect(back.side).toBeCloseTo(roi.side, 1);
  });
});

describe('webfaces: every face of a photo', () => {
  // Ground truth (faces/webfaces/ground-truth.txt): 4 faces with eye distances 57, 53, 53, 52 px.
  const name = 'faces/webfaces/pic08437.jpg';
  it('labels several faces of one web photo, each with its region inside the photo', async () => {
    const image = await decodeImageFile(join(shared, name));
    const rs = await labelImageFaces(image, { allFaces: true, minEyeDistance: 30 });
    const ok = rs.filter((r) => r.ok);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    const centres: [number, number][] = [];
    for (const r of ok) {
      if (!r.ok) continue;
      expect(eyeDistance468(r.record.facemesh)).toBeGreaterThanOrEqual(30);
      const region = packRegion({ ...r.record }, 'webfaces');
      expect(region.x0).toBeGreaterThanOrEqual(0);
      expect(region.y0).toBeGreaterThanOrEqual(0);
      expect(region.x0 + region.w).toBeLessThanOrEqual(image.width);
      expect(region.y0 + region.h).toBeLessThanOrEqual(image.height);
      expect(Math.max(region.outW, region.outH)).toBeLessThanOrEqual(256);
      // The face's PRNet crop centre lies inside its region, in the region's pixels.
      const t = packedTeachers(r.record, region);
      const sq = squareFromLandmarks(t.tddfa, 3);
      expect(sq.cx).toBeGreaterThan(0);
      expect(sq.cx).toBeLessThan(region.outW);
      expect(sq.cy).toBeGreaterThan(0);
      expect(sq.cy).toBeLessThan(region.outH);
      const orig = squareFromLandmarks(r.record.tddfa, 3);
      centres.push([orig.cx, orig.cy]);
    }
    // Distinct faces: no two centres within 30 px.
    for (let i = 0; i < centres.length; i++) {
      for (let j = i + 1; j < centres.length; j++) expect(Math.hypot(centres[i]![0] - centres[j]![0], centres[i]![1] - centres[j]![1])).toBeGreaterThan(30);
    }
  });

  it('writes one line per face (face, faces) and reads the records back with their face index', async () => {
    const dir = join(tmp, 'web');
    const p = await labelPhotos({ files: [join(shared, name)], out: dir, root: shared, allFaces: true });
    expect(p.kept).toBeGreaterThanOrEqual(3);
    const set = readLabels(dir);
    expect(set.records.map((r) => r.face)).toEqual(set.entries.filter((e) => e.ok).map((e) => e.face));
    expect(new Set(set.entries.map((e) => e.faces))).toEqual(new Set([set.entries.length]));
    expect(set.entries.every((e) => e.fm === 'onnx')).toBe(true);
  });

  it('labels again, on resume, a photo whose face lines a kill tore off (not counted as done)', async () => {
    const dir = join(tmp, 'resume-torn');
    const w = new LabelsWriter(dir, 0);
    // Two of the photo's three face lines made it to disk before the kill.
    w.appendPhoto([
      { entry: { file: name, ok: true, face: 0, faces: 3 }, record: blankLabelRecord(3) },
      { entry: { file: name, ok: true, face: 1, faces: 3 }, record: blankLabelRecord(3) },
    ]);
    w.close();
    const p = await labelPhotos({ files: [join(shared, name)], out: dir, root: shared, allFaces: true });
    expect(p.skipped).toBe(0);
    expect(p.done).toBe(1);
    const set = readLabels(dir);
    expect(set.entries.every((e) => e.faces === set.entries.length)).toBe(true);
    expect(set.records.every((r) => r.width > 1)).toBe(true); // the torn blank records are gone
  });

  it('cuts a photo whose face lines were torn off by a kill, records included', () => {
    const dir = join(tmp, 'torn-faces');
    const rec = blankLabelRecord(2);
    const w = new LabelsWriter(dir, 0);
    w.appendPhoto([{ entry: { file: 'a.jpg', ok: true, face: 0, faces: 1 }, record: rec }]);
    // A photo of 3 lines of which only 2 made it to disk.
    w.appendPhoto([
      { entry: { file: 'b.jpg', ok: true, face: 0, faces: 3 }, record: rec },
      { entry: { file: 'b.jpg', ok: false, face: 1, faces: 3, reason: 'small-face' } },
    ]);
    w.close();
    const w2 = new LabelsWriter(dir, 0);
    expect([w2.records, w2.lines]).toEqual([1, 1]);
    w2.close();
    expect(readLabels(dir).entries.map((e) => e.file)).toEqual(['a.jpg']);
  });
});
