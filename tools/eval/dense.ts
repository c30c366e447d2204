/**
 * Dense check: how far the pipeline's 43,867 vertices (and its 68 landmarks) lie from the fused
 * teacher target (src/data/groundtruth.ts) on held-out photos — photos the training pack marked
 * "held out" and never trained on (docs/evaluation.md).
 *
 * Held-out photos: the pack's names.txt with flag bit 1 (flags.u8) when the pack exists, else the
 * pack's own rule recomputed over the labels cache: a photo is held out when the FNV-1a hash of
 * its name (relative to the shared folder) is below fraction · 2³² (scripts/pack-training.ts,
 * fraction 0.017). Both lists come in the pack's order (ascending hash).
 *
 * Per photo: the target map is rebuilt from the photo's labels (fitTargets, full evaluation), the
 * photo is run through the pipeline (the detector's largest face, or the crop the training used:
 * 1.6 × the target's 68-point box), and the errors are
 *   dense 2D  = mean over the vertices of ‖(x, y)_ours − (x, y)_target‖,
 *   dense 3D  = the same in x, y, z after shifting each map's z to zero mean over the face,
 * in pixels and divided by the face size sqrt(w·h) of the target's 68 keypoints' box; plus the
 * 68-point NME (src/eval/nme.ts) against the target's keypoints.
 *
 * Frames: photo pixels, x right, y down, z towards the camera (pixels).
 */
import { fnv1a } from '../../src/util/hash.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cropFromLandmarks } from '../../src/crop/index.js';
import type { Correspondence } from '../data/correspondence.js';
import { createTargetSetup, fitTargets, judgeTarget, type TargetSetup } from '../data/groundtruth.js';
import { labelsDir, photoOfSample, readLabels, type LabelRecord } from '../data/labels-file.js';
import { padImage } from '../../src/detect/resize.js';
import { decodeImageFile } from '../../src/io/image-node.js';
import type { Prnet } from '../../src/pipeline/prnet.js';
import { boxSize, FAILURE_NME, nme } from './nme.js';

/** The pack's default hold-out fraction (scripts/pack-training.ts `--holdout-fraction`). */
export const HOLDOUT_FRACTION = 0.017;

/** Largest fraction of folded triangles a target may have (the pack's drop rule). */
export const MAX_FOLD_FRACTION = 0.005;

/** The label sets the pack is built from. */
export const PACK_SETS = ['utkface', 'misc'] as const;



/** Whether the pack's rule holds a photo out (name relative to the shared folder; a `#face` suffix is the photo's). */
export function isHeldOut(file: string, fraction = HOLDOUT_FRACTION): boolean {
  return fnv1a(photoOfSample(file)) < Math.floor(fraction * 2 ** 32);
}

