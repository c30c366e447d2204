/**
 * 68-point 2D check in the wild on iBUG `.pts` ground truth (e.g. ../shared/eval/afw68: AFW faces
 * cropped with context, several faces per crop possible): for each NAME.jpg|png with NAME.pts, each
 * method's face whose landmark centroid is nearest the annotated one is scored; NME = mean point
 * distance / sqrt(w·h) of the annotated landmarks' box (as for AFLW2000-3D). `.pts` coordinates
 * count pixels from 1; they are shifted to the library's frame (pixel centres at integers).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError, PrnetError } from '../../src/errors.js';
import { decodeImageFile } from '../../src/io/image-node.js';
import type { Prnet, ReconstructOptions } from '../../src/pipeline/prnet.js';
import type { RgbImage } from '../../src/types.js';
import { facemesh68Cache } from '../data/facemesh.js';
import { cropFromLandmarks as tddfaCropFromLandmarks, runTddfa } from '../data/tddfa.js';
import { listImagePairs, missingPeers } from './aflw2000.js';
import { annotatedSide, failureOf, nearestFace, nme, NoFaceNearError, scoredByAll, summariseSuspect, type RowFailure, type SuspectSummary } from './nme.js';

export interface PtsScore {
  image: string;
  nme2d: number | null;
  /** Rows without a score: what went wrong, in words. */
  error?: string;
  /** Rows without a score: why, as a fixed word (nme.ts RowFailure). */
  failure?: RowFailure;
  /** Ours only, with test-time flip: Face.flipDisagreement. */
  flipDisagreement?: number;
  /** Ours only, for a face BlazeFace found: Face.keypointDisagreement. */
  keypointDisagreement?: number;
  /** Ours only, where either signal is given: Face.suspect. */
  suspect?: boolean;
}

export interface PtsMethodScores {
  nme2d: number;
  /** Median over the scored images. */
  median2d: number;
  failed: number;
  /** Images scored: the count the mean and median are over. */
  scored: number;
  /** The mean over the images every method of the run scored (like with like). */
  common: { images: number; nme2d: number };
  /** Ours only: how well Face.suspect picked out the faces over 10 % NME (absent when no face has a verdict). */
  suspect?: SuspectSummary;
  perImage: PtsScore[];
}

export interface PtsReport {
  /** The images evaluated (all the folder's pairs, unless interrupted). */
  images: number;
  /** The folder's image–ground-truth pairs. */
  total: number;
  /** The run was stopped (`signal`) before its last image: the means are over the first `images`. */
  interrupted: boolean;
  /** Pairs that could not be read (a bad image or .pts): one line each, naming the file; failed rows of every method. */
  unreadable: string[];
  ours: PtsMethodScores;
  peers: Record<string, PtsMethodScores>;
  /** Peers asked for and not run, with the reason. */
  skippedPeers: string[];
}

/** Largest .pts file read (68 points take about 1 KB). */
const MAX_PTS_BYTES = 2 ** 20;

