/**
 * The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): a first-order low-pass filter whose
 * cutoff frequency rises with the signal's speed, so that slow or still signals are smoothed
 * hard (little jitter) and fast ones lightly (little lag):
 *
 *   α(fc, dt) = 1 / (1 + τ/dt),  τ = 1 / (2π·fc)
 *   ẋ = (x − x̂₋₁)/dt,  ẋ̂ = ẋ̂₋₁ + α(dCutoff, dt)·(ẋ − ẋ̂₋₁)
 *   fc = minCutoff + beta·|ẋ̂|,  x̂ = x̂₋₁ + α(fc, dt)·(x − x̂₋₁)
 *
 * Times are in seconds, frequencies in Hz. `OneEuroFilter` filters one number; `OneEuroVector`
 * filters every coordinate of an array independently (its own state per coordinate), with either
 * its own speed per coordinate (the classic filter) or one speed given by the caller for all.
 */

import { checkKnownKeys, checkNumbers, optionsObject, shown } from './options.js';

export interface OneEuroOptions {
  /** Cutoff (Hz) at zero speed: lower = smoother when slow. Default 1. */
  minCutoff?: number;
  /** Cutoff increase (Hz) per unit of speed (signal units per second). Default 0. */
  beta?: number;
  /** Cutoff (Hz) of the speed's own low-pass. Default 1. */
  derivativeCutoff?: number;
}

const ONE_EURO_RULES = { minCutoff: 'positive', beta: 'nonnegative', derivativeCutoff: 'positive' } as const;

/** OneEuroOptions checked (RangeError): a NaN cutoff made every output NaN, a negative beta froze it. */
function checkOneEuro(options: OneEuroOptions | null | undefined): OneEuroOptions {
  const o = optionsObject(options, 'One-Euro options');
  checkKnownKeys(o, Object.keys(ONE_EURO_RULES), 'One-Euro option');
  checkNumbers(o as Record<string, unknown>, ONE_EURO_RULES, 'One-Euro option');
  return o;
}

/** The low-pass weight of a new sample for a cutoff (Hz) and a time step (s). */
export function smoothingFactor(cutoff: number, dt: number): number {
  if (!(dt > 0)) return 1;
  const tau = 1 / (2 * Math.PI * Math.max(cutoff, 1e-9));
  return 1 / (1 + tau / dt);
}

/** The One-Euro filter over one number. */
export class OneEuroFilter {
  readonly minCutoff: number;
  readonly beta: number;
  readonly derivativeCutoff: number;
  private x = 0;
  private dx = 0;
  private t = 0;
  private started = false;

  constructor(options: OneEuroOptions = {}) {
    options = checkOneEuro(options);
    this.minCutoff = options.minCutoff ?? 1;
    this.beta = options.beta ?? 0;
    this.derivativeCutoff = options.derivativeCutoff ?? 1;
  }

  /**
   * Filters a sample taken at time `t` (seconds); the first sample passes through. A time that
   * does not advance, or a value that is not finite, leaves the output as it is.
   */
  filter(value: number, t: number): number {
    if (!Number.isFinite(t)) throw new RangeError(`the time must be a finite number of seconds, got ${shown(t)}`);
    if (!Number.isFinite(value)) return this.started ? this.x : NaN; // nothing to say before a first real sample
    if (!this.started || !(t > this.t)) {
      if (!this.started) {
        this.started = true;
        this.x = value;
        this.dx = 0;
        this.t = t;
      }
      return this.x;
    }
    const dt = t - this.t;
    this.t = t;
    const rawSpeed = (value - this.x) / dt;
    this.dx += smoothingFactor(this.derivativeCutoff, dt) * (rawSpeed - this.dx);
    const cutoff = this.minCutoff + this.beta * Math.abs(this.dx);
    this.x += smoothingFactor(cutoff, dt) * (value - this.x);
    return this.x;
  }

  /** The filtered speed (units per second) after the last sample. */
  get speed(): number {
    return this.dx;
  }

  reset(): void {
    this.started = false;
  }
}

/**
 * The One-Euro filter over every coordinate of a fixed-length array. `filter` returns the
 * filter's own state array (do not keep it across calls: copy it).
 */
export class OneEuroVector {
  readonly length: number;
  readonly minCutoff: number;
  readonly beta: number;
  readonly derivativeCutoff: number;
  private readonly x: Float32Array;
  private readonly dx: Float32Array;
  private t = 0;
  private started = false;

  constructor(length: number, options: OneEuroOptions = {}) {
    if (!(Number.isInteger(length) && length >= 0)) throw new RangeError(`the vector length must be a whole number ≥ 0, got ${shown(length)}`);
    options = checkOneEuro(options);
    this.length = length;
    this.minCutoff = options.minCutoff ?? 1;
    this.beta = options.beta ?? 0;
    this.derivativeCutoff = options.derivativeCutoff ?? 1;
    this.x = new Float32Array(length);
    this.dx = new Float32Array(length);
  }

  /**
   * Filters a sample taken at time `t` (seconds). With `cutoff` given, every coordinate uses that
   * cutoff (Hz) instead of its own speed's (the caller's shared speed decides it); a cutoff of 0
   * freezes the values. The first sample passes through.
   */
  filter(values: ArrayLike<number>, t: number, cutoff?: number): Float32Array {
    if (values.length !== this.length) throw new RangeError(`expected ${this.length} values, got ${values.length}`);
    if (!Number.isFinite(t)) throw new RangeError(`the time must be a finite number of seconds, got ${shown(t)}`);
    const x = this.x;
    if (!this.started) {
      this.started = true;
      this.t = t;
      for (let i = 0; i < x.length; i++) x[i] = values[i];
      this.dx.fill(0);
      return x;
    }
    if (!(t > this.t)) return x;
    const dt = t - this.t;
    this.t = t;
    if (cutoff !== undefined) {
      if (!(cutoff > 0)) return x; // frozen: time advances, values stay
      const a = smoothingFactor(cutoff, dt);
      for (let i = 0; i < x.length; i++) x[i] += a * (values[i] - x[i]);
      return x;
    }
    const ad = smoothingFactor(this.derivativeCutoff, dt);
    const dx = this.dx;
    for (let i = 0; i < x.length; i++) {
      const v = values[i];
      dx[i] += ad * ((v - x[i]) / dt - dx[i]);
      x[i] += smoothingFactor(this.minCutoff + this.beta * Math.abs(dx[i]), dt) * (v - x[i]);
    }
    return x;
  }

  /** The filter's current output (the last `filter` result). */
  get value(): Float32Array {
    return this.x;
  }

  get isStarted(): boolean {
    return this.started;
  }

  reset(): void {
    this.started = false;
  }
}
