/**
 * Fits the crop centre rule from BlazeFace's box and 6 keypoints (src/crop/keypoint-rule.ts) to the
 * centre of the original PRNet's 68-landmark crop, on faces with ground-truth landmarks, and prints
 * the weights to paste into BLAZEFACE_KEYPOINT_CENTRE with the centre error before and after.
 *
 *   npx tsx scripts/fit-keypoint-crop.ts [--dir ../shared/eval/aflw2000-3d-dev] [--lambda 0] [--json rows.json]
 *       [--nme [--model default]]
 *
 * --nme: also the model's 68-point NME (2D and 3D, %, mean overall and by |yaw| bucket) on the
 * same faces with the box rule's centre and with the held-out rule's (the two folds), the side
 * k × the box's either way, and their paired difference (± its standard error): ~3 min.
 *
 * Data: every image of --dir with a .mat ground truth (AFLW2000-3D), the default detector run on
 * it; the face used is the detected box nearest the ground truth's crop centre, within half its
 * side. This is the set the box rule's dx, dy and k were measured on (docs/detectors.md): a crop
 * calibration, not training (the networks never see these images).
 * Fit: least squares of the centre offset (in box sides) on the features, each face entered twice,
 * as it is and mirrored (keypoint-rule.ts MIRROR_SIGNS), so the rule is mirror-symmetric; a ridge
 * term --lambda on every weight but the constant (below). Reported: the centre error (% of the landmark
 * crop's side; median overall and by |yaw| bucket) of the box rule, of the rule fitted on half the
 * faces and measured on the other half (two folds by image order), and of the rule fitted on all.
 * The ridge term multiplies each feature's diagonal of the normal equations by 1 + λ (default 0:
 * the two-fold held-out error was lowest without it; 0.01 and 0.1 gave 2.74 and 2.91 % against 2.63).
 */
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BOX_RULES, squareFromBox, squareFromLandmarks } from '../src/crop/rules.js';
import { KEYPOINT_FEATURES, MAX_KEYPOINT_SHIFT, MIRROR_SIGNS, keypointCentre, keypointFeatures } from '../src/crop/keypoint-rule.js';
import { cropTransform } from '../src/crop/transform.js';
import { createPrnet } from '../src/pipeline/node.js';
import { createDetector } from '../src/detect/index.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { listAflwImages } from '../tools/eval/aflw2000.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { nme, yawBucket, type YawBucket } from '../tools/eval/nme.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

interface Row {
  image: string;
  mat: string;
  bucket: YawBucket;
  box: { x: number; y: number; width: number; height: number };
  keypoints: number[];
  /** The 68-landmark crop square (centre, side). */
  gt: { cx: number; cy: number; side: number };
}

type Weights = { x: number[]; y: number[] };

/** Solves A w = b for a small symmetric positive definite A (Gaussian elimination, partial pivoting). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, i) => row[n]! / row[i]!);
}

/** The ridge fit of the centre offset on the features, each face with its mirror image. */
export function fitCentre(rows: readonly Row[], lambda: number): Weights {
  const n = KEYPOINT_FEATURES;
  const A = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const bx = new Array<number>(n).fill(0), by = new Array<number>(n).fill(0);
  const f = new Float64Array(n);
  for (const r of rows) {
    if (!keypointFeatures(r.box, r.keypoints, f)) continue;
    const s = (r.box.width + r.box.height) / 2;
    const ox = (r.gt.cx - (r.box.x + r.box.width / 2)) / s, oy = (r.gt.cy - (r.box.y + r.box.height / 2)) / s;
    for (const mirror of [false, true]) {
      const g = Array.from(f, (v, j) => (mirror ? v * MIRROR_SIGNS[j]! : v));
      const tx = mirror ? -ox : ox;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) A[i]![j]! += g[i]! * g[j]!;
        bx[i]! += g[i]! * tx;
        by[i]! += g[i]! * oy;
      }
    }
  }
  // Ridge relative to each feature's own energy (scale-free): λ = 0.01 shrinks by about 1 %.
  for (let i = 1; i < n; i++) A[i]![i]! *= 1 + lambda;
  return { x: solve(A, bx), y: solve(A, by) };
}

function centreError(r: Row, c: { cx: number; cy: number }): number {
  return (100 * Math.hypot(c.cx - r.gt.cx, c.cy - r.gt.cy)) / r.gt.side;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
}

function report(label: string, rows: readonly Row[], errors: number[]): string {
  const by = (b: YawBucket) => median(errors.filter((_, i) => rows[i]!.bucket === b)).toFixed(2);
  return `${label.padEnd(34)} median ${median(errors).toFixed(2)} %   by |yaw| 0–30 / 30–60 / 60–90: ${by('0-30')} / ${by('30-60')} / ${by('60-90')}`;
}

