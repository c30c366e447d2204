/**
 * What every command of the CLI shares: exit codes, the usage error, option parsing (with the
 * limits that protect the machine), and turning an error into one line and an exit code. main.ts
 * dispatches to the commands; the commands import this module, not main.ts.
 */
import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig, type ParseArgsOptionDescriptor } from 'node:util';
import { InputError, ModelError, OutputError, PrnetError, escapeControl } from '../errors.js';
import { DETECTOR_KINDS, MIN_SCORE_FLOOR, type DetectorKind } from '../detect/detector.js';
import { MAX_SMOOTH } from '../geometry/smooth.js';
import type { TestTimeOptions } from '../pipeline/prnet.js';
import { nearestName } from '../util/nearest-name.js';

/**
 * Exit codes: 0 success · 1 some inputs failed · 2 bad arguments · 3 model or detector could not be
 * loaded · 4 an output could not be written · 69 Redis could not be reached (batch) · 70 internal
 * error · 75 `batch status --wait --timeout` ran out with jobs still to do (EX_TEMPFAIL) · 130/143
 * interrupted (SIGINT/SIGTERM).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, model: 3, output: 4, unavailable: 69, internal: 70, timedOut: 75, sigint: 130, sigterm: 143 } as const;

export class UsageError extends PrnetError {
  static override readonly errorName: string = 'UsageError';
}

/** Prints an error as one line and returns its exit code. */
export function reportError(e: unknown): number {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`prnet: ${escapeControl(msg.split('\n')[0])}\n`);
  const is = errorClasses(e);
  if (is.has(UsageError.errorName)) return EXIT.usage;
  if (is.has(ModelError.errorName)) return EXIT.model;
  if (is.has(OutputError.errorName)) return EXIT.output;
  // (by name: the batch module, and its optional packages, are not loaded here)
  if (is.has('QueueUnavailableError')) return EXIT.unavailable;
  if (is.has(InputError.errorName) || is.has(PrnetError.errorName)) return EXIT.failed;
  if (process.env.PRNET_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return EXIT.internal;
}

/**
 * The names of an error's classes, its own and its ancestors' (each class's errorName). By name,
 * not instanceof: `prnet eval` and `prnet data` run tools/ from source through tsx while the
 * installed CLI runs compiled, so their errors are instances of the source's copies of these
 * classes (a missing model read as an internal error, exit 70, instead of exit 3).
 */
export function errorClasses(e: unknown): Set<string> {
  const names = new Set<string>();
  if (!(e instanceof Error)) return names;
  for (let p: object | null = Object.getPrototypeOf(e) as object | null; p && p !== Error.prototype; p = Object.getPrototypeOf(p) as object | null) {
    const c = (p as { constructor?: { errorName?: unknown; name?: unknown } }).constructor;
    if (!c) continue;
    const own = Object.prototype.hasOwnProperty.call(c, 'errorName') ? c.errorName : c.name;
    if (typeof own === 'string') names.add(own);
  }
  return names;
}

export { nearestName };

