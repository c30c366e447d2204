/**
 * Builds the GPU training pack (docs/training-data.md, "Pack layout") from the labels cache:
 * per photo the JPEG bytes, the fused target's coefficients W (float16; map = K · W in the photo's
 * pixels), the PRNet crop from the target's 68 keypoints, flags (bit 1 = held out), plus the
 * pack's loss-weight classes and meta.json (the fixed control points, counts, sources).
 *
 * UTKFace photos travel as they are; other photos (faces/misc) are auto-oriented, downscaled so
 * the long side is ≤ 256 and re-encoded at JPEG quality 90, their labels scaled to those pixels.
 * Photos labelled face by face (faces/webfaces: every face with eyes ≥ 30 px apart) give one sample
 * per face: a region of the photo around the face (REGION_CONTEXT × its PRNet crop side, clamped to
 * the photo, with the photo's own background), downscaled to ≤ 256 and re-encoded the same way;
 * names.txt names them `photo#face`. All faces of a photo share its hash, so they are held out together.
 * Targets with many folds or large control residuals are dropped (counted in meta.json). A budget
 * (--max-mib, default 52) caps the pack; samples are chosen deterministically: the held-out photos
 * (the smallest hashes of the file name) first, then a deliberate mix (`--mix strata`, mixOrder):
 * the faces are binned by set × |yaw| × pitch × mouth (head pose and mouth opening read off 3DDFA_V2's
 * 68 points, `faceStats`), and every prefix of the order holds each bin in proportion to the square
 * root of its size (`--mix-alpha`), so rare bins are over-represented and the common ones kept, and
 * bins interleave whatever the budget. Each sample gets a sampling weight (sample-weights.f32) that
 * the trainer draws batches by, relative within the pack (mean 1): upward pitch, large yaw and
 * open mouths, which the training photos seldom show and AFLW2000-3D often does, weigh more
 * (`samplingWeight`, `relativeWeights`). `--mix legacy` is the order before (rare faces first).
 *
 * Usage: npx tsx scripts/pack-training.ts --out .train/pack [--sets utkface,misc,webfaces] [--max-mib 52]
 *          [--holdout-fraction 0.017] [--lambda 30] [--limit N] [--mix strata|legacy] [--mix-alpha 0.5]
 *          [--draw mix|cache] [--no-rare-first] [--first-sets webfaces,misc] [--shards N] [--shared DIR] [--verify]
 *        (--max-mib 57,43: two shards of those budgets; --shards N alone: N shards of --max-mib each)
 *        npx tsx scripts/pack-training.ts --describe PACK    (its mix, read back through the labels cache)
 */
import { fnv1a } from '../src/util/hash.js';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { pointsBounds, squareFromLandmarks } from '../src/crop/rules.js';
import { estimatePose } from '../src/geometry/pose.js';
import { loadCorrespondence } from '../tools/data/correspondence.js';
import {
  buildKernel, createTargetSetup, evaluateMap, fitTargets, judgeTarget, keypointVertices, lossWeights, type TargetSetup, type TeacherPoints,
} from '../tools/data/groundtruth.js';
import { FACE_BY_FACE_SETS, labelCounts, labelsDir, readLabels, sampleName, type LabelRecord } from '../tools/data/labels-file.js';
import { sharedDir } from '../tools/data/tddfa.js';
import { f16ToF32, f32ToF16 } from '../src/util/safetensors.js';
import { loadLayoutForScripts, type LayoutLike } from './build-correspondence.js';

export const PACK_VERSION = 1;
/** Bytes the budget keeps for meta.json (the controls ~12 KB, the mix's strata table ~4 KB). */
const META_ALLOWANCE = 32768;
/** Default base regularisation of the TPS (see docs/ground-truth.md). */
export const DEFAULT_LAMBDA = 30;

export interface PackMeta {
  version: number;
  count: number;
  /** P × 3 control points, canonical frame (layout `canonical`): K[i, j] = −‖v_i − c_j‖. */
  controls: number[][];
  /** Coefficients per sample: (P + 4) × 3. */
  coeffRows: number;
  coverage: string;
  source: string;
  [key: string]: unknown;
}

export interface PackOptions {
  out: string;
  sets?: string[];
  /**
   * The budget in MiB (default 52); with shards, per shard: one number for every shard, or one per
   * shard (`[57, 43]`: shards of different sizes, for device calls that carry different other files).
   */
  maxMiB?: number | readonly number[];
  /** Fraction of photos held out, chosen by the hash of the name (stable as labels grow; default 0.017 ≈ 200 of ~11,900). */
  holdoutFraction?: number;
  lambda?: number;
  keypointWeight?: number;
  limit?: number;
  /**
   * How the budget chooses (docs/training-data.md, "The mix"): `strata` (default) takes from each
   * stratum (set × |yaw| × pitch × mouth bin, `mixStratum`) in proportion to (its size)^mixAlpha,
   * so rare strata are over-represented and common ones kept; `legacy`: the order before it
   * (rare faces first if rareFirst, then firstSets, then the rest).
   */
  mix?: MixMode;
  /** Exponent of the strata's target shares (default 0.5: square root; 1 = as in the cache, 0 = equal). */
  mixAlpha?: number;
  /**
   * What sample-weights.f32 makes the trainer draw (relativeWeights), normalised to mean 1 over the
   * packed training samples: `mix` (default) samplingWeight over the packed samples, on top of the
   * mix; `cache`: samplingWeight times the stratum's candidates / packed samples, the draws of
   * samplingWeight over the whole cache whatever the budget kept (the mix then only adds variety).
   */
  draw?: DrawMode;
  /** legacy mix only: rare faces (samplingWeight > 1) are packed before the others under the budget (default true). */
  rareFirst?: boolean;
  /**
   * Write the pack as this many complete packs `<out>-0` … `<out>-(n−1)` (each sample, in the pack's
   * order, to the shard least full for its budget, so every shard holds the same mix; each ≤ its
   * maxMiB; default 1, or maxMiB's length: one pack at `<out>`), for a pack larger than one device
   * call carries. training/train.py reads several packs as one (`--pack A B`).
   */
  shards?: number;
  /**
   * legacy mix only: sets whose (ordinary) faces are packed before the other sets' under the budget
   * (default webfaces, misc: photos with background and varied framing before UTKFace's 20,000 aligned chips).
   */
  firstSets?: string[];
  shared?: string;
  log?: (msg: string) => void;
}


/** Head pose (degrees, src/geometry/pose.ts convention: pitch > 0 looks up) and mouth opening of a face's 68 points. */
export interface FaceStats {
  yaw: number;
  pitch: number;
  roll: number;
  /** Inner-lip gap (points 62–66, 0-based) / sqrt(w · h) of the 68-point box. */
  mouth: number;
}

