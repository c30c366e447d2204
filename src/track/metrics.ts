/**
 * Measures of temporal quality over a clip: jitter of landmarks on a still face, and lag of a
 * tracked trajectory behind a known one. Pure; used by the tests and scripts/measure-tracking.
 */

export interface Jitter {
  /** Mean over the landmarks of their spread over the clip: sqrt(var x + var y), pixels. */
  std: number;
  /** Root mean square of a landmark's frame-to-frame step, pixels. */
  step: number;
}

/**
 * Jitter of landmark sets over the frames of a clip (each 68 × dims, image pixels). `shifts`
 * gives the known image motion of each frame ([dx, dy], pixels), subtracted first, so that a clip
 * with known sub-pixel shifts measures the reconstruction's own jitter.
 */
export function landmarkJitter(frames: readonly ArrayLike<number>[], dims = 3, shifts?: readonly (readonly [number, number])[]): Jitter {
  if (frames.length < 2) throw new RangeError('jitter needs at least two frames');
  const n = Math.floor(frames[0].length / dims);
  const x = (f: number, i: number): number => frames[f][i * dims] - (shifts ? shifts[f][0] : 0);
  const y = (f: number, i: number): number => frames[f][i * dims + 1] - (shifts ? shifts[f][1] : 0);
  let stdSum = 0;
  let stepSum = 0;
  for (let i = 0; i < n; i++) {
    let mx = 0, my = 0;
    for (let f = 0; f < frames.length; f++) { mx += x(f, i); my += y(f, i); }
    mx /= frames.length; my /= frames.length;
    let v = 0;
    for (let f = 0; f < frames.length; f++) v += (x(f, i) - mx) ** 2 + (y(f, i) - my) ** 2;
    stdSum += Math.sqrt(v / frames.length);
    for (let f = 1; f < frames.length; f++) stepSum += (x(f, i) - x(f - 1, i)) ** 2 + (y(f, i) - y(f - 1, i)) ** 2;
  }
  return { std: stdSum / n, step: Math.sqrt(stepSum / (n * (frames.length - 1))) };
}

/**
 * How many frames `measured` lags behind `truth` (both one number per frame, e.g. the landmarks'
 * mean x): the shift k (in `resolution` steps over [−maxLag, maxLag]) minimising the mean squared
 * difference between measured(t) and truth(t − k) + c, with c the best constant offset (the
 * trajectories need not share an origin). Positive = behind.
 */
export function trajectoryLag(measured: readonly number[], truth: readonly number[], maxLag = 8, resolution = 0.05): number {
  if (measured.length !== truth.length) throw new RangeError('trajectories differ in length');
  const n = truth.length;
  const lo = Math.ceil(maxLag) + 1;
  if (n <= 2 * lo) throw new RangeError('clip too short for that lag range');
  const at = (t: number): number => {
    const i = Math.floor(t);
    const f = t - i;
    return truth[i] + f * (truth[Math.min(n - 1, i + 1)] - truth[i]);
  };
  let bestK = 0;
  let bestErr = Infinity;
  for (let k = -maxLag; k <= maxLag + 1e-9; k += resolution) {
    let mean = 0;
    let count = 0;
    for (let t = lo; t < n - lo; t++) { mean += measured[t] - at(t - k); count++; }
    mean /= count;
    let err = 0;
    for (let t = lo; t < n - lo; t++) err += (measured[t] - at(t - k) - mean) ** 2;
    if (err < bestErr) { bestErr = err; bestK = k; }
  }
  return Math.round(bestK / resolution) * resolution;
}

/** The mean of the x (or y, with axis 1) coordinates of a landmark set. */
export function meanCoordinate(points: ArrayLike<number>, dims = 3, axis: 0 | 1 = 0): number {
  // dims 0 looped forever (n = Infinity)
  if (!(Number.isInteger(dims) && dims >= 1)) throw new RangeError(`dims must be a whole number ≥ 1, got ${String(dims)}`);
  let s = 0;
  const n = Math.floor(points.length / dims);
  for (let i = 0; i < n; i++) s += points[i * dims + axis];
  return s / n;
}

/**
 * Jitter of point sets over consecutive frames of a clip with motion: the RMS over points and
 * frames of the second difference x_t − 2x_{t−1} + x_{t−2} (x and y), divided by √6 — for white
 * noise of std σ per coordinate and frame that is σ·√2 per point (x and y together, as `std`
 * of landmarkJitter is for a still clip), while smooth motion adds little. Pixels.
 */
export function motionJitter(frames: readonly ArrayLike<number>[], dims = 3): number {
  if (frames.length < 3) throw new RangeError('motion jitter needs at least three frames');
  const n = Math.floor(frames[0].length / dims);
  let sum = 0;
  for (let f = 2; f < frames.length; f++) {
    const a = frames[f], b = frames[f - 1], c = frames[f - 2];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 2; k++) {
        const d = a[i * dims + k] - 2 * b[i * dims + k] + c[i * dims + k];
        sum += d * d;
      }
    }
  }
  return Math.sqrt(sum / (n * (frames.length - 2)) / 6);
}
