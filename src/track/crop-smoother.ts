/**
 * Temporal consistency of a track's crop. Each frame's crop square would otherwise come straight
 * from the previous frame's landmarks, so their jitter moves the next frame's square by a
 * fraction of a pixel to a pixel, the network sees a shifted input and answers with shifted
 * output: the landmarks' jitter feeds itself through the crop. Here the landmarks' square is a
 * target that the crop follows through
 *
 * - a soft dead band: offsets (centre and log-size, in crop sides) within `deadband` of the
 *   current crop do not move it; beyond, only the excess is followed. On a still face the crop
 *   stays exactly where it is (the network's input differs only by the image's own noise). Above
 *   `bandSpeed` the band narrows in inverse proportion to the target's speed, so a moving face's crop trails
 *   it by a small fraction of the band (a weak model's output leans towards its crop's centre, so
 *   a trailing crop would make it lag);
 * - a One-Euro-style low-pass of that excess, whose cutoff rises with the target's speed
 *   (`minCutoff` + `beta` × speed in crop sides per second), so fast motion is followed at once.
 *
 * The crop only decides where the network looks: the output's position comes from the network,
 * so trailing the face by a percent of the crop adds no lag to the results.
 */
import type { CropSquare } from '../crop/index.js';
import { smoothingFactor } from './one-euro.js';

export interface CropSmoothingOptions {
  /** Offset (crop sides; log-ratio for the size) under which the crop stays. Default 0.01. */
  deadband?: number;
  /** Cutoff (Hz) of the low-pass at rest. Default 2. */
  minCutoff?: number;
  /** Cutoff increase (Hz) per crop side per second of the target's speed. Default 40. */
  beta?: number;
  /** Cutoff (Hz) of the low-pass on the target's speed (low: the landmarks' jitter averages out). Default 1. */
  derivativeCutoff?: number;
  /** Target speed (crop sides per second) above which the dead band narrows (in inverse proportion to the speed). Default 0.1. */
  bandSpeed?: number;
  /**
   * Frames by which the crop leads the target along the target's velocity (low-passed at
   * `predictCutoff`): the crop is aimed at where the face will be in the frame it is used for,
   * not where it was. Default 0.
   */
  predict?: number;
  /** Cutoff (Hz) of the low-pass on the target's velocity for `predict`. Default 3. */
  predictCutoff?: number;
  /**
   * At rest the dead band is at least this many times the target's own jitter (its std per
   * coordinate, estimated online from second differences), fading to `deadband` as the target's
   * speed (taken above the floor jitter puts under it) reaches `bandSpeed`: a noisy model's still
   * face keeps its crop still too. Default 3.
   */
  noiseMargin?: number;
}

export const DEFAULT_CROP_SMOOTHING: Readonly<Required<CropSmoothingOptions>> = Object.freeze({
  deadband: 0.01,
  minCutoff: 2,
  beta: 40,
  derivativeCutoff: 1,
  bandSpeed: 0.1,
  predict: 0,
  predictCutoff: 3,
  noiseMargin: 3,
});

interface State {
  square: CropSquare;
  target: CropSquare;
  speed: number;
  /** The target's low-passed velocity: centre x, y (pixels per second) and log-side per second. */
  velocity: [number, number, number];
  /** The same in crop sides per second, low-passed at derivativeCutoff (its magnitude is `speed`). */
  slow: [number, number, number];
  /** The target's previous frame (for second differences), and its jitter variance per coordinate (crop sides²). */
  older: CropSquare | null;
  noiseVar: number;
  time: number;
}

/** The crop of one track over time (see the file comment). */
export class CropSmoother {
  readonly options: Readonly<Required<CropSmoothingOptions>>;
  private state: State | null = null;
  private previous: State | null = null;
  private frame = 0;

  constructor(options: CropSmoothingOptions = {}) {
    const set = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = Object.freeze({ ...DEFAULT_CROP_SMOOTHING, ...set });
  }