/** The 68 keypoints of the layout's canonical face (68 × 3), for faceStats. */
export function canonicalKeypoints(layout: LayoutLike): Float64Array {
  const kv = keypointVertices(layout);
  const out = new Float64Array(68 * 3);
  for (let k = 0; k < 68; k++) for (let c = 0; c < 3; c++) out[3 * k + c] = layout.canonical[3 * kv[k]! + c]!;
  return out;
}

/** Pose and mouth opening of 68 points (68 × 3, photo pixels, y down). */
export function faceStats(points: ArrayLike<number>, canonicalKpts: Float64Array): FaceStats {
  const { yaw, pitch, roll } = estimatePose(points, canonicalKpts);
  const [x0, y0, x1, y1] = pointsBounds(points, 3);
  const size = Math.sqrt(Math.max((x1 - x0) * (y1 - y0), 1e-6));
  const mouth = Math.hypot(points[3 * 62]! - points[3 * 66]!, points[3 * 62 + 1]! - points[3 * 66 + 1]!) / size;
  return { yaw, pitch, roll, mouth };
}

const ramp = (v: number, lo: number, hi: number) => Math.min(1, Math.max(0, (v - lo) / (hi - lo)));

/**
 * How often the trainer draws a sample, relative to an ordinary one (1). Among the 11,828
 * labelled photos median |yaw| is 5°, median pitch −7° (slightly down), only 41 look up by more
 * than 15°, 140 turn more than 30° and 67 open the mouth wider than 0.15; AFLW2000-3D has all of
 * these often. Up to +3 each for pitch up (5°→20°), |yaw| (20°→40°) and mouth (0.06→0.12); +1
 * for pitch down past −20° (common enough already).
 */
export function samplingWeight(s: FaceStats): number {
  return 1 + 3 * ramp(s.pitch, 5, 20) + 3 * ramp(Math.abs(s.yaw), 20, 40) + 3 * ramp(s.mouth, 0.06, 0.12) + ramp(-s.pitch, 20, 35);
}

export type MixMode = 'strata' | 'legacy';
export type DrawMode = 'mix' | 'cache';
export const MIX_MODES: readonly MixMode[] = ['strata', 'legacy'];
export const DRAW_MODES: readonly DrawMode[] = ['mix', 'cache'];
/** Default exponent of the strata's target shares (square root: between as-in-the-cache and equal). */
export const DEFAULT_MIX_ALPHA = 0.5;

/**
 * Bin edges of the strata (aligned with samplingWeight's ramps): |yaw| < 15° / 15–30° / ≥ 30°;
 * pitch < −20° (down) / −20–5° / 5–15° / ≥ 15° (up); mouth < 0.06 / 0.06–0.12 / ≥ 0.12.
 */
export const MIX_BINS = { absYaw: [15, 30], pitch: [-20, 5, 15], mouth: [0.06, 0.12] } as const;

const binOf = (v: number, edges: readonly number[]) => {
  let i = 0;
  while (i < edges.length && v >= edges[i]!) i++;
  return i;
};

/** The pose/expression bin of a face, e.g. `y0p1m0` (frontal, level, mouth closed). */
export function poseBin(s: FaceStats): string {
  return `y${binOf(Math.abs(s.yaw), MIX_BINS.absYaw)}p${binOf(s.pitch, MIX_BINS.pitch)}m${binOf(s.mouth, MIX_BINS.mouth)}`;
}

/** The stratum of a face: its set and pose/expression bin, e.g. `webfaces/y1p1m0`. */
export function mixStratum(set: string, s: FaceStats): string {
  return `${set}/${poseBin(s)}`;
}

/** What the mix needs of a candidate. */
export interface MixCandidate {
  hash: number;
  name: string;
  stratum: string;
}

/**
 * The stratified packing order. The held-out candidates (hash < holdoutBelow) come first, in hash
 * order, so the held-out set never depends on the budget. The training candidates follow: each
 * stratum in hash order, strata interleaved by the key (rank in its stratum + ½) / n^alpha (n: the
 * stratum's training candidates), so every prefix of the order (whatever the budget keeps) holds
 * the strata in proportion to n^alpha until a stratum runs out, after which the others share its
 * part. alpha 1 is proportional to the cache, 0 equal counts per stratum. Returns the candidates' indices.
 */
export function mixOrder(cands: readonly MixCandidate[], holdoutBelow: number, alpha = DEFAULT_MIX_ALPHA): number[] {
  const byHash = (a: number, b: number) => cands[a]!.hash - cands[b]!.hash || (cands[a]!.name < cands[b]!.name ? -1 : cands[a]!.name > cands[b]!.name ? 1 : 0);
  const held: number[] = [];
  const strata = new Map<string, number[]>();
  cands.forEach((c, i) => {
    if (c.hash < holdoutBelow) held.push(i);
    else {
      let l = strata.get(c.stratum);
      if (!l) strata.set(c.stratum, (l = []));
      l.push(i);
    }
  });
  held.sort(byHash);
  const keyed: { i: number; key: number }[] = [];
  for (const l of strata.values()) {
    l.sort(byHash);
    const rate = Math.pow(l.length, alpha);
    l.forEach((i, rank) => keyed.push({ i, key: (rank + 0.5) / rate }));
  }
  keyed.sort((a, b) => a.key - b.key || byHash(a.i, b.i));
  return [...held, ...keyed.map((k) => k.i)];
}

/**
 * Sampling weights relative within the pack, normalised to mean 1 over the training samples.
 * `mix`: samplingWeight as it is, so the draws are the packed mix with samplingWeight's emphasis on
 * top (rare faces drawn up to ~6× as often as the mean). `cache`: samplingWeight × (the stratum's
 * training candidates / its packed training samples), so the trainer's draws over the strata are
 * those of samplingWeight over every candidate, as if the whole cache were packed: the budget then
 * decides how many different faces a stratum has, not how often it is drawn. Held-out samples (never
 * drawn) get their samplingWeight on the same scale.
 */
export function relativeWeights(
  packed: readonly { stratum: string; weight: number; holdout: boolean }[],
  candidatesPerStratum: ReadonlyMap<string, number>,
  draw: DrawMode = 'mix',
): Float32Array {
  const k = new Map<string, number>();
  for (const p of packed) if (!p.holdout) k.set(p.stratum, (k.get(p.stratum) ?? 0) + 1);
  const raw = packed.map((p) => (p.holdout || draw === 'mix' ? p.weight : p.weight * (candidatesPerStratum.get(p.stratum) ?? 0) / k.get(p.stratum)!));
  let sum = 0, n = 0;
  packed.forEach((p, i) => { if (!p.holdout) { sum += raw[i]!; n++; } });
  const scale = n && sum > 0 ? n / sum : 1;
  return Float32Array.from(raw, (w) => w * scale);
}

