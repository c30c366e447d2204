/**
 * Where to crop: from a detector's box, from 68 landmarks, or from a box the user gives.
 *
 * The reference is the original PRNet's rule for 68 landmarks (used on AFLW2000-3D and in
 * training): centre = centre of the landmarks' bounding box, side = 1.6 × the mean of its width
 * and height. A detector's box is turned into a crop that matches that reference on average:
 *   size = (w + h) / 2
 *   centre = (x + w/2 + dx·size, y + h/2 + dy·size), side = k·size
 * with (dx, dy, k) per detector, measured on ground-truth faces (docs/detectors.md; the numbers
 * come from scripts/compare-detectors.ts). For dlib's frontal-face detector the original's own
 * rule is kept: dx = 0, dy = 0.14, k = 1.58. A BlazeFace box with its keypoints takes its centre
 * from them instead (keypoint-rule.ts), within MAX_KEYPOINT_SHIFT box sides of the box rule's.
 */
import { CROP_SIZE, cropTransform, type CropSquare, type CropTransform } from './transform.js';
import { BLAZEFACE_KEYPOINT_CENTRE, MAX_KEYPOINT_SHIFT, eyesMouthRoll, keypointCentre, keypointRoll } from './keypoint-rule.js';

/**
 * The roll (radians) from which a detected face's crop is turned with it, so that the network sees
 * it upright (docs/evaluation.md, "Rolled faces"). The networks were trained on crops rolled by up
 * to ±45°, so a smaller roll is cropped upright: the same crop as before, and the faster resampling.
 */
export const MIN_CROP_ROLL = (20 * Math.PI) / 180;

/** An axis-aligned box in image pixels (a FaceBox, or any box with these fields). */
export interface BoxLike {
  x: number;
  y: number;
  width: number;
  height: number;
  score?: number;
  /**
   * BlazeFace's 6 keypoints (flat x, y), when the detector gives them: the 'blazeface' rule's centre
   * uses them. They must be in the box's frame: a box moved or scaled without its keypoints must
   * drop them (keypoints more than a box side from its centre are ignored).
   */
  keypoints?: ArrayLike<number>;
}

/** Whose box it is: each detector frames a face differently. */
export type BoxKind = 'dlib' | 'blazeface' | 'blazeface-mesh' | 'ssd-mobilenet' | 'tiny-face';

/** Shift (in units of the box's mean side) and scale from a box to the 68-landmark crop square. */
export interface BoxToCropRule {
  dx: number;
  dy: number;
  k: number;
}

/** The side of the 68-landmark crop, in mean sides of the landmarks' bounding box (original PRNet). */
export const LANDMARK_CROP_FACTOR = 1.6;

/**
 * Box → crop rules. 'dlib' is the original PRNet's; the others were measured against the
 * 68-landmark rule on AFLW2000-3D and iBUG faces by scripts/compare-detectors.ts (medians over
 * 21–28 faces; dx is set to 0, the faces being left-right symmetric on average: measured
 * −0.01…0.02).
 */
export const BOX_RULES: Readonly<Record<BoxKind, BoxToCropRule>> = {
  dlib: { dx: 0, dy: 0.14, k: 1.58 },
  blazeface: { dx: 0, dy: 0.058, k: 1.471 },
  'blazeface-mesh': { dx: 0, dy: 0.098, k: 1.472 },
  'ssd-mobilenet': { dx: 0, dy: 0.158, k: 1.407 },
  'tiny-face': { dx: 0, dy: 0.035, k: 1.264 },
};

/**
 * The crop square for a box of the given kind. A 'blazeface' box with its 6 keypoints gets its
 * centre from them (keypoint-rule.ts: a turned face's landmark crop sits where the box alone does
 * not say; at most MAX_KEYPOINT_SHIFT box sides from the box rule's centre); without keypoints,
 * and for the other kinds, the centre is the box's shifted by (dx, dy). The side is k × the box's
 * mean side either way.
 */
