/**
 * A second quality signal beside the flip's: how far the detector's own keypoints of a face lie
 * from the same points of its reconstruction. BlazeFace finds the eyes, nose tip and mouth of a face
 * from the photo directly; a reconstruction that went wrong (a profile collapsed into a frontal
 * face, a face read through a black box over its eyes) puts them elsewhere. Free (no network run)
 * and also without test-time flip (docs/evaluation.md §0.16).
 */

/** iBUG 68 ranges matched to BlazeFace's first four keypoints (the subject's right eye, left eye, nose tip, mouth). */
const PARTS: readonly (readonly [number, number])[] = [[36, 41], [42, 47], [30, 30], [48, 67]];

/**
 * The mean distance (x, y) between BlazeFace's first four keypoints (flat x, y: the subject's right
 * eye, left eye, nose tip, mouth; its ears are left out, a reconstruction has no ear points) and
 * the same points of 68 landmarks (flat, `stride` numbers per point: the eye centres, point 30,
 * the mouth's centre), in mean sides of the landmarks' box in the face's own frame (the image's
 * axes turned by `roll`, radians, as a crop's angle: a rolled face's box, taken along the image's
 * axes, is wider; flipDisagreement's box is the crop's). NaN when the box has no size.
 */
export function keypointDisagreement(landmarks: ArrayLike<number>, keypoints: ArrayLike<number>, stride = 3, roll = 0): number {
  if (!(Number.isInteger(stride) && stride >= 2)) throw new RangeError(`stride must be a whole number ≥ 2 (numbers per point), got ${stride}`);
  if (!Number.isFinite(roll)) throw new RangeError(`roll must be a finite number of radians, got ${roll}`);
  if (landmarks.length !== 68 * stride) throw new RangeError(`68 landmarks take ${68 * stride} numbers at stride ${stride}, got ${landmarks.length}`);
  if (keypoints.length < 8) throw new RangeError(`keypointDisagreement needs BlazeFace's keypoints (at least 4 points: 8 numbers), got ${keypoints.length}`);
  const c = Math.cos(roll), s = Math.sin(roll);
  let l = Infinity, r = -Infinity, t = Infinity, b = -Infinity;
  for (let i = 0; i < 68; i++) {
    const px = landmarks[i * stride], py = landmarks[i * stride + 1];
    const x = c * px + s * py, y = -s * px + c * py;
    if (x < l) l = x;
    if (x > r) r = x;
    if (y < t) t = y;
    if (y > b) b = y;
  }
  let sum = 0;
  for (let k = 0; k < PARTS.length; k++) {
    const [from, to] = PARTS[k];
    let x = 0, y = 0;
    for (let i = from; i <= to; i++) {
      x += landmarks[i * stride];
      y += landmarks[i * stride + 1];
    }
    const n = to - from + 1;
    sum += Math.hypot(keypoints[2 * k] - x / n, keypoints[2 * k + 1] - y / n);
  }
  const side = (r - l + (b - t)) / 2;
  return side > 0 ? sum / PARTS.length / side : NaN;
}