/** Pose/expression bins, sets and draw shares of a list of faces (packs' meta.json `mix.summary`, `--describe`). */
export interface MixSummary {
  count: number;
  bySet: Record<string, number>;
  /** Percent of faces with |yaw| < 15 / 15–30 / ≥ 30°. */
  absYaw: number[];
  /** Percent with pitch < −20 / −20–5 / 5–15 / ≥ 15°. */
  pitch: number[];
  /** Percent with mouth < 0.06 / 0.06–0.12 / ≥ 0.12. */
  mouth: number[];
  /** Percent with samplingWeight 1 / (1, 1.5) / [1.5, 3) / ≥ 3. */
  samplingWeight: number[];
  /** Percent of the trainer's draws (by the given weights) with |yaw| ≥ 30, ≥ 15, pitch ≥ 15, ≥ 5, mouth ≥ 0.12, per set. */
  draws?: { absYawOver30: number; absYawOver15: number; pitchUpOver15: number; pitchUpOver5: number; mouthOver012: number; bySet: Record<string, number> };
}

export function summarizeMix(faces: readonly { set: string; stats: FaceStats }[], drawWeights?: ArrayLike<number>): MixSummary {
  const n = Math.max(1, faces.length);
  const pct = (k: number) => Math.round((1000 * k) / n) / 10;
  const hist = (f: (s: FaceStats) => number, bins: number) => {
    const h = new Array<number>(bins).fill(0);
    for (const x of faces) h[f(x.stats)]!++;
    return h.map(pct);
  };
  const bySet: Record<string, number> = {};
  for (const x of faces) bySet[x.set] = (bySet[x.set] ?? 0) + 1;
  const out: MixSummary = {
    count: faces.length,
    bySet,
    absYaw: hist((s) => binOf(Math.abs(s.yaw), MIX_BINS.absYaw), 3),
    pitch: hist((s) => binOf(s.pitch, MIX_BINS.pitch), 4),
    mouth: hist((s) => binOf(s.mouth, MIX_BINS.mouth), 3),
    samplingWeight: hist((s) => binOf(samplingWeight(s), [1 + 1e-9, 1.5, 3]), 4),
  };
  if (drawWeights) {
    let tot = 0;
    for (let i = 0; i < faces.length; i++) tot += drawWeights[i]!;
    const share = (f: (x: { set: string; stats: FaceStats }) => boolean) => {
      let a = 0;
      faces.forEach((x, i) => { if (f(x)) a += drawWeights[i]!; });
      return Math.round((1000 * a) / Math.max(tot, 1e-12)) / 10;
    };
    out.draws = {
      absYawOver30: share((x) => Math.abs(x.stats.yaw) >= 30),
      absYawOver15: share((x) => Math.abs(x.stats.yaw) >= 15),
      pitchUpOver15: share((x) => x.stats.pitch >= 15),
      pitchUpOver5: share((x) => x.stats.pitch >= 5),
      mouthOver012: share((x) => x.stats.mouth >= 0.12),
      bySet: Object.fromEntries(Object.keys(bySet).map((k) => [k, share((x) => x.set === k)])),
    };
  }
  return out;
}

interface Sample {
  /** The shard it is written to (0 without shards). */
  shard: number;
  stratum: string;
  stats: FaceStats;
  /** samplingWeight of the face. */
  weight: number;
  /** What sample-weights.f32 holds (relativeWeights). */
  drawWeight: number;
  file: string;
  set: string;
  hash: number;
  coeffs: Float32Array;
  crop: [number, number, number];
  jpeg: Buffer;
  holdout: boolean;
  /** Fraction of folded triangles of the target (coarse). */
  fold: number;
}

/**
 * Moves a record's points into a region's pixels: x' = (x − x0 + 0.5)·sx − 0.5 (pixel centres),
 * likewise y; z scaled by the mean of sx and sy.
 */
function transformTeachers(r: TeacherPoints, x0: number, y0: number, sx: number, sy: number): TeacherPoints {
  const sz = (sx + sy) / 2;
  const f = (src: Float32Array | Float64Array) => {
    const out = Float64Array.from(src);
    for (let i = 0; i < out.length; i += 3) {
      out[i] = (out[i]! - x0 + 0.5) * sx - 0.5;
      out[i + 1] = (out[i + 1]! - y0 + 0.5) * sy - 0.5;
      out[i + 2] = out[i + 2]! * sz;
    }
    return out;
  };
  return { facemesh: f(r.facemesh), tddfa: f(r.tddfa) };
}

/** Side of a face's region over its PRNet crop side (the crop plus 30 % of its side each way, clamped to the photo). */
export const REGION_CONTEXT = 1.6;
/** Longest side of a packed photo or region (the trainer downscales anything larger anyway). */
export const PACK_MAX_SIDE = 256;

/** What of a labelled photo travels: a region (pixels of the oriented photo, x0..x0+w) and its size in the pack. */
export interface PackRegion {
  x0: number;
  y0: number;
  w: number;
  h: number;
  outW: number;
  outH: number;
  /** The whole photo (utkface, misc) or a region around one face (FACE_BY_FACE_SETS). */
  whole: boolean;
}

/** The region of a record that goes into the pack (deterministic: the same for packing and for verifyPack). */
export function packRegion(rec: Pick<LabelRecord, 'width' | 'height' | 'tddfa'>, set: string, context = REGION_CONTEXT): PackRegion {
  let x0 = 0, y0 = 0, w = rec.width, h = rec.height;
  const whole = !FACE_BY_FACE_SETS.includes(set);
  if (!whole) {
    const sq = squareFromLandmarks(rec.tddfa, 3);
    const half = (context * sq.side) / 2;
    x0 = Math.max(0, Math.floor(sq.cx - half + 0.5));
    y0 = Math.max(0, Math.floor(sq.cy - half + 0.5));
    const x1 = Math.min(rec.width, Math.ceil(sq.cx + half + 0.5));
    const y1 = Math.min(rec.height, Math.ceil(sq.cy + half + 0.5));
    w = Math.max(1, x1 - x0);
    h = Math.max(1, y1 - y0);
  }
  const scale = Math.min(1, PACK_MAX_SIDE / Math.max(w, h));
  return { x0, y0, w, h, outW: Math.max(1, Math.round(w * scale)), outH: Math.max(1, Math.round(h * scale)), whole };
}

/** A record's teachers in the pixels of its packed image. */
export function packedTeachers(rec: TeacherPoints, r: PackRegion): TeacherPoints {
  return r.whole && r.outW === r.w && r.outH === r.h ? rec : transformTeachers(rec, r.x0, r.y0, r.outW / r.w, r.outH / r.h);
}

