/**
 * The `prnet` command. Parses arguments, runs the library, writes files atomically, reports
 * progress on stderr and turns errors into one line and an exit code:
 * 0 success · 1 some inputs failed · 2 bad arguments · 3 model or detector could not be loaded ·
 * 4 an output could not be written · 70 internal error · 130/143 interrupted (SIGINT/SIGTERM).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { InputError, ModelError, OutputError, PrnetError, escapeControl } from '../errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, model: 3, output: 4, internal: 70, sigint: 130, sigterm: 143 } as const;

export class UsageError extends PrnetError {}

const HELP = `prnet — 3D face reconstruction and dense alignment (PRNet) in TypeScript

Usage:
  prnet reconstruct <image|folder>... --out <dir> [options]
      Finds every face, reconstructs it, writes per face: JSON (box, 68 landmarks 2D/3D, pose),
      OBJ with vertex colours, OBJ+MTL+PNG UV texture, PLY, GLB; per image: depth PNG and
      overlays (landmarks, pose box, mesh).
      --model <file|default|light>  model weights (default: the bundled default model)
      --box x,y,w,h                 use this face box instead of the detector (one image)
      --formats a,b,…               only these outputs: ${'json,obj,textured,ply,glb,depth,overlay'}
      --no-<format>                 skip one output (e.g. --no-ply)
      --max-faces <n>               at most n faces per image (largest first)
      --detector <kind>             blazeface (default), or for comparison blazeface-mesh,
                                    ssd-mobilenet, tiny-face (need @vladmandic/human / face-api)
      --threads <n>                 network threads (1 to the number of cores)
      --quiet                       no progress or summary
  prnet swap --source <a> --target <b> --out <c.png> [--eyes] [--no-blend] [--model m]
      Puts a's face texture onto b's face (b's geometry and lighting seams blended);
      --eyes keeps b's own eyes; --no-blend pastes the face without Poisson blending.
  prnet import-checkpoint <prefix> --out <model.safetensors> [--f32]
      Converts the official PRNet TensorFlow checkpoint (<prefix>.index + <prefix>.data-00000-of-00001).
  prnet eval aflw2000 <dir> [--json] [--gt-box] [--model m] [--detector kind] [--no-peers]
      68-point NME (2D/3D) on AFLW2000-3D images with .mat ground truth, with 3DDFA_V2 and FaceMesh.
  prnet data label [--set eval|utkface|misc|all] [--limit n] [--workers k]
      Labels training photos with the teachers (resumable; cache in ~/.cache/prnet-ts).
  prnet --help | --version

Exit codes: 0 ok · 1 some inputs failed · 2 bad arguments · 3 the model or detector could not be
loaded · 4 an output could not be written · 70 internal error · 130/143 interrupted.
Negative numbers as option values: --box=-10,-10,50,50 or --box -10,-10,50,50.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(HELP);
        return command === undefined ? EXIT.usage : EXIT.ok;
      case '-v':
      case '--version':
        process.stdout.write(`${version()}\n`);
        return EXIT.ok;
      // Each command is loaded when asked for: start-up stays short, and the development tools
      // (eval, data) load packages the library itself does not need.
      case 'reconstruct':
        return await (await import('./reconstruct.js')).runReconstruct(rest);
      case 'swap':
        return await (await import('./swap.js')).runSwap(rest);
      case 'import-checkpoint':
        return await (await import('./import-checkpoint.js')).runImportCheckpoint(rest);
      case 'eval':
        return await (await import('./eval.js')).runEval(rest);
      case 'data':
        return await (await import('./data.js')).runData(rest);
      default:
        throw new UsageError(`unknown command '${command}' (see prnet --help)`);
    }
  } catch (e) {
    return reportError(e);
  }
}

/** Prints an error as one line and returns its exit code. */
export function reportError(e: unknown): number {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`prnet: ${escapeControl(msg.split('\n')[0])}\n`);
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof ModelError) return EXIT.model;
  if (e instanceof OutputError) return EXIT.output;
  if (e instanceof InputError) return EXIT.failed;
  if (e instanceof PrnetError) return EXIT.failed;
  if (process.env.PRNET_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return EXIT.internal;
}

/** parseArgs with our errors: unknown or malformed options are usage errors. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true) {
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
  try {
    return parseArgs({ args: joined, options, allowPositionals, strict: true, allowNegative: true });
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

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}
