/**
 * Labelling: per photo, the two teachers' points, written to a labels folder (labels-file.ts).
 *
 * For each photo: decode; FaceMesh — by default on onnxruntime (facemesh-onnx.ts: the product's
 * BlazeFace, MediaPipe's rotated crop, up to 3 passes), or through human on tfjs-wasm
 * (`facemesh: 'human'`, facemesh.ts: the photo with a 50 px black border); the largest face with
 * score ≥ 0.5, or with `allFaces` every such face whose eyes are ≥ `minEyeDistance` px apart;
 * 3DDFA_V2 on the square crop from FaceMesh's 68-point box (3DDFA_V2's landmark crop rule: side √2 ×
 * the box's larger side, around its centre), with test-time augmentation (tddfa-tta.ts: re-crop,
 * mirror, rotations, averaged); checks; one record per face. Photos and faces that
 * yield no label are recorded as dropped, with the reason, so that a resumed run skips them too.
 */
import { relative, resolve } from 'node:path';
import { decodeImageFile } from '../../src/io/image-node.js';
import type { RgbImage } from '../../src/types.js';
import { detectFaceMesh, facemesh68, pointsBox, type FaceMeshFace } from './facemesh.js';
import { eyeDistance468, loadFaceMeshOnnx } from './facemesh-onnx.js';
import { ModelError } from '../../src/errors.js';
import { loadHuman } from '../../src/detect/human-node.js';
import { cropFromLandmarks, loadTddfa, sharedDir } from './tddfa.js';
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
  /** Shared folder (for the 3DDFA_V2 and FaceMesh models); default PRNET_SHARED or ../shared. */
  shared?: string;
  /** 3DDFA_V2's test-time augmentation (tools/data/tddfa-tta.ts; default DEFAULT_TDDFA_TTA, 'plain' = one pass). */
  tddfaTta?: TddfaTtaPreset | TddfaTtaOptions;
  /** The FaceMesh teacher: 'onnx' (default; onnxruntime, facemesh-onnx.ts) or 'human' (tfjs-wasm, facemesh.ts). */
  facemesh?: 'onnx' | 'human';
  /** Label every face of the photo (default: the largest only). */
  allFaces?: boolean;
  /** With allFaces: faces whose eye centres are closer than this (px) are dropped as `small-face` (default 30). */
  minEyeDistance?: number;
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

/** FaceMesh faces of a photo, largest first, with the chosen teacher. */
export async function findFaceMesh(image: RgbImage, options: LabelPhotoOptions = {}): Promise<FaceMeshFace[]> {
  if (options.facemesh === 'human') return detectFaceMesh(image, { pad: options.pad ?? 50 });
  // Every face the detector and FaceMesh find; the score threshold is applied by the caller.
  const fm = await loadFaceMeshOnnx({ shared: options.shared, minScore: 0.05 });
  return fm.detect(image);
}

/** Labels one decoded photo: its largest face. */
export async function labelImage(image: RgbImage, options: LabelPhotoOptions = {}): Promise<PhotoLabel> {
  return (await labelImageFaces(image, { ...options, allFaces: false }))[0]!;
}

/**
 * Labels one decoded photo: one result per face (the largest only unless `allFaces`), or a single
 * dropped result when the photo yields no face.
 */
export async function labelImageFaces(image: RgbImage, options: LabelPhotoOptions = {}): Promise<PhotoLabel[]> {
  const minScore = options.minScore ?? 0.5;
  const t0 = performance.now();
  let faces: FaceMeshFace[];
  try {
    faces = await findFaceMesh(image, options);
  } catch (e) {
    // A teacher that cannot be loaded is the run's failure, not this photo's (a drop is recorded and
    // skipped by every later run).
    if (e instanceof ModelError) throw e;
    return [{ ok: false, reason: 'facemesh-error', detail: (e as Error).message, ms: [performance.now() - t0, 0] }];
  }
  const t1 = performance.now();
  if (faces.length === 0) return [{ ok: false, reason: 'no-face', ms: [t1 - t0, 0] }];
  const good = faces.filter((f) => f.score >= minScore);
  if (good.length === 0) {
    return [{ ok: false, reason: 'low-score', detail: `best score ${Math.max(...faces.map((f) => f.score)).toFixed(2)}`, ms: [t1 - t0, 0] }];
  }
  if (!options.allFaces) return [await labelFace(image, good[0]!, good.length, t1 - t0, options)];
  const minEye = options.minEyeDistance ?? 30;
  const out: PhotoLabel[] = [];
  for (const face of good) {
    const eye = eyeDistance468(face.points);
    if (!(eye >= minEye)) out.push({ ok: false, reason: 'small-face', detail: `eye distance ${eye.toFixed(1)} px`, ms: [0, 0] });
    else out.push(await labelFace(image, face, good.length, 0, options));
  }
  out[0]!.ms[0] = t1 - t0;
  return out;
}

