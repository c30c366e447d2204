/**
 * Option checks shared by the tracking classes (RangeError naming the option): an options object
 * (null or undefined is none), no unknown keys (a misspelt `mincutoff` or `detectEvery` used to be
 * ignored), and numbers that are numbers (a string '0.5' slipped through the range checks).
 */
export type NumberRule = 'positive' | 'nonnegative' | 'unit' | 'whole' | 'wholeNonnegative' | 'atLeastOne';

const RULES: Record<NumberRule, [string, (v: number) => boolean]> = {
  positive: ['a finite number > 0', (v) => v > 0 && Number.isFinite(v)],
  nonnegative: ['a finite number ≥ 0', (v) => v >= 0 && Number.isFinite(v)],
  unit: ['a number from 0 to 1', (v) => v >= 0 && v <= 1],
  whole: ['a whole number ≥ 1', (v) => Number.isInteger(v) && v >= 1],
  wholeNonnegative: ['a whole number ≥ 0', (v) => Number.isInteger(v) && v >= 0],
  atLeastOne: ['a finite number ≥ 1', (v) => v >= 1 && Number.isFinite(v)],
};

import { InputError, shownValue } from '../errors.js';
import { nearestName } from '../util/nearest-name.js';

/** A value as an error shows it (errors.ts shownValue: strings quoted, so '3' does not read as 3). */
export const shown = shownValue;

/** The options object itself: null/undefined → {}, anything but a plain object → RangeError. */
export function optionsObject<T extends object>(options: T | null | undefined, what: string): T {
  if (options === null || options === undefined) return {} as T;
  if (typeof options !== 'object' || Array.isArray(options)) throw new RangeError(`${what} must be an object, got ${shown(options)}`);
  return options;
}

/**
 * Refuses keys other than `known`, with a hint for a near key (util/nearest-name.ts: `maxFace` for
 * `maxFaces`, `mincutoff` for `minCutoff`) or one of `aliases`.
 */
export function checkKnownKeys(options: object, known: readonly string[], what: string, aliases: Record<string, string> = {}): void {
  for (const k of Object.keys(options)) {
    if (known.includes(k)) continue;
    const hint = aliases[k] ?? nearestName(k, known);
    throw new RangeError(`unknown ${what} '${k}'${hint ? ` (did you mean '${hint}'?)` : ''} (known: ${known.join(', ')})`);
  }
}

/**
 * checkKnownKeys for an API's options object, as an InputError (the pipeline's and the detector's
 * options; the tracking modules throw RangeError): keys left undefined are no options.
 */
export function checkKnownOptions(options: object, known: readonly string[], what: string, aliases: Record<string, string> = {}): void {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  try {
    checkKnownKeys(given, known, what, aliases);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

/** The named switches of `options` that are set (not undefined) are true or false: InputError otherwise ('no' is not false). `what` prefixes the name in the message ('' for none). */
export function checkBooleans(options: object, names: readonly string[], what = ''): void {
  for (const name of names) {
    const v = (options as Record<string, unknown>)[name];
    if (v !== undefined && typeof v !== 'boolean') throw new InputError(`${what ? `${what} ` : ''}${name} must be true or false, got ${shown(v)}`);
  }
}

/** Checks the named numbers of `options` that are set (not undefined) against their rules. */
export function checkNumbers(options: Record<string, unknown>, rules: Record<string, NumberRule>, what: string): void {
  for (const [name, rule] of Object.entries(rules)) {
    const v = options[name];
    if (v === undefined) continue;
    const [text, ok] = RULES[rule];
    if (typeof v !== 'number' || !ok(v)) throw new RangeError(`${what} ${name} must be ${text}, got ${shown(v)}`);
  }
}
