/**
 * The `prnet` command. Parses arguments, runs the library, writes files atomically, reports
 * progress on stderr and turns errors into one line and an exit code:
 * 0 success · 1 some inputs failed · 2 bad arguments · 3 model or detector could not be loaded.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { InputError, ModelError, PrnetError } from '../errors.js';
import { runReconstruct } from './reconstruct.js';
import { runSwap } from './swap.js';
import { runImportCheckpoint } from './import-checkpoint.js';
import { runEval } from './eval.js';
import { runData } from './data.js';
import { runServe } from './serve.js';
import { runBatch } from './batch.js';
import { runWorker } from './worker.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, model: 3, internal: 70 } as const;

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
      --detector <kind>             blazeface-mesh (default), blazeface, ssd-mobilenet, tiny-face
      --threads <n>                 network threads
      --quiet                       no progress or summary
  prnet swap --source <a> --target <b> --out <c.png> [--eyes] [--no-blend] [--model m]
      Puts a's face texture onto b's face (b's geometry and lighting seams blended);
      --eyes keeps b's own eyes; --no-blend pastes the face without Poisson blending.
  prnet import-checkpoint <prefix> --out <model.safetensors> [--f32]
      Converts the official PRNet TensorFlow checkpoint (<prefix>.index + <prefix>.data-00000-of-00001).
  prnet eval aflw2000 <dir> [--json] [--gt-box] [--model m] [--no-peers]
      68-point NME (2D/3D) on AFLW2000-3D images with .mat ground truth, with 3DDFA_V2 and FaceMesh.
  prnet data label [--set eval|utkface|misc|all] [--limit n] [--workers k]
      Labels training photos with the teachers (resumable; cache in ~/.cache/prnet-ts).
  prnet serve [--host 127.0.0.1] [--port 8080] [--workers n] [--models default,light]
      HTTP service: POST /v1/reconstruct (image body or multipart 'file') → {"faces": […]}, or a
      mesh with ?format=glb|obj|ply; /healthz, /readyz, /metrics, /openapi.json (docs/serve.md).
      --max-body-mb <n> (20) · --max-queue <n> (8 per worker) · --timeout <s> (30) · --threads <n>
  prnet batch submit <folder|list.txt>... --out <dir> --redis <url> [reconstruct options]
      Queues one job per image on Redis (BullMQ); a re-submit skips the images already done.
      --attempts <n> (3)  tries before an image is listed as failed
  prnet batch status --redis <url> [--wait]
      done · failed · waiting · active counts and the failures with their reasons.
  prnet worker --redis <url> [--concurrency k] [--threads n]
      Runs queued jobs (anywhere the images and the output folder are reachable) until SIGTERM.
  prnet --help | --version
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
      case 'reconstruct':
        return await runReconstruct(rest);
      case 'swap':
        return await runSwap(rest);
      case 'import-checkpoint':
        return await runImportCheckpoint(rest);
      case 'eval':
        return await runEval(rest);
      case 'data':
        return await runData(rest);
      case 'serve':
        return await runServe(rest);
      case 'batch':
        return await runBatch(rest);
      case 'worker':
        return await runWorker(rest);
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

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}
