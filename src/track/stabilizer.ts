/**
 * Temporal stabilisation of one tracked face: a One-Euro filter over every coordinate of its
 * position map (image frame), whose cutoff follows the face's speed, and a still-face hold.
 *
 * - Speed: the velocity of the landmarks' part centroids (motion.ts), in face sizes per second,
 *   low-passed as a vector at `derivativeCutoff` (the landmarks' jitter averages out, motion
 *   stays); its magnitude is the face's speed. One speed per face sets one cutoff for all its
 *   coordinates, so the whole face is smoothed alike and its shape does not wobble.
 * - Noise: the landmarks' own jitter is estimated online from the part centroids' second
 *   differences (for white noise of variance σ², Var(x_t − 2x_{t−1} + x_{t−2}) = 6σ², while smooth
 *   motion adds little), averaged over about a second. It gives the floor that jitter alone puts
 *   under the speed and under the drift below. Thresholds never go below a multiple of those
 *   floors (the *Margin options), and only the speed above the floor raises the cutoff:
 *   minCutoff + beta · (speed − cutoffMargin · floor). So a noisy model, or a small face, is still
 *   held still, and motion is told from jitter at any noise level.
 * - Still face: a hold weight g in [0, 1] scales the filter's step by (1 − g); at g = 1 the output
 *   is held exactly (a still face does not move at all). g rises (over `holdTime`) while the speed
 *   is under `stillSpeed` (or stillMargin × the floor) and the drift — the raw part centroids'
 *   offset from the output's, low-passed at `driftCutoff` — under `stillDrift` (or driftMargin ×
 *   the drift's floor); it falls while the speed is over `releaseSpeed` (or releaseMargin × the
 *   floor) or the drift over releaseDriftScale × the still drift, by the excess (at once for a
 *   clear motion), and stays in between: the hysteresis of an enter and a leave threshold, but
 *   continuous, so a tiny change of the network's output moves the output a little, never flips
 *   it between held and filtered. It resumes from the held values, without a jump; a slow motion
 *   or an expression is followed (the drift), jitter is not. It waits `settleTime` from a
 *   track's first frame (the crop settles onto the landmarks meanwhile, and the output with it).
 * - Head frame (default): the pose is filtered apart from the shape, by an alpha-beta filter
 *   (`poseTrend`): predicted at its own velocity, so a head turning or moving steadily is not
 *   trailed, and corrected at poseCutoffScale × the shape's cutoff.
 * The landmarks, dense vertices and pose of the result are read again from the filtered map.
 */
import type { Face } from '../pipeline/face.js';
import { estimatePose, intoPoseFrame, poseMatrix, quaternionOf, readLandmarks, readVertices, rotationToAngles, type Pose } from '../geometry/index.js';
import type { Layout } from '../layout/index.js';
import { IBUG68_PARTS, faceSize, partCentroids } from './motion.js';
import { faceRegions } from './regions.js';
import { OneEuroVector, smoothingFactor } from './one-euro.js';
import { optionsObject, shown } from './options.js';