export function squareFromBox(box: BoxLike, kind: BoxKind): CropSquare {
  const rule = BOX_RULES[kind];
  const size = (box.width + box.height) / 2;
  const roll = kind === 'blazeface' && box.keypoints ? keypointRoll(box.keypoints) : null;
  if (roll !== null && Math.abs(roll) >= MIN_CROP_ROLL) {
    // The rule in the face's own frame: the keypoints turned upright about the box's centre, the
    // centre found there turned back.
    const bx = box.x + box.width / 2, by = box.y + box.height / 2, c = Math.cos(roll), s = Math.sin(roll);
    const k = box.keypoints!;
    const upright = new Float64Array(12);
    for (let i = 0; i < 12; i += 2) {
      const x = k[i] - bx, y = k[i + 1] - by;
      upright[i] = bx + c * x + s * y;
      upright[i + 1] = by - s * x + c * y;
    }
    const at = keypointCentre(box, upright, BLAZEFACE_KEYPOINT_CENTRE, rule, MAX_KEYPOINT_SHIFT) ?? { cx: bx + rule.dx * size, cy: by + rule.dy * size };
    const ux = at.cx - bx, uy = at.cy - by;
    return { cx: bx + c * ux - s * uy, cy: by + s * ux + c * uy, side: rule.k * size, angle: roll };
  }
  const centre = kind === 'blazeface' && box.keypoints ? keypointCentre(box, box.keypoints, BLAZEFACE_KEYPOINT_CENTRE, rule, MAX_KEYPOINT_SHIFT) : null;
  return {
    cx: centre ? centre.cx : box.x + box.width / 2 + rule.dx * size,
    cy: centre ? centre.cy : box.y + box.height / 2 + rule.dy * size,
    side: rule.k * size,
  };
}

/** The crop for a detector's box (see BOX_RULES for the kinds). */
export function cropFromBox(box: BoxLike, kind: BoxKind, size = CROP_SIZE): CropTransform {
  return cropTransform(squareFromBox(box, kind), size);
}

/**
 * The crop for a box the user gives (the CLI's `--box x,y,w,h`, image pixels): treated like a
 * dlib detector box, i.e. a box around the face from the brows to the chin, as the original did
 * for any box. The crop is then 1.58 × the box's mean side, centred 0.14 × that mean side below
 * the box's centre.
 */
export function cropFromUserBox(x: number, y: number, width: number, height: number, size = CROP_SIZE): CropTransform {
  if (!(width > 0) || !(height > 0)) throw new RangeError(`invalid box: ${width} × ${height}`);
  return cropFromBox({ x, y, width, height }, 'dlib', size);
}

/** Points as [x, y] (or [x, y, z]) pairs, or a flat array with `stride` numbers per point. */
export type Points = ArrayLike<number> | ReadonlyArray<ArrayLike<number>>;

/** Bounding box of points: [left, top, right, bottom]. */
export function pointsBounds(points: Points, stride = 2): [number, number, number, number] {
  let l = Infinity;
  let t = Infinity;
  let r = -Infinity;
  let b = -Infinity;
  const visit = (x: number, y: number): void => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (x < l) l = x;
    if (x > r) r = x;
    if (y < t) t = y;
    if (y > b) b = y;
  };
  const n = points.length;
  if (n > 0 && typeof points[0] !== 'number') {
    for (const p of points as ReadonlyArray<ArrayLike<number>>) visit(p[0], p[1]);
  } else {
    if (!(Number.isInteger(stride) && stride >= 2)) throw new RangeError(`stride must be a whole number ≥ 2 (numbers per point), got ${stride}`);
    if (n % stride !== 0) throw new RangeError(`a flat array of ${n} numbers is not points of ${stride} numbers each`);
    const flat = points as ArrayLike<number>;
    for (let i = 0; i + 1 < n; i += stride) visit(flat[i], flat[i + 1]);
  }
  if (!(r >= l) || !(b >= t)) throw new RangeError('no finite points');
  return [l, t, r, b];
}

/** Point counts whose flat arrays are read as x, y, z when no stride is given: iBUG's 68, FaceMesh's 468 and 478 (with irises). */
const POINTS_3D = [68, 468, 478];

