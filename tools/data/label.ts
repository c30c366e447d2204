/**
 * Labelling: per photo, the two teachers' points, written to a labels folder (labels-file.ts).
 *
 * For each photo: decode; FaceMesh on the photo with a 50 px black border (coordinates mapped back);
 * the largest face with score ≥ 0.5; 3DDFA_V2 on the square crop from FaceMesh's 68-point box
 * (3DDFA_V2's landmark crop rule: side √2 × the box's larger side, around its centre), with
 * test-time augmentation (tddfa-tta.ts: re-crop, mirror, rotations, averaged); checks; one
 * record. Photos that yield no label are recorded as dropped, with the reason, so that a resumed run
 * skips them too.
 */
import { relative, resolve } from 'node:path';
import { decodeImageFile } from '../../src/io/image-node.js';
import type { RgbImage } from '../../src/types.js';
import { detectFaceMesh, facemesh68, pointsBox, type FaceMeshFace } from './facemesh.js';
import { cropFromLandmarks, sharedDir } from './tddfa.js';
import { DEFAULT_TDDFA_TTA, runTddfaTta, type TddfaTtaOptions, type TddfaTtaPreset } from './tddfa-tta.js';
import { doneFiles, LabelsWriter, type LabelEntry, type LabelRecord } from './labels-file.js';

export interface LabelPhotoOptions {
  /** Border added before detection, pixels (default 50). */
  pad?: number;
  /** Lowest face score kept (default 0.5). */
  minScore?: number;
  /** Factor on 3DDFA_V2's first landmark crop side (default 1: √2 × the larger side of the box; the TTA's re-crop uses 1). */
  cropScale?: number;
  /** Photos whose teachers disagree more than this (fraction of face size, inner 51 points) are dropped (default 0.15). */
  maxDisagreement?: number;
  /** Shared folder (for the 3DDFA_V2 model); default PRNET_SHARED or ../shared. */
  shared?: string;
  /** 3DDFA_V2's test-time augmentation (tools/data/tddfa-tta.ts; default DEFAULT_TDDFA_TTA, 'plain' = one pass). */
  tddfaTta?: TddfaTtaPreset | TddfaTtaOptions;
}

export type PhotoLabel =
  | { ok: true; record: Omit<LabelRecord, 'line'>; ms: [number, number] }
  | { ok: false; reason: string; detail?: string; ms: [number, number] };

/** Mean 2D distance of the 51 inner points (17..67) of two 68 × 3 sets, over sqrt(w·h) of b's box. */
export function innerDisagreement(a: Float32Array, b: Float32Array): number {
  const box = pointsBox(b, 68);
  let s = 0;
  for (let k = 17; k < 68; k++) s += Math.hypot(a[3 * k] - b[3 * k], a[3 * k + 1] - b[3 * k + 1]);
  return s / 51 / Math.sqrt(Math.max(1e-6, box.width * box.height));
}

/** Labels one decoded photo. */
export async function labelImage(image: RgbImage, options: LabelPhotoOptions = {}): Promise<PhotoLabel> {
  const minScore = options.minScore ?? 0.5;
  const t0 = performance.now();
  let faces: FaceMeshFace[];
  try {
    faces = await detectFaceMesh(image, { pad: options.pad ?? 50 });
  } catch (e) {
    return { ok: false, reason: 'facemesh-error', detail: (e as Error).message, ms: [performance.now() - t0, 0] };
  }
  const t1 = performance.now();
  if (faces.length === 0) return { ok: false, reason: 'no-face', ms: [t1 - t0, 0] };
  const good = faces.filter((f) => f.score >= minScore);
  if (good.length === 0) {
    return { ok: false, reason: 'low-score', detail: `best score ${Math.max(...faces.map((f) => f.score)).toFixed(2)}`, ms: [t1 - t0, 0] };
  }
  const face = good[0]; // largest first
  const fm68 = facemesh68(face.points);
  let crop = cropFromLandmarks(fm68, 68, options.cropScale ?? 1);
  let tddfa: Float32Array;
  let params: Float32Array;
  try {
    // crop becomes the centre crop of the TTA (re-cropped from 3DDFA_V2's own first-pass points).
    ({ points: tddfa, params, crop } = await runTddfaTta(image, crop, options.tddfaTta ?? DEFAULT_TDDFA_TTA, { shared: options.shared }));
  } catch (e) {
    return { ok: false, reason: 'tddfa-error', detail: (e as Error).message, ms: [t1 - t0, performance.now() - t1] };
  }
  const ms: [number, number] = [t1 - t0, performance.now() - t1];
  if (!face.points.every(Number.isFinite) || !tddfa.every(Number.isFinite) || !(crop.side > 0)) {
    return { ok: false, reason: 'bad-points', detail: 'non-finite coordinates', ms };
  }
  const disagreement = innerDisagreement(tddfa, fm68);
  if (disagreement > (options.maxDisagreement ?? 0.15)) {
    return { ok: false, reason: 'teachers-disagree', detail: `inner-point distance ${(100 * disagreement).toFixed(1)} % of face size`, ms };
  }
  return {
    ok: true,
    ms,
    record: {
      width: image.width,
      height: image.height,
      box: face.box,
      cropSide: face.cropSide,
      score: face.score,
      boxScore: face.boxScore,
      faceScore: face.faceScore,
      crop,
      faceCount: good.length,
      disagreement,
      facemesh: face.points,
      tddfa,
      params,
    },
  };
}