export interface StabilizerOptions {
  /** Cutoff (Hz) of a slow face. Default 0.5. */
  minCutoff?: number;
  /** Cutoff increase (Hz) per face size per second of speed (above the noise floor). Default 80. */
  beta?: number;
  /** Cutoff (Hz) of the low-pass on the speed and on the drift from a held output. Default 4. */
  derivativeCutoff?: number;
  /** Speed (face sizes per second) under which a face is held still. Default 0.05; 0 disables the hold. */
  stillSpeed?: number;
  /** Speed (face sizes per second) over which a held face is let go. Default 0.1. */
  releaseSpeed?: number;
  /** Drift (face sizes) of the raw face from the output under which a face is held (let go over releaseDriftScale × it). Default 0.005. */
  stillDrift?: number;
  /** Cutoff (Hz) of the low-pass on the drift from a held output. Default 1. */
  driftCutoff?: number;
  /** Multiple of the drift's noise floor under which a held face stays held. Default 3. */
  driftMargin?: number;
  /** Multiple of the speed's noise floor under which a face is held. Default 1.5. */
  stillMargin?: number;
  /** Multiple of the speed's noise floor over which a held face is let go. Default 2.5. */
  releaseMargin?: number;
  /** Multiple of the speed's noise floor above which speed raises the cutoff. Default 1. */
  cutoffMargin?: number;
  /**
   * Cutoff (Hz) of the rim regions (ears and forehead rim, regions.ts) in the head's own frame:
   * their shape relative to the pose is low-passed at this cutoff, while the pose carries their
   * motion, so they follow the head without lag but do not shake. Default 1; 0 turns it off.
   */
  rimCutoff?: number;
  /**
   * Where the map is filtered: 'head' (default) — each frame's map is split into its pose (the
   * similarity fit of the frame, `face.pose`) and its shape in the head's own frame,
   * Rᵀ(x − t) / s; the pose is low-passed on its own (translation, log-scale, rotation as a
   * quaternion; its cutoff at rest scaled by `poseCutoffScale`), the shape at the face's
   * speed-driven cutoff (the rim regions at most at `rimCutoff`), and the map is put back together from the filtered
   * pose and shape, so jitter of the pose does not shake the points far from the head's centre
   * (the ears) more than the rest. 'image': every coordinate filtered in the image frame (then
   * the rim's shape in the head's frame), as before.
   */
  frame?: 'head' | 'image';
  /**
   * The pose's cutoff relative to the shape's (head frame only): the pose is low-passed at the
   * face's speed-driven cutoff times this, so it is steadier than the shape at any speed while
   * still following motion faster the faster the face moves. Default 0.3.
   */
  poseCutoffScale?: number;
  /**
   * Head frame: how much the pose filter follows the pose's velocity (an alpha-beta filter: the
   * pose is predicted at constant velocity and the velocity corrected by this × α²/(2 − α) of the
   * residual, the critically damped gain at 1), so a steadily moving head is not trailed. 0: a
   * plain low-pass (trails a ramp by (1 − α)/α frames). Default 1.
   */
  poseTrend?: number;
  /**
   * Head frame: the speed at which the pose's velocity is fully followed, in multiples of the
   * release speed (max(`releaseSpeed`, `releaseMargin` × the speed's noise floor)), counted above
   * `cutoffMargin` × that floor. Below it the velocity is weighted by the fraction reached (per
   * 1/30 s), so a still or slowing face is low-passed instead of coasting on a velocity learnt
   * earlier (at the first frames' crop settling, or before a turn), which overshoots. 0: always
   * followed (stop 19's filter). Default 2.
   */
  trendSpeed?: number;
  /**
   * Seconds over which the still-face hold engages (its weight rises from 0 to 1; it falls at
   * once when the face moves). Default 0.1.
   */
  holdTime?: number;
  /**
   * Seconds from a track's first frame before the still-face hold may engage: the jitter floor is
   * still being learnt and the crop still settling from the detector's box onto the landmarks, which
   * moves a weaker model's raw output by a pixel or so; a hold engaged earlier locks onto that
   * transient and is let go again. The face is low-passed meanwhile. Default 0.5.
   */
  settleTime?: number;
  /** The drift over which a held face is let go, in multiples of the still drift (`stillDrift` or its floor). Default 1.5. */
  releaseDriftScale?: number;
}

export const DEFAULT_STABILIZER: Readonly<Required<StabilizerOptions>> = Object.freeze({
  minCutoff: 0.5,
  beta: 80,
  derivativeCutoff: 4,
  stillSpeed: 0.05,
  releaseSpeed: 0.1,
  stillDrift: 0.005,
  driftCutoff: 1,
  driftMargin: 3,
  stillMargin: 1.5,
  releaseMargin: 2.5,
  cutoffMargin: 1,
  rimCutoff: 1,
  frame: 'head',
  poseCutoffScale: 0.3,
  poseTrend: 1,
  trendSpeed: 2,
  holdTime: 0.1,
  settleTime: 0.5,
  releaseDriftScale: 1.5,
});

export interface StabilizedFace {
  face: Face;
  /** The face is held still this frame. */
  still: boolean;
  /** The smoothed speed, face sizes per second. */
  speed: number;
}

const PARTS2 = 2 * IBUG68_PARTS.length;
/** Time constant of the jitter estimate, seconds. */
const NOISE_TIME = 1;