  /**
   * The crop for a new target square at `timeMs` (milliseconds; default: frames at 30 per
   * second). The first target is taken as it is.
   */
  update(target: CropSquare, timeMs?: number): CropSquare {
    const time = (timeMs ?? (1000 * this.frame) / 30) / 1000;
    this.frame++;
    this.previous = this.state;
    const s = this.state;
    const dt = s ? time - s.time : 0;
    if (!s || !(dt > 0) || !valid(target)) {
      this.state = valid(target) ? { square: { ...target }, target: { ...target }, speed: 0, velocity: [0, 0, 0], slow: [0, 0, 0], older: null, noiseVar: NaN, time } : s;
      return { ...(this.state ? this.state.square : target) };
    }
    const o = this.options;
    const side = s.square.side;
    // The target's jitter: its second differences (cx, cy in crop sides, log side) / 6 per
    // coordinate, averaged over about a second; a jolt counts as at most 4 × the estimate.
    let noiseVar = s.noiseVar;
    if (s.older) {
      const e = (target.cx - 2 * s.target.cx + s.older.cx) / side, f = (target.cy - 2 * s.target.cy + s.older.cy) / side;
      const g = Math.log(target.side / s.target.side) - Math.log(s.target.side / s.older.side);
      const v = (e * e + f * f + g * g) / 18;
      noiseVar = Number.isFinite(noiseVar) ? noiseVar + Math.min(1, dt) * (Math.min(v, 4 * noiseVar) - noiseVar) : v;
    }
    const sigma = Number.isFinite(noiseVar) ? Math.sqrt(noiseVar) : 0;
    // The target's speed, crop sides per second, low-passed, and the floor its jitter puts under it
    // (white noise σ per coordinate, 3 coordinates, through the speed's low-pass).
    // The velocity is low-passed as a vector (jitter averages out), its magnitude is the speed.
    const ad = smoothingFactor(o.derivativeCutoff, dt);
    const sv: [number, number, number] = [
      s.slow[0] + ad * ((target.cx - s.target.cx) / side / dt - s.slow[0]),
      s.slow[1] + ad * ((target.cy - s.target.cy) / side / dt - s.slow[1]),
      s.slow[2] + ad * (Math.log(target.side / s.target.side) / dt - s.slow[2]),
    ];
    const speed = Math.hypot(sv[0], sv[1], sv[2]);
    const speedFloor = (2 * ad * sigma * Math.sqrt(3)) / (dt * Math.sqrt(2 - ad));
    const moving = Math.max(0, speed - speedFloor);
    // The target's velocity, low-passed, and the target moved ahead along it by `predict` frames.
    const ap = smoothingFactor(o.predictCutoff, dt);
    const vel: [number, number, number] = [
      s.velocity[0] + ap * ((target.cx - s.target.cx) / dt - s.velocity[0]),
      s.velocity[1] + ap * ((target.cy - s.target.cy) / dt - s.velocity[1]),
      s.velocity[2] + ap * (Math.log(target.side / s.target.side) / dt - s.velocity[2]),
    ];
    const lead = o.predict * dt;
    // The offset from the crop, and the part of it beyond the dead band.
    const dx = (target.cx + lead * vel[0] - s.square.cx) / side, dy = (target.cy + lead * vel[1] - s.square.cy) / side;
    const ds = Math.log(target.side / side) + lead * vel[2];
    const d = Math.hypot(dx, dy, ds);
    // The dead band: at rest at least noiseMargin × the jitter, that part fading out as the face
    // speeds up to bandSpeed (a band wider than 1 % would make a weak model's output trail its
    // crop), and above bandSpeed narrowing in inverse proportion to the speed: it is there for
    // jitter, not to trail motion.
    const band0 = o.deadband + Math.max(0, o.noiseMargin * sigma - o.deadband) * Math.max(0, 1 - moving / o.bandSpeed);
    const band = moving > o.bandSpeed ? (band0 * o.bandSpeed) / moving : band0;
    let square = s.square;
    if (d > band) {
      const k = smoothingFactor(o.minCutoff + o.beta * moving, dt) * (1 - band / d);
      square = { cx: s.square.cx + k * dx * side, cy: s.square.cy + k * dy * side, side: side * Math.exp(k * ds) };
    }
    this.state = { square, target: { ...target }, speed, velocity: vel, slow: sv, older: { ...s.target }, noiseVar, time };
    return { ...square };
  }

  /** Forgets the last update (to redo it with another target of the same frame). */
  undo(): void {
    if (this.frame === 0) return;
    this.state = this.previous;
    this.frame--;
  }

  reset(): void {
    this.state = null;
    this.previous = null;
    this.frame = 0;
  }
}

function valid(s: CropSquare): boolean {
  return Number.isFinite(s.cx) && Number.isFinite(s.cy) && s.side > 0 && Number.isFinite(s.side);
}
