/**
 * How the product holds up on degraded photos: a fixed subset of ../shared/eval/aflw2000-3d-dev
 * (every 5th image by name: 200), each degraded in memory (blur, JPEG quality 10, a quarter of the
 * resolution, darkened, low contrast, noise, grey, a box over the mouth or the eyes, turned a
 * quarter either way), then `reconstruct` with the product's defaults (detector, orientation
 * network, test-time flip, smoothing); the face whose landmarks' centre is nearest the annotated
 * one's is scored, as `prnet eval pts` chooses (68-point NME, normalised by the landmark box),
 * turned back for the turned photos.
 * Prints a markdown table per model (the source of docs/evaluation.md "Degraded photos"), and how
 * well `flipDisagreement` over 0.1, `keypointDisagreement` over 0.12, and either, pick out the bad
 * reconstructions (NME > 10 %; precision / recall).
 *
 *   npx tsx scripts/robustness.ts [--models default,light] [--every 5] [--conditions clean,blur2,…] [--json out.json]
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createPrnet, decodeImageBuffer, type Prnet } from '../src/index.js';
import { createRng } from '../src/model/weights.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { annotatedSide, FAILURE_NME, nearestFace, nme, yawBucket, type YawBucket } from '../tools/eval/nme.js';
import { FLIP_SUSPECT, KEYPOINT_SUSPECT } from '../src/pipeline/quality.js';

const DEV = join(import.meta.dirname, '..', '..', 'shared', 'eval', 'aflw2000-3d-dev');

type Raw = { data: Uint8Array; width: number; height: number };
/** A degradation: JPEG bytes of the photo (raw RGB) as the condition makes it; `turn` for the turned ones. */
interface Condition {
  name: string;
  what: string;
  make(raw: Raw, gt: Float64Array, seed: number): Promise<Uint8Array>;
  /** Quarter turns clockwise applied to the photo (its landmarks are turned back before scoring). */
  turn?: 1 | 3;
}

const jpeg = (raw: Raw, quality = 95): Promise<Uint8Array> =>
  sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 3 } }).jpeg({ quality }).toBuffer().then((b) => new Uint8Array(b));
const perPixel = (raw: Raw, f: (v: number) => number): Raw => ({ ...raw, data: Uint8Array.from(raw.data, (v) => Math.max(0, Math.min(255, Math.round(f(v))))) });
const toLinear = (v: number): number => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const toSrgb = (v: number): number => (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.max(v, 0) ** (1 / 2.4) - 0.055);

/** The photo with a box filled over landmarks `from`..`to` (padded by 5 % of the face's size). */
function boxOver(raw: Raw, gt: Float64Array, from: number, to: number, rgb: [number, number, number]): Raw {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  let fx0 = Infinity, fy0 = Infinity, fx1 = -Infinity, fy1 = -Infinity;
  for (let k = 0; k < 68; k++) {
    const x = gt[3 * k], y = gt[3 * k + 1];
    fx0 = Math.min(fx0, x); fx1 = Math.max(fx1, x); fy0 = Math.min(fy0, y); fy1 = Math.max(fy1, y);
    if (k >= from && k <= to) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  }
  const pad = 0.05 * Math.sqrt((fx1 - fx0) * (fy1 - fy0));
  const data = raw.data.slice();
  for (let y = Math.max(0, Math.floor(y0 - pad)); y <= Math.min(raw.height - 1, Math.ceil(y1 + pad)); y++) {
    for (let x = Math.max(0, Math.floor(x0 - pad)); x <= Math.min(raw.width - 1, Math.ceil(x1 + pad)); x++) data.set(rgb, 3 * (y * raw.width + x));
  }
  return { ...raw, data };
}