export class FaceStabilizer {
  readonly options: Readonly<Required<StabilizerOptions>>;
  private readonly layout: Pick<Layout, 'size' | 'kptIndex' | 'faceIndex' | 'canonical'> & Partial<Pick<Layout, 'kpt'>>;
  /** Map pixels of the rim regions, and their low-passed coordinates in the head's frame. */
  private readonly rimPixels: Int32Array | null = null;
  private rimShape: Float64Array | null = null;
  private filter: OneEuroVector | null = null;
  /** Map pixels of the rim regions as a mask over the map (head frame). */
  private readonly rimMask: Uint8Array | null = null;
  /** Head frame: the filtered pose and shape (Rᵀ(x − t) / s of every map pixel). */
  private head: { t: Float64Array; logScale: number; q: Float64Array; shape: Float32Array; v: Float64Array } | null = null;
  private started = false;
  private last: Face | null = null;
  private speed = 0;
  private readonly velocity = new Float64Array(PARTS2);
  private lastCentroids: Float64Array | null = null;
  private lastTime = 0;
  /** The source's usual frame interval (seconds, low-passed; 0 until the first step after a start). */
  private typicalDt = 0;
  /** Time (seconds) of the track's first frame. */
  private startTime = 0;
  /** The still-face hold's weight (0: filtering, 1: held), and the raw centroids' low-passed offset from the output's. */
  private hold = 0;
  private readonly drift = new Float64Array(PARTS2);
  /** Centroids two frames back, and the estimated jitter variance of a centroid coordinate (face sizes²). */
  private olderCentroids: Float64Array | null = null;
  private noiseVar = NaN;

  constructor(layout: Pick<Layout, 'size' | 'kptIndex' | 'faceIndex' | 'canonical'> & Partial<Pick<Layout, 'kpt'>>, options: StabilizerOptions = {}) {
    this.layout = layout;
    this.options = resolveStabilizerOptions(options);
    if (this.options.rimCutoff > 0 && layout.kpt) {
      const r = faceRegions({ ...layout, kpt: layout.kpt });
      const ids = new Int32Array(r.ears.length + r.forehead.length);
      ids.set(r.ears);
      ids.set(r.forehead, r.ears.length);
      this.rimPixels = Int32Array.from(new Set(ids), (i) => layout.faceIndex[i]);
      this.rimMask = new Uint8Array(layout.size * layout.size);
      for (const p of this.rimPixels) this.rimMask[p] = 1;
    }
  }

  /**
   * Filters the face of the frame at `timeMs` (milliseconds, in time order). A frame at the same
   * time as the last is skipped (the last output stands). Time going back (a looped or sought
   * video, another clock) or a gap over MAX_FRAME_GAP_S and 4 usual frame intervals (a paused tab) restarts the filter: the
   * frame passes through, as a track's first does (the output froze until the time passed the old
   * one, or a velocity extrapolated over the gap gave a wrong pose).
   */
  stabilize(face: Face, timeMs: number): StabilizedFace {
    if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) throw new RangeError(`the frame time must be a finite number of milliseconds, got ${shown(timeMs)}`);
    const t = timeMs / 1000;
    if (this.started && (t < this.lastTime || t - this.lastTime > this.maxGap())) this.reset();
    const raw = face.positionMap.data;
    const o = this.options;
    const headFrame = o.frame === 'head';
    if (!headFrame && (!this.filter || this.filter.length !== raw.length)) this.filter = new OneEuroVector(raw.length);
    const centroids = partCentroids(face.landmarks);
    // A frame whose landmarks cannot be read (non-finite, degenerate) is skipped: the last output
    // stands (the frame itself before the first readable one), and no state sees the frame.
    const scale = faceSize(face.landmarks);
    const readable = Number.isFinite(scale) && scale > 0 && centroids.every(Number.isFinite);
    if (!readable && !this.last) return { face, still: false, speed: 0 };
    if (!this.started || (this.head && this.head.shape.length !== raw.length)) {
      this.started = true;
      if (headFrame) this.startHead(face);
      else this.filter?.filter(raw, t);
      this.lastTime = t;
      this.startTime = t;
      this.speed = 0;
      this.velocity.fill(0);
      this.lastCentroids = centroids;
      this.olderCentroids = null;
      this.noiseVar = NaN;
      this.hold = 0;
      this.drift.fill(0);
      this.rimShape = null;
      this.last = face;
      return { face, still: false, speed: 0 };
    }
    const dt = t - this.lastTime;
    if (!(dt > 0) || !readable) {
      return { face: this.withFrame(this.last ?? face, face), still: this.hold >= 1, speed: this.speed };
    }
    this.lastTime = t;
    // the usual frame interval, low-passed (the first step after a start sets it)
    this.typicalDt = this.typicalDt > 0 ? this.typicalDt + 0.1 * (dt - this.typicalDt) : dt;