/** The pack's order: ascending hash of the photo, ties by name. */
function byHash(a: string, b: string): number {
  return fnv1a(photoOfSample(a)) - fnv1a(photoOfSample(b)) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The held-out photos of a pack folder (names.txt lines whose flags.u8 byte has bit 1), or null without a pack. */
export function heldOutFromPack(packDir: string): string[] | null {
  const names = join(packDir, 'names.txt');
  const flags = join(packDir, 'flags.u8');
  if (!existsSync(names) || !existsSync(flags)) return null;
  const list = readFileSync(names, 'utf8').split('\n').filter(Boolean);
  const f = readFileSync(flags);
  if (f.length !== list.length) throw new Error(`${packDir}: ${list.length} names but ${f.length} flags`);
  return list.filter((_, i) => (f[i]! & 2) !== 0).sort(byHash);
}

/** The held-out photos among the given names by the pack's hash rule, in the pack's order. */
export function heldOutByHash(files: Iterable<string>, fraction = HOLDOUT_FRACTION): string[] {
  return [...new Set(files)].filter((f) => isHeldOut(f, fraction)).sort(byHash);
}

/** Label records of the pack's sets, by photo name (the cache's labels folders). */
export function loadLabelRecords(sets: readonly string[] = PACK_SETS): Map<string, LabelRecord & { file: string }> {
  const out = new Map<string, LabelRecord & { file: string }>();
  for (const set of sets) {
    const dir = labelsDir(set);
    if (!existsSync(dir)) continue;
    for (const r of readLabels(dir).records) out.set(r.file, r);
  }
  return out;
}

export interface HeldOutPhotos {
  /** Where the list came from. */
  source: 'pack' | 'hash';
  /** Held-out photos with labels, in the pack's order. */
  photos: (LabelRecord & { file: string })[];
  /** Held-out names without a label record (only possible with a pack built from another cache). */
  unlabelled: string[];
  /**
   * Held-out samples of face-by-face sets (`photo#k`, webfaces): not scored, since the check runs
   * the photo through the pipeline and scores its largest face, which need not be face k.
   */
  faceByFace: string[];
}

/** The held-out photos and their labels: from the pack when it exists, else by the hash rule over the labels cache. */
export function heldOutPhotos(options: { packDir?: string; records?: Map<string, LabelRecord & { file: string }>; fraction?: number } = {}): HeldOutPhotos {
  const records = options.records ?? loadLabelRecords();
  const fromPack = options.packDir ? heldOutFromPack(options.packDir) : null;
  const names = fromPack ?? heldOutByHash(records.keys(), options.fraction);
  const photos: (LabelRecord & { file: string })[] = [];
  const unlabelled: string[] = [];
  const faceByFace: string[] = [];
  for (const n of names) {
    if (photoOfSample(n) !== n) {
      faceByFace.push(n);
      continue;
    }
    const r = records.get(n);
    if (r) photos.push(r);
    else unlabelled.push(n);
  }
  return { source: fromPack ? 'pack' : 'hash', photos, unlabelled, faceByFace };
}

/** Errors of one reconstruction against one target. Distances in pixels; `*Rel` and NMEs are fractions of the face size. */
export interface DenseError {
  /** sqrt(w·h) of the target's 68 keypoints' x, y box (px). */
  faceSize: number;
  dense2d: number;
  dense3d: number;
  dense2dRel: number;
  dense3dRel: number;
  /** Dense 3D error over the vertices the teachers cover (FaceMesh's area), relative. */
  dense3dCoveredRel: number;
  nme2d: number;
  nme3d: number;
}

/**
 * Dense and 68-point errors of predicted vertices / landmarks (N × 3, 68 × 3) against a target map
 * and its keypoints (same vertex order). `covered` (optional, N) marks vertices the teachers cover.
 */
export function denseError(
  vertices: ArrayLike<number>, landmarks: ArrayLike<number>,
  target: ArrayLike<number>, keypoints: ArrayLike<number>,
  covered?: ArrayLike<number>,
): DenseError {
  const n = target.length / 3;
  if (vertices.length !== target.length) throw new Error(`dense error: ${vertices.length / 3} vertices vs ${n} in the target`);
  let zp = 0, zt = 0;
  for (let i = 0; i < n; i++) { zp += vertices[3 * i + 2] as number; zt += target[3 * i + 2] as number; }
  zp /= n; zt /= n;
  let s2 = 0, s3 = 0, sc = 0, nc = 0;
  for (let i = 0; i < n; i++) {
    const dx = (vertices[3 * i] as number) - (target[3 * i] as number);
    const dy = (vertices[3 * i + 1] as number) - (target[3 * i + 1] as number);
    const dz = ((vertices[3 * i + 2] as number) - zp) - ((target[3 * i + 2] as number) - zt);
    const d2 = Math.sqrt(dx * dx + dy * dy);
    const d3 = Math.sqrt(dx * dx + dy * dy + dz * dz);
    s2 += d2; s3 += d3;
    if (covered && covered[i]) { sc += d3; nc++; }
  }
  const faceSize = boxSize(keypoints, 3);
  const dense2d = s2 / n, dense3d = s3 / n;
  return {
    faceSize,
    dense2d,
    dense3d,
    dense2dRel: dense2d / faceSize,
    dense3dRel: dense3d / faceSize,
    dense3dCoveredRel: nc ? sc / nc / faceSize : NaN,
    nme2d: nme(landmarks, keypoints, 2),
    nme3d: nme(landmarks, keypoints, 3),
  };
}

/** Per-vertex flag (face-vertex order): 1 where the correspondence's coverage mask covers the vertex's map pixel. */
export function coveredVertices(faceIndex: Int32Array, coverage: Uint8Array): Uint8Array {
  return Uint8Array.from(faceIndex, (p) => (coverage[p] ? 1 : 0));
}

/**
 * How the crop was chosen: 'detector' = the product as it is (its detector's largest face on the
 * photo); 'detector-pad' = the same on the photo inside a black border of LABEL_PAD px (what the
 * labeller does before FaceMesh); 'target' = the target's 68-point crop (as in training).
 */
export type DenseCropMode = 'detector' | 'detector-pad' | 'target';

/** The border (px) the labeller adds around a photo before detection (src/data/facemesh.ts). */
export const LABEL_PAD = 50;

/** A 68-point 2D NME above this counts as a gross failure (wrong or partial face box, lost face): nme.ts's. */
export { FAILURE_NME };

export interface DensePhotoResult {
  file: string;
  set: string;
  width: number;
  height: number;
  model: string;
  crop: DenseCropMode;
  /** 'ok', 'no-face' (the detector found none), or 'target-dropped' (the target fails the pack's fold rule). */
  status: 'ok' | 'no-face' | 'target-dropped';
  error?: DenseError;
  /** Pose yaw of our reconstruction (degrees, AFLW2000-3D convention). */
  yaw?: number;
}

export interface DenseSummary {
  model: string;
  crop: DenseCropMode;
  photos: number;
  scored: number;
  noFace: number;
  /** Scored photos whose 68-point 2D NME is above FAILURE_NME (included in the means). */
  failures: number;
  targetDropped: number;
  /** Means over the scored photos (failures included: what the product returns). */
  dense2d: number;
  dense3d: number;
  dense2dRel: number;
  dense3dRel: number;
  dense3dCoveredRel: number;
  nme2d: number;
  nme3d: number;
  /** Medians of the relative dense 3D error and the 2D NME (robust to failures). */
  medianDense3dRel: number;
  medianNme2d: number;
  /** Means over the scored photos of each set. */
  bySet: Record<string, { scored: number; dense3dRel: number; nme2d: number }>;
}

export interface DenseModel {
  name: string;
  prnet: Prnet;
}

export interface DenseCheckOptions {
  /** The shared folder (photo names are relative to it). */
  shared: string;
  /** Models to run; a model without a detector runs only the target crop. */
  models: DenseModel[];
  photos: (LabelRecord & { file: string })[];
  /** Crop modes (default all three). */
  crops?: DenseCropMode[];
  /** Test-time flip (default true: the product's default). */
  flip?: boolean;
  /** Reuse a target setup (built from the first model's layout and `correspondence` otherwise). */
  setup?: TargetSetup;
  correspondence: Pick<Correspondence, 'matched' | 'usable' | 'table68' | 'coverage'>;
  onPhoto?: (index: number, file: string) => void;
}

export interface DenseCheckReport {
  results: DensePhotoResult[];
  summaries: DenseSummary[];
  /** Milliseconds spent per photo fitting targets, and per model in the pipeline. */
  timings: { targetMs: number; pipelineMs: Record<string, number> };
}

const mean = (v: number[]): number => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
function median(v: number[]): number {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The set of a photo name ('faces/utkface/…' → 'utkface'). */
export function photoSet(file: string): string {
  const m = /^faces\/([^/]+)\//.exec(file);
  return m ? m[1]! : file.split('/')[0] ?? '';
}

/** Shifts x, y of N × 3 points by −pad (padded photo → photo), in place. */
function unpad(points: Float32Array, pad: number): void {
  for (let i = 0; i < points.length; i += 3) { points[i]! -= pad; points[i + 1]! -= pad; }
}

/** Summarises per-photo results of one model and crop mode. */
export function summariseDense(results: DensePhotoResult[], model: string, crop: DenseCropMode): DenseSummary {
  const rs = results.filter((r) => r.model === model && r.crop === crop);
  const ok = rs.filter((r) => r.status === 'ok' && r.error);
  const e = ok.map((r) => r.error!);
  const bySet: DenseSummary['bySet'] = {};
  for (const set of [...new Set(ok.map((r) => r.set))].sort()) {
    const s = ok.filter((r) => r.set === set).map((r) => r.error!);
    bySet[set] = { scored: s.length, dense3dRel: mean(s.map((x) => x.dense3dRel)), nme2d: mean(s.map((x) => x.nme2d)) };
  }
  return {
    model,
    crop,
    photos: rs.length,
    scored: ok.length,
    noFace: rs.filter((r) => r.status === 'no-face').length,
    failures: e.filter((x) => x.nme2d > FAILURE_NME).length,
    targetDropped: rs.filter((r) => r.status === 'target-dropped').length,
    dense2d: mean(e.map((x) => x.dense2d)),
    dense3d: mean(e.map((x) => x.dense3d)),
    dense2dRel: mean(e.map((x) => x.dense2dRel)),
    dense3dRel: mean(e.map((x) => x.dense3dRel)),
    dense3dCoveredRel: mean(e.map((x) => x.dense3dCoveredRel)),
    nme2d: mean(e.map((x) => x.nme2d)),
    nme3d: mean(e.map((x) => x.nme3d)),
    medianDense3dRel: median(e.map((x) => x.dense3dRel)),
    medianNme2d: median(e.map((x) => x.nme2d)),
    bySet,
  };
}

/**
 * Runs the dense check: per photo one target fit (full map), then each model in each crop mode
 * (test-time flip on unless told otherwise). The detector mode is the product as it is —
 * `reconstruct(photo, { maxFaces: 1 })` on the photo — and scores the largest face found; the
 * detector-pad mode runs the same call on the photo inside a black border and maps the points back.
 */
export async function runDenseCheck(options: DenseCheckOptions): Promise<DenseCheckReport> {
  const first = options.models[0];
  if (!first) throw new Error('dense check: no model');
  const layout = first.prnet.layout;
  const setup = options.setup ?? createTargetSetup(layout, options.correspondence);
  const covered = coveredVertices(layout.faceIndex, options.correspondence.coverage);
  const modes = options.crops ?? ['detector', 'detector-pad', 'target'];
  const flip = options.flip ?? true;
  const results: DensePhotoResult[] = [];
  const pipelineMs: Record<string, number> = Object.fromEntries(options.models.map((m) => [m.name, 0]));
  let targetMs = 0;
  for (let i = 0; i < options.photos.length; i++) {
    const rec = options.photos[i]!;
    options.onPhoto?.(i, rec.file);
    const base = { file: rec.file, set: photoSet(rec.file), width: rec.width, height: rec.height };
    let t = performance.now();
    const fit = fitTargets(rec, setup, { evaluate: 'full' });
    targetMs += performance.now() - t;
    const dropped = judgeTarget(fit, { maxFoldFraction: MAX_FOLD_FRACTION }) !== '';
    const image = await decodeImageFile(join(options.shared, rec.file));
    if (image.width !== rec.width || image.height !== rec.height) {
      throw new Error(`${rec.file}: decoded ${image.width}×${image.height}, labelled ${rec.width}×${rec.height}`);
    }
    for (const m of options.models) {
      for (const crop of modes) {
        if (crop !== 'target' && !m.prnet.detector) continue;
        const row: DensePhotoResult = { ...base, model: m.name, crop, status: 'ok' };
        results.push(row);
        if (dropped) { row.status = 'target-dropped'; continue; }
        t = performance.now();
        const { faces } = crop === 'target'
          ? await m.prnet.reconstruct(image, { crops: [cropFromLandmarks(fit.keypoints, 3)], flip })
          : await m.prnet.reconstruct(crop === 'detector' ? image : padImage(image, LABEL_PAD), { maxFaces: 1, flip });
        pipelineMs[m.name]! += performance.now() - t;
        const face = faces[0];
        if (!face) { row.status = 'no-face'; continue; }
        if (crop === 'detector-pad') { unpad(face.vertices, LABEL_PAD); unpad(face.landmarks, LABEL_PAD); }
        row.error = denseError(face.vertices, face.landmarks, fit.map!, fit.keypoints, covered);
        row.yaw = face.pose.yaw;
      }
    }
  }
  const summaries: DenseSummary[] = [];
  for (const m of options.models) {
    for (const crop of modes) {
      if (crop !== 'target' && !m.prnet.detector) continue;
      summaries.push(summariseDense(results, m.name, crop));
    }
  }
  const n = Math.max(1, options.photos.length);
  return {
    results,
    summaries,
    timings: { targetMs: targetMs / n, pipelineMs: Object.fromEntries(Object.entries(pipelineMs).map(([k, v]) => [k, v / n])) },
  };
}