/**
 * parseArgs with our errors: unknown or malformed options are usage errors. `elsewhere`: why an
 * option another command takes is not this one's (`threads: "the worker's --threads applies"`).
 */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true, elsewhere: Record<string, string> = {}) {
  // `--box -10,-10,50,50`: parseArgs calls a value that starts with '-' ambiguous; a negative
  // number after an option that takes a value is that option's value (written `--box=-10,…`).
  const valued = new Set<string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    valued.add(`--${name}`);
    if (o.short) valued.add(`-${o.short}`);
  }
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      joined.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (valued.has(a) && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else joined.push(a);
  }
  // `--no-x` for each switch `x`, as options of their own: parseArgs's allowNegative came in Node
  // 20.16, and on the Node 20.9–20.15 the package supports every `--no-` switch was an unknown option.
  const config: Record<string, ParseArgsOptionDescriptor> = { ...options };
  const negations = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== 'boolean' || Object.hasOwn(options, `no-${name}`)) continue;
    config[`no-${name}`] = { type: 'boolean' };
    negations.set(`no-${name}`, name);
  }
  const parsed = (() => {
    try {
      return parseArgs({ args: joined, options: config as T, allowPositionals, strict: true, tokens: true });
    } catch (e) {
      const { code, message } = e as NodeJS.ErrnoException;
      // An option without its value: Node's words name a short alias the help does not show.
      const missing = code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? /--([\w-]+) <value>' argument missing/.exec(message) : null;
      // The argument after the option (its long name, its short one, or a group of short flags
      // ending with it: `-qo -x`), where that argument starts with '-': a value left out.
      const hint = (long: string): string => {
        const short = options[long]?.short;
        const at = joined.findIndex((a, k) => (a === `--${long}` || (short !== undefined && /^-[^-]/.test(a) && a.endsWith(short))) && joined[k + 1]?.startsWith('-'));
        return at < 0 ? '' : ` (the next argument, '${escapeControl(joined[at + 1])}', starts with '-': a value that does is written --${long}=-…)`;
      };
      if (missing) throw new UsageError(`--${missing[1]} needs a value${hint(missing[1])}`);
      // `--frames -q`: Node calls the option's value ambiguous; it is a value left out.
      const ambiguous = code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? /^Option '(-{1,2}[\w-]+)' argument is ambiguous/.exec(message) : null;
      if (ambiguous) {
        const raw = ambiguous[1];
        const long = raw.startsWith('--') ? raw.slice(2) : Object.entries(options).find(([, o]) => o.short === raw.slice(1))?.[0] ?? raw.replace(/^-+/, '');
        throw new UsageError(`--${long} needs a value${hint(long)}`);
      }
      const unknown = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /Unknown option '([^']+)'/.exec(message) : null;
      if (unknown) {
        const names = Object.entries(options).flatMap(([name, o]) => (o.type === 'boolean' ? [`--${name}`, `--no-${name}`] : [`--${name}`]));
        const why = Object.hasOwn(elsewhere, unknown[1].replace(/^--/, '')) ? elsewhere[unknown[1].replace(/^--/, '')] : undefined;
        if (why) throw new UsageError(`Unknown option '${unknown[1]}' here: ${why}`);
        const near = nearestName(unknown[1], names);
        throw new UsageError(`Unknown option '${unknown[1]}'${near ? ` (did you mean '${near}'?)` : ''}`);
      }
      throw new UsageError(message.replace(/\. To specify a positional argument.*$/s, ''));
    }
  })();
  // A valued option given twice is a mistake, not "the last one wins": `--box a --box b` ran only
  // box b, `--formats json --formats ply` wrote only the PLY.
  const seen = new Map<string, string>();
  // A switch given with its negation is the same mistake (`--center --no-center` ran without
  // centring, the last one winning); the same switch repeated (`--center --center`, an alias's
  // flag given again) says one thing and is taken.
  const switched = new Map<string, boolean>();
  const values = parsed.values as Record<string, unknown>;
  for (const neg of negations.keys()) delete values[neg];
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    const negated = negations.get(t.name);
    if (negated !== undefined) t.name = negated;
    if (options[t.name]?.type === 'boolean') {
      const on = t.rawName !== `--no-${t.name}`;
      values[t.name] = on;
      const before = switched.get(t.name);
      if (before !== undefined && before !== on) throw new UsageError(`--${before ? '' : 'no-'}${t.name} and --${on ? '' : 'no-'}${t.name} are both given: give one`);
      switched.set(t.name, on);
      continue;
    }
    if (options[t.name]?.type !== 'string' || options[t.name]?.multiple) continue;
    const before = seen.get(t.name);
    if (before !== undefined) throw new UsageError(`--${t.name} is given twice ('${escapeControl(before)}' and '${escapeControl(t.value ?? '')}'): give it once`);
    seen.set(t.name, t.value ?? '');
  }
  // `--box=` or `--box "$UNSET"`: an empty value is a mistake, not "use the default".
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === '' || (Array.isArray(value) && value.includes(''))) throw new UsageError(`--${name} needs a value, got an empty one`);
  }
  return parsed;
}

