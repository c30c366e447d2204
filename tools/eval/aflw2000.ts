/**
 * AFLW2000-3D evaluation: the full pipeline on each image with a `.mat` ground truth, 68-point NME
 * (2D and 3D) per image, overall and by yaw bucket, the head pose's mean absolute error against
 * Pose_Para, and the same numbers for the teachers (3DDFA_V2 and FaceMesh) on the same images in
 * the same run.
 */
import { readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { cropFromBox, cropFromLandmarks } from '../../src/crop/index.js';
import { facemesh68Cache } from '../data/facemesh.js';
import { cropFromLandmarks as tddfaCropFromLandmarks, runTddfaFull, sharedDir, tddfaPose } from '../data/tddfa.js';
import { InputError, PrnetError } from '../../src/errors.js';
import { decodeImageFile } from '../../src/io/image-node.js';
import { IMAGE_EXTENSIONS } from '../../src/cli/inputs.js';
import { foldFraction } from '../../src/geometry/folds.js';
import { estimatePose } from '../../src/geometry/pose.js';
import { pickVertices } from '../../src/export/glb-animation.js';
import { keypointVertices } from '../data/groundtruth.js';
import type { Layout } from '../../src/layout/index.js';
import type { Prnet, ReconstructOptions } from '../../src/pipeline/prnet.js';
import type { Face } from '../../src/pipeline/face.js';
import { loadAflwGroundTruth } from './mat.js';
import { annotatedSide, failureOf, nearestFace, nme, NoFaceNearError, scoredByAll, summariseNme, summariseSuspect, type NmeSummary, type RowFailure, type SuspectSummary } from './nme.js';

/** Head-pose angles in degrees (src/geometry/pose.ts's convention, that of Pose_Para). */
export interface Angles {
  yaw: number;
  pitch: number;
  roll: number;
}

export interface ImageScore {
  image: string;
  /** The ground truth's yaw (Pose_Para[1], radians). */
  yaw: number;
  nme2d: number | null;
  nme3d: number | null;
  /** The method's head pose (degrees): ours and 3DDFA_V2 their own, FaceMesh's fitted to its 68 points. */
  pose?: Angles;
  /** pose − Pose_Para per angle (degrees, signed, the shorter way round: −180..180). */
  poseError?: Angles;
  /**
   * With a pose: whether this row counts in the pose summary (every Pose_Para angle within
   * ±POSE_RANGE_DEG; `yaw` above is Pose_Para's in radians, `poseError` + `pose` give it in degrees).
   */
  poseScored?: boolean;
  /** Ours only: the fraction of the mesh's triangles that touch a fold sharper than 90°. */
  folds?: number;
  /** Ours only, with test-time flip: Face.flipDisagreement. */
  flipDisagreement?: number;
  /** Ours only, for a face BlazeFace found: Face.keypointDisagreement. */
  keypointDisagreement?: number;
  /** Ours only, where either signal is given: Face.suspect. */
  suspect?: boolean;
  /** Rows without a score: what went wrong, in words (the file and the reason for an unreadable pair). */
  error?: string;
  /** Rows without a score: why, as a fixed word (nme.ts RowFailure). */
  failure?: RowFailure;
}

/**
 * Head-pose mean absolute errors (degrees) over the scored images whose Pose_Para angles all lie
 * within ±99° (the head-pose benchmark's protocol on AFLW2000), and their mean.
 */
export interface PoseSummary {
  images: number;
  yaw: number;
  pitch: number;
  roll: number;
  mean: number;
}

export interface MethodScores {
  nme2d: number;
  nme3d: number;
  byYaw2d: NmeSummary['byYaw'];
  byYaw3d: NmeSummary['byYaw'];
  failed: number;
  /** The mean of the three yaw buckets' means (the benchmark's headline number). */
  bucketMean2d: number;
  bucketMean3d: number;
  /** How many yaw buckets the bucket means average (3 unless some are empty). */
  buckets: number;
  /** Ours only: the mean fraction of folded triangles over the images with a face. */
  folds?: number;
  /** Ours only: how well Face.suspect picked out the faces over 10 % NME (absent when no face has a verdict). */
  suspect?: SuspectSummary;
  /** Images scored (a face found and matched): the count the means above are over. */
  scored: number;
  /**
   * The same means over the images every method of the run scored (with peers: the means that
   * compare like with like; each method's own means are over its own found faces).
   */
  common: { images: number; nme2d: number; nme3d: number; byYaw2d: NmeSummary['byYaw']; byYaw3d: NmeSummary['byYaw']; bucketMean2d: number; bucketMean3d: number; buckets: number; pose: PoseSummary | null };
  /** Head-pose errors (null when no scored image has a pose). */
  pose: PoseSummary | null;
  perImage: ImageScore[];
}

export interface EvalOptions extends Pick<ReconstructOptions, 'flip' | 'smooth'> {
  /** Crop from the ground-truth landmarks (1.6 × their box) instead of detecting. */
  gtBox?: boolean;
  /** Also score 3DDFA_V2 and FaceMesh (needs the shared reference folder for 3DDFA_V2). */
  peers?: boolean;
  /** Called after each image (for a progress bar). */
  /** After each image: `ok` false when its pair could not be read or a method failed on it (the progress bar counts it as failed). */
  onImage?: (name: string, ok: boolean) => void;
  /** Once aborted, no further image is started: the report covers the images done (`interrupted`). */
  signal?: AbortSignal;
}

export interface EvalReport {
  /** The images evaluated (all the folder's pairs, unless interrupted). */
  images: number;
  /** The folder's image–ground-truth pairs. */
  total: number;
  /** The run was stopped (`signal`) before its last image: the means are over the first `images`. */
  interrupted: boolean;
  /** Pairs that could not be read (a bad image or .mat): one line each, naming the file; failed rows of every method. */
  unreadable: string[];
  ours: MethodScores;
  peers: Record<string, MethodScores>;
  /** Peers asked for and not run, with the reason (e.g. 3DDFA_V2's model missing). */
  skippedPeers: string[];
}

/**
 * The images of a folder (every format the product reads) that have a ground-truth file beside them (NAME.jpg + NAME<ext>),
 * sorted; InputError when the folder cannot be read or holds none.
 */
export async function listImagePairs(dir: string, ext: string): Promise<{ image: string; truth: string }[]> {
  return (await imagePairs(dir, ext)).pairs;
}

/** The other benchmark's ground-truth extension (AFLW2000-3D's .mat, iBUG's .pts). */
const otherTruth = (ext: string): string => (ext === '.mat' ? '.pts' : '.mat');

/** The error for a folder without one image–ground-truth pair, pointing to the other benchmark when its files are there. */
function noPairs(dir: string, ext: string, unpaired: number, otherTruths: number): InputError {
  const other = otherTruth(ext);
  const hint = otherTruths ? `; it holds ${otherTruths} ${other} file${otherTruths === 1 ? '' : 's'}: prnet eval ${other === '.pts' ? 'pts' : 'aflw2000'}` : '';
  return new InputError(`no images with a ${ext} ground truth beside them (${unpaired} file${unpaired === 1 ? '' : 's'} left out${hint})`, dir);
}

/**
 * The images of a folder with their ground truth (NAME.<ext>, the extension in any case: B.PTS),
 * and the files left out: images without a ground truth, ground-truth files without an image;
 * InputError when the folder cannot be read or holds no pair.
 */
export async function imagePairs(dir: string, ext: string): Promise<{ pairs: { image: string; truth: string }[]; unpaired: string[]; takenBy: Map<string, string> }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder (eval takes the folder of images and their ground truth)' : `cannot read the folder (${code ?? (e as Error).message})`, dir);
  }
  const truths = new Map(names.filter((n) => extname(n).toLowerCase() === ext).map((n) => [basename(n, extname(n)), n]));
  const pairs: { image: string; truth: string }[] = [];
  const unpaired: string[] = [];
  // One image per ground truth: a.jpg and a.png beside a.mat were both scored against it, the face
  // counted twice in the means; the first by name is, the other left out (takenBy: image → the one).
  const paired = new Map<string, string>();
  const takenBy = new Map<string, string>();
  for (const n of names.filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase())).sort()) {
    const truth = truths.get(basename(n, extname(n)));
    const first = truth === undefined ? undefined : paired.get(truth);
    if (truth !== undefined && first === undefined) {
      pairs.push({ image: join(dir, n), truth: join(dir, truth) });
      paired.set(truth, n);
    } else {
      unpaired.push(n);
      if (first !== undefined) takenBy.set(n, first);
    }
  }
  for (const t of truths.values()) if (!paired.has(t)) unpaired.push(t);
  // A folder of the other benchmark (or of no benchmark): one error, not one line per file left out.
  if (!pairs.length) throw noPairs(dir, ext, unpaired.length, names.filter((n) => extname(n).toLowerCase() === otherTruth(ext)).length);
  pairs.sort((a, b) => a.image.localeCompare(b.image));
  return { pairs, unpaired: unpaired.sort(), takenBy };
}