    // Speed: the part centroids' velocity (face sizes per second), low-passed as a vector so that
    // the landmarks' jitter averages out and only motion remains.
    const valid = this.lastCentroids !== null;
    const a = smoothingFactor(o.derivativeCutoff, dt);
    if (valid) {
      let sum = 0;
      for (let k = 0; k < PARTS2; k++) {
        this.velocity[k] += a * ((centroids[k] - (this.lastCentroids as Float64Array)[k]) / scale / dt - this.velocity[k]);
        sum += this.velocity[k] * this.velocity[k];
      }
      this.speed = Math.sqrt((2 * sum) / PARTS2);
      if (this.olderCentroids) this.updateNoise(centroids, this.lastCentroids as Float64Array, this.olderCentroids, scale, dt);
    }
    this.olderCentroids = this.lastCentroids;
    this.lastCentroids = centroids;
    // What jitter alone gives (see updateNoise): the speed's and the drift's floors.
    const sigma = Number.isFinite(this.noiseVar) ? Math.sqrt(this.noiseVar) : 0;
    const speedFloor = (2 * a * sigma) / (dt * Math.sqrt(2 - a));
    const ad = smoothingFactor(o.driftCutoff, dt);
    const driftFloor = Math.SQRT2 * sigma * Math.sqrt(ad / (2 - ad));
    const stillSpeed = Math.max(o.stillSpeed, o.stillMargin * speedFloor);
    const releaseSpeed = Math.max(o.releaseSpeed, o.releaseMargin * speedFloor);
    const stillDrift = Math.max(o.stillDrift, o.driftMargin * driftFloor);

    // The still-face hold, as a weight g in [0, 1] that scales the filter's step by (1 − g) (0:
    // filtering, 1: the output held exactly). g moves continuously with the speed and the drift
    // (the raw part centroids' low-passed offset from the output's), so a tiny change of the
    // input changes the output a little, never by a switch, and it keeps the hysteresis of the
    // hold: it rises (over `holdTime`) while both are under the still thresholds, falls while
    // either is over the release thresholds (by its excess over half the threshold, per frame:
    // at once for a clear motion), and stays in between.
    if (o.stillSpeed > 0 && valid && this.last) {
      const lastCentroids = partCentroids(this.last.landmarks);
      let sum = 0;
      for (let k = 0; k < PARTS2; k++) {
        this.drift[k] += ad * ((centroids[k] - lastCentroids[k]) / scale - this.drift[k]);
        sum += this.drift[k] * this.drift[k];
      }
      const drift = Math.sqrt((2 * sum) / PARTS2);
      const releaseDrift = o.releaseDriftScale * stillDrift;
      // Thresholds of 0 (an option set to 0, before the noise floor is known) must not give 0/0.
      const settled = t - this.startTime >= o.settleTime;
      const rise = !settled ? 0 : (dt / Math.max(o.holdTime, 1e-9)) * Math.max(0, Math.min(1, (2 * (stillSpeed - this.speed)) / Math.max(stillSpeed, 1e-12), (2 * (stillDrift - drift)) / Math.max(stillDrift, 1e-12)));
      const fall = Math.max(0, (2 * (this.speed - releaseSpeed)) / Math.max(releaseSpeed, 1e-12), (2 * (drift - releaseDrift)) / Math.max(releaseDrift, 1e-12));
      this.hold = Math.max(0, Math.min(1, this.hold + rise - fall));
    } else this.hold = 0;
    const g = this.hold;
    if (g >= 1 && this.last) {
      this.filter?.filter(raw, t, 0); // frozen: time advances, values stay
      if (this.head) this.head.v.fill(0);
      return { face: this.withFrame(this.last, face), still: true, speed: this.speed };
    }

