/**
 * Quality of the bundled models on real data: these tests fail when a model (or the pipeline
 * around it) gets worse. Thresholds sit with a margin above what was measured when the models
 * were bundled (docs/evaluation.md):
 * - AFLW2000-3D (the 8 images in ../shared/eval, detector crop, test-time flip): default model
 *   4.47 % mean 68-point 2D NME (6.27 % 3D), worst near-frontal image 6.08 %, worst image 6.25 %;
 *   light model (the mobile network since stop 18) 6.62 % (the resfcn light model before it: 10.62 %).
 * - The first 12 held-out UTKFace photos (never trained on) against their fused teacher targets:
 *   default model with the detector 2.64 % mean dense 3D error (worst 4.17 %), 2.00 % NME; light
 *   model in the target crop 8.75 % (the resfcn light model; the mobile one: 5.21 % through the detector over 200 photos). Needs the labels cache (~/.cache/prnet-ts/labels): skipped,
 *   with the reason in its name, without it. The AFLW2000-3D tests never read the cache.
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorrespondence } from '../tools/data/correspondence.js';
import { createTargetSetup } from '../tools/data/groundtruth.js';
import { labelsDir } from '../tools/data/labels-file.js';
import { heldOutByHash, heldOutFromPack, heldOutPhotos, loadLabelRecords, runDenseCheck } from '../tools/eval/dense.js';
import { listAflwImages } from '../tools/eval/aflw2000.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { nme } from '../tools/eval/nme.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import { runCli } from './helpers/cli.js';
import { ASTRONAUT, EVAL, REPO, SHARED } from './helpers/paths.js';
import sharp from 'sharp';

const AFLW = join(EVAL, 'aflw2000-3d');
const DEG = 180 / Math.PI;
/** A fraction as a percentage for test names. */
const pc = (x: number): string => `${+(100 * x).toFixed(1)}%`;

/** Thresholds (fractions of the face size). */
const LIMITS = {
  defaultMean2d: 0.055,
  defaultMean3d: 0.08,
  nearFrontalEach2d: 0.08,
  anyEach2d: 0.10,
  lightMean2d: 0.09,
  heldOutMeanDense3d: 0.035,
  // 6 % until the labels moved to ONNX FaceMesh + 3DDFA_V2 with test-time augmentation (labels v2)
  // and the detector to BlazeFace on onnxruntime: against those targets one chip of the 12
  // (26_1_1_20170116223404554) reads 7.2 % through the detector's crop (6.5 % against the older
  // human-FaceMesh targets, 4.2 % in the target's own crop); a broken model reads > 20 %.
  heldOutEachDense3d: 0.08,
  heldOutMeanNme2d: 0.03,
  lightHeldOutDense3d: 0.08,
};

interface AflwResult {
  image: string;
  yawGt: number;
  pitchGt: number;
  found: boolean;
  nme2d: number;
  nme3d: number;
  yaw: number;
  pitch: number;
  flipDisagreement: number;
  keypointDisagreement: number;
  suspect: boolean | undefined;
  inImage: number;
}

let prnet: Prnet;
let light: Prnet;
const results: Record<'default' | 'light', AflwResult[]> = { default: [], light: [] };

beforeAll(async () => {
  [prnet, light] = await Promise.all([createPrnet({ model: 'default' }), createPrnet({ model: 'light' })]);
  // One pass over the images per model, the way `prnet eval aflw2000` runs them (largest face, flip on).
  for (const item of await listAflwImages(AFLW)) {
    const gt = await loadAflwGroundTruth(item.mat);
    const image = await decodeImageFile(item.image);
    for (const [name, p] of [['default', prnet], ['light', light]] as const) {
      const face = (await p.reconstruct(image, { maxFaces: 1 })).faces[0];
      results[name].push({
        image: item.image.split('/').pop()!,
        yawGt: gt.pose[1]! * DEG,
        pitchGt: gt.pose[0]! * DEG,
        found: Boolean(face),
        nme2d: face ? nme(face.landmarks, gt.pt3d68, 2) : NaN,
        nme3d: face ? nme(face.landmarks, gt.pt3d68, 3) : NaN,
        yaw: face ? face.pose.yaw : NaN,
        pitch: face ? face.pose.pitch : NaN,
        flipDisagreement: face?.flipDisagreement ?? NaN,
        keypointDisagreement: face?.keypointDisagreement ?? NaN,
        suspect: face?.suspect,
        inImage: face?.inImage ?? NaN,
      });
    }
  }
});