/** The photo bytes as packed (UTKFace JPEGs as they are; others auto-oriented, cut to the region, downscaled, JPEG 90). */
async function packedPhoto(path: string, set: string, rec: LabelRecord, region: PackRegion): Promise<Buffer> {
  const bytes = readFileSync(path);
  if (region.whole) {
    const meta = await sharp(bytes).metadata();
    const oriented = (meta.orientation ?? 1) === 1;
    if (set === 'utkface' && oriented && meta.format === 'jpeg' && region.outW === rec.width && region.outH === rec.height) return bytes;
  }
  let img = sharp(bytes).rotate();
  if (!region.whole) img = img.extract({ left: region.x0, top: region.y0, width: region.w, height: region.h });
  return img.resize(region.outW, region.outH, { fit: 'fill' }).removeAlpha().jpeg({ quality: 90 }).toBuffer();
}


/**
 * The shard a sample of `cost` bytes goes to: the one least full for its budget (the lowest index
 * on a tie), so shards fill in proportion to their budgets and each holds the same mix of the
 * pack's order; adds the cost to `used`. −1 when that shard cannot take it: the pack is full.
 */
export function dealShard(used: number[], budgets: readonly number[], cost: number): number {
  let k = 0;
  for (let j = 1; j < used.length; j++) if (used[j]! / budgets[j]! < used[k]! / budgets[k]!) k = j;
  if (used[k]! + cost > budgets[k]!) return -1;
  used[k]! += cost;
  return k;
}

/**
 * The budget (MiB) of each pack `buildPack` writes, checked: `shards` of them (else one per budget
 * in `maxMiB`), one number for all or one per shard (default 52).
 */
export function shardBudgets(options: Pick<PackOptions, 'shards' | 'maxMiB'>): readonly number[] {
  const list = typeof options.maxMiB === 'object' ? options.maxMiB : null;
  const count = options.shards ?? (list ? list.length : 1);
  if (!Number.isInteger(count) || count < 1) throw new Error(`shards must be a positive integer, got ${count}`);
  const budgets = list ?? new Array<number>(count).fill((options.maxMiB as number | undefined) ?? 52);
  if (budgets.length !== count) throw new Error(`--max-mib gives ${budgets.length} budgets for ${count} shards`);
  if (!budgets.every((b) => b > 0)) throw new Error(`--max-mib must be positive, got ${budgets.join(',')}`);
  return budgets;
}

