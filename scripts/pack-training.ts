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
 * (--max-mib, default 52) caps the pack; samples are dropped deterministically (in the order of a
 * hash of the file name; the held-out photos, those with the smallest hashes, come first).
 * Rare faces come before the rest under the budget, and each sample gets a sampling weight
 * (sample-weights.f32) that the trainer draws batches by: head pose and mouth opening are read
 * off 3DDFA_V2's 68 points (`faceStats`), and upward pitch, large yaw and open mouths, which the
 * training photos seldom show and AFLW2000-3D often does, weigh more (`samplingWeight`).
 *
 * Usage: npx tsx scripts/pack-training.ts --out .train/pack [--sets utkface,misc,webfaces] [--max-mib 52]
 *          [--holdout-fraction 0.017] [--lambda 30] [--limit N] [--no-rare-first]
 *          [--first-sets webfaces,misc] [--shards N] [--verify]
 */
import { fnv1a } from '../src/util/hash.js';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  maxMiB?: number;
  /** Fraction of photos held out, chosen by the hash of the name (stable as labels grow; default 0.017 ≈ 200 of ~11,900). */
  holdoutFraction?: number;
  lambda?: number;
  keypointWeight?: number;
  limit?: number;
  /** Rare faces (samplingWeight > 1) are packed before the others under the budget (default true). */
  rareFirst?: boolean;
  /**
   * Write the pack as this many complete packs `<out>-0` … `<out>-(n−1)` (samples dealt in turn,
   * each ≤ maxMiB; default 1: one pack at `<out>`), for a pack larger than one device call carries.
   */
  shards?: number;
  /**
   * Sets whose (ordinary) faces are packed before the other sets' under the budget (default
   * webfaces, misc: photos with background and varied framing before UTKFace's 20,000 aligned chips).
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

interface Sample {
  weight: number;
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


/** Builds the pack; returns its meta. */
export async function buildPack(options: PackOptions): Promise<PackMeta> {
  const log = options.log ?? ((m: string) => console.log(m));
  const sets = options.sets ?? ['utkface', 'misc', 'webfaces'];
  // --max-mib is per shard, each shard with its own fixed files (sample i goes to shard i mod shards).
  const maxBytes = Math.floor((options.maxMiB ?? 52) * 1024 * 1024);
  const shardCount = Math.max(1, options.shards ?? 1);
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
  const cands: { rec: LabelRecord & { file: string; face: number }; name: string; set: string; hash: number; weight: number }[] = [];
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
    ls.records.forEach((rec, i) => cands.push({ rec, name: sampleName(rec.file, set, rec.face), set, hash: fnv1a(rec.file), weight: samplingWeight(stats[i]!) }));
    log(`labels ${set}: ${photos[set]!.photos} photos, ${ls.records.length} faces (faces per photo ${JSON.stringify(counts.facesPerPhoto)}), label drops ${JSON.stringify(counts.drops)}, pose ${JSON.stringify(pose[set])}`);
  }
  cands.sort((a, b) => a.hash - b.hash || (a.name < b.name ? -1 : 1));
  if (options.limit) cands.length = Math.min(cands.length, options.limit);
  // Under the budget: the held-out photos first (so the held-out set does not depend on it), then
  // the rare faces, then the rest, each group in hash order.
  const rareFirst = options.rareFirst ?? true;
  const firstSets = options.firstSets ?? ['webfaces', 'misc'];
  const group = (c: { hash: number; weight: number; set: string }) => (c.hash < holdoutBelow ? 0 : rareFirst && c.weight > 1 ? 1 : firstSets.includes(c.set) ? 2 : 3);
  cands.sort((a, b) => group(a) - group(b) || a.hash - b.hash || (a.name < b.name ? -1 : 1));
  const rareCandidates = cands.filter((c) => c.weight > 1).length;
  log(`labels: ${cands.length} kept photos (${Object.entries(labelled).map(([k, v]) => `${k} ${v}`).join(', ')}); controls ${P} (${setup.facemeshIndex.length} FaceMesh + 68); λ ${lambda}`);

  const drops: Record<string, number> = {};
  const allSamples: Sample[] = [];
  const samples = allSamples;
  // Fixed costs: weights.u8, meta.json (~12 KB with the controls), images.idx (4 B), names.
  const perSampleFixed = C * 3 * 2 + 12 + 1 + 4;
  const shardBytes = new Array<number>(shardCount).fill(65536 + 16384 + 4);
  let budgetFull = false;
  const t0 = performance.now();
  for (let n = 0; n < cands.length; n++) {
    const { rec, set, hash, weight, name } = cands[n]!;
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
    const cost = jpeg.length + perSampleFixed + name.length + 1;
    const shard = samples.length % shardCount;
    if (shardBytes[shard]! + cost > maxBytes) { budgetFull = true; drops.budget = (drops.budget ?? 0) + 1; continue; }
    shardBytes[shard]! += cost;
    const sq = squareFromLandmarks(fit.keypoints, 3);
    samples.push({ weight, file: name, set, hash, coeffs: Float32Array.from(fit.coeffs), crop: [sq.cx, sq.cy, sq.side], jpeg, holdout, fold: fit.foldedTriangles / Math.max(1, fit.checkedTriangles) });
    if ((n + 1) % 500 === 0) log(`  ${n + 1} / ${cands.length}: ${samples.length} packed, ${(shardBytes.reduce((a, b) => a + b, 0) / 1048576).toFixed(1)} MiB, ${((performance.now() - t0) / (n + 1)).toFixed(1)} ms/photo`);
  }

  // Write (to a temporary folder, then rename); with shards, one complete pack per shard.
  let kernel: ReturnType<typeof buildKernel> | undefined;
  const writeOne = async (outPath: string, samples: Sample[], shard?: { index: number; count: number; of: number }): Promise<PackMeta> => {
    const out = resolve(outPath);
    const tmp = `${out}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
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
    writeFileSync(join(tmp, 'sample-weights.f32'), Buffer.from(Float32Array.from(samples, (s) => s.weight).buffer));
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
      order: `under the budget: held-out photos, then rare faces${rareFirst ? '' : ' (off)'}, then the ordinary faces of ${firstSets.join(', ') || '(no set)'}, then the rest; each group in FNV-1a hash order`,
      sampling: `sample-weights.f32: N float32, how often the trainer draws each sample (scripts/pack-training.ts samplingWeight: pitch up, |yaw|, open mouth); ${rareCandidates} of ${cands.length} candidates and ${samples.filter((x) => x.weight > 1).length} packed samples weigh more than 1${rareFirst ? '; those were packed first under the budget' : ''}; mean weight ${(samples.reduce((a, x) => a + x.weight, 0) / Math.max(1, N)).toFixed(3)}`,
      names: 'names.txt: the photo of each sample, relative to the shared folder',
    };
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta));
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
    let total = 0;
    for (const f of ['images.bin', 'images.idx', 'coeffs.f16', 'crops.f32', 'flags.u8', 'weights.u8', 'sample-weights.f32', 'meta.json', 'names.txt']) total += readFileSync(join(out, f)).length;
    log(`pack${shard ? ` shard ${shard.index + 1}/${shard.count}` : ''}: ${N} samples (${holdouts} held out) in ${out}: ${(total / 1048576).toFixed(2)} MiB; dropped ${JSON.stringify(drops)}; fp16 max map error ${fp16Max.toFixed(3)} px; ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return meta;
  };
  const shards = Math.max(1, options.shards ?? 1);
  if (shards === 1) return writeOne(options.out, allSamples);
  let first: PackMeta | undefined;
  for (let k = 0; k < shards; k++) {
    const m = await writeOne(`${options.out}-${k}`, allSamples.filter((_, i) => i % shards === k), { index: k, count: shards, of: allSamples.length });
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

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = arg('out', '');
  if (!out) {
    console.error('usage: npx tsx scripts/pack-training.ts --out <folder> [--sets utkface,misc,webfaces] [--max-mib 52] [--holdout-fraction 0.017] [--lambda 30] [--limit N] [--no-rare-first] [--first-sets webfaces,misc|none] [--shards N] [--verify]');
    process.exit(2);
  }
  buildPack({
    out,
    sets: arg('sets', 'utkface,misc,webfaces').split(',').filter(Boolean),
    maxMiB: Number(arg('max-mib', '52')),
    holdoutFraction: Number(arg('holdout-fraction', '0.017')),
    lambda: Number(arg('lambda', String(DEFAULT_LAMBDA))),
    limit: Number(arg('limit', '0')) || undefined,
    rareFirst: !process.argv.includes('--no-rare-first'),
    shards: Number(arg('shards', '1')),
    firstSets: arg('first-sets', 'webfaces,misc').split(',').filter((x) => x && x !== 'none'),
  })
    .then(async () => {
      if (process.argv.includes('--verify')) {
        const v = await verifyPack(Number(arg('shards', '1')) > 1 ? `${out}-0` : out, 0);
        console.log(`verify ${v.file}: pack map vs fit ${v.vsFit.toFixed(4)} px, vs fp16-rounded fit ${v.vsFp16.toFixed(5)} px`);
      }
    })
    .catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
}