    // The speed above the noise floor raises the cutoff and weights the pose's velocity.
    const excess = Math.max(0, this.speed - o.cutoffMargin * speedFloor);
    const cutoff = o.minCutoff + o.beta * excess;
    const out = headFrame
      ? this.headStep(face, cutoff, cutoff * o.poseCutoffScale, dt, 1 - g, trendWeight(excess, o.trendSpeed, releaseSpeed))
      : this.rebuild(face, (this.filter as OneEuroVector).filter(raw, t, g > 0 ? cutoffFor(smoothingFactor(cutoff, dt) * (1 - g), dt) : cutoff), dt);
    this.last = out;
    return { face: out, still: false, speed: this.speed };
  }

  /** The longest gap the filters bridge now (see MAX_FRAME_GAP_S). */
  private maxGap(): number {
    return this.typicalDt > 0 ? Math.max(MAX_FRAME_GAP_S, FRAME_GAP_FACTOR * this.typicalDt) : FIRST_GAP_S;
  }

  /** Forgets the face's history (the next frame passes through). */
  reset(): void {
    this.typicalDt = 0;
    this.filter?.reset();
    this.started = false;
    this.head = null;
    this.last = null;
    this.rimShape = null;
    this.hold = 0;
    this.drift.fill(0);
    this.lastCentroids = null;
    this.olderCentroids = null;
    this.noiseVar = NaN;
    this.velocity.fill(0);
    this.speed = 0;
  }

  /**
   * Updates the jitter estimate from three consecutive frames' part centroids: the mean square
   * second difference / 6, averaged over about a second; a frame far above the estimate (a jolt
   * of motion) counts as at most 4 × it.
   */
  private updateNoise(c: Float64Array, c1: Float64Array, c2: Float64Array, scale: number, dt: number): void {
    let m = 0;
    for (let k = 0; k < PARTS2; k++) {
      const d = (c[k] - 2 * c1[k] + c2[k]) / scale;
      m += d * d;
    }
    const v = m / PARTS2 / 6;
    if (!Number.isFinite(this.noiseVar)) this.noiseVar = v;
    else this.noiseVar += Math.min(1, dt / NOISE_TIME) * (Math.min(v, 4 * this.noiseVar) - this.noiseVar);
  }

  /** Starts the head-frame filter from a frame: its pose and its shape in the head's frame. */
  private startHead(face: Face): void {
    const p = face.pose;
    const shape = new Float32Array(face.positionMap.data.length);
    intoPoseFrame(face.positionMap.data, p, shape);
    this.head = { t: Float64Array.from(p.translation), logScale: Math.log(p.scale), q: quaternionOf(p.rotation), shape, v: new Float64Array(8) };
  }

  /**
   * One step of the head-frame filter: the frame's pose low-passed at `cutoff` × poseCutoffScale,
   * its shape at `cutoff` (the rim at most at rimCutoff), put back together.
   */
  private headStep(face: Face, cutoff: number, poseCutoff: number, dt: number, gain = 1, trend = 1): Face {
    const o = this.options;
    const h = this.head as NonNullable<FaceStabilizer['head']>;
    const p = face.pose;
    if (!(p.scale > 0) || !Number.isFinite(p.scale)) return this.withFrame(this.last ?? face, face);
    const a = gain * smoothingFactor(cutoff, dt);
    const ap0 = smoothingFactor(poseCutoff, dt);
    const ap = gain * ap0;
    // The pose (translation, log-scale, quaternion): predicted at its velocity (poseTrend > 0),
    // then corrected by ap × the residual; the velocity by bp / dt × the residual.
    const bp = gain * o.poseTrend * ((ap0 * ap0) / (2 - ap0));
    // The velocity's fade per frame for a weight `trend` per 1/30 s, so it fades alike at any frame rate.
    const fade = trend >= 1 ? 1 : trend ** (dt * 30);
    const q = quaternionOf(p.rotation);
    const v = h.v;
    const pred = [h.t[0] + v[0] * dt * gain, h.t[1] + v[1] * dt * gain, h.t[2] + v[2] * dt * gain, h.logScale + v[3] * dt * gain,
      h.q[0] + v[4] * dt * gain, h.q[1] + v[5] * dt * gain, h.q[2] + v[6] * dt * gain, h.q[3] + v[7] * dt * gain];
    const sign = q[0] * pred[4] + q[1] * pred[5] + q[2] * pred[6] + q[3] * pred[7] < 0 ? -1 : 1;
    const meas = [p.translation[0], p.translation[1], p.translation[2], Math.log(p.scale), sign * q[0], sign * q[1], sign * q[2], sign * q[3]];
    for (let k = 0; k < 8; k++) {
      const r = meas[k] - pred[k];
      v[k] = gain * fade * (v[k] + (bp / dt) * r);
      const x = pred[k] + ap * r;
      if (k < 3) h.t[k] = x;
      else if (k === 3) h.logScale = x;
      else h.q[k - 4] = x;
    }
    let n = 0;
    for (let k = 0; k < 4; k++) n += h.q[k] * h.q[k];
    n = Math.sqrt(n);
    for (let k = 0; k < 4; k++) h.q[k] /= n;
    const rotation = rotationOf(h.q);
    const scale = Math.exp(h.logScale);
    const translation: [number, number, number] = [h.t[0], h.t[1], h.t[2]];
    // The shape: Rᵀ(x − t) / s with the frame's own pose, low-passed per pixel.
    const ar = this.rimMask ? Math.min(a, gain * smoothingFactor(o.rimCutoff, dt)) : a;
    const raw = face.positionMap.data, shape = h.shape, rim = this.rimMask;
    const R = p.rotation, s = p.scale, [tx, ty, tz] = p.translation;
    const Q = rotation;
    const data = new Float32Array(raw.length);
    for (let i = 0, px = 0; i < raw.length; i += 3, px++) {
      const x = raw[i] - tx, y = raw[i + 1] - ty, z = raw[i + 2] - tz;
      const w = rim && rim[px] ? ar : a;
      const u = (shape[i] += w * ((R[0] * x + R[3] * y + R[6] * z) / s - shape[i]));
      const v = (shape[i + 1] += w * ((R[1] * x + R[4] * y + R[7] * z) / s - shape[i + 1]));
      const q2 = (shape[i + 2] += w * ((R[2] * x + R[5] * y + R[8] * z) / s - shape[i + 2]));
      data[i] = scale * (Q[0] * u + Q[1] * v + Q[2] * q2) + translation[0];
      data[i + 1] = scale * (Q[3] * u + Q[4] * v + Q[5] * q2) + translation[1];
      data[i + 2] = scale * (Q[6] * u + Q[7] * v + Q[8] * q2) + translation[2];
    }
    const positionMap = { size: this.layout.size, data };
    const pose: Pose = { rotation, scale, translation, matrix: poseMatrix(rotation, scale, translation), ...rotationToAngles(rotation) };
    return { ...face, positionMap, landmarks: readLandmarks(positionMap, this.layout), vertices: readVertices(positionMap, this.layout), pose };
  }

  /** The held face with this frame's own box and crop. */
  private withFrame(held: Face, face: Face): Face {
    return { ...held, index: face.index, box: face.box, crop: face.crop, flipDisagreement: face.flipDisagreement, keypointDisagreement: face.keypointDisagreement, suspect: face.suspect, inImage: face.inImage };
  }

  private rebuild(face: Face, data: Float32Array, dt = 0): Face {
    const positionMap = { size: this.layout.size, data: new Float32Array(data) };
    let vertices = readVertices(positionMap, this.layout);
    const pose = estimatePose(vertices, this.layout.canonical);
    if (this.rimPixels && dt > 0 && this.smoothRim(positionMap.data, pose, dt)) vertices = readVertices(positionMap, this.layout);
    return {
      ...face,
      positionMap,
      landmarks: readLandmarks(positionMap, this.layout),
      vertices,
      pose,
    };
  }

  /**
   * Low-passes the rim regions' shape in the head's frame (c = Rᵀ(x − t) / s), then puts them
   * back with this frame's pose, in place. Returns whether the map changed.
   */
  private smoothRim(map: Float32Array, pose: { rotation: ArrayLike<number>; scale: number; translation: readonly [number, number, number] }, dt: number): boolean {
    const px = this.rimPixels as Int32Array;
    const R = pose.rotation, s = pose.scale, [tx, ty, tz] = pose.translation;
    if (!(s > 0) || !Number.isFinite(s)) return false;
    const first = !this.rimShape;
    if (!this.rimShape) this.rimShape = new Float64Array(px.length * 3);
    const shape = this.rimShape;
    const a = smoothingFactor(this.options.rimCutoff, dt);
    for (let i = 0; i < px.length; i++) {
      const o = 3 * px[i];
      const x = map[o] - tx, y = map[o + 1] - ty, z = map[o + 2] - tz;
      // Rᵀ · (x, y, z) / s
      const cx = (R[0] * x + R[3] * y + R[6] * z) / s;
      const cy = (R[1] * x + R[4] * y + R[7] * z) / s;
      const cz = (R[2] * x + R[5] * y + R[8] * z) / s;
      const k = 3 * i;
      if (first) {
        shape[k] = cx; shape[k + 1] = cy; shape[k + 2] = cz;
      } else {
        shape[k] += a * (cx - shape[k]);
        shape[k + 1] += a * (cy - shape[k + 1]);
        shape[k + 2] += a * (cz - shape[k + 2]);
      }
      const u = shape[k], v = shape[k + 1], w = shape[k + 2];
      map[o] = s * (R[0] * u + R[1] * v + R[2] * w) + tx;
      map[o + 1] = s * (R[3] * u + R[4] * v + R[5] * w) + ty;
      map[o + 2] = s * (R[6] * u + R[7] * v + R[8] * w) + tz;
    }
    return true;
  }
}