/** Builds the pack; returns its meta (the first shard's with shards). */
export async function buildPack(options: PackOptions): Promise<PackMeta> {
  const log = options.log ?? ((m: string) => console.log(m));
  const sets = options.sets ?? ['utkface', 'misc', 'webfaces'];
  // --max-mib is per shard, each shard with its own fixed files (each sample to the shard least
  // full for its budget).
  const budgets = shardBudgets(options);
  const shardCount = budgets.length;
  const maxBytes = budgets.map((b) => Math.floor(b * 1024 * 1024));
  const holdoutBelow = Math.floor((options.holdoutFraction ?? 0.017) * 2 ** 32);
  const lambda = options.lambda ?? DEFAULT_LAMBDA;
  const shared = resolve(options.shared ?? sharedDir());
  const layout = await loadLayoutForScripts(shared);
  const corr = await loadCorrespondence();
  const setup = createTargetSetup(layout, corr, { lambda, keypointWeight: options.keypointWeight ?? 10 });
  const P = setup.controls.length / 3;
  const C = P + 4;
  const weights = lossWeights(layout, corr.coverage);

  // Candidates: every kept label of the sets, ordered by hash (deterministic, mixes sets).
  const kc = canonicalKeypoints(layout);
  const cands: { rec: LabelRecord & { file: string; face: number }; name: string; set: string; hash: number; weight: number; stats: FaceStats; stratum: string }[] = [];
  const labelled: Record<string, number> = {};
  const labelDrops: Record<string, Record<string, number>> = {};
  const photos: Record<string, { photos: number; withFaces: number; faces: Record<string, number> }> = {};
  const pose: Record<string, { faces: number; yawOver30: number; pitchUpOver15: number; pitchDownOver20: number; mouthOver015: number; medianAbsYaw: number; medianPitch: number }> = {};
  const teachers: Record<string, number> = {};
  for (const set of sets) {
    const dir = labelsDir(set);
    if (!existsSync(dir)) { log(`labels: no set ${set} (${dir})`); continue; }
    const ls = readLabels(dir);
    labelled[set] = ls.records.length;
    const counts = labelCounts(ls.entries);
    for (const [k, n] of Object.entries(counts.teachers)) teachers[k] = (teachers[k] ?? 0) + n;
    labelDrops[set] = counts.drops;
    photos[set] = { photos: counts.photos, withFaces: counts.withFaces, faces: counts.facesPerPhoto };
    const stats = ls.records.map((rec) => faceStats(rec.tddfa, kc));
    const med = (xs: number[]) => { const t = [...xs].sort((a, b) => a - b); return t.length ? t[t.length >> 1]! : NaN; };
    pose[set] = {
      faces: stats.length,
      yawOver30: stats.filter((x) => Math.abs(x.yaw) > 30).length,
      pitchUpOver15: stats.filter((x) => x.pitch > 15).length,
      pitchDownOver20: stats.filter((x) => x.pitch < -20).length,
      mouthOver015: stats.filter((x) => x.mouth > 0.15).length,
      medianAbsYaw: Math.round(10 * med(stats.map((x) => Math.abs(x.yaw)))) / 10,
      medianPitch: Math.round(10 * med(stats.map((x) => x.pitch))) / 10,
    };
    ls.records.forEach((rec, i) => cands.push({
      rec, name: sampleName(rec.file, set, rec.face), set, hash: fnv1a(rec.file), weight: samplingWeight(stats[i]!), stats: stats[i]!, stratum: mixStratum(set, stats[i]!),
    }));
    log(`labels ${set}: ${photos[set]!.photos} photos, ${ls.records.length} faces (faces per photo ${JSON.stringify(counts.facesPerPhoto)}), label drops ${JSON.stringify(counts.drops)}, pose ${JSON.stringify(pose[set])}`);
  }
  // No labels at all (an empty or wrong cache): nothing to pack. Said up front, before any file is
  // written (a 0-sample pack was written and its --verify crashed).
  if (!cands.length) throw new Error(`no labelled faces in ${sets.map((set) => labelsDir(set)).join(', ')}: run \`npx prnet data label\` first (or set PRNET_CACHE to the cache that holds the labels)`);
  cands.sort((a, b) => a.hash - b.hash || (a.name < b.name ? -1 : 1));
  if (options.limit) cands.length = Math.min(cands.length, options.limit);
  // Under the budget: the held-out photos first (so the held-out set does not depend on it), then
  // the strata interleaved (mixOrder), or with the legacy mix the rare faces, then the rest, each
  // group in hash order.
  const mix = options.mix ?? 'strata';
  const mixAlpha = options.mixAlpha ?? DEFAULT_MIX_ALPHA;
  if (!(mixAlpha >= 0 && mixAlpha <= 1)) throw new Error(`mixAlpha must be in 0..1, got ${mixAlpha}`);
  const draw = options.draw ?? 'mix';
  const rareFirst = options.rareFirst ?? true;
  const firstSets = options.firstSets ?? ['webfaces', 'misc'];
  if (mix === 'strata') {
    const order = mixOrder(cands, holdoutBelow, mixAlpha);
    const sorted = order.map((i) => cands[i]!);
    cands.length = 0;
    cands.push(...sorted);
  } else {
    const group = (c: { hash: number; weight: number; set: string }) => (c.hash < holdoutBelow ? 0 : rareFirst && c.weight > 1 ? 1 : firstSets.includes(c.set) ? 2 : 3);
    cands.sort((a, b) => group(a) - group(b) || a.hash - b.hash || (a.name < b.name ? -1 : 1));
  }
  const rareCandidates = cands.filter((c) => c.weight > 1).length;
  const trainCands = cands.filter((c) => c.hash >= holdoutBelow);
  const perStratum = new Map<string, number>();
  for (const c of trainCands) perStratum.set(c.stratum, (perStratum.get(c.stratum) ?? 0) + 1);
  log(`labels: ${cands.length} kept photos (${Object.entries(labelled).map(([k, v]) => `${k} ${v}`).join(', ')}); controls ${P} (${setup.facemeshIndex.length} FaceMesh + 68); λ ${lambda}`);

  const drops: Record<string, number> = {};
  const allSamples: Sample[] = [];
  const samples = allSamples;
  // Fixed costs: weights.u8, meta.json (~12 KB of controls + ~4 KB of mix; checked when written),
  // images.idx (4 B). Per sample: coeffs.f16, crops.f32 (12), flags.u8 (1), images.idx (4),
  // sample-weights.f32 (4), then its JPEG and names.txt line.
  const perSampleFixed = C * 3 * 2 + 12 + 1 + 4 + 4;
  const shardBytes = new Array<number>(shardCount).fill(65536 + META_ALLOWANCE + 4);
  let budgetFull = false;
  const t0 = performance.now();
  for (let n = 0; n < cands.length; n++) {
    const { rec, set, hash, weight, name, stratum, stats } = cands[n]!;
    const holdout = hash < holdoutBelow;
    if (budgetFull) { drops.budget = (drops.budget ?? 0) + 1; continue; }
    const path = join(shared, rec.file);
    const region = packRegion(rec, set);
    let jpeg: Buffer;
    try {
      jpeg = await packedPhoto(path, set, rec, region);
    } catch (e) {
      drops['photo-error'] = (drops['photo-error'] ?? 0) + 1;
      log(`skip ${name}: ${(e as Error).message}`);
      continue;
    }
    const fit = fitTargets(packedTeachers(rec, region), setup, { evaluate: 'coarse' });
    const why = judgeTarget(fit, { maxFoldFraction: 0.005 });
    if (why) { drops[why] = (drops[why] ?? 0) + 1; continue; }
    const cost = jpeg.length + perSampleFixed + Buffer.byteLength(name) + 1;
    const shard = dealShard(shardBytes, maxBytes, cost);
    if (shard < 0) { budgetFull = true; drops.budget = (drops.budget ?? 0) + 1; continue; }
    const sq = squareFromLandmarks(fit.keypoints, 3);
    samples.push({ shard, stratum, stats, weight, drawWeight: weight, file: name, set, hash, coeffs: Float32Array.from(fit.coeffs), crop: [sq.cx, sq.cy, sq.side], jpeg, holdout, fold: fit.foldedTriangles / Math.max(1, fit.checkedTriangles) });
    if ((n + 1) % 500 === 0) log(`  ${n + 1} / ${cands.length}: ${samples.length} packed, ${(shardBytes.reduce((a, b) => a + b, 0) / 1048576).toFixed(1)} MiB, ${((performance.now() - t0) / (n + 1)).toFixed(1)} ms/photo`);
  }

  // Sampling weights relative within the pack (over all shards together).
  if (!allSamples.length) {
    const photoErrors = drops['photo-error'] ?? 0;
    const hint = photoErrors * 2 > Object.values(drops).reduce((a, b) => a + b, 0) ? `: the photos are read from ${shared}, which must be the shared folder the labels were made from (--shared, or PRNET_SHARED)` : '';
    throw new Error(`no sample could be packed (dropped ${JSON.stringify(drops)})${hint}`);
  }
  const rel = relativeWeights(allSamples, perStratum, draw);
  allSamples.forEach((x, i) => { x.drawWeight = rel[i]!; });
  const packedTrain = allSamples.filter((x) => !x.holdout);
  const packedPerStratum = new Map<string, number>();
  for (const x of packedTrain) packedPerStratum.set(x.stratum, (packedPerStratum.get(x.stratum) ?? 0) + 1);
  const mixMeta = {
    mode: mix,
    ...(mix === 'strata' ? { alpha: mixAlpha } : { rareFirst, firstSets }),
    draw,
    bins: `strata: set × |yaw| (${MIX_BINS.absYaw.join(', ')}°) × pitch (${MIX_BINS.pitch.join(', ')}°, > 0 up) × mouth (${MIX_BINS.mouth.join(', ')}); named set/y{0..2}p{0..3}m{0..2}`,
    strata: Object.fromEntries([...perStratum.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, [n, packedPerStratum.get(k) ?? 0]])),
    unrepresented: [...perStratum.keys()].filter((k) => !packedPerStratum.has(k)),
    candidates: summarizeMix(trainCands, trainCands.map((c) => c.weight)),
    packed: summarizeMix(packedTrain, packedTrain.map((x) => x.drawWeight)),
  };
  log(`mix ${mix}${mix === 'strata' ? ` (alpha ${mixAlpha})` : ''}, draw ${draw}: training candidates ${JSON.stringify(mixMeta.candidates)}`);
  log(`  packed training samples ${JSON.stringify(mixMeta.packed)}${mixMeta.unrepresented.length ? `; strata not packed: ${mixMeta.unrepresented.join(', ')}` : ''}`);

  // Write (to a temporary folder, then rename); with shards, one complete pack per shard.
  let kernel: ReturnType<typeof buildKernel> | undefined;
  const writeOne = async (outPath: string, samples: Sample[], shard?: { index: number; count: number; of: number }): Promise<PackMeta> => {
    const out = resolve(outPath);
    const tmp = `${out}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    // A pack refused by a check below (over the budget, meta.json too large) leaves no temporary folder.
    try {
      const N = samples.length;
      const holdouts = samples.filter((x) => x.holdout).length;
      const idx = new Uint32Array(N + 1);
      let off = 0;
      samples.forEach((s, i) => { idx[i] = off; off += s.jpeg.length; });
      idx[N] = off;
      if (off > 0xffffffff) throw new Error('images.bin exceeds 4 GiB');
      writeFileSync(join(tmp, 'images.bin'), Buffer.concat(samples.map((s) => s.jpeg)));
      writeFileSync(join(tmp, 'images.idx'), Buffer.from(idx.buffer));
      const coeffs = new Float32Array(N * C * 3);
      samples.forEach((s, i) => coeffs.set(s.coeffs, i * C * 3));
      const c16 = f32ToF16(coeffs);
      writeFileSync(join(tmp, 'coeffs.f16'), Buffer.from(c16.buffer));
      const crops = new Float32Array(N * 3);
      samples.forEach((s, i) => crops.set(s.crop, 3 * i));
      writeFileSync(join(tmp, 'crops.f32'), Buffer.from(crops.buffer));
      const flags = Uint8Array.from(samples, (s) => (s.holdout ? 2 : 0));
      writeFileSync(join(tmp, 'flags.u8'), flags);
      writeFileSync(join(tmp, 'weights.u8'), weights.weights);
      writeFileSync(join(tmp, 'sample-weights.f32'), Buffer.from(Float32Array.from(samples, (s) => s.drawWeight).buffer));
      writeFileSync(join(tmp, 'names.txt'), samples.map((s) => s.file).join('\n') + '\n');

      // fp16 error of the coefficients, on a few samples (full maps).
      const K = kernel ??= buildKernel(setup.canonical, setup.controls);
      let fp16Max = 0;
      const c16f = f16ToF32(c16);
      for (let i = 0; i < Math.min(N, 16); i++) {
        const a = evaluateMap(K, samples[i]!.coeffs);
        const b = evaluateMap(K, c16f.subarray(i * C * 3, (i + 1) * C * 3));
        for (let k = 0; k < a.length; k++) fp16Max = Math.max(fp16Max, Math.abs(a[k]! - b[k]!));
      }

      const bySet: Record<string, number> = {};
      for (const s of samples) bySet[s.set] = (bySet[s.set] ?? 0) + 1;
      const meta: PackMeta = {
        version: PACK_VERSION,
        count: N,
        controls: Array.from({ length: P }, (_, j) => [setup.controls[3 * j]!, setup.controls[3 * j + 1]!, setup.controls[3 * j + 2]!]),
        coeffRows: C,
        coverage: `weights.u8 classes: 16 at the 68 keypoint pixels; 4 / 3 (layout weight mask) on face pixels within 5 px (canonical) of MediaPipe's area; 1 on face pixels the warp extrapolates; 0 off the face. Pixel counts ${JSON.stringify(weights.counts)}`,
        source: `labels ${sets.join(', ')} from ${shared}; FaceMesh (${Object.entries(teachers).map(([k, v]) => `${k === 'onnx' ? 'onnxruntime' : k} ${v} lines`).join(', ')}) + 3DDFA_V2 fused by a 3D TPS (kernel −r) on ${P} fixed controls (${setup.facemeshIndex.length} FaceMesh + 68 keypoints ×${options.keypointWeight ?? 10}), λ ${lambda}; src/data/groundtruth.ts, scripts/pack-training.ts`,
        frames: 'K rows: face pixels in layout face_index order; K[i, j] = −‖v_i − c_j‖ (j < P), K[i, P..P+3] = [v.x, v.y, v.z, 1] with v = layout canonical; map = K · W in the photo pixels of images.bin (x right, y down, z towards the camera, min z ≈ 0)',
        crops: `centre x, centre y, side: centre of the target 68-point box, side 1.6 × its mean side (PRNet rule), in the packed image's pixels; ${FACE_BY_FACE_SETS.join(', ')} samples are regions of their photo, ${REGION_CONTEXT} × that side around the face, clamped to the photo`,
        flags: `bit 0 synthetic (none here), bit 1 held out (FNV-1a hash of the name < ${options.holdoutFraction ?? 0.017} · 2³²)`,
        counts: {
          candidates: cands.length,
          packed: N,
          bySet,
          heldOut: holdouts,
          dropped: drops,
          labelled,
          ...(shard ? { shard } : {}),
          labelDrops,
          photos,
          pose,
          teachers,
        },
        lambda,
        keypointWeight: options.keypointWeight ?? 10,
        facemeshControls: Array.from(setup.facemeshIndex),
        meanFoldPercentCoarse: N ? (100 * samples.reduce((a, x) => a + x.fold, 0)) / N : 0,
        fp16MaxAbsErrorPx: fp16Max,
        order: mix === 'strata'
          ? `under the budget: held-out photos (FNV-1a hash order), then the training faces by strata (scripts/pack-training.ts mixOrder): each stratum (set × pose/expression bin) in hash order, interleaved so that every prefix holds the strata in proportion to (candidates)^${mixAlpha} until one runs out`
          : `under the budget: held-out photos, then rare faces${rareFirst ? '' : ' (off)'}, then the ordinary faces of ${firstSets.join(', ') || '(no set)'}, then the rest; each group in FNV-1a hash order`,
        sampling: `sample-weights.f32: N float32, how often the trainer draws each sample, mean 1 over the training samples (scripts/pack-training.ts relativeWeights, draw ${draw}): samplingWeight (pitch up, |yaw|, open mouth)${draw === 'cache' ? ' × the stratum\'s candidates / its packed samples, so the draws follow samplingWeight over every candidate' : ''}; ${rareCandidates} of ${cands.length} candidates and ${samples.filter((x) => x.weight > 1).length} packed samples have samplingWeight > 1; mean samplingWeight ${(samples.reduce((a, x) => a + x.weight, 0) / Math.max(1, N)).toFixed(3)}`,
        mix: mixMeta,
        names: 'names.txt: the photo of each sample, relative to the shared folder',
      };
      const metaJson = JSON.stringify(meta);
      if (Buffer.byteLength(metaJson) > META_ALLOWANCE) throw new Error(`meta.json is ${Buffer.byteLength(metaJson)} bytes, over the ${META_ALLOWANCE} the budget allows for it`);
      writeFileSync(join(tmp, 'meta.json'), metaJson);
      let total = 0;
      for (const f of ['images.bin', 'images.idx', 'coeffs.f16', 'crops.f32', 'flags.u8', 'weights.u8', 'sample-weights.f32', 'meta.json', 'names.txt']) total += statSync(join(tmp, f)).size;
      const budget = maxBytes[shard?.index ?? 0]!;
      if (total > budget) throw new Error(`${out}: ${total} bytes, over the budget of ${budget}`);
      rmSync(out, { recursive: true, force: true });
      renameSync(tmp, out);
      log(`pack${shard ? ` shard ${shard.index + 1}/${shard.count}` : ''}: ${N} samples (${holdouts} held out) in ${out}: ${(total / 1048576).toFixed(2)} MiB; dropped ${JSON.stringify(drops)}; fp16 max map error ${fp16Max.toFixed(3)} px; ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      return meta;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  };
  if (shardCount === 1) return writeOne(options.out, allSamples);
  let first: PackMeta | undefined;
  for (let k = 0; k < shardCount; k++) {
    const m = await writeOne(`${options.out}-${k}`, allSamples.filter((x) => x.shard === k), { index: k, count: shardCount, of: allSamples.length });
    first ??= m;
  }
  return first!;
}

/** A pack read back. */
export interface Pack {
  meta: PackMeta;
  count: number;
  images: Buffer;
  offsets: Uint32Array;
  /** N × (P + 4) × 3 as float32 (from float16). */
  coeffs: Float32Array;
  crops: Float32Array;
  flags: Uint8Array;
  weights: Uint8Array;
  /** Per-sample draw weights (all 1 in a pack without sample-weights.f32). */
  sampleWeights: Float32Array;
}

export function readPack(dir: string): Pack {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as PackMeta;
  const n = meta.count;
  const idxB = readFileSync(join(dir, 'images.idx'));
  const offsets = new Uint32Array(idxB.buffer.slice(idxB.byteOffset, idxB.byteOffset + idxB.byteLength));
  const cB = readFileSync(join(dir, 'coeffs.f16'));
  const coeffs = f16ToF32(new Uint16Array(cB.buffer.slice(cB.byteOffset, cB.byteOffset + cB.byteLength)));
  const crB = readFileSync(join(dir, 'crops.f32'));
  const crops = new Float32Array(crB.buffer.slice(crB.byteOffset, crB.byteOffset + crB.byteLength));
  const swPath = join(dir, 'sample-weights.f32');
  let sampleWeights = new Float32Array(n).fill(1);
  if (existsSync(swPath)) {
    const b = readFileSync(swPath);
    sampleWeights = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  if (offsets.length !== n + 1 || coeffs.length !== n * meta.coeffRows * 3 || crops.length !== n * 3 || sampleWeights.length !== n) throw new Error(`${dir}: inconsistent pack (${n} samples)`);
  return {
    meta, count: n, images: readFileSync(join(dir, 'images.bin')), offsets, coeffs, crops,
    flags: new Uint8Array(readFileSync(join(dir, 'flags.u8'))), weights: new Uint8Array(readFileSync(join(dir, 'weights.u8'))), sampleWeights,
  };
}

/**
 * Checks a pack against a fresh fit: rebuilds K from meta.controls and the layout's canonical,
 * evaluates sample `i` and compares it with fitTargets' map of the same photo. Returns the max
 * abs difference (px) against the float64 fit and against its float16-rounded coefficients.
 */
export async function verifyPack(dir: string, i = 0, shared = sharedDir(), layoutIn?: LayoutLike): Promise<{ vsFit: number; vsFp16: number; file: string }> {
  const pack = readPack(dir);
  const layout = layoutIn ?? await loadLayoutForScripts(shared);
  const controls = Float64Array.from(pack.meta.controls.flat());
  const K = buildKernel(layout.canonical, controls);
  const C = pack.meta.coeffRows;
  const map = evaluateMap(K, pack.coeffs.subarray(i * C * 3, (i + 1) * C * 3));
  const file = readFileSync(join(dir, 'names.txt'), 'utf8').split('\n')[i]!;
  const [photo, faceStr] = file.split('#');
  const face = faceStr === undefined ? 0 : Number(faceStr);
  const set = file.startsWith('eval/') ? 'eval' : (['utkface', 'webfaces'].find((x) => file.includes(`/${x}/`)) ?? 'misc');
  const rec = readLabels(labelsDir(set)).records.find((r) => r.file === photo && r.face === face);
  if (!rec) throw new Error(`no label for ${file}`);
  const corr = await loadCorrespondence();
  const setup: TargetSetup = createTargetSetup(layout, corr, { lambda: pack.meta.lambda as number, keypointWeight: pack.meta.keypointWeight as number });
  const region = packRegion(rec, set);
  const jpegMeta = await sharp(pack.images.subarray(pack.offsets[i]!, pack.offsets[i + 1]!)).metadata();
  if (jpegMeta.width !== region.outW || jpegMeta.height !== region.outH) throw new Error(`${file}: packed image ${jpegMeta.width}×${jpegMeta.height}, region says ${region.outW}×${region.outH}`);
  const fit = fitTargets(packedTeachers(rec, region), setup, { evaluate: 'coarse' });
  const exact = evaluateMap(K, fit.coeffs);
  const rounded = evaluateMap(K, f16ToF32(f32ToF16(Float32Array.from(fit.coeffs))));
  let vsFit = 0, vsFp16 = 0;
  for (let k = 0; k < map.length; k++) {
    vsFit = Math.max(vsFit, Math.abs(map[k]! - exact[k]!));
    vsFp16 = Math.max(vsFp16, Math.abs(map[k]! - rounded[k]!));
  }
  return { vsFit, vsFp16, file };
}

/**
 * The mix of a pack's training samples (flag bit 1 clear), read back through the labels cache
 * (names.txt → the label records): sets, pose/expression bins and the trainer's draw shares by the
 * pack's sample-weights.f32. For packs of any version of this script.
 */
export async function describePack(dir: string, shared = sharedDir()): Promise<MixSummary & { missing: number }> {
  const layout = await loadLayoutForScripts(shared);
  const kc = canonicalKeypoints(layout);
  const pack = readPack(dir);
  const names = readFileSync(join(dir, 'names.txt'), 'utf8').split('\n').slice(0, pack.count);
  const setOf = (name: string) => (name.startsWith('eval/') ? 'eval' : (['utkface', 'webfaces'].find((x) => name.includes(`/${x}/`)) ?? 'misc'));
  const recs = new Map<string, { set: string; stats: FaceStats }>();
  for (const set of new Set(names.map(setOf))) {
    if (!existsSync(labelsDir(set))) continue;
    for (const r of readLabels(labelsDir(set)).records) recs.set(sampleName(r.file, set, r.face), { set, stats: faceStats(r.tddfa, kc) });
  }
  const faces: { set: string; stats: FaceStats }[] = [];
  const w: number[] = [];
  let missing = 0;
  names.forEach((n, i) => {
    if (pack.flags[i]! & 2) return;
    const r = recs.get(n);
    if (!r) { missing++; return; }
    faces.push(r);
    w.push(pack.sampleWeights[i]!);
  });
  return { ...summarizeMix(faces, w), missing };
}

/** The sets a pack may take: the labelled training photos. `eval` holds AFLW2000-3D images (part of AFLW), never trained on. */
const TRAINING_SETS = ['utkface', 'misc', 'webfaces'];

const USAGE = 'usage: npx tsx scripts/pack-training.ts --out <folder> [--sets utkface,misc,webfaces] [--max-mib 52 | --max-mib 57,43] [--holdout-fraction 0.017] [--lambda 30] [--limit N] [--mix strata|legacy] [--mix-alpha 0.5] [--draw mix|cache] [--no-rare-first] [--first-sets webfaces,misc|none] [--shards N] [--shared DIR] [--verify]\n       npx tsx scripts/pack-training.ts --describe <pack folder> [--shared DIR]';

/** The command line, checked: an unknown option, a number that is not one, or a set that is not training data is one line and exit 2. */
function packArgs(argv: string[]) {
  const fail = (why: string): never => {
    console.error(`pack-training: ${why}\n${USAGE}`);
    process.exit(2);
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' }, describe: { type: 'string' }, sets: { type: 'string' }, 'max-mib': { type: 'string' }, shards: { type: 'string' },
        'holdout-fraction': { type: 'string' }, lambda: { type: 'string' }, limit: { type: 'string' }, mix: { type: 'string' }, 'mix-alpha': { type: 'string' },
        draw: { type: 'string' }, 'no-rare-first': { type: 'boolean' }, 'first-sets': { type: 'string' }, shared: { type: 'string' }, verify: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(USAGE);
      process.exit(0);
    }
    return fail((e as Error).message);
  }
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const num = (name: string, fallback: number, ok: (x: number) => boolean, what: string): number => {
    const s = str(name);
    if (s === undefined) return fallback;
    const x = Number(s);
    if (s.trim() === '' || !ok(x)) fail(`--${name} must be ${what}, got '${s}'`);
    return x;
  };
  const out = str('out') ?? '';
  const describe = str('describe') ?? '';
  if (!out && !describe) fail('--out or --describe is needed');
  // --no-rare-first and --first-sets are options of the legacy order: alone they choose it.
  const legacyFlags = values['no-rare-first'] === true || str('first-sets') !== undefined;
  const mix = (str('mix') ?? (legacyFlags ? 'legacy' : 'strata')) as MixMode;
  if (!MIX_MODES.includes(mix)) fail(`--mix must be one of ${MIX_MODES.join(', ')}, got '${mix}'`);
  const draw = (str('draw') ?? 'mix') as DrawMode;
  if (!DRAW_MODES.includes(draw)) fail(`--draw must be one of ${DRAW_MODES.join(', ')}, got '${draw}'`);
  // --max-mib 57,43: one budget per shard (and as many shards, unless --shards says otherwise)
  const maxMiB = (str('max-mib') ?? '52').split(',').map((b) => (b.trim() === '' ? NaN : Number(b)));
  if (!maxMiB.every((b) => b > 0)) fail(`--max-mib must be one or more sizes > 0 in MiB, comma-separated, got '${str('max-mib')}'`);
  const shards = str('shards') === undefined ? undefined : num('shards', 1, (x) => Number.isInteger(x) && x >= 1, 'a whole number ≥ 1');
  const sets = (str('sets') ?? TRAINING_SETS.join(',')).split(',').filter(Boolean);
  for (const set of sets) {
    if (set === 'eval') fail('--sets: eval holds AFLW2000-3D images (part of AFLW, the benchmark), which are never trained on');
    if (!TRAINING_SETS.includes(set)) fail(`--sets: unknown set '${set}' (${TRAINING_SETS.join(', ')})`);
  }
  return {
    out,
    describe,
    shared: str('shared'),
    verify: values.verify === true,
    pack: {
      out,
      sets,
      maxMiB: maxMiB.length === 1 ? maxMiB[0]! : maxMiB,
      holdoutFraction: num('holdout-fraction', 0.017, (x) => x >= 0 && x < 1, 'a fraction from 0 to below 1'),
      lambda: num('lambda', DEFAULT_LAMBDA, (x) => x > 0 && Number.isFinite(x), 'a number > 0'),
      limit: num('limit', 0, (x) => Number.isInteger(x) && x >= 0, 'a whole number ≥ 0 (0: no limit)') || undefined,
      mix,
      mixAlpha: num('mix-alpha', DEFAULT_MIX_ALPHA, (x) => x >= 0 && x <= 1, 'a number from 0 to 1'),
      draw,
      rareFirst: values['no-rare-first'] !== true,
      shards,
      firstSets: (str('first-sets') ?? 'webfaces,misc').split(',').filter((x) => x && x !== 'none'),
      shared: str('shared'),
    } satisfies PackOptions,
    maxMiB,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const a = packArgs(process.argv.slice(2));
  const shared = a.shared ?? sharedDir();
  if (a.describe) {
    describePack(a.describe, shared)
      .then((d) => console.log(`${a.describe}: ${JSON.stringify(d)}`))
      .catch((e: unknown) => { console.error(`${a.describe}: ${(e as Error).message}`); process.exit(1); });
  } else buildPack(a.pack)
    .then(async () => {
      if (a.verify) {
        const v = await verifyPack(shardBudgets({ shards: a.pack.shards, maxMiB: a.maxMiB }).length > 1 ? `${a.out}-0` : a.out, 0, shared);
        console.log(`verify ${v.file}: pack map vs fit ${v.vsFit.toFixed(4)} px, vs fp16-rounded fit ${v.vsFp16.toFixed(5)} px`);
      }
    })
    .catch((e: unknown) => {
      // One line for a known cause (no labels, nothing packed, an --out that cannot be written), the stack for a bug.
      const { code, path } = e as NodeJS.ErrnoException;
      // (an output error, exit 4, only for the --out path: a missing input is exit 1)
      const atOut = typeof code === 'string' && typeof path === 'string' && resolve(path).startsWith(resolve(a.out));
      const known = e instanceof Error && (/^no (labelled faces|sample could be packed)/.test(e.message) || atOut);
      console.error(known ? `pack-training: ${(e as Error).message}` : e);
      process.exit(atOut ? 4 : 1);
    });
}
