/**
 * The face-orientation network alone, on evaluation faces it was not trained on (docs/detectors.md,
 * "Orientation"): each annotated face of AFLW2000-3D (or AFW) as the detector crops it, read
 * upright and with its crop turned by 90°, 180° and 270°, and the two readings the pipeline asks
 * for before it turns a crop (src/pipeline/prnet.ts `turnUpright`: read over 45° with confidence
 * ≥ 0.4, then the crop turned by that read upright within 25°, again sure).
 *
 *   npx tsx scripts/orient-check.ts [--set aflw2000|afw] [--orientation PATH] [--limit n] [--json]
 *
 * Prints by ground-truth yaw (AFLW2000-3D's Pose_Para; AFW: all in one row) and turn: the faces,
 * the median error of the first reading, the share read more than 45° off, and the share the two
 * readings would turn (upright: wrongly; turned: rightly, within 25°; wrongly otherwise).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { cropFromBox, type CropSquare } from '../src/crop/index.js';
import { createOrientation, ORIENT_MIN_CONFIDENCE, ORIENT_MIN_TILT } from '../src/detect/orientation.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { NODE_SESSION_EXTRA } from '../src/runtime/node.js';
import type { OrtModule } from '../src/runtime/ort.js';
import { imagePairs } from '../tools/eval/aflw2000.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { annotatedSide, nearestFace } from '../tools/eval/nme.js';
import { listPtsImages, readPts } from '../tools/eval/pts.js';
import { SHARED } from '../test/helpers/paths.js';

const { values } = parseArgs({
  options: {
    set: { type: 'string', default: 'aflw2000' },
    orientation: { type: 'string', default: join(import.meta.dirname, '..', 'assets', 'detector', 'orientation.safetensors') },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  },
});
const TURNS = [0, 90, 180, 270];
const UPRIGHT = (25 * Math.PI) / 180;
const DEG = 180 / Math.PI;

const prnet = await createPrnet({ model: 'light', orientation: false });
const orientation = await createOrientation(ort as unknown as OrtModule, new Uint8Array(await readFile(values.orientation)), { extra: NODE_SESSION_EXTRA }, values.orientation);

interface Case { image: string; gt: Float64Array; stride: 2 | 3; yaw: number | null }
const cases: Case[] = [];
if (values.set === 'aflw2000') {
  const { pairs } = await imagePairs(join(SHARED, 'eval', 'aflw2000-3d-dev'), '.mat');
  for (const { image, truth } of pairs) {
    const g = await loadAflwGroundTruth(truth);
    cases.push({ image, gt: g.pt3d68, stride: 3, yaw: g.pose[1] * DEG });
  }
} else if (values.set === 'afw') {
  for (const { image, pts } of await listPtsImages(join(SHARED, 'eval', 'afw68'))) cases.push({ image, gt: await readPts(pts), stride: 2, yaw: null });
} else throw new Error(`--set aflw2000|afw, got ${values.set}`);
const limited = cases.slice(0, values.limit ? Number(values.limit) : undefined);

const wrap = (a: number): number => Math.atan2(Math.sin(a), Math.cos(a));
interface Row { image: string; yaw: number | null; turn: number; error: number; confidence: number; turned: 'no' | 'right' | 'wrong' }
const rows: Row[] = [];
let missed = 0;
for (const c of limited) {
  const image = await decodeImageFile(c.image);
  // The face whose detector crop centre is nearest the annotated one, as `prnet eval aflw2000` picks it.
  const squares0 = (await prnet.detect(image)).map((b) => cropFromBox(b, 'blazeface').square);
  const centres = squares0.map((q) => Float32Array.of(q.cx, q.cy, 0));
  const near = nearestFace(centres, c.gt, c.stride, annotatedSide(c.gt, c.stride));
  if (!near) {
    missed++;
    continue;
  }
  const square = squares0[centres.findIndex((x) => x === near)];
  // A crop turned by `turn` clockwise shows its upright face turned by −turn: the reading to expect.
  const squares: CropSquare[] = TURNS.map((t) => ({ ...square, angle: wrap((square.angle ?? 0) + t / DEG) }));
  const first = await orientation.read(image, squares);
  const candidates = squares.map((s, i) => ({ ...s, angle: wrap((s.angle ?? 0) + first.tilt[i]) }));
  const again = await orientation.read(image, candidates);
  TURNS.forEach((t, i) => {
    const expected = wrap(-t / DEG);
    const error = Math.abs(wrap(first.tilt[i] - expected)) * DEG;
    const turns = Math.abs(first.tilt[i]) > ORIENT_MIN_TILT && first.confidence[i] >= ORIENT_MIN_CONFIDENCE
      && Math.abs(again.tilt[i]) < UPRIGHT && again.confidence[i] >= ORIENT_MIN_CONFIDENCE;
    rows.push({ image: c.image.slice(SHARED.length + 1), yaw: c.yaw, turn: t, error, confidence: first.confidence[i], turned: !turns ? 'no' : error < 25 ? 'right' : 'wrong' });
  });
}
await orientation.release();
await prnet.dispose();

// (The two dev photos lying sideways, whose Pose_Para yaw reads −351° and 188°, are in no row:
// they are not upright, and the network turns them, rightly. They are in the list below.)
const buckets = values.set === 'aflw2000' ? [[0, 30], [30, 60], [60, 90]] : [[0, Infinity]];
const pct = (n: number, d: number): string => (d ? ((100 * n) / d).toFixed(1) : '–');
const table: Record<string, unknown>[] = [];
console.log(`${values.orientation}: ${limited.length - missed} faces found of ${limited.length} (${values.set})`);
console.log('turn | yaw | faces | median error ° | read > 45° off % | turned right % | turned wrong %');
for (const t of TURNS) {
  for (const [lo, hi] of buckets) {
    const sel = rows.filter((r) => r.turn === t && (r.yaw === null || (Math.abs(r.yaw) >= lo && Math.abs(r.yaw) < hi)));
    if (!sel.length) continue;
    const errs = sel.map((r) => r.error).sort((a, b) => a - b);
    const entry = {
      turn: t, yaw: hi === Infinity ? 'all' : `${lo}-${hi}`, faces: sel.length, medianError: errs[Math.floor(errs.length / 2)],
      over45: sel.filter((r) => r.error > 45).length, right: sel.filter((r) => r.turned === 'right').length, wrong: sel.filter((r) => r.turned === 'wrong').length,
    };
    table.push(entry);
    console.log(`${t}° | ${entry.yaw} | ${entry.faces} | ${entry.medianError.toFixed(1)} | ${pct(entry.over45, entry.faces)} | ${pct(entry.right, entry.faces)} | ${pct(entry.wrong, entry.faces)}`);
  }
}
const upright = rows.filter((r) => r.turn === 0);
console.log(`upright faces the two readings would turn (the pipeline's step 3 may still keep the detector's crop): ${upright.filter((r) => r.turned !== 'no').length} of ${upright.length}: ${upright.filter((r) => r.turned !== 'no').map((r) => `${r.image.split('/').pop()} (yaw ${r.yaw?.toFixed(0) ?? '?'})`).join(', ')}`);
if (values.json) console.log(JSON.stringify({ table, rows }));