/**
 * The weight of the pose's velocity at `excess` (≥ 0) speed over the noise floor: 1 from
 * trendSpeed × releaseSpeed up; always 1 when trendSpeed is 0 (a release speed of 0, before the
 * noise floor is known, does not turn the fade off).
 */
function trendWeight(excess: number, trendSpeed: number, releaseSpeed: number): number {
  if (!(trendSpeed > 0)) return 1;
  return Math.min(1, excess / Math.max(trendSpeed * releaseSpeed, 1e-12));
}

/** The cutoff (Hz) whose smoothing factor at time step dt is `a` (the inverse of smoothingFactor). */
function cutoffFor(a: number, dt: number): number {
  return a >= 1 ? Infinity : a / ((1 - a) * 2 * Math.PI * dt);
}

/** The row-major rotation matrix of a unit quaternion (w, x, y, z). */
export function rotationOf(q: ArrayLike<number>): Float64Array {
  const [w, x, y, z] = [q[0], q[1], q[2], q[3]];
  return Float64Array.of(
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  );
}

/**
 * A gap between frames (seconds) that restarts the filters when it is also over FRAME_GAP_FACTOR
 * times the source's usual frame interval (so a slow source, 1–2 frames/s, is still filtered).
 */
export const MAX_FRAME_GAP_S = 0.5;
/** How many usual frame intervals a gap must exceed to restart the filters (see MAX_FRAME_GAP_S). */
export const FRAME_GAP_FACTOR = 4;
/** The first step after a (re)start is bridged up to this long (no usual interval is known yet). */
const FIRST_GAP_S = 5;

