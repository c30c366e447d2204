/**
 * The crop: a square region of the image, resampled to size × size (256²) for the network, and
 * the affine transform between the two frames. Pure functions, no I/O (shared with the browser).
 *
 * Frames: image pixels and crop pixels both have x right, y down, pixel centres at integers.
 * As in the original PRNet (skimage `estimate_transform('similarity', …)` from the square's corners
 * to (0, 0) and (size − 1, size − 1)), the square's left/top edge maps to crop pixel 0 and its
 * right/bottom edge to crop pixel size − 1, so the scale is (size − 1) / side.
 */

/** A 2×3 affine matrix [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = readonly [number, number, number, number, number, number];

/**
 * A square region of an image: centre and side in image pixels, and its rotation: `angle`
 * (radians; absent or 0: upright) is the face's roll, the angle from the image's x axis to the
 * face's left-to-right direction (y down, so a positive angle turns clockwise on screen). The crop
 * turns the square by −angle, so that the face stands upright in it.
 */
export interface CropSquare {
  /** Centre, image pixels. */
  cx: number;
  cy: number;
  /** Side, image pixels. */
  side: number;
  /** The face's roll in radians (see above; FaceJson's crop.angle gives it in degrees). */
  angle?: number;
}

/** Image pixels ↔ crop pixels. */
export interface CropTransform {
  /** Side of the crop in pixels (256 for the network). */
  size: number;
  /** The square of the image that the crop covers. */
  square: CropSquare;
  /** Image pixels → crop pixels. */
  forward: Affine;
  /** Crop pixels → image pixels. */
  inverse: Affine;
  /** Crop pixels per image pixel (z in crop units divided by this gives image units). */
  scale: number;
}

/** The network's input size. */
export const CROP_SIZE = 256;

/**
 * The transform that maps `square` onto a size × size crop: the square's centre to the crop's,
 * turned by −angle (an upright square, the usual case, gives an axis-aligned transform).
 */
export function cropTransform(square: CropSquare, size = CROP_SIZE): CropTransform {
  const angle = square.angle ?? 0;
  if (!(square.side > 0) || !Number.isFinite(square.side) || !Number.isFinite(square.cx) || !Number.isFinite(square.cy) || !Number.isFinite(angle)) {
    throw new RangeError(`invalid crop square: centre (${square.cx}, ${square.cy}), side ${square.side}${angle ? `, angle ${angle}` : ''}`);
  }
  const scale = (size - 1) / square.side;
  let forward: Affine;
  if (angle === 0) {
    const x0 = square.cx - square.side / 2;
    const y0 = square.cy - square.side / 2;
    forward = [scale, 0, -scale * x0, 0, scale, -scale * y0];
  } else {
    // crop = scale · R(−angle) · (p − centre) + (size − 1) / 2
    const c = scale * Math.cos(angle), s = scale * Math.sin(angle), mid = (size - 1) / 2;
    forward = [c, s, mid - c * square.cx - s * square.cy, -s, c, mid + s * square.cx - c * square.cy];
  }
  const copy: CropSquare = { cx: square.cx, cy: square.cy, side: square.side };
  if (angle !== 0) copy.angle = angle;
  return { size, square: copy, forward, inverse: invertAffine(forward), scale };
}

/** The inverse of an affine map; throws on a singular one. */
export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (det === 0 || !Number.isFinite(det)) throw new RangeError('affine map is not invertible');
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/** Applies an affine map to one point. */
export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}