async function main(): Promise<void> {
  const dir = arg('dir', '../shared/eval/aflw2000-3d-dev');
  const lambda = Number(arg('lambda', '0'));
  const detector = await createDetector();
  const rows: Row[] = [];
  let missed = 0;
  const items = await listAflwImages(dir);
  for (const item of items) {
    const truth = await loadAflwGroundTruth(item.mat);
    const gt = squareFromLandmarks(truth.pt3d68, 3);
    const boxes = await detector.detect(await decodeImageFile(item.image));
    let best: (typeof boxes)[number] | undefined;
    let bestD = gt.side / 2;
    for (const b of boxes) {
      const d = Math.hypot(b.x + b.width / 2 - gt.cx, b.y + b.height / 2 - gt.cy);
      if (d < bestD && b.keypoints) [best, bestD] = [b, d];
    }
    if (!best) {
      missed++;
      continue;
    }
    rows.push({ image: basename(item.image), mat: item.mat, bucket: yawBucket(truth.pose[1]!), box: { x: best.x, y: best.y, width: best.width, height: best.height }, keypoints: Array.from(best.keypoints!), gt });
  }
  await detector.release?.();
  const rule = BOX_RULES.blazeface;
  // Row.box carries no keypoints (they are r.keypoints): squareFromBox gives the plain box rule.
  const boxErr = rows.map((r) => centreError(r, squareFromBox(r.box, 'blazeface')));
  const cv = new Array<number>(rows.length);
  for (const fold of [0, 1]) {
    const w = fitCentre(rows.filter((_, i) => i % 2 !== fold), lambda);
    rows.forEach((r, i) => {
      if (i % 2 === fold) cv[i] = centreError(r, keypointCentre(r.box, r.keypoints, w, rule, MAX_KEYPOINT_SHIFT)!);
    });
  }
  const all = fitCentre(rows, lambda);
  const inSample = rows.map((r) => centreError(r, keypointCentre(r.box, r.keypoints, all, rule, MAX_KEYPOINT_SHIFT)!));
  console.log(`${rows.length} faces of ${items.length} images (${missed} without a detected box near the ground truth); ridge λ ${lambda}`);
  console.log(report('box rule (dx, dy of BOX_RULES)', rows, boxErr));
  console.log(report('keypoint rule, 2-fold held out', rows, cv));
  console.log(report('keypoint rule, fitted on all', rows, inSample));
  const fmt = (v: number[]) => `[${v.map((x) => (Math.abs(x) < 5e-5 ? 0 : +x.toFixed(4))).join(', ')}]`;
  console.log(`BLAZEFACE_KEYPOINT_CENTRE = {\n  x: ${fmt(all.x)},\n  y: ${fmt(all.y)},\n}`);
  const json = arg('json', '');
  if (json) writeFileSync(json, JSON.stringify(rows));
  if (process.argv.includes('--nme')) await pairedNme(rows, lambda, arg('model', 'default'), dir);
}

/** NME with the box rule's centre and with the held-out keypoint rule's, on the same faces and sides. */
async function pairedNme(rows: readonly Row[], lambda: number, model: string, dir: string): Promise<void> {
  const prnet = await createPrnet({ model });
  const rule = BOX_RULES.blazeface;
  const weights = [0, 1].map((fold) => fitCentre(rows.filter((_, i) => i % 2 !== fold), lambda));
  const d: Record<'2d' | '3d', { bucket: YawBucket; box: number; keypoints: number }[]> = { '2d': [], '3d': [] };
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const plain = squareFromBox(r.box, 'blazeface');
    const side = plain.side;
    const centres = {
      box: plain,
      keypoints: keypointCentre(r.box, r.keypoints, weights[i % 2]!, rule, MAX_KEYPOINT_SHIFT)!,
    };
    const image = await decodeImageFile(join(dir, r.image));
    const gt = (await loadAflwGroundTruth(r.mat)).pt3d68;
    const out: Record<string, Float32Array> = {};
    for (const [name, c] of Object.entries(centres)) out[name] = (await prnet.reconstruct(image, { crops: [cropTransform({ ...c, side })] })).faces[0]!.landmarks;
    for (const dims of [2, 3] as const) d[`${dims}d`].push({ bucket: r.bucket, box: 100 * nme(out.box!, gt, dims), keypoints: 100 * nme(out.keypoints!, gt, dims) });
  }
  await prnet.dispose();
  console.log(`68-point NME (%), model ${model}, the same ${rows.length} faces, side k × box: box rule's centre → held-out keypoint rule's (paired difference ± s.e.)`);
  for (const dims of ['2d', '3d'] as const) {
    for (const b of [undefined, '0-30', '30-60', '60-90'] as const) {
      const v = d[dims].filter((x) => !b || x.bucket === b);
      const diff = v.map((x) => x.keypoints - x.box);
      const m = diff.reduce((a, x) => a + x, 0) / v.length;
      const se = Math.sqrt(diff.reduce((a, x) => a + (x - m) ** 2, 0) / (v.length - 1) / v.length);
      const mean = (k: 'box' | 'keypoints') => (v.reduce((a, x) => a + x[k], 0) / v.length).toFixed(2);
      console.log(`  ${dims} ${(b ?? 'all').padEnd(5)} (${v.length}): ${mean('box')} → ${mean('keypoints')}  ${m >= 0 ? '+' : ''}${m.toFixed(3)} ± ${se.toFixed(3)}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