/**
 * Options whose 0 passed the check and froze the output (a video's head pose at its first frame
 * for the whole clip) or all but stopped it following: refused, with what 0 would do.
 * `poseCutoffScale` only matters in the head frame.
 */
const FREEZES_AT_ZERO = {
  poseCutoffScale: 'the head pose would stay at its first frame (for raw results, stabilisation off)',
  derivativeCutoff: 'the speed would stay at its first estimate and the face lag far behind its motion',
} as const;

/**
 * The options with the defaults filled in, checked. Throws a RangeError naming the option for what
 * would silently switch a part of the filter off, freeze it or make it diverge: every number must
 * be finite and not negative (a NaN `settleTime` would never let the hold engage), `derivativeCutoff`
 * and (in the head frame) `poseCutoffScale` above 0, `minCutoff` and `beta` not both 0, `frame`
 * 'head' or 'image', and an unknown name is refused (a misspelt option would be ignored).
 */
export function resolveStabilizerOptions(options: StabilizerOptions = {}): Readonly<Required<StabilizerOptions>> {
  const o = Object.freeze({ ...DEFAULT_STABILIZER, ...stripUndefined(optionsObject(options, 'stabiliser options')) });
  for (const [k, v] of Object.entries(o)) {
    if (!Object.hasOwn(DEFAULT_STABILIZER, k)) throw new RangeError(`unknown stabiliser option '${k}' (known: ${Object.keys(DEFAULT_STABILIZER).join(', ')})`);
    if (k === 'frame') {
      if (v !== 'head' && v !== 'image') throw new RangeError(`stabiliser option frame must be 'head' or 'image', got ${shown(v)}`);
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`stabiliser option ${k} must be a finite number ≥ 0, got ${shown(v)}`);
    } else if (v === 0 && Object.hasOwn(FREEZES_AT_ZERO, k) && !(k === 'poseCutoffScale' && o.frame === 'image')) {
      throw new RangeError(`stabiliser option ${k} must be above 0, got 0: ${FREEZES_AT_ZERO[k as keyof typeof FREEZES_AT_ZERO]}`);
    }
  }
  if (o.minCutoff === 0 && o.beta === 0) throw new RangeError('stabiliser options minCutoff and beta cannot both be 0: the cutoff would be 0 at any speed, a face frozen at its first frame (for raw results, stabilisation off)');
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