/** Reads an iBUG .pts file: 68 points, shifted from 1-based pixels; InputError naming the file otherwise. */
export async function readPts(path: string): Promise<Float64Array> {
  let text: string;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new InputError(st.isDirectory() ? 'is a folder, not a .pts file' : 'not a regular file', path);
    if (st.size > MAX_PTS_BYTES) throw new InputError(`.pts file of ${st.size} bytes is above the limit of ${MAX_PTS_BYTES}`, path);
    text = await readFile(path, 'utf8');
  } catch (e) {
    // A file that cannot be read is one unreadable pair (a row of every method, exit 1), as a bad
    // .mat is: the file system's own error (EISDIR, EACCES, ENOENT) ended the whole run (exit 70).
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`, path, { cause: e });
  }
  const open = text.indexOf('{');
  const close = text.indexOf('}', open + 1);
  const nums = open >= 0 && close > open ? text.slice(open + 1, close).trim().split(/\s+/).map(Number) : [];
  if (nums.length !== 136 || nums.some((v) => !Number.isFinite(v))) throw new InputError(`expected 68 points between braces, got ${Math.floor(nums.length / 2)}`, path);
  return Float64Array.from(nums, (v) => v - 1);
}

export async function listPtsImages(dir: string): Promise<{ image: string; pts: string }[]> {
  return (await listImagePairs(dir, '.pts')).map((p) => ({ image: p.image, pts: p.truth }));
}

/** x, y of stride-3 points as stride-2. */
function xy(p: Float32Array): Float64Array {
  const out = new Float64Array((p.length / 3) * 2);
  for (let i = 0; i < p.length / 3; i++) {
    out[2 * i] = p[3 * i];
    out[2 * i + 1] = p[3 * i + 1];
  }
  return out;
}

/** The scored face's landmarks (stride 3) and, for ours, its quality signals. */
type Scored = { landmarks: Float32Array; flipDisagreement?: number; keypointDisagreement?: number; suspect?: boolean };
type Scorer = (image: RgbImage, gt: Float64Array) => Promise<Scored | null>;

/**
 * The face (landmarks, stride 3) whose centroid is nearest the annotated one's, within the
 * annotated landmark box's mean side (as `eval aflw2000`): another person's face is not scored in
 * its place. Faces found but none near: an error row ("no face near the annotated one").
 */
function near<T extends { landmarks: Float32Array }>(faces: T[], gt: Float64Array): T | null {
  const landmarks = nearestFace(faces.map((f) => f.landmarks), gt, 2, annotatedSide(gt, 2));
  if (!landmarks && faces.length) throw new NoFaceNearError(faces.length);
  return faces.find((f) => f.landmarks === landmarks) ?? null;
}

export async function evaluatePts(
  prnet: Prnet,
  dir: string,
  options: { peers?: boolean; onImage?: (name: string, ok: boolean) => void; signal?: AbortSignal } & Pick<ReconstructOptions, 'flip' | 'smooth'> = {},
): Promise<PtsReport> {
  const items = await listPtsImages(dir);
  const scorers: Record<string, Scorer> = {
    ours: async (image, gt) => near((await prnet.reconstruct(image, { flip: options.flip, smooth: options.smooth })).faces, gt),
  };
  const skippedPeers: string[] = [];
  const unreadable: string[] = [];
  if (options.peers !== false) {
    // FaceMesh runs once per image: scored, and the seed of 3DDFA_V2's crop.
    const fmAll = facemesh68Cache();
    const fmFaces = async (image: RgbImage): Promise<Scored[]> => (await fmAll(image)).map((landmarks) => ({ landmarks }));
    scorers.facemesh = async (image, gt) => near(await fmFaces(image), gt);
    if (!missingPeers().length) {
      // 3DDFA_V2 on the crop from FaceMesh's landmarks of the annotated face (its usual protocol).
      scorers['3ddfa_v2'] = async (image, gt) => {
        const seed = near(await fmFaces(image), gt);
        return seed ? { landmarks: await runTddfa(image, tddfaCropFromLandmarks(seed.landmarks, 68)) } : null;
      };
    } else skippedPeers.push(...missingPeers());
  }
  const per: Record<string, PtsScore[]> = Object.fromEntries(Object.keys(scorers).map((k) => [k, []]));
  let done = 0;
  for (const item of items) {
    if (options.signal?.aborted) break;
    done++;
    const name = basename(item.image);
    let gt: Float64Array;
    let image: RgbImage;
    try {
      gt = await readPts(item.pts);
      image = await decodeImageFile(item.image);
    } catch (e) {
      if (!(e instanceof PrnetError)) throw e;
      unreadable.push(e.message);
      for (const k of Object.keys(scorers)) per[k].push({ image: name, nme2d: null, error: e.message, failure: 'unreadable' });
      options.onImage?.(item.image, false);
      continue;
    }
    let ok = true;
    for (const [k, scorer] of Object.entries(scorers)) {
      try {
        const pred = await scorer(image, gt);
        if (!pred) {
          per[k].push({ image: name, nme2d: null, error: 'no face found', failure: 'no-face' });
          continue;
        }
        const row: PtsScore = { image: name, nme2d: nme(xy(pred.landmarks), gt, 2, 2) };
        if (pred.flipDisagreement !== undefined) row.flipDisagreement = pred.flipDisagreement;
        if (pred.keypointDisagreement !== undefined) row.keypointDisagreement = pred.keypointDisagreement;
        if (pred.suspect !== undefined) row.suspect = pred.suspect;
        per[k].push(row);
      } catch (e) {
        per[k].push({ image: name, nme2d: null, error: (e as Error).message, failure: failureOf(e) });
        ok = false;
      }
    }
    options.onImage?.(item.image, ok);
  }
  const everyone = scoredByAll(Object.values(per));
  const mean = (v: number[]): number => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
  const summarise = (list: PtsScore[]): PtsMethodScores => {
    const ok = list.map((s) => s.nme2d).filter((v): v is number => v !== null).sort((a, b) => a - b);
    const mid = ok.length >> 1;
    const shared = list.filter((_, i) => everyone[i]).map((s) => s.nme2d as number);
    const suspect = summariseSuspect(list);
    return {
      nme2d: mean(ok),
      median2d: ok.length ? (ok.length % 2 ? ok[mid] : (ok[mid - 1] + ok[mid]) / 2) : NaN,
      failed: list.length - ok.length,
      scored: ok.length,
      common: { images: shared.length, nme2d: mean(shared) },
      ...(suspect ? { suspect } : {}),
      perImage: list,
    };
  };
  const { ours, ...rest } = per;
  return { images: done, total: items.length, interrupted: done < items.length, unreadable, ours: summarise(ours), peers: Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, summarise(v)])), skippedPeers };
}