afterAll(async () => {
  await prnet?.dispose();
  await light?.dispose();
});

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const show = (r: AflwResult[]) => r.map((x) => `${x.image} yaw ${x.yawGt.toFixed(0)}°: ${(100 * x.nme2d).toFixed(2)}%`).join(', ');

describe('default model on AFLW2000-3D (8 images, detector crop)', () => {
  it('finds a face in every image', () => {
    expect(results.default).toHaveLength(8);
    expect(results.default.filter((r) => !r.found).map((r) => r.image)).toEqual([]);
  });

  it(`mean 68-point NME below ${pc(LIMITS.defaultMean2d)} 2D and ${pc(LIMITS.defaultMean3d)} 3D`, () => {
    const r = results.default;
    expect(mean(r.map((x) => x.nme2d)), show(r)).toBeLessThan(LIMITS.defaultMean2d);
    expect(mean(r.map((x) => x.nme3d))).toBeLessThan(LIMITS.defaultMean3d);
  });

  it(`each near-frontal image (|yaw| < 20°) below ${pc(LIMITS.nearFrontalEach2d)}, every image below ${pc(LIMITS.anyEach2d)}`, () => {
    const frontal = results.default.filter((r) => Math.abs(r.yawGt) < 20);
    expect(frontal.length).toBeGreaterThanOrEqual(4);
    for (const r of frontal) expect(r.nme2d, r.image).toBeLessThan(LIMITS.nearFrontalEach2d);
    for (const r of results.default) expect(r.nme2d, r.image).toBeLessThan(LIMITS.anyEach2d);
  });

  it('pose yaw agrees in sign with Pose_Para on the images with |yaw| > 30°, and is at least half as large', () => {
    const turned = results.default.filter((r) => Math.abs(r.yawGt) > 30);
    expect(turned.length).toBeGreaterThanOrEqual(2);
    for (const r of turned) {
      expect(Math.sign(r.yaw), `${r.image}: ours ${r.yaw.toFixed(1)}°, Pose_Para ${r.yawGt.toFixed(1)}°`).toBe(Math.sign(r.yawGt));
      expect(Math.abs(r.yaw), r.image).toBeGreaterThan(Math.abs(r.yawGt) / 2);
    }
  });

  it('pose pitch follows a head tipped back (Pose_Para pitch > 25°): up, and at least 40 % of it', () => {
    // measured: 00475 20° vs 40°, 00514 27° vs 31°, 01038 30° vs 36° (the first model: 13°, 21°, 19°)
    const up = results.default.filter((r) => r.pitchGt > 25);
    expect(up.length).toBeGreaterThanOrEqual(3);
    for (const r of up) expect(r.pitch, `${r.image}: ours ${r.pitch.toFixed(1)}°, Pose_Para ${r.pitchGt.toFixed(1)}°`).toBeGreaterThan(0.4 * r.pitchGt);
  });
});

