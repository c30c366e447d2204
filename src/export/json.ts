/**
 * JSON output: a stable number format for results. Every number is rounded to a fixed number of
 * decimals (3 by default; scale factors such as `unitsPerPixel` to 7 significant digits); NaN and ±Infinity become null (JSON has no NaN); −0 becomes 0; typed
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

/** A plain object (a face result, a list of them) as pretty JSON with rounded numbers, ending in a newline. */
export function toJson(value: unknown, options: JsonOptions = {}): string {
  options ??= {};
  // as the OBJ writer: -1 rounded to tens, NaN or 400 did not round at all
  const decimals = checkDecimals(options.decimals ?? 3);
  const significant = options.significantKeys ?? SCALE_KEYS;
  const replacer = (key: string, v: unknown): unknown => {
    if (typeof v === 'number') return significant.has(key) && Number.isFinite(v) ? Number(v.toPrecision(7)) : roundNumber(v, decimals);
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x));
    }
    return v;
  };
  return JSON.stringify(value, replacer, options.indent ?? 2) + '\n';
}
