/**
 * The crop centre from BlazeFace's box and its 6 keypoints (eyes, nose tip, mouth, ears): a linear
 * rule fitted to the 68-landmark crop's centre (the original PRNet's rule, the crop the networks
 * were trained on) by `scripts/fit-keypoint-crop.ts`.
 *
 * The box alone misplaces the centre of a turned face: the landmark box of a profile sits towards
 * the side the face turns to, which the box's centre does not follow (on AFLW2000-3D's 60–90°
 * faces a median 5.5 % of the crop's side off). The keypoints tell where the nose and mouth sit
 * between the eyes and how the ears lie, so a few weights on them recover part of it.
 *
 * Features, in units of the box's mean side s = (w + h) / 2 and relative to the box's centre c,
 * with k_i = (keypoint_i − c) / s and m = (k_eyeR + k_eyeL) / 2:
 *   [1, (k_nose − m).x, (k_nose − m).y, (k_mouth − m).x, (k_mouth − m).y,
 *    (k_earR − k_earL).x, (k_earR − k_earL).y, mean(k).x, mean(k).y]
 * and the centre is c + s · (f · wx, f · wy). Mirroring a face (x → −x, the eyes and ears swapped)
 * negates features 1, 3, 6 and 7 (`MIRROR_SIGNS`); the fit includes each face's mirror image, so
 * the rule is mirror-symmetric exactly: wx is zero on the features that keep their sign, wy on
 * those that flip.
 */

/** Number of features of the rule. */
export const KEYPOINT_FEATURES = 9;

/** The sign each feature takes when the face is mirrored left to right. */
export const MIRROR_SIGNS: readonly number[] = Object.freeze([1, -1, 1, -1, 1, 1, -1, -1, 1]);

/** Weights of the centre offset (x, y) on the features; from scripts/fit-keypoint-crop.ts. */
export const BLAZEFACE_KEYPOINT_CENTRE: Readonly<{ x: readonly number[]; y: readonly number[] }> = Object.freeze({
  x: Object.freeze([0, 1.3442, 0, -1.607, 0, 0, 0.5172, -0.6556, 0]),
  y: Object.freeze([0.0844, 0, 0.5531, 0, -0.2184, 0.0887, 0, 0, -0.0552]),
});

/**
 * The most the rule moves the centre from the box rule's (BOX_RULES.blazeface), per axis, in box
 * sides: a guard against keypoints far outside what the fit saw (on its 995 faces the largest
 * move is 0.16, the 99th percentile 0.09).
 */
export const MAX_KEYPOINT_SHIFT = 0.2;

/**
 * Writes the features of a box (x, y, width, height) and its 6 keypoints (flat x, y: right eye,
 * left eye, nose tip, mouth, right ear, left ear) into `out`; false when they cannot be used (not
 * 6 points, a non-finite value, an empty box, or a keypoint more than a box side from the box's
 * centre: keypoints left behind when a box was moved; on the fit's 995 faces the farthest is 0.7).
 */
export function keypointFeatures(box: { x: number; y: number; width: number; height: number }, keypoints: ArrayLike<number>, out: Float64Array): boolean {
  if (keypoints.length !== 12) return false;
  const s = (box.width + box.height) / 2;
  if (!(s > 0) || !Number.isFinite(s)) return false;
  const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  const k = (i: number, axis: 0 | 1): number => (keypoints[2 * i + axis] - (axis ? cy : cx)) / s;
  let mx = 0, my = 0;
  for (let i = 0; i < 6; i++) {
    if (!(Math.abs(k(i, 0)) <= 1 && Math.abs(k(i, 1)) <= 1)) return false;
    mx += k(i, 0);
    my += k(i, 1);
  }
  const ex = (k(0, 0) + k(1, 0)) / 2, ey = (k(0, 1) + k(1, 1)) / 2;
  out[0] = 1;
  out[1] = k(2, 0) - ex;
  out[2] = k(2, 1) - ey;
  out[3] = k(3, 0) - ex;
  out[4] = k(3, 1) - ey;
  out[5] = k(4, 0) - k(5, 0);
  out[6] = k(4, 1) - k(5, 1);
  out[7] = mx / 6;
  out[8] = my / 6;
  for (let j = 0; j < KEYPOINT_FEATURES; j++) if (!Number.isFinite(out[j])) return false;
  return true;
}

const scratch = new Float64Array(KEYPOINT_FEATURES);

/**
 * The crop centre for a BlazeFace box with keypoints, under `weights` (the fitted rule,
 * BLAZEFACE_KEYPOINT_CENTRE, or one being fitted), moved at most `maxShift` box sides per axis from
 * `base` (the box rule's offset, in box sides); null when the keypoints cannot be used (the caller
 * falls back to the box rule).
 */
export function keypointCentre(
  box: { x: number; y: number; width: number; height: number },
  keypoints: ArrayLike<number>,
  weights: Readonly<{ x: readonly number[]; y: readonly number[] }>,
  base: { dx: number; dy: number },
  maxShift: number,
): { cx: number; cy: number } | null {
  if (!keypointFeatures(box, keypoints, scratch)) return null;
  let ox = 0, oy = 0;
  for (let j = 0; j < KEYPOINT_FEATURES; j++) {
    ox += scratch[j] * weights.x[j];
    oy += scratch[j] * weights.y[j];
  }
  ox = Math.min(base.dx + maxShift, Math.max(base.dx - maxShift, ox));
  oy = Math.min(base.dy + maxShift, Math.max(base.dy - maxShift, oy));
  const s = (box.width + box.height) / 2;
  return { cx: box.x + box.width / 2 + ox * s, cy: box.y + box.height / 2 + oy * s };
}

/**
 * The face's roll from BlazeFace's keypoints (radians, as CropSquare's `angle`): the direction of
 * the eye line plus the eyes-to-mouth direction turned a quarter to the left, summed as vectors
 * (each alone errs on turned faces: the eyes close up in a profile, the mouth swings aside; their
 * sum, on AFW faces rolled up to ±60°, is within 2° in the median and 9° at most). Null when the
 * keypoints give no direction. BlazeFace's keypoints keep to an upright face's order up to a roll
 * of about 90°: an upside-down face's come out as an upright one's, and so does this angle.
 */
export function keypointRoll(keypoints: ArrayLike<number>): number | null {
  if (keypoints.length !== 12) return null;
  return eyesMouthRoll(keypoints[0], keypoints[1], keypoints[2], keypoints[3], keypoints[6], keypoints[7]);
}

/**
 * The roll (radians) of a face from its right eye (rx, ry: on the image's left), left eye and
 * mouth: the eye line plus the eyes-to-mouth direction turned a quarter to the left, as vectors;
 * null when they give no direction. keypointRoll and landmarkRoll (crop/rules.ts) read it so.
 */
export function eyesMouthRoll(rx: number, ry: number, lx: number, ly: number, mx: number, my: number): number | null {
  const dx = mx - (rx + lx) / 2, dy = my - (ry + ly) / 2;
  const x = lx - rx + dy, y = ly - ry - dx;
  if (!(Number.isFinite(x) && Number.isFinite(y)) || (x === 0 && y === 0)) return null;
  return Math.atan2(y, x);
}

/** An angle (radians) brought into (−π, π]. */
export function wrapAngle(a: number): number {
  return Math.atan2(Math.sin(a), Math.cos(a));
}