export interface LabelProgress {
  /** Photos handled in this run (labelled or dropped), and the run's total still to do. */
  done: number;
  total: number;
  /** Photos already in the folder when the run started (skipped). */
  skipped: number;
  kept: number;
  dropped: number;
  reasons: Record<string, number>;
  /** Mean milliseconds per photo this run: FaceMesh, 3DDFA_V2, whole (decode to write). */
  msFaceMesh: number;
  msTddfa: number;
  msTotal: number;
  elapsedS: number;
  /** The latest entry written. */
  last?: LabelEntry;
}

export interface LabelPhotosOptions extends LabelPhotoOptions {
  /** Photo paths (absolute or relative to cwd). */
  files: string[];
  /** Labels folder (written: part-<part>.bin / .jsonl). */
  out: string;
  /** Names in the index are relative to this folder (default: the shared folder). */
  root?: string;
  /** This run's part number (one per concurrent worker; default 0). */
  part?: number;
  /** Take every `stride`-th file starting at `offset` (for workers; default 1 / 0). */
  stride?: number;
  offset?: number;
  /** Stop after this many new photos (default: all). */
  limit?: number;
  onProgress?: (p: LabelProgress) => void;
  signal?: AbortSignal;
}

/**
 * Labels photos into a labels folder, appending; photos already in any part of the folder (kept
 * or dropped) are skipped. Returns the final progress (the run's summary).
 */
export async function labelPhotos(options: LabelPhotosOptions): Promise<LabelProgress> {
  const root = resolve(options.root ?? sharedDir());
  const stride = options.stride ?? 1;
  const offset = options.offset ?? 0;
  const done = doneFiles(options.out);
  const writer = new LabelsWriter(options.out, options.part ?? 0);
  const mine = options.files.filter((_, i) => i % stride === offset).map((f) => ({ path: resolve(f), name: relative(root, resolve(f)) }));
  let todo = mine.filter((f) => !done.has(f.name));
  if (options.limit !== undefined) todo = todo.slice(0, options.limit);
  const p: LabelProgress = {
    done: 0, total: todo.length, skipped: mine.length - mine.filter((f) => !done.has(f.name)).length,
    kept: 0, dropped: 0, reasons: {}, msFaceMesh: 0, msTddfa: 0, msTotal: 0, elapsedS: 0,
  };
  const start = performance.now();
  let sumFm = 0, sumTd = 0, sumAll = 0, nTd = 0;
  try {
    for (const f of todo) {
      if (options.signal?.aborted) break;
      const t0 = performance.now();
      let entry: LabelEntry;
      let image: RgbImage | undefined;
      try {
        image = await decodeImageFile(f.path);
      } catch (e) {
        entry = writer.append({ file: f.name, ok: false, reason: 'decode-error', detail: (e as Error).message });
      }
      if (image) {
        const r = await labelImage(image, options);
        const ms: [number, number, number] = [r.ms[0], r.ms[1], performance.now() - t0].map((v) => Math.round(v * 10) / 10) as [number, number, number];
        sumFm += r.ms[0];
        if (r.ms[1] > 0) { sumTd += r.ms[1]; nTd++; }
        entry = r.ok
          ? writer.append({ file: f.name, ok: true, w: image.width, h: image.height, ms }, r.record)
          : writer.append({ file: f.name, ok: false, reason: r.reason, ...(r.detail ? { detail: r.detail } : {}), w: image.width, h: image.height, ms });
      }
      sumAll += performance.now() - t0;
      p.done++;
      if (entry!.ok) p.kept++;
      else {
        p.dropped++;
        p.reasons[entry!.reason ?? '?'] = (p.reasons[entry!.reason ?? '?'] ?? 0) + 1;
      }
      p.msFaceMesh = sumFm / p.done;
      p.msTddfa = nTd ? sumTd / nTd : 0;
      p.msTotal = sumAll / p.done;
      p.elapsedS = (performance.now() - start) / 1000;
      p.last = entry!;
      options.onProgress?.(p);
    }
  } finally {
    writer.close();
  }
  p.elapsedS = (performance.now() - start) / 1000;
  return p;
}
