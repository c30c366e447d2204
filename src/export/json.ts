/**
 * JSON output: a stable number format for results. Every number is rounded to a fixed number of
 * decimals (3 by default; scale factors such as `unitsPerPixel` to 7 significant digits, rotations
 * and pose matrices to 6 decimals); NaN and ±Infinity become null (JSON has no NaN); −0 becomes 0; typed
 * arrays are written as plain arrays. Keys keep their insertion order.
 */
import { checkDecimals } from './text.js';

/** x rounded to `decimals` decimals, or null when x is not finite. */
export function roundNumber(x: number, decimals = 3): number | null {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** decimals;
  const r = Math.round(x * f) / f;
  // Very large values overflow x·f: keep them as they are.
  const v = Number.isFinite(r) ? r : x;
  return v === 0 ? 0 : v;
}

export interface JsonOptions {
  /** Decimals kept (default 3). */
  decimals?: number;
  /** Indentation (default 2; 0 for one line). */
  indent?: number;
  /**
   * Keys whose numbers keep 7 significant digits instead of fixed decimals: scale factors, whose
   * relative precision a fixed number of decimals loses as they get small (default: `unitsPerPixel`).
   */
  significantKeys?: ReadonlySet<string>;
}

const SCALE_KEYS: ReadonlySet<string> = new Set(['unitsPerPixel']);

/**
 * Keys whose arrays (nested ones too) keep ROTATION_DECIMALS: rotations and pose matrices, whose
 * entries are cosines (3 decimals left a rotation's determinant 1 ± 5e-4, its rows off square).
 */
const FINE_KEYS: ReadonlySet<string> = new Set(['rotation', 'matrix']);
/** The decimals of rotations and pose matrices (toJson's FINE_KEYS; the video JSONL's rotation too). */
export const ROTATION_DECIMALS = 6;

/** A plain object (a face result, a list of them) as pretty JSON with rounded numbers, ending in a newline. */
export function toJson(value: unknown, options: JsonOptions = {}): string {
  options ??= {};
  // as the OBJ writer: -1 rounded to tens, NaN or 400 did not round at all
  const decimals = checkDecimals(options.decimals ?? 3);
  const significant = options.significantKeys ?? SCALE_KEYS;
  /** The arrays under a FINE_KEYS key, whose numbers keep more decimals (the replacer sees each number's array as `this`). */
  const fine = new WeakSet<object>();
  const finer = Math.max(decimals, ROTATION_DECIMALS);
  const replacer = function (this: unknown, key: string, v: unknown): unknown {
    if (typeof v === 'number') {
      if (fine.has(this as object)) return roundNumber(v, finer);
      return significant.has(key) && Number.isFinite(v) ? Number(v.toPrecision(7)) : roundNumber(v, decimals);
    }
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      v = Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x));
    }
    if (Array.isArray(v) && (FINE_KEYS.has(key) || fine.has(this as object))) fine.add(v);
    return v;
  };
  return JSON.stringify(value, replacer, options.indent ?? 2) + '\n';
}