export async function listAflwImages(dir: string): Promise<{ image: string; mat: string }[]> {
  return (await listImagePairs(dir, '.mat')).map((p) => ({ image: p.image, mat: p.truth }));
}

/** The 3DDFA_V2 model file the comparison runs. */
export function tddfaModelPath(): string {
  return join(sharedDir(), 'reference/3ddfa_v2/mb05_120x120.onnx');
}

/**
 * The peers a comparison cannot run, each as 'name: why' (today 3DDFA_V2 without its model file;
 * FaceMesh ships with the labelling tools): the CLI says so before a long run, and again at its end.
 */
export function missingPeers(): string[] {
  return existsSync(tddfaModelPath()) ? [] : [`3ddfa_v2: ${tddfaModelPath()} not found`];
}

/** A method's prediction: 68 landmarks (x, y, z), the head pose, and for ours the folded-triangle fraction. */
type Prediction = { landmarks: Float32Array; pose?: Angles; folds?: number; flipDisagreement?: number; keypointDisagreement?: number; suspect?: boolean } | null;
type Scorer = (image: Awaited<ReturnType<typeof decodeImageFile>>, gt: Float64Array) => Promise<Prediction>;

export async function evaluateAflw2000(prnet: Prnet, dir: string, options: EvalOptions = {}): Promise<EvalReport> {
  const items = await listAflwImages(dir);
  // With the detector the annotated face is scored: the face whose crop centre (from the detector,
  // so a badly reconstructed face is still found) is nearest the
  // ground truth's landmark centroid, within the ground truth's landmark box (mean side); none
  // there counts as not found. (Before stop 21 the largest face was scored, which in 3 of the 1,000
  // dev images was another person or a false detection.)
  const ours: Scorer = async (image, gt) => {
    let face: Face | undefined;
    if (options.gtBox) [face] = (await prnet.reconstruct(image, { crops: [cropFromLandmarks(gt, 3)], flip: options.flip, smooth: options.smooth })).faces;
    else {
      // The product's path, whole: every face detected and reconstructed as `prnet reconstruct`
      // does (the orientation step turning a face lying sideways, and taking it back when its
      // landmarks disagree), then the one whose detector crop centre is nearest the annotated one.
      // (Before stop 36 only that face's detector crop was reconstructed, as it was: the
      // orientation step was left out, and two sideways dev photos scored 65 and 70 %.)
      const { faces } = await prnet.reconstruct(image, { flip: options.flip, smooth: options.smooth });
      const centres = faces.map((f) => {
        const c = cropFromBox(f.box, prnet.detector!.kind).square;
        return Float32Array.of(c.cx, c.cy, 0);
      });
      const near = nearestFace(centres, gt, 3, annotatedSide(gt, 3));
      face = faces[centres.findIndex((c) => c === near)];
      if (!face && faces.length) throw new NoFaceNearError(faces.length);
    }
    if (!face) return null;
    return { landmarks: face.landmarks, pose: angles(face.pose), folds: foldFraction(face.vertices, prnet.layout.triangles), flipDisagreement: face.flipDisagreement, keypointDisagreement: face.keypointDisagreement, suspect: face.suspect };
  };
  const scorers: Record<string, Scorer> = { ours };
  const skippedPeers: string[] = [];
  if (options.peers !== false) {
    // FaceMesh runs once per image: its face nearest the annotated one (as ours) is scored and also
    // seeds 3DDFA_V2's crop.
    const fmAll = facemesh68Cache();
    const fm = async (image: Parameters<Scorer>[0], gt: Float64Array): Promise<Float32Array | null> => nearestFace(await fmAll(image), gt, 3, annotatedSide(gt, 3));
    // FaceMesh gives no head pose of its own here: the canonical face's 68 points fitted to its 68
    // (the same similarity fit as ours, on the landmarks; MediaPipe fits its canonical face so).
    const canonical = canonical68(prnet.layout);
    scorers.facemesh = async (image, gt) => {
      const landmarks = await fm(image, gt);
      return landmarks ? { landmarks, pose: angles(estimatePose(landmarks, canonical)) } : null;
    };
    if (!missingPeers().length) {
      scorers['3ddfa_v2'] = async (image, gt) => {
        // 3DDFA_V2's protocol: a crop from landmarks — the ground truth's with --gt-box, else FaceMesh's.
        const pts: Float32Array | null = options.gtBox ? Float32Array.from(gt) : await fm(image, gt);
        if (!pts) return null;
        const crop = tddfaCropFromLandmarks(pts, 68);
        const { points, params } = await runTddfaFull(image, crop);
        return { landmarks: points, pose: tddfaPose(params, crop.angle) };
      };
    } else skippedPeers.push(...missingPeers());
  }
  const per: Record<string, ImageScore[]> = Object.fromEntries(Object.keys(scorers).map((k) => [k, []]));
  // Pose_Para per image name, for the pose protocol's ±99° rule.
  const truths = new Map<string, Angles>();
  const unreadable: string[] = [];
  let done = 0;
  for (const item of items) {
    if (options.signal?.aborted) break;
    done++;
    const name0 = basename(item.image);
    let gt: Awaited<ReturnType<typeof loadAflwGroundTruth>>;
    let image: Awaited<ReturnType<typeof decodeImageFile>>;
    try {
      gt = await loadAflwGroundTruth(item.mat);
      image = await decodeImageFile(item.image);
    } catch (e) {
      // A bad pair is a failed row of every method; the other images are still scored.
      if (!(e instanceof PrnetError)) throw e;
      unreadable.push(e.message);
      for (const name of Object.keys(scorers)) per[name].push({ image: name0, yaw: NaN, nme2d: null, nme3d: null, error: e.message, failure: 'unreadable' });
      options.onImage?.(item.image, false);
      continue;
    }
    const yaw = gt.pose[1];
    const truth: Angles = { pitch: gt.pose[0] * DEG, yaw: gt.pose[1] * DEG, roll: gt.pose[2] * DEG };
    truths.set(name0, truth);
    let ok = true;
    for (const [name, scorer] of Object.entries(scorers)) {
      try {
        const pred = await scorer(image, gt.pt3d68);
        if (!pred) per[name].push({ image: name0, yaw, nme2d: null, nme3d: null, error: 'no face found', failure: 'no-face' });
        else {
          const row: ImageScore = { image: name0, yaw, nme2d: nme(pred.landmarks, gt.pt3d68, 2), nme3d: nme(pred.landmarks, gt.pt3d68, 3) };
          if (pred.pose) {
            row.pose = pred.pose;
            row.poseError = { yaw: angleDifference(pred.pose.yaw, truth.yaw), pitch: angleDifference(pred.pose.pitch, truth.pitch), roll: angleDifference(pred.pose.roll, truth.roll) };
            row.poseScored = inPoseRange(truth);
          }
          if (pred.folds !== undefined) row.folds = pred.folds;
          if (pred.flipDisagreement !== undefined) row.flipDisagreement = pred.flipDisagreement;
          if (pred.keypointDisagreement !== undefined) row.keypointDisagreement = pred.keypointDisagreement;
          if (pred.suspect !== undefined) row.suspect = pred.suspect;
          per[name].push(row);
        }
      } catch (e) {
        per[name].push({ image: name0, yaw, nme2d: null, nme3d: null, error: (e as Error).message, failure: failureOf(e) });
        ok = false;
      }
    }
    options.onImage?.(item.image, ok);
  }
  // The rows every method scored: the means over them compare like with like.
  const everyone = scoredByAll(Object.values(per));
  const summarise = (list: ImageScore[]): MethodScores => {
    const ok = list.filter((s) => s.nme2d !== null);
    const s2 = summariseNme(ok.map((s) => s.nme2d!), ok.map((s) => s.yaw));
    const s3 = summariseNme(ok.map((s) => s.nme3d!), ok.map((s) => s.yaw));
    const shared = list.filter((_, i) => everyone[i]);
    const c2 = summariseNme(shared.map((s) => s.nme2d!), shared.map((s) => s.yaw));
    const c3 = summariseNme(shared.map((s) => s.nme3d!), shared.map((s) => s.yaw));
    const withFolds = ok.filter((s) => s.folds !== undefined);
    const suspect = summariseSuspect(ok);
    return {
      nme2d: s2.mean, nme3d: s3.mean, byYaw2d: s2.byYaw, byYaw3d: s3.byYaw,
      bucketMean2d: s2.balanced, bucketMean3d: s3.balanced, buckets: s2.buckets,
      ...(withFolds.length ? { folds: withFolds.reduce((a, s) => a + s.folds!, 0) / withFolds.length } : {}),
      ...(suspect ? { suspect } : {}),
      failed: list.length - ok.length, scored: ok.length,
      common: { images: shared.length, nme2d: c2.mean, nme3d: c3.mean, byYaw2d: c2.byYaw, byYaw3d: c3.byYaw, bucketMean2d: c2.balanced, bucketMean3d: c3.balanced, buckets: c2.buckets, pose: summarisePose(shared, truths) },
      pose: summarisePose(ok, truths),
      perImage: list,
    };
  };
  const { ours: o, ...rest } = per;
  return {
    images: done,
    total: items.length,
    interrupted: done < items.length,
    unreadable,
    ours: summarise(o),
    peers: Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, summarise(v)])),
    skippedPeers,
  };
}

