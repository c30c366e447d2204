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
import { wrapAngle, type CropSquare } from '../crop/index.js';
import { smoothingFactor } from './one-euro.js';
import { checkKnownKeys, checkNumbers, optionsObject } from './options.js';

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
}

export const DEFAULT_CROP_SMOOTHING: Readonly<Required<CropSmoothingOptions>> = Object.freeze({
  deadband: 0.01,
  minCutoff: 2,
  beta: 40,
  derivativeCutoff: 1,
  bandSpeed: 0.1,
});

interface State {
  square: CropSquare;
  target: CropSquare;
  speed: number;
  time: number;
}

/** The crop of one track over time (see the file comment). */
export class CropSmoother {
  readonly options: Readonly<Required<CropSmoothingOptions>>;
  private state: State | null = null;
  private previous: State | null = null;
  private frame = 0;

  constructor(options: CropSmoothingOptions = {}) {
    const set = Object.fromEntries(Object.entries(checkCropSmoothing(options)).filter(([, v]) => v !== undefined));
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
      this.state = valid(target) ? { square: { ...target }, target: { ...target }, speed: 0, time } : s;
      return { ...(this.state ? this.state.square : target) };
    }
    const o = this.options;
    const side = s.square.side;
    // The target's speed, crop sides per second, low-passed.
    // Angles (a rolled face's crop turns with it) count as radians, alongside offsets in crop sides.
    const v = Math.hypot(target.cx - s.target.cx, target.cy - s.target.cy, side * Math.log(target.side / s.target.side), side * turn(s.target, target)) / side / dt;
    const speed = s.speed + smoothingFactor(o.derivativeCutoff, dt) * (v - s.speed);
    // The offset from the crop, and the part of it beyond the dead band.
    const dx = (target.cx - s.square.cx) / side, dy = (target.cy - s.square.cy) / side, ds = Math.log(target.side / side);
    const da = turn(s.square, target);
    const d = Math.hypot(dx, dy, ds, da);
    // The dead band narrows as the face moves (it is there for jitter, not to trail motion).
    const band = speed > o.bandSpeed ? (o.deadband * o.bandSpeed) / speed : o.deadband;
    let square = s.square;
    if (d > band) {
      const k = smoothingFactor(o.minCutoff + o.beta * speed, dt) * (1 - band / d);
      square = { cx: s.square.cx + k * dx * side, cy: s.square.cy + k * dy * side, side: side * Math.exp(k * ds) };
      // kept within (−π, π], as every roll is (a turn through ±180° would leave it at 2π)
      const angle = wrapAngle((s.square.angle ?? 0) + k * da);
      if (angle !== 0) square.angle = angle;
    }
    // An upright target within the band of an upright crop: upright (its faster resampling).
    if (!target.angle && square.angle && Math.abs(square.angle) <= band) {
      square = { cx: square.cx, cy: square.cy, side: square.side };
    }
    this.state = { square, target: { ...target }, speed, time };
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

const CROP_SMOOTHING_RULES = { deadband: 'nonnegative', minCutoff: 'positive', beta: 'nonnegative', derivativeCutoff: 'positive', bandSpeed: 'positive' } as const;

/** CropSmoothingOptions checked (RangeError): a NaN minCutoff gave NaN crops, a negative deadband overshot. */
export function checkCropSmoothing(options: CropSmoothingOptions | null | undefined): CropSmoothingOptions {
  const o = optionsObject(options, 'crop smoothing options');
  checkKnownKeys(o, Object.keys(CROP_SMOOTHING_RULES), 'crop smoothing option');
  checkNumbers(o as Record<string, unknown>, CROP_SMOOTHING_RULES, 'crop smoothing option');
  return o;
}

function valid(s: CropSquare): boolean {
  return Number.isFinite(s.cx) && Number.isFinite(s.cy) && s.side > 0 && Number.isFinite(s.side) && Number.isFinite(s.angle ?? 0);
}

/** The turn (radians, −π..π) from a square's angle to another's. */
function turn(from: CropSquare, to: CropSquare): number {
  return wrapAngle((to.angle ?? 0) - (from.angle ?? 0));
}
