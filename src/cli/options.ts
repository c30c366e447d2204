/**
 * What every command of the CLI shares: exit codes, the usage error, option parsing, and turning
 * an error into one line and an exit code. (main.ts dispatches to the commands; the commands import
 * this module, not main.ts.)
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError, ModelError, PrnetError } from '../errors.js';

/** Exit codes: 0 success · 1 some inputs failed · 2 bad arguments · 3 model or detector could not be loaded · 70 internal error. */
export const EXIT = { ok: 0, failed: 1, usage: 2, model: 3, internal: 70 } as const;

export class UsageError extends PrnetError {}

/** Prints an error as one line and returns its exit code. */
export function reportError(e: unknown): number {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`prnet: ${msg.split('\n')[0]}\n`);
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof ModelError) return EXIT.model;
  if (e instanceof InputError) return EXIT.failed;
  if (e instanceof PrnetError) return EXIT.failed;
  if (process.env.PRNET_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return EXIT.internal;
}

/** parseArgs with our errors: unknown or malformed options are usage errors. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true, allowNegative: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function intOption(value: string | undefined, name: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got '${value}'`);
  return n;
}
