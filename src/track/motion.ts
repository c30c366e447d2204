/**
 * Measures of a face's 68 landmarks used by tracking: its size, the centroids of its parts, and
 * how far it moved between two frames, in units of its size (so thresholds do not depend on the
 * image's resolution or the face's distance). Landmarks are flat arrays with `dims` numbers per
 * point (2: x, y; 3: x, y, z; image pixels); only x and y are used.
 */

/** The iBUG-68 parts, [first, last] landmark: jaw, brows, nose, eyes, outer and inner lips. */
export const IBUG68_PARTS: ReadonlyArray<readonly [number, number]> = [
  [0, 16], [17, 21], [22, 26], [27, 35], [36, 41], [42, 47], [48, 59], [60, 67],
];

/** [left, top, right, bottom] of the points' x, y (non-finite points are skipped). */
export function landmarkBounds(points: ArrayLike<number>, dims = 3): [number, number, number, number] {
  let l = Infinity, t = Infinity, r = -Infinity, b = -Infinity;
  for (let i = 0; i + 1 < points.length; i += dims) {
    const x = points[i], y = points[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (x < l) l = x;
    if (x > r) r = x;
    if (y < t) t = y;
    if (y > b) b = y;
  }
  return [l, t, r, b];
}

/** The face's size: the mean side of its landmarks' bounding box, pixels (NaN without points). */
export function faceSize(points: ArrayLike<number>, dims = 3): number {
  const [l, t, r, b] = landmarkBounds(points, dims);
  return r >= l && b >= t ? (r - l + (b - t)) / 2 : NaN;
}

/** The x, y centroid of each iBUG-68 part: 8×2 numbers. */
export function partCentroids(points: ArrayLike<number>, dims = 3): Float64Array {
  const out = new Float64Array(IBUG68_PARTS.length * 2);
  IBUG68_PARTS.forEach(([a, b], k) => {
    let sx = 0, sy = 0;
    for (let i = a; i <= b; i++) {
      sx += points[i * dims];
      sy += points[i * dims + 1];
    }
    out[2 * k] = sx / (b - a + 1);
    out[2 * k + 1] = sy / (b - a + 1);
  });
  return out;
}

/**
 * How far a face moved between two sets of part centroids: the root mean square over the parts of
 * each part's centroid displacement, divided by `size` (face sizes). Averaging within parts keeps
 * the landmarks' own jitter low, and the parts see rotation and expression as well as shift.
 */
export function partMotion(a: Float64Array, b: Float64Array, size: number): number {
  let s = 0;
  const n = a.length / 2;
  for (let k = 0; k < n; k++) {
    const dx = a[2 * k] - b[2 * k], dy = a[2 * k + 1] - b[2 * k + 1];
    s += dx * dx + dy * dy;
  }
  return Math.sqrt(s / n) / size;
}
