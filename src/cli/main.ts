/**
 * The `prnet` command. Parses arguments, runs the library, writes files atomically, reports
 * progress on stderr and turns errors into one line and an exit code:
 * 0 success · 1 some inputs failed · 2 bad arguments · 3 model or detector could not be loaded ·
 * 4 an output could not be written · 69 Redis could not be reached (batch) · 70 internal error ·
 * 75 batch status --wait ran out of --timeout · 130/143 interrupted (SIGINT/SIGTERM).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT, UsageError, reportError } from './options.js';
import { didYouMean } from '../util/nearest-name.js';
import { packageVersion } from '../util/version.js';

export { EXIT, UsageError, intOption, parseOptions, precisionOption, reportError, threadsOption } from './options.js';


const HELP = `prnet — 3D face reconstruction and dense alignment (PRNet) in TypeScript

Usage:
  prnet reconstruct <image|folder>... --out <dir> [options]
      Finds every face, reconstructs it, writes per face: JSON (box, 68 landmarks 2D/3D, pose),
      OBJ with vertex colours, OBJ+MTL+PNG UV texture, PLY, GLB; per image: depth PNG and
      overlays (landmarks, pose box, mesh).
      --model <file|default|light>  model weights (default: the bundled default model)
      --box x,y,w,h                 use this face box instead of the detector (one image), read as
                                    dlib's: brows to chin, ear to ear (the JSON's box is the
                                    detector's own, which another rule crops: not the same face)
      --crop cx,cy,side[,angle]     this crop square instead of the detector (one image): centre and
                                    side in pixels, the face's roll in degrees, as a face's JSON
                                    "crop" has them (centerX, centerY, side, angle): the same crop,
                                    so the same face, e.g. with another model
      --formats a,b,…               only these outputs: ${'json,obj,textured,ply,glb,depth,overlay'}
                                    (the default set, also named default), and as the original
                                    PRNet's options: posmap (position map .npy), mask (texture
                                    visibility PNG), frontal (OBJ, head pose undone), mat (MATLAB
                                    .mat: vertices, colors, triangles, kpt); e.g.
                                    --formats default,posmap
      --no-<format>                 skip one output (e.g. --no-ply)
      --max-faces <n>               at most n faces per image (largest first; boxes the detector
                                    scores under 0.65 after the others)
      --min-score <s>               lowest detector score a face is kept at, 0.1 to 1 (default 0.5):
                                    lower finds more of a crowd's small or half-hidden faces (and
                                    more things that are not faces)
      --detector <kind>             blazeface (default), or for comparison blazeface-mesh,
                                    ssd-mobilenet, tiny-face (need @vladmandic/human or face-api
                                    and tfjs: without them the error gives the npm install line)
      --max-pixels <n>              largest photo read, in pixels (default 100,000,000: a phone's
                                    108- or 200-megapixel photo needs --max-pixels 200000000)
      --no-tiles                    no tile looks at photos over 1,536 px (faster; the small faces
                                    of a large group photo are then missed)
      --no-orientation              the detector's crops as they are (by default a face lying
                                    sideways or upside down in its crop is turned upright, and a
                                    photo without a face is looked at turned by 90°, 270°, 180°)
      --threads <n>                 network threads (1 to the cores; default: all on up to 4 cores)
      --units mm|px                 mesh units (default mm: scaled by a 63 mm mean interpupillary
                                    distance; GLB in metres); px: image pixels
      --center, --no-center         mesh centred at the origin (default) or placed as in the image
      --texture-size <n>            UV texture side: 256 (default), 512, 1024 or 2048
      --precision <fp32|int8>       network precision (default: int8 for the default model, fp32 for light)
      --no-flip                     no test-time flip (the mirrored crop is not run and averaged in):
                                    half the network's time, a little less accurate (more on faces
                                    turned far: the JSON's flipDisagreement says how far)
      --smooth <σ>                  smoothing of the position map in UV pixels, 0 (the raw map) to 8
                                    (default: 1 for the default model, 2 for light)
      --resume                      skip the images an earlier run into --out finished with the
                                    same options (an interrupted run picks up where it stopped)
      --quiet                       no progress, summary or warnings of suspect faces (faces
                                    likely wrong: the JSON's "suspect")
  prnet video <in.mp4|.mov|.webm>... --out <dir> [options]
      Tracks and stabilises faces through a video (decoded with ffmpeg): NAME.jsonl (one line per
      frame: box, landmarks 2D/3D, pose per face), NAME_overlay.mp4, NAME.glb (the largest face,
      animated). --stabilize on|off|'{JSON options}', --no-jsonl/--no-overlay/--no-glb, --no-audio,
      --frames <n> (first n), --detect-every <n> (default 30), --glb-step <n> (1–32, default 3),
      --glb-tracks largest|all (all: also NAME_track<ID>.glb for every other face tracked ≥ 0.5 s),
      --glb-pose node|mesh (node, the default: the head's pose animates a NAME_track<ID>_head node, the shape
      keys hold the expression; mesh: the motion in the shape keys too), --no-flip,
      --smooth <σ>, --max-faces <n>, --min-score <s>, --max-pixels <n>, --model, --detector, --threads,
      --quiet.
      Ctrl-C leaves no partial files (exit 130); a missing ffmpeg exits 3.
  prnet swap --source <a> --target <b> --out <c.png> [options]
      Puts a's face texture onto b's face (b's geometry and lighting seams blended).
      --source-face <i>, --target-face <i>  which face of a photo with several (0, the default, is
                                    the first: reconstruct's NAME_face0; its largest sure face)
      --eyes                        keeps b's own eyes
      --no-blend                    pastes the face without Poisson blending
      --model, --detector, --min-score, --no-orientation, --max-pixels, --threads, --quiet: as for
                                    reconstruct
      A face the detector scores under 0.65 (often not a face) is used with a warning.
  prnet import-checkpoint <prefix> --out <model.safetensors> [--f32]
      Converts the official PRNet TensorFlow checkpoint (<prefix>.index + <prefix>.data-00000-of-00001).
  prnet eval aflw2000|pts <dir> [--json] [--gt-box] [--model m] [--detector kind] [--min-score s]
             [--precision p] [--no-flip] [--smooth σ] [--no-orientation] [--no-peers] [--threads n] [--quiet]
      68-point NME (2D/3D) on AFLW2000-3D images with .mat ground truth (by yaw bucket, bucket mean,
      folded triangles), or 2D NME on iBUG .pts ground truth (e.g. AFW), with 3DDFA_V2 and FaceMesh
      in the same run; a progress bar; per-image rows with --json. (Development command: a checkout.)
  prnet data label [--set eval|utkface|misc|webfaces|all] [--limit n] [--workers k] [--every n]
                   [--facemesh onnx|human] [--min-eye px] [--out dir] [--shared dir] [--summary]
      Labels training photos with the teachers (resumable; cache in ~/.cache/prnet-ts or
      $PRNET_CACHE; photos from --shared or $PRNET_SHARED, default ../shared); FaceMesh on
      onnxruntime, or --facemesh human (tfjs-wasm, 1.5× the CPU per photo); --every n: every n-th
      UTKFace photo; --min-eye: webfaces' smallest eye distance (30 px); --summary: the counts only.
      A teacher model that cannot be loaded stops it (exit 3); unreadable photos are named (exit 1, as
      for a teacher that fails on a photo; faces dropped by the rules — no face, teachers that
      disagree — are not failures: exit 0).
  prnet serve [--host 127.0.0.1] [--port 8080] [--workers n] [--models default,light]
      HTTP service: POST /v1/reconstruct (image body or multipart 'file') → {"faces": […]}, or a
      file with ?format=glb|obj|ply|posmap|frontal|mask|mat; /healthz, /readyz, /metrics, /openapi.json (docs/serve.md).
      --max-body-mb <n> (20) · --max-queue <n> (8 per worker) · --timeout <s> (30, at most 86400) ·
      --min-upload-kib <n> (16: an upload slower than n KiB/s after 2 s gets 408; 0: none) ·
      --max-pixels <n> (100,000,000: larger images get 422; bounds a worker's memory) ·
      --threads <n> · --detector <kind> · --min-score <s> · --quiet
  prnet batch submit <folder|image|list.txt>... --out <dir> --redis <url> [options]
      Queues one job per image on Redis (BullMQ); a re-submit skips the images already done (and
      remakes those whose files were deleted from --out).
      Options as reconstruct's: --model, --formats, --no-<format>, --max-faces, --min-score, --detector,
      --max-pixels, --no-tiles, --no-orientation, --units, --no-center, --texture-size, --no-flip, --smooth,
      --quiet (not --box, --crop, --threads, --precision: the worker's --threads and the model file's
      precision apply); and
      --attempts <n> (3)  tries before an image is listed as failed
      --queue <name>      the queue (default prnet-reconstruct)
  prnet batch status --redis <url> [--wait [--timeout s]] [--queue name]
      done · failed · waiting · active counts and the failures with their reasons (exit 1 when some
      failed, or when the queue has never had a job; 75 when --wait's --timeout ran out first).
  prnet worker --redis <url> [--concurrency k] [--threads n] [--lock-seconds 30] [--queue name] [--quiet]
      Runs queued jobs (anywhere the images and the output folder are reachable) until SIGTERM.
  prnet --help | --version · prnet <command> --help: that command's part of this text

Exit codes: 0 ok · 1 some inputs failed · 2 bad arguments · 3 the model or detector could not be
loaded · 4 an output could not be written · 69 Redis could not be reached (batch) · 70 internal
error · 75 batch status --wait ran out of --timeout · 130/143 interrupted.
Negative numbers as option values: --box=-10,-10,50,50 or --box -10,-10,50,50.
Environment: PRNET_GRAPH_CACHE=<folder>|off — where a model's int8 network graph, built at its first
load, is kept for the next (default node_modules/.cache/prnet-ts; off: built at every start).
`;

/** The commands (for a mistyped one's hint). */
const COMMANDS = ['reconstruct', 'video', 'swap', 'import-checkpoint', 'eval', 'data', 'serve', 'batch', 'worker'];