/** `--detector kind`: one of the detectors this version has (DETECTOR_KINDS). */
export function detectorOption(value: string | undefined): DetectorKind | undefined {
  if (value === undefined) return undefined;
  if (!(DETECTOR_KINDS as readonly string[]).includes(value)) throw new UsageError(`--detector must be one of ${DETECTOR_KINDS.join(', ')}, got '${value}'`);
  return value as DetectorKind;
}

/**
 * A whole-number option, written in decimal digits: Number() alone also took '0x10', '1e3', '0b1'
 * and read a value of spaces as 0 (`--port ' '` listened on a random port).
 */
export function intOption(value: string | undefined, name: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got '${value}'`);
  return n;
}

/**
 * `--threads n`: a whole number from 1 to the cores of this machine (more threads than cores only
 * slow onnxruntime down, and tens of thousands of threads exhaust memory).
 */
export function threadsOption(value: string | undefined): number | undefined {
  const n = intOption(value, 'threads');
  const cores = availableParallelism();
  if (n !== undefined && n > cores) {
    throw new UsageError(`--threads must be between 1 and ${cores} (the cores of this machine), got '${value}'`);
  }
  return n;
}

/** A number in decimal notation only (not '0x2', '1e3' or ' '), else NaN. */
function decimal(value: string): number {
  return /^-?(\d+\.?\d*|\.\d+)$/.test(value) ? Number(value) : NaN;
}

/**
 * The --smooth option: σ of the position map's smoothing in UV pixels, 0 (the network's raw map)
 * to 8 (undefined when not given: the model's default, 256 / its input side).
 */
export function smoothOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = decimal(value);
  if (!Number.isFinite(n) || n < 0 || n > MAX_SMOOTH) throw new UsageError(`--smooth must be a number from 0 to ${MAX_SMOOTH} (UV pixels), got '${value}'`);
  return n;
}

/**
 * `--min-score s`: the lowest detector score a face is kept at, a number from 0.1 to 1 in decimal
 * notation (undefined when not given, or given as the default 0.5).
 */
export function minScoreOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = decimal(value);
  if (!(n >= MIN_SCORE_FLOOR && n <= 1)) throw new UsageError(`--min-score must be a number from ${MIN_SCORE_FLOOR} to 1, got '${value}'`);
  // The default given explicitly is the default: a --resume key or a batch job id stays the same.
  return n === 0.5 ? undefined : n;
}

/**
 * How to go on past the decoder's refusal of an image over the pixel limit (' (--max-pixels n raises
 * it)'), for the commands that take --max-pixels; '' for any other error or when it was given.
 */
export function pixelLimitHint(e: unknown, maxPixels: number | undefined): string {
  const over = e instanceof InputError && /: image is \d+×\d+ = .* megapixels, above the limit of /.test(e.message);
  return over && maxPixels === undefined ? ' (--max-pixels n raises it)' : '';
}

/** `--no-flip` and `--smooth σ`: the library's test-time options, as reconstruct, batch submit and eval parse them. */
export const TEST_TIME_OPTIONS = { flip: { type: 'boolean' }, smooth: { type: 'string' } } as const;

/**
 * The library's `flip` and `smooth` from TEST_TIME_OPTIONS' values: flip is false only when
 * --no-flip was given (absent otherwise, so a batch job without it keeps its former id).
 */
export function testTimeOptions(values: { flip?: boolean; smooth?: string }): TestTimeOptions {
  return { flip: values.flip === false ? false : undefined, smooth: smoothOption(values.smooth) };
}

/** The --precision option: fp32 or int8 (undefined when not given). */
export function precisionOption(value: string | undefined): 'fp32' | 'int8' | undefined {
  if (value === undefined) return undefined;
  if (value !== 'fp32' && value !== 'int8') throw new UsageError(`--precision must be fp32 or int8, got '${value}'`);
  return value;
}
