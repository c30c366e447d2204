/**
 * Normalised mean error of 68 landmarks, the AFLW2000-3D protocol: mean over the points of the
 * point-to-point distance divided by sqrt(w·h) of the ground-truth landmarks' 2D bounding box.
 * 2D uses x, y; 3D uses x, y, z after shifting each set to zero-mean z (the z origins of a
 * prediction and the ground truth are arbitrary). Points are N×3 (or N×2 for 2D) row-major.
 */
import { pointsBounds } from '../../src/crop/index.js';

/** sqrt(w·h) of the x, y bounding box of N points with `stride` numbers per point. */
export function boxSize(points: ArrayLike<number>, stride = 3): number {
  const n = Math.floor(points.length / stride);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = points[i * stride] as number;
    const y = points[i * stride + 1] as number;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return Math.sqrt((x1 - x0) * (y1 - y0));
}

function meanZ(points: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += points[i * 3 + 2] as number;
  return s / n;
}

/**
 * NME of `pred` against `gt` (both N×3 row-major, or N×2 with stride 2 for 2D only).
 * `dims` 2 uses x, y; 3 uses x, y and z shifted to zero mean per set.
 * Returns a fraction (multiply by 100 for %).
 */
export function nme(pred: ArrayLike<number>, gt: ArrayLike<number>, dims: 2 | 3 = 2, stride: 2 | 3 = 3): number {
  if (dims === 3 && stride !== 3) throw new Error('3D NME needs N×3 points');
  const n = Math.floor(gt.length / stride);
  if (Math.floor(pred.length / stride) !== n) throw new Error(`NME: ${pred.length / stride} predicted points vs ${n} ground-truth points`);
  const norm = boxSize(gt, stride);
  if (!(norm > 0)) throw new Error('NME: degenerate ground-truth box');
  const zp = dims === 3 ? meanZ(pred, n) : 0;
  const zg = dims === 3 ? meanZ(gt, n) : 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const dx = (pred[i * stride] as number) - (gt[i * stride] as number);
    const dy = (pred[i * stride + 1] as number) - (gt[i * stride + 1] as number);
    const dz = dims === 3 ? ((pred[i * 3 + 2] as number) - zp) - ((gt[i * 3 + 2] as number) - zg) : 0;
    sum += Math.sqrt(dx * dx + dy * dy + dz * dz);
  }
  return sum / n / norm;
}

export type YawBucket = '0-30' | '30-60' | '60-90';

/** The AFLW2000-3D yaw bucket of |yaw| (radians, e.g. Pose_Para[1]). 90° and beyond count as 60–90. */
export function yawBucket(yawRadians: number): YawBucket {
  // The tiny tolerance keeps exact 30° / 60° (after a degree→radian round trip) in the upper bucket.
  const deg = Math.abs(yawRadians) * 180 / Math.PI + 1e-9;
  if (deg < 30) return '0-30';
  if (deg < 60) return '30-60';
  return '60-90';
}

export interface NmeSummary {
  count: number;
  mean: number;
  /** Per bucket: the count and the mean (NaN, null in JSON, when the bucket is empty). */
  byYaw: Record<YawBucket, { count: number; mean: number }>;
  /** Mean of the three bucket means over the non-empty buckets (the "balanced" figure). */
  balanced: number;
  /** How many buckets `balanced` averages (3 unless some are empty). */
  buckets: number;
}

/** Mean NME overall and per yaw bucket, from per-image NMEs and yaws (radians). */
export function summariseNme(values: number[], yawsRadians: number[]): NmeSummary {
  if (values.length !== yawsRadians.length) throw new Error('summariseNme: values and yaws differ in length');
  const byYaw: Record<YawBucket, { count: number; mean: number }> = {
    '0-30': { count: 0, mean: 0 }, '30-60': { count: 0, mean: 0 }, '60-90': { count: 0, mean: 0 },
  };
  let sum = 0;
  values.forEach((v, i) => {
    sum += v;
    const b = byYaw[yawBucket(yawsRadians[i] as number)];
    b.count++;
    b.mean += v;
  });
  const buckets = Object.values(byYaw).filter((b) => b.count > 0);
  for (const b of Object.values(byYaw)) b.mean = b.count ? b.mean / b.count : NaN;
  return {
    count: values.length,
    mean: values.length ? sum / values.length : NaN,
    byYaw,
    balanced: buckets.length ? buckets.reduce((a, b) => a + b.mean, 0) / buckets.length : NaN,
    buckets: buckets.length,
  };
}

/** Centroid of flat points with `stride` numbers per point. */
function centroid(p: ArrayLike<number>, stride: number): [number, number] {
  let x = 0, y = 0;
  const n = Math.floor(p.length / stride);
  for (let i = 0; i < n; i++) {
    x += p[i * stride];
    y += p[i * stride + 1];
  }
  return [x / n, y / n];
}