/**
 * Numbers per point of a flat landmark array when the caller does not say: 3 for 68, 468 or 478
 * points in 3D (`Face.landmarks` is 68 × x, y, z: read as x, y pairs its z values became x and y,
 * and the crop landed elsewhere without an error), else 2.
 */
function defaultStride(points: Points): number {
  return POINTS_3D.some((n) => points.length === 3 * n) ? 3 : 2;
}

/**
 * The original PRNet's crop square for landmarks (68 points, or any set): centre of their
 * bounding box, side 1.6 × the box's mean side. A flat array holds `stride` numbers per point
 * (2 for x, y; 3 for x, y, z; by default 3 for 68, 468 or 478 points × 3 numbers, as
 * `Face.landmarks` and FaceMesh's points, else 2: give `stride` for anything else).
 */
export function squareFromLandmarks(points: Points, stride?: number): CropSquare {
  const [l, t, r, b] = pointsBounds(points, stride ?? defaultStride(points));
  return { cx: (l + r) / 2, cy: (t + b) / 2, side: LANDMARK_CROP_FACTOR * ((r - l) + (b - t)) / 2 };
}

/**
 * The roll of a face (radians, as CropSquare's `angle`) from its 68 landmarks (iBUG order, flat,
 * `stride` numbers per point): the eye line plus the eyes-to-mouth direction turned a quarter to
 * the left, as keypointRoll does with a detector's keypoints. Null for another number of points or
 * when they give no direction.
 */
export function landmarkRoll(points: ArrayLike<number>, stride = 3): number | null {
  if (points.length !== 68 * stride) return null;
  const mean = (from: number, to: number, axis: 0 | 1): number => {
    let m = 0;
    for (let i = from; i <= to; i++) m += points[i * stride + axis];
    return m / (to - from + 1);
  };
  return eyesMouthRoll(mean(36, 41, 0), mean(36, 41, 1), mean(42, 47, 0), mean(42, 47, 1), mean(48, 67, 0), mean(48, 67, 1));
}

/**
 * squareFromLandmarks in the face's own frame, for 68 landmarks (flat, `stride` numbers per point):
 * the landmarks turned upright by −`roll` (landmarkRoll's by default), their box's centre turned
 * back, its side 1.6 × the box's mean side, and `angle` = roll. A roll of 0 gives squareFromLandmarks'
 * square.
 */
export function rolledSquareFromLandmarks(points: ArrayLike<number>, stride = 3, roll = landmarkRoll(points, stride) ?? 0): CropSquare {
  if (!(Number.isInteger(stride) && stride >= 2)) throw new RangeError(`stride must be a whole number ≥ 2 (numbers per point), got ${stride}`);
  if (!Number.isFinite(roll)) throw new RangeError(`roll must be a finite number of radians, got ${roll}`);
  if (roll === 0) return squareFromLandmarks(points, stride);
  const c = Math.cos(roll), s = Math.sin(roll);
  let l = Infinity, t = Infinity, r = -Infinity, b = -Infinity;
  for (let i = 0; i + 1 < points.length; i += stride) {
    const x = points[i], y = points[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const u = c * x + s * y, v = -s * x + c * y;
    if (u < l) l = u;
    if (u > r) r = u;
    if (v < t) t = v;
    if (v > b) b = v;
  }
  if (!(r >= l) || !(b >= t)) throw new RangeError('no finite points');
  const u = (l + r) / 2, v = (t + b) / 2;
  return { cx: c * u - s * v, cy: s * u + c * v, side: (LANDMARK_CROP_FACTOR * (r - l + (b - t))) / 2, angle: roll };
}

/**
 * The crop for landmarks (tracking from the previous frame; ground-truth boxes):
 * `cropFromLandmarks(face.landmarks)` for a face of an earlier frame. `stride` as in squareFromLandmarks.
 */
export function cropFromLandmarks(points: Points, stride?: number, size = CROP_SIZE): CropTransform {
  return cropTransform(squareFromLandmarks(points, stride), size);
}