/** The part of HELP for one command (its usage blocks), with the exit codes; null for an unknown command. */
export function commandHelp(command: string): string | null {
  const lines = HELP.split('\n');
  const out: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (/^ {2}prnet /.test(line)) inside = line.startsWith(`  prnet ${command} `) || line === `  prnet ${command}`;
    else if (!line.startsWith('    ')) inside = false;
    if (inside) out.push(line);
  }
  if (!out.length) return null;
  let tail = HELP.slice(HELP.indexOf('Exit codes:'));
  // The note on negative values is about --box, which only reconstruct takes.
  if (command !== 'reconstruct') tail = tail.replace(/^Negative numbers as option values:.*\n/m, '');
  return `Usage:\n${out.join('\n')}\n\n${tail}`;
}

/**
 * A reader that closes early (`prnet batch status | head -1`, `prnet reconstruct … 2>&1 | head`):
 * what is written to it after that is dropped and the command goes on to its own exit code,
 * instead of ending at an unhandled EPIPE with a stack trace (and, mid-run, leaving temporaries).
 * For the process's entry points (bin/prnet.js).
 */
export function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `prnet <command> --help` (or -h) anywhere in its arguments: that command's usage, exit 0.
  if (command && command !== 'help' && rest.some((a) => a === '--help' || a === '-h')) {
    const help = commandHelp(command);
    if (help) {
      process.stdout.write(help);
      return EXIT.ok;
    }
  }
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help': {
        // `prnet help swap`: that command's part, as `prnet swap --help`
        const one = command === 'help' && rest[0] ? commandHelp(rest[0]) : null;
        if (command === 'help' && rest[0] && !one) {
          throw new UsageError(`no command '${rest[0]}'${didYouMean(rest[0], COMMANDS)} (see prnet --help)`);
        }
        process.stdout.write(one ?? HELP);
        return command === undefined ? EXIT.usage : EXIT.ok;
      }
      case '-v':
      case '--version':
        process.stdout.write(`${packageVersion()}\n`);
        return EXIT.ok;
      // Each command is loaded when asked for: start-up stays short, and the development tools
      // (eval, data) load packages the library itself does not need.
      case 'reconstruct':
        return await (await import('./reconstruct.js')).runReconstruct(rest);
      case 'swap':
        return await (await import('./swap.js')).runSwap(rest);
      case 'import-checkpoint':
        return await (await import('./import-checkpoint.js')).runImportCheckpoint(rest);
      // Development commands: their code lives in tools/ (not in the package) and runs from a
      // checkout of the repository.
      case 'eval':
        return await runTool('eval', rest);
      case 'data':
        return await runTool('data', rest);
      case 'video':
        return await (await import('./video.js')).runVideo(rest);
      // The service and the distributed batch (docs/serve.md).
      case 'serve':
        return await (await import('./serve.js')).runServe(rest);
      case 'batch':
        return await (await import('./batch.js')).runBatch(rest);
      case 'worker':
        return await (await import('./worker.js')).runWorker(rest);
      default: {
        throw new UsageError(`unknown command '${command}'${didYouMean(command, [...COMMANDS, '--help', '--version'])} (see prnet --help)`);
      }
    }
  } catch (e) {
    return reportError(e);
  } finally {
    // An output folder this run made and left empty is removed (those commands have loaded atomic.js already).
    if (command === 'reconstruct' || command === 'video' || command === 'swap' || command === 'import-checkpoint') (await import('./atomic.js')).removeEmptyMadeFolders();
  }
}

/**
 * Runs a development command from tools/cli/<name>.ts (TypeScript, loaded through tsx's loader when
 * this CLI itself runs compiled). Only a checkout of the repository has tools/ and tsx.
 */
async function runTool(name: 'eval' | 'data', args: string[]): Promise<number> {
  const url = new URL(`../../tools/cli/${name}.ts`, import.meta.url);
  const devOnly = `'prnet ${name}' is a development command: run it in a checkout of the prnet-ts repository after npm ci`;
  if (!existsSync(fileURLToPath(url))) throw new UsageError(devOnly);
  if (!import.meta.url.endsWith('.ts')) {
    let tsx: { register(): unknown };
    try {
      tsx = (await import('tsx/esm/api')) as { register(): unknown };
    } catch {
      throw new UsageError(`${devOnly} (it needs the development dependency tsx)`);
    }
    tsx.register();
  }
  const mod = (await import(url.href)) as { run(args: string[]): Promise<number> };
  return mod.run(args);
}