const CONDITIONS: Condition[] = [
  { name: 'clean', what: 'as it is', make: (r) => jpeg(r) },
  { name: 'blur2', what: 'Gaussian blur σ 2 px', make: (r) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } }).blur(2).jpeg({ quality: 95 }).toBuffer() },
  { name: 'blur4', what: 'Gaussian blur σ 4 px', make: (r) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } }).blur(4).jpeg({ quality: 95 }).toBuffer() },
  { name: 'jpeg10', what: 'JPEG quality 10', make: (r) => jpeg(r, 10) },
  {
    name: 'lowres4', what: 'a quarter of the resolution, enlarged back',
    make: async (r) => {
      const small = await sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } }).resize(Math.round(r.width / 4), Math.round(r.height / 4), { kernel: 'linear' }).raw().toBuffer();
      return sharp(small, { raw: { width: Math.round(r.width / 4), height: Math.round(r.height / 4), channels: 3 } }).resize(r.width, r.height, { kernel: 'cubic' }).jpeg({ quality: 95 }).toBuffer();
    },
  },
  { name: 'gamma2.5', what: 'darkened: gamma 2.5', make: (r) => jpeg(perPixel(r, (v) => 255 * (v / 255) ** 2.5)) },
  { name: 'ev-2', what: 'underexposed by 2 EV (a quarter of the light)', make: (r) => jpeg(perPixel(r, (v) => 255 * toSrgb(0.25 * toLinear(v / 255)))) },
  {
    name: 'contrast0.3', what: 'contrast × 0.3 about the mean',
    make: (r) => {
      const mean = r.data.reduce((a, b) => a + b, 0) / r.data.length;
      return jpeg(perPixel(r, (v) => mean + 0.3 * (v - mean)));
    },
  },
  {
    name: 'noise20', what: 'Gaussian noise σ 20 levels',
    make: (r, _gt, seed) => {
      const rng = createRng(seed);
      return jpeg(perPixel(r, (v) => v + 20 * rng.normal()));
    },
  },
  { name: 'grey', what: 'grey (one channel)', make: (r) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } }).greyscale().jpeg({ quality: 95 }).toBuffer() },
  { name: 'mouth-box', what: 'a grey box over the mouth (landmarks 48–67)', make: (r, gt) => jpeg(boxOver(r, gt, 48, 67, [128, 128, 128])) },
  { name: 'eyes-box', what: 'a black box over the eyes (landmarks 36–47)', make: (r, gt) => jpeg(boxOver(r, gt, 36, 47, [0, 0, 0])) },
  { name: 'turned90', what: 'turned a quarter clockwise', turn: 1, make: (r) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } }).rotate(90).jpeg({ quality: 95 }).toBuffer() },
  { name: 'turned270', what: 'turned a quarter counter-clockwise', turn: 3, make: (r) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } }).rotate(270).jpeg({ quality: 95 }).toBuffer() },
];

interface Row { image: string; yaw: number; nme2d?: number; nme3d?: number; fd?: number; kd?: number }

/** Landmarks (68×3) of a photo turned `turn` quarters clockwise, back in the upright photo's frame (w × h upright). */
function turnBack(l: Float32Array, turn: 1 | 3 | undefined, w: number, h: number): Float32Array {
  if (!turn) return l;
  const out = Float32Array.from(l);
  for (let k = 0; k < 68; k++) {
    const x = l[3 * k], y = l[3 * k + 1];
    // clockwise: (x, y) → (h − 1 − y, x); counter-clockwise: (x, y) → (y, w − 1 − x)
    if (turn === 1) { out[3 * k] = y; out[3 * k + 1] = h - 1 - x; } else { out[3 * k] = w - 1 - y; out[3 * k + 1] = x; }
  }
  return out;
}

async function score(prnet: Prnet, bytes: Uint8Array, gt: Float64Array, turn: 1 | 3 | undefined, w: number, h: number): Promise<Omit<Row, 'image' | 'yaw'>> {
  const { faces } = await prnet.reconstruct(await decodeImageBuffer(bytes));
  // the face whose landmarks' centre is nearest the annotated one's, within its box's mean side
  const landmarks = faces.map((f) => turnBack(f.landmarks, turn, w, h));
  const near = nearestFace(landmarks, gt, 3, annotatedSide(gt, 3));
  if (!near) return {};
  const face = faces[landmarks.indexOf(near)];
  return { nme2d: nme(near, gt, 2), nme3d: nme(near, gt, 3), fd: face.flipDisagreement, kd: face.keypointDisagreement };
}

const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
const median = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const pct = (v: number): string => (Number.isFinite(v) ? (100 * v).toFixed(2) : '–');