/** The mean side of the annotated landmarks' box (`stride` numbers per point), pixels: how far from them a face may be and still be the annotated one. */
export function annotatedSide(gt: ArrayLike<number>, stride: 2 | 3): number {
  const [l, t, r, b] = pointsBounds(gt, stride);
  return (r - l + (b - t)) / 2;
}

/**
 * Of several faces' landmarks (stride 3), the one whose centroid is nearest the annotation's
 * (`gtStride` numbers per annotated point); null when none is nearer than `maxDistance` pixels.
 */
export function nearestFace(faces: Float32Array[], gt: ArrayLike<number>, gtStride: 2 | 3 = 2, maxDistance = Infinity): Float32Array | null {
  const [gx, gy] = centroid(gt, gtStride);
  let best: Float32Array | null = null;
  let bestD = maxDistance;
  for (const f of faces) {
    const [x, y] = centroid(f, 3);
    const d = Math.hypot(x - gx, y - gy);
    if (d < bestD) {
      bestD = d;
      best = f;
    }
  }
  return best;
}

/**
 * Per row, whether every method scored it (its nme2d is not null): the rows on which methods'
 * means compare like with like. `lists` are the methods' per-image rows, in the same image order.
 */
export function scoredByAll(lists: readonly (readonly { nme2d: number | null }[])[]): boolean[] {
  const n = lists.length ? lists[0].length : 0;
  if (lists.some((l) => l.length !== n)) throw new Error('scoredByAll: the methods have different numbers of rows');
  return Array.from({ length: n }, (_, i) => lists.every((l) => l[i].nme2d !== null));
}

/** 68-point 2D NME over which a face counts as a failure (docs/evaluation.md §0.11, §0.16, §0.17). */
export const FAILURE_NME = 0.1;

/** How well Face.suspect picked out the failures of one run (ours only; rows with an NME). */
export interface SuspectSummary {
  /** Faces with a quality signal (a `suspect` verdict). */
  faces: number;
  /** Of them, suspect. */
  suspect: number;
  /** Suspect faces whose NME is over FAILURE_NME (the precision's numerator). */
  suspectFailures: number;
  /** Faces over FAILURE_NME among those with a verdict (the recall's denominator). */
  failures: number;
  /** The mean 2D NME of the faces with a verdict that are not suspect (null when none). */
  meanNotSuspect: number | null;
}

/** SuspectSummary of scored rows carrying `suspect` (rows without a verdict are left out); null when none has one. */
export function summariseSuspect(rows: readonly { nme2d: number | null; suspect?: boolean }[]): SuspectSummary | null {
  const judged = rows.filter((r): r is { nme2d: number; suspect: boolean } => r.nme2d !== null && r.suspect !== undefined);
  if (!judged.length) return null;
  const clear = judged.filter((r) => !r.suspect);
  return {
    faces: judged.length,
    suspect: judged.length - clear.length,
    suspectFailures: judged.filter((r) => r.suspect && r.nme2d > FAILURE_NME).length,
    failures: judged.filter((r) => r.nme2d > FAILURE_NME).length,
    meanNotSuspect: clear.length ? clear.reduce((a, r) => a + r.nme2d, 0) / clear.length : null,
  };
}

/** One line of a text report: "suspect faces: 80 of 995 (57 of them over 10 % NME); 57 of the 86 over 10 % are suspect; mean of the others 4.17 %". */
export function suspectLine(s: SuspectSummary): string {
  const pc = (x: number): string => `${(100 * x).toFixed(2)} %`;
  const others = s.meanNotSuspect === null ? '' : `; the others' mean ${pc(s.meanNotSuspect)}`;
  return `suspect faces (flip disagreement > 0.1 or keypoints > 0.12): ${s.suspect} of ${s.faces} (${s.suspectFailures} of them over ${100 * FAILURE_NME} % NME); ${s.suspectFailures} of the ${s.failures} over ${100 * FAILURE_NME} % are suspect${others}`;
}

/**
 * Why a per-image row has no score (`failure` of `eval --json`'s rows): `unreadable` the image or
 * its ground truth could not be read (a row of every method, exit 1); `no-face` the method found
 * no face; `not-near` it found faces, none near the annotated one; `error` the method itself failed
 * on the image (a peer's model that cannot run, an exception): said on stderr, exit 1.
 */
export type RowFailure = 'unreadable' | 'no-face' | 'not-near' | 'error';

/** Thrown by a scorer that found faces but none near the annotated one (a `not-near` row, not an error). */
export class NoFaceNearError extends Error {
  constructor(faces: number) {
    super(`no face near the annotated one (${faces} elsewhere)`);
    this.name = 'NoFaceNearError';
  }
}

/** The row failure of an exception a scorer threw. */
export function failureOf(e: unknown): RowFailure {
  return e instanceof NoFaceNearError ? 'not-near' : 'error';
}