describe('light model on AFLW2000-3D (8 images, detector crop)', () => {
  it(`finds every face, mean 68-point 2D NME below ${pc(LIMITS.lightMean2d)}`, () => {
    const r = results.light;
    expect(r.filter((x) => !x.found).map((x) => x.image)).toEqual([]);
    expect(mean(r.map((x) => x.nme2d)), show(r)).toBeLessThan(LIMITS.lightMean2d);
  });

  it('is less accurate than the default model (a swapped or mislabelled file shows here)', () => {
    expect(mean(results.light.map((x) => x.nme2d))).toBeGreaterThan(mean(results.default.map((x) => x.nme2d)));
  });

  it('flags the face it gets wrong by its flip disagreement: the worst NME (its 66° profile) disagrees most, over twice any other', () => {
    // measured: image00475 21.2 % NME, disagreement 0.296; the others 2.9–7.7 %, 0.037–0.073
    const r = [...results.light].sort((a, b) => b.nme2d - a.nme2d);
    expect(r[0].nme2d, show(r)).toBeGreaterThan(0.15);
    for (const x of r.slice(1)) expect(r[0].flipDisagreement, x.image).toBeGreaterThan(2 * x.flipDisagreement);
    for (const x of [...results.light, ...results.default]) {
      expect(x.flipDisagreement, x.image).toBeGreaterThan(0);
      expect(x.flipDisagreement, x.image).toBeLessThan(0.5);
    }
  });

  it('flags it by its keypoint disagreement too (BlazeFace\'s eyes, nose, mouth against the reconstruction\'s), also without flip: over 0.12, every other face of both models under 0.1', async () => {
    // measured: image00475 0.190 (0.306 without flip); the others 0.018–0.076 (default 0.018–0.070)
    const r = [...results.light].sort((a, b) => b.nme2d - a.nme2d);
    expect(r[0].keypointDisagreement, show(r)).toBeGreaterThan(0.12);
    for (const x of [...r.slice(1), ...results.default]) expect(x.keypointDisagreement, x.image).toBeLessThan(0.1);
    const image = await decodeImageFile(`${AFLW}/${r[0].image}`);
    const [noFlip] = (await light.reconstruct(image, { maxFaces: 1, flip: false })).faces;
    expect(noFlip.flipDisagreement).toBeUndefined();
    expect(noFlip.keypointDisagreement).toBeGreaterThan(0.12);
    // none for a box you give (even with the detector's keypoints on it) or a crop
    const [boxed] = (await light.reconstruct(image, { boxes: [{ ...noFlip.box, keypoints: noFlip.box.keypoints }] as never })).faces;
    expect(boxed.keypointDisagreement).toBeUndefined();
    const [cropped] = (await light.reconstruct(image, { crops: [noFlip.crop] })).faces;
    expect(cropped.keypointDisagreement).toBeUndefined();
  });

  it('calls that face suspect (either signal over its threshold) and no face of the other seven of either model; the CLI warns of it', async () => {
    // measured: light image00475 suspect (flip 0.296, keypoints 0.190); the default model's
    // image00475 is suspect too, a false alarm (flip 0.107 on its 66° profile, NME 5.4 %); the
    // other 14 faces' signals are at most 0.073 and 0.076
    const failed = results.light.find((x) => x.image === 'image00475.jpg')!;
    expect(failed.suspect).toBe(true);
    const others = [...results.light, ...results.default].filter((x) => x.image !== 'image00475.jpg');
    expect(others).toHaveLength(14);
    for (const x of others) expect(x.suspect, x.image).toBe(false);
    // The CLI: a warning under the image's line (one image), the suspect faces under the summary
    // (several), none with --quiet; the JSON says "suspect".
    const dir = await mkdtemp(join(tmpdir(), 'prnet-suspect-'));
    try {
      await Promise.all(['image00475.jpg', 'image00050.jpg'].map((f) => copyFile(join(AFLW, f), join(dir, f))));
      const one = await runCli(['reconstruct', join(dir, 'image00475.jpg'), '--model', 'light', '--formats', 'json', '--out', join(dir, 'one')]);
      expect(one.code, one.stderr).toBe(0);
      expect(one.errLines.filter((l) => l.includes('may be wrong'))).toEqual([
        `prnet: warning: ${join(dir, 'image00475.jpg')}: face 0 may be wrong (flip disagreement ${failed.flipDisagreement.toFixed(2)} > 0.1, keypoint disagreement ${failed.keypointDisagreement.toFixed(2)} > 0.12; its JSON's "suspect" is true)`,
      ]);
      expect(JSON.parse(await readFile(join(dir, 'one', 'image00475_face0.json'), 'utf8')).suspect).toBe(true);
      const both = await runCli(['reconstruct', dir, '--model', 'light', '--formats', 'json', '--out', join(dir, 'both')]);
      expect(both.code, both.stderr).toBe(0);
      expect(both.stderr).toContain('2 images: 2 done (2 faces, 1 of them suspect, 2 files in');
      expect(both.errLines.filter((l) => l.startsWith('  suspect: '))).toEqual([`  suspect: ${join(dir, 'image00475.jpg')}: face 0 may be wrong (flip disagreement ${failed.flipDisagreement.toFixed(2)} > 0.1, keypoint disagreement ${failed.keypointDisagreement.toFixed(2)} > 0.12; its JSON's "suspect" is true)`]);
      expect(JSON.parse(await readFile(join(dir, 'both', 'image00050_face0.json'), 'utf8')).suspect).toBe(false);
      // without a JSON written, the warning does not point to one
      const ply = await runCli(['reconstruct', join(dir, 'image00475.jpg'), '--model', 'light', '--formats', 'ply', '--out', join(dir, 'ply')]);
      expect(ply.errLines.filter((l) => l.includes('may be wrong'))).toEqual([
        `prnet: warning: ${join(dir, 'image00475.jpg')}: face 0 may be wrong (flip disagreement ${failed.flipDisagreement.toFixed(2)} > 0.1, keypoint disagreement ${failed.keypointDisagreement.toFixed(2)} > 0.12)`,
      ]);
      const quiet = await runCli(['reconstruct', join(dir, 'image00475.jpg'), '--model', 'light', '--formats', 'json', '--out', join(dir, 'quiet'), '--quiet']);
      expect(quiet.code, quiet.stderr).toBe(0);
      expect(quiet.stderr).not.toContain('may be wrong');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('a face the photo\'s edge cuts through is flagged by inImage (the share of its vertices inside the image)', () => {
  // measured (default model, the astronaut cut through its face box): 1 uncut; a tenth of the box
  // cut off on the left 0.85, a fifth 0.74, three tenths 0.68, two fifths 0.58, half 0.50 (its pose
  // then partly guessed: yaw 4–16° for the uncut 1°)
  it('1 for the AFLW faces and the whole astronaut; falls as the photo is cut further into the face', async () => {
    for (const r of [...results.default, ...results.light]) expect(r.inImage, r.image).toBe(1);
    const { info } = await sharp(ASTRONAUT).raw().toBuffer({ resolveWithObject: true });
    const whole = (await prnet.reconstruct(await decodeImageFile(ASTRONAUT), { maxFaces: 1 })).faces[0]!;
    expect(whole.inImage).toBe(1);
    const shares: number[] = [];
    for (const cut of [0.1, 0.2, 0.4]) {
      const left = Math.round(whole.box.x + cut * whole.box.width);
      const { data, info: c } = await sharp(ASTRONAUT).removeAlpha().extract({ left, top: 0, width: info.width - left, height: info.height }).raw().toBuffer({ resolveWithObject: true });
      const face = (await prnet.reconstruct({ width: c.width, height: c.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) }, { maxFaces: 1 })).faces[0];
      expect(face, `cut ${cut}`).toBeDefined();
      shares.push(face!.inImage);
    }
    expect(shares[0], shares.join(', ')).toBeLessThan(0.95);
    expect(shares[1], shares.join(', ')).toBeLessThan(shares[0]!);
    expect(shares[2], shares.join(', ')).toBeLessThan(shares[1]!);
    expect(shares[2], shares.join(', ')).toBeGreaterThan(0.3);
  });
});

describe('rolled faces: the 8 AFLW2000-3D photos turned in the image plane (the crop turns with the face)', () => {
  /** 2D NME of a model on the photos turned by `deg` (clockwise on screen), against the turned ground truth, and the crops' angles (degrees). */
  const turnedRun = async (p: Prnet, deg: number): Promise<{ nme: number[]; angles: number[] }> => {
    const out = { nme: [] as number[], angles: [] as number[] };
    for (const item of await listAflwImages(AFLW)) {
      const gt = await loadAflwGroundTruth(item.mat);
      const { data, info } = await sharp(item.image).removeAlpha().rotate(deg, { background: '#000' }).raw().toBuffer({ resolveWithObject: true });
      const { width: w, height: h } = await sharp(item.image).metadata();
      const a = (deg * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a);
      // sharp turns about the image's centre onto a canvas that holds the whole turned image
      const turned = Float32Array.from(gt.pt3d68, (v, i) => {
        if (i % 3 === 2) return v;
        const x = (i % 3 === 0 ? v : gt.pt3d68[i - 1]!) + 0.5 - w! / 2, y = (i % 3 === 1 ? v : gt.pt3d68[i + 1]!) + 0.5 - h! / 2;
        return i % 3 === 0 ? c * x - s * y + info.width / 2 - 0.5 : s * x + c * y + info.height / 2 - 0.5;
      });
      const face = (await p.reconstruct({ width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) }, { maxFaces: 1 })).faces[0];
      out.nme.push(face ? nme(face.landmarks, turned, 2) : Infinity);
      out.angles.push(face ? ((face.crop.square.angle ?? 0) * 180) / Math.PI : NaN);
    }
    return out;
  };

  // measured: default 4.5 % upright; turned 90° 5.8 %, −60° 4.9 % (before the crops turned: ~27 % and ~7 %; the
  // crops turned by 35–85° at 90°: BlazeFace's keypoints misjudge some turned AFLW faces); light 90° 7 % (44 %)
  it('default model: turned 90° and −60°, within 2 points of upright; every crop turned at least a third of the way with the face', async () => {
    const upright = mean(results.default.map((x) => x.nme2d));
    for (const deg of [90, -60]) {
      const r = await turnedRun(prnet, deg);
      expect(mean(r.nme), `${deg}°: ${r.nme.map((x) => (100 * x).toFixed(1)).join(', ')}`).toBeLessThan(upright + 0.02);
      for (const angle of r.angles) expect(angle / deg, `${deg}°: crop angles ${r.angles.map((x) => x.toFixed(0)).join(', ')}`).toBeGreaterThan(1 / 3);
    }
  });

  it('light model: turned 90°, mean below its limit', async () => {
    const r = await turnedRun(light, 90);
    expect(mean(r.nme), r.nme.map((x) => (100 * x).toFixed(1)).join(', ')).toBeLessThan(LIMITS.lightMean2d);
  });
});

const haveLabels = existsSync(labelsDir('utkface'));
const PACK = join(REPO, '.train/pack');

describe.runIf(haveLabels)('default model on held-out UTKFace photos vs their fused targets (labels cache)', () => {
  it.runIf(existsSync(PACK))('the hash rule reproduces the pack\'s held-out flags (.train/pack)', () => {
    const fromPack = heldOutFromPack(PACK)!;
    const names = readFileSync(join(PACK, 'names.txt'), 'utf8').split('\n').filter(Boolean);
    expect(heldOutByHash(names)).toEqual(fromPack);
    expect(fromPack.length).toBeGreaterThan(150);
  });

  it(`12 photos: the detector finds each face; dense 3D error below ${pc(LIMITS.heldOutMeanDense3d)} mean, ${pc(LIMITS.heldOutEachDense3d)} each; 68-point NME below ${pc(LIMITS.heldOutMeanNme2d)}; light model's dense 3D below ${pc(LIMITS.lightHeldOutDense3d)}`, async () => {
    const held = heldOutPhotos({ records: loadLabelRecords(['utkface']) });
    const photos = held.photos.slice(0, 12);
    expect(photos.length).toBe(12);
    const correspondence = await loadCorrespondence();
    const setup = createTargetSetup(prnet.layout, correspondence);
    const report = await runDenseCheck({ shared: SHARED, models: [{ name: 'default', prnet }], photos, crops: ['detector'], correspondence, setup });
    const s = report.summaries[0]!;
    const detail = report.results.map((r) => `${r.file.split('/').pop()}: ${r.status} ${r.error ? (100 * r.error.dense3dRel).toFixed(2) + '%' : ''}`).join(', ');
    // A target that fails the pack's fold rule is not scored (not the model's fault); faces must all be found.
    expect(s.scored, detail).toBeGreaterThanOrEqual(10);
    expect(s.noFace + s.failures, detail).toBe(0);
    expect(s.dense3dRel, detail).toBeLessThan(LIMITS.heldOutMeanDense3d);
    for (const r of report.results) if (r.error) expect(r.error.dense3dRel, r.file).toBeLessThan(LIMITS.heldOutEachDense3d);
    expect(s.nme2d, detail).toBeLessThan(LIMITS.heldOutMeanNme2d);

    // The light model in the training crop (its detector path is covered on AFLW2000-3D above).
    const lr = await runDenseCheck({ shared: SHARED, models: [{ name: 'light', prnet: light }], photos, crops: ['target'], correspondence, setup });
    expect(lr.summaries[0]!.dense3dRel).toBeLessThan(LIMITS.lightHeldOutDense3d);
    expect(lr.summaries[0]!.dense3dRel).toBeGreaterThan(s.dense3dRel);
  });
});

// Without the cache, say why the held-out part did not run.
if (!haveLabels) describe('held-out UTKFace dense check', () => {
  it.skip(`skipped: no labels cache at ${labelsDir('utkface')} (run \`prnet data label\` to build it)`, () => {});
});