const DEG = 180 / Math.PI;

/** The head-pose benchmark's range: images with a Pose_Para angle beyond it are left out of the pose errors. */
export const POSE_RANGE_DEG = 99;

/** Whether every angle of a ground-truth pose (degrees) lies within ±POSE_RANGE_DEG. */
function inPoseRange(t: Angles): boolean {
  return Math.abs(t.yaw) <= POSE_RANGE_DEG && Math.abs(t.pitch) <= POSE_RANGE_DEG && Math.abs(t.roll) <= POSE_RANGE_DEG;
}

/** a − b in degrees, the shorter way round the circle (−180 < d ≤ 180). */
export function angleDifference(a: number, b: number): number {
  const d = (((a - b) % 360) + 360) % 360;
  return d > 180 ? d - 360 : d;
}

function angles(p: Angles): Angles {
  return { yaw: p.yaw, pitch: p.pitch, roll: p.roll };
}

/** The canonical face's 68 landmarks (68 × 3, the layout's frame), for pose fits to 68 points. */
export function canonical68(layout: Layout): Float32Array {
  return pickVertices(layout.canonical, keypointVertices(layout));
}

/** Mean absolute pose errors over the rows with a pose whose ground truth lies within ±POSE_RANGE_DEG. */
export function summarisePose(rows: readonly ImageScore[], truths: ReadonlyMap<string, Angles>): PoseSummary | null {
  let n = 0, yaw = 0, pitch = 0, roll = 0;
  for (const r of rows) {
    const t = truths.get(r.image);
    if (!r.poseError || !t || !inPoseRange(t)) continue;
    n++;
    yaw += Math.abs(r.poseError.yaw);
    pitch += Math.abs(r.poseError.pitch);
    roll += Math.abs(r.poseError.roll);
  }
  if (!n) return null;
  return { images: n, yaw: yaw / n, pitch: pitch / n, roll: roll / n, mean: (yaw + pitch + roll) / (3 * n) };
}