/** 3DDFA_V2 on one FaceMesh face, the checks, and its record. */
async function labelFace(image: RgbImage, face: FaceMeshFace, faceCount: number, msFaceMesh: number, options: LabelPhotoOptions): Promise<PhotoLabel> {
  const t1 = performance.now();
  const t0 = t1 - msFaceMesh;
  const fm68 = facemesh68(face.points);
  let crop = cropFromLandmarks(fm68, 68, options.cropScale ?? 1);
  let tddfa: Float32Array;
  let params: Float32Array;
  try {
    // crop becomes the centre crop of the TTA (re-cropped from 3DDFA_V2's own first-pass points).
    ({ points: tddfa, params, crop } = await runTddfaTta(image, crop, options.tddfaTta ?? DEFAULT_TDDFA_TTA, { shared: options.shared }));
  } catch (e) {
    if (e instanceof ModelError) throw e;
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
      faceCount,
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
  /** Faces labelled and faces (or photos without a face) dropped. */
  kept: number;
  dropped: number;
  reasons: Record<string, number>;
  /** Mean milliseconds this run: FaceMesh per photo (detection included), 3DDFA_V2 per face, whole photo (decode to write). */
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
  /** Only the first this many photos of the run's share, those done earlier included (default: all). */
  limit?: number;
  onProgress?: (p: LabelProgress) => void;
  /** Called for a photo that cannot be read or decoded (recorded as dropped: decode-error). */
  onUnreadable?: (file: string, cause: string) => void;
  signal?: AbortSignal;
}

/**
 * Loads the teacher models a labelling run uses (FaceMesh on onnxruntime unless `facemesh` is
 * 'human', and 3DDFA_V2), so that a missing or broken model file stops the run before its first
 * photo: a ModelError naming the file.
 */
export async function loadTeachers(options: Pick<LabelPhotoOptions, 'facemesh' | 'shared'>): Promise<void> {
  if (options.facemesh !== 'human') await loadFaceMeshOnnx({ shared: options.shared, minScore: 0.05 });
  else {
    try {
      await loadHuman({ mesh: true });
    } catch (e) {
      throw e instanceof ModelError ? e : new ModelError(`cannot load FaceMesh through @vladmandic/human (${(e as Error).message})`, undefined, { cause: e });
    }
  }
  await loadTddfa({ shared: options.shared });
}

/**
 * Labels photos into a labels folder, appending; photos already in any part of the folder (kept
 * or dropped) are skipped. Returns the final progress (the run's summary).
 */
export async function labelPhotos(options: LabelPhotosOptions): Promise<LabelProgress> {
  const root = resolve(options.root ?? sharedDir());
  const stride = options.stride ?? 1;
  const offset = options.offset ?? 0;
  // The writer first: opening a part repairs it (a photo whose face lines a kill tore off is cut),
  // and such a photo must not count as done.
  const writer = new LabelsWriter(options.out, options.part ?? 0);
  const done = doneFiles(options.out);
  // The limit takes the first photos of this run's share, done or not: a rerun of `--limit N` goes
  // on with the same N photos (an interrupted run is finished, not extended by N more).
  const share = options.files.filter((_, i) => i % stride === offset).slice(0, options.limit ?? Infinity);
  const mine = share.map((f) => ({ path: resolve(f), name: relative(root, resolve(f)) }));
  const todo = mine.filter((f) => !done.has(f.name));
  const p: LabelProgress = {
    done: 0, total: todo.length, skipped: mine.length - todo.length,
    kept: 0, dropped: 0, reasons: {}, msFaceMesh: 0, msTddfa: 0, msTotal: 0, elapsedS: 0,
  };
  // The count first (a parent merging several workers' progress needs every worker's total).
  options.onProgress?.(p);
  const start = performance.now();
  let sumFm = 0, sumTd = 0, sumAll = 0, nTd = 0;
  try {
    if (todo.length) await loadTeachers(options);
    for (const f of todo) {
      if (options.signal?.aborted) break;
      const t0 = performance.now();
      const entries: LabelEntry[] = [];
      let image: RgbImage | undefined;
      try {
        image = await decodeImageFile(f.path);
      } catch (e) {
        entries.push(writer.append({ file: f.name, ok: false, reason: 'decode-error', detail: (e as Error).message }));
        options.onUnreadable?.(f.path, (e as Error).message);
      }
      if (image) {
        const rs = await labelImageFaces(image, options);
        const ms = (r: PhotoLabel): [number, number, number] => [r.ms[0], r.ms[1], performance.now() - t0].map((v) => Math.round(v * 10) / 10) as [number, number, number];
        const fm = options.facemesh ?? 'onnx';
        const faces = rs.length;
        const written = writer.appendPhoto(rs.map((r, k) => {
          sumFm += r.ms[0];
          if (r.ms[1] > 0) { sumTd += r.ms[1]; nTd++; }
          const face = options.allFaces ? { face: k, faces } : {};
          return r.ok
            ? { entry: { file: f.name, ok: true, ...face, w: image!.width, h: image!.height, fm, ms: ms(r) }, record: r.record }
            : { entry: { file: f.name, ok: false, ...face, reason: r.reason, ...(r.detail ? { detail: r.detail } : {}), w: image!.width, h: image!.height, fm, ms: ms(r) } };
        }));
        entries.push(...written);
      }
      sumAll += performance.now() - t0;
      p.done++;
      for (const entry of entries) {
        if (entry.ok) p.kept++;
        else {
          p.dropped++;
          p.reasons[entry.reason ?? '?'] = (p.reasons[entry.reason ?? '?'] ?? 0) + 1;
        }
      }
      p.msFaceMesh = sumFm / p.done;
      p.msTddfa = nTd ? sumTd / nTd : 0;
      p.msTotal = sumAll / p.done;
      p.elapsedS = (performance.now() - start) / 1000;
      p.last = entries[entries.length - 1];
      options.onProgress?.(p);
    }
  } finally {
    writer.close();
  }
  p.elapsedS = (performance.now() - start) / 1000;
  return p;
}