const { values } = parseArgs({ options: { models: { type: 'string', default: 'default,light' }, every: { type: 'string', default: '5' }, conditions: { type: 'string' }, json: { type: 'string' } } });
const every = Number(values.every);
if (!(Number.isInteger(every) && every >= 1)) throw new Error(`--every must be a whole number ≥ 1, got '${values.every}'`);
const conditions = values.conditions ? CONDITIONS.filter((c) => values.conditions!.split(',').includes(c.name)) : CONDITIONS;
const names = (await readdir(DEV)).filter((f) => f.endsWith('.jpg')).sort().filter((_, i) => i % every === 0);
const photos = await Promise.all(names.map(async (f) => {
  const { data, info } = await sharp(join(DEV, f)).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const gt = await loadAflwGroundTruth(join(DEV, f.replace(/\.jpg$/, '.mat')));
  return { image: f, raw: { data: new Uint8Array(data), width: info.width, height: info.height }, gt: gt.pt3d68, yaw: gt.pose[1] };
}));
const all: Record<string, Record<string, Row[]>> = {};
for (const model of values.models.split(',')) {
  const prnet = await createPrnet({ model });
  all[model] = {};
  console.log(`\n${model} model, ${photos.length} photos (every ${every}th of aflw2000-3d-dev), reconstruct with the product's defaults:\n`);
  console.log('| condition | found | NME 2D / 3D % | 2D by yaw 0–30 / 30–60 / 60–90 | Δ 2D on the faces found in both | NME 2D > 10 % | median flipDisagreement | > 0.1: precision / recall of NME > 10 % | keypointDisagreement > 0.12: precision / recall | either |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of conditions) {
    const rows: Row[] = [];
    // (the seed from the condition's place in CONDITIONS: the same noise with --conditions)
    for (const [i, p] of photos.entries()) rows.push({ image: p.image, yaw: p.yaw, ...(await score(prnet, await c.make(p.raw, p.gt, 1000 * CONDITIONS.indexOf(c) + i), p.gt, c.turn, p.raw.width, p.raw.height)) });
    all[model][c.name] = rows;
    const found = rows.filter((r) => r.nme2d !== undefined);
    const bucket = (b: YawBucket): string => pct(mean(found.filter((r) => yawBucket(r.yaw) === b).map((r) => r.nme2d!)));
    // the change on the faces found both here and in the clean photos
    const clean = new Map((all[model].clean ?? []).map((r) => [r.image, r.nme2d]));
    const pairs = found.filter((r) => clean.get(r.image) !== undefined);
    const delta = c.name !== 'clean' && pairs.length ? mean(pairs.map((r) => r.nme2d! - clean.get(r.image)!)) : NaN;
    const bad = found.filter((r) => r.nme2d! > FAILURE_NME);
    const flagged = found.filter((r) => (r.fd ?? 0) > FLIP_SUSPECT);
    const hit = flagged.filter((r) => r.nme2d! > FAILURE_NME).length;
    const flags = (flag: (r: Row) => boolean): string => {
      const f = found.filter(flag);
      const h = f.filter((r) => r.nme2d! > FAILURE_NME).length;
      return `${f.length ? Math.round((100 * h) / f.length) : '–'} % / ${bad.length ? Math.round((100 * h) / bad.length) : '–'} %`;
    };
    console.log(`| ${c.what} | ${found.length}/${rows.length} | ${pct(mean(found.map((r) => r.nme2d!)))} / ${pct(mean(found.map((r) => r.nme3d!)))} | ${bucket('0-30')} / ${bucket('30-60')} / ${bucket('60-90')} | ${Number.isFinite(delta) ? (delta >= 0 ? '+' : '') + (100 * delta).toFixed(2) : '–'} | ${bad.length} | ${median(found.map((r) => r.fd ?? 0)).toFixed(3)} | ${flagged.length ? Math.round((100 * hit) / flagged.length) : '–'} % / ${bad.length ? Math.round((100 * hit) / bad.length) : '–'} % | ${flags((r) => (r.kd ?? 0) > KEYPOINT_SUSPECT)} | ${flags((r) => (r.fd ?? 0) > FLIP_SUSPECT || (r.kd ?? 0) > KEYPOINT_SUSPECT)} |`);
  }
  await prnet.dispose();
}
if (values.json) await writeFile(values.json, JSON.stringify(all, null, 1));
