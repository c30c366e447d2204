/** `prnet reconstruct`: images → 3D faces → files. */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { encodePng } from '../io/image-node.js';
import { decodeImageFile } from '../io/image-node.js';
import { escapeControl, InputError, NoFaceError, OutputError, PrnetError } from '../errors.js';
import type { DetectorKind } from '../detect/index.js';
import { createPrnet } from '../pipeline/node.js';
import type { Prnet } from '../pipeline/prnet.js';
import { buildOutputs, OUTPUT_FORMATS, type OutputFormat, type OutputOptions } from '../pipeline/outputs.js';
import { TEXTURE_SIZES } from '../pipeline/face.js';
import { MESH_UNITS, type MeshUnits } from '../export/index.js';
import type { FaceBox } from '../types.js';
import { onInterrupt, sweepStaleTemporaries, writeFailure, writeFilesAtomic } from './atomic.js';
import { expandInputs, uniqueStems } from './inputs.js';
import { EXIT, UsageError, intOption, parseOptions, precisionOption, threadsOption } from './options.js';
import { Progress } from './progress.js';

/**
 * Images in flight at once: while one image's outputs are built and written (JavaScript, on this
 * thread) or the next is decoded (sharp, on libuv's threads), another's network runs on
 * onnxruntime's threads (one session: network runs are queued). Two keep both busy; more only
 * hold more images in memory.
 */
export const IMAGES_IN_FLIGHT = 2;

/**
 * Runs task(0..count−1) with at most `limit` running at once, in order of start; resolves when all
 * have finished, rejects with the first error a task throws (the others' results are then moot).
 */
export async function inParallel(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, worker));
}

export const DETECTORS: DetectorKind[] = ['blazeface', 'blazeface-mesh', 'ssd-mobilenet', 'tiny-face'];

export function parseFormats(list: string | undefined, negated: Record<string, boolean | undefined>): Set<OutputFormat> {
  let formats: Set<OutputFormat>;
  if (list !== undefined) {
    formats = new Set();
    for (const f of list.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!(OUTPUT_FORMATS as readonly string[]).includes(f)) throw new UsageError(`--formats: unknown format '${f}' (known: ${OUTPUT_FORMATS.join(', ')})`);
      formats.add(f as OutputFormat);
    }
  } else formats = new Set(OUTPUT_FORMATS);
  for (const f of OUTPUT_FORMATS) if (negated[f] === false) formats.delete(f);
  if (!formats.size) throw new UsageError('no output format left to write');
  return formats;
}

/** Largest coordinate or size a box may have, in pixels (images are at most 100 megapixels). */
export const MAX_BOX_COORD = 1_000_000;

export function parseBox(s: string): FaceBox {
  const fields = s.split(',').map((p) => p.trim());
  const parts = fields.map((p) => (p === '' ? NaN : Number(p)));
  const shown = escapeControl(s);
  if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p))) {
    throw new UsageError(`--box must be x,y,width,height in pixels with a positive size, got '${shown}'`);
  }
  if (parts[2] <= 0 || parts[3] <= 0) throw new UsageError(`--box must be x,y,width,height in pixels with a positive size, got '${shown}'`);
  if (parts[2] < 1 || parts[3] < 1) throw new UsageError(`--box: the width and height must be at least 1 pixel, got '${shown}'`);
  if (parts.some((p) => Math.abs(p) > MAX_BOX_COORD)) throw new UsageError(`--box: every number must be within ±${MAX_BOX_COORD} pixels, got '${shown}'`);
  return { x: parts[0], y: parts[1], width: parts[2], height: parts[3], score: 1 };
}

/** --units, --center / --no-center, --texture-size → buildOutputs options (usage errors name the option). */
export function parseMeshOptions(values: { units?: string; center?: boolean; 'texture-size'?: string }): OutputOptions {
  const units = values.units ?? 'mm';
  if (!(MESH_UNITS as readonly string[]).includes(units)) throw new UsageError(`--units must be ${MESH_UNITS.join(' or ')}, got '${units}'`);
  let textureSize = 256;
  const ts = values['texture-size'];
  if (ts !== undefined) {
    textureSize = Number(ts);
    if (!(TEXTURE_SIZES as readonly number[]).includes(textureSize) || !/^\d+$/.test(ts.trim())) {
      throw new UsageError(`--texture-size must be one of ${TEXTURE_SIZES.join(', ')}, got '${ts}'`);
    }
  }
  return { units: units as MeshUnits, center: values.center ?? true, textureSize };
}

/**
 * One image → its output files in `outDir`, all or none (written atomically): what `prnet
 * reconstruct` does per image, shared with the batch workers. Throws InputError (NoFaceError when
 * there is no face) for the image, OutputError when the files cannot be written.
 */
export async function reconstructToFiles(
  prnet: Prnet,
  file: string,
  stem: string,
  outDir: string,
  options: { box?: FaceBox; maxFaces?: number; formats: ReadonlySet<OutputFormat>; mesh?: OutputOptions },
): Promise<{ faces: number; outputs: string[] }> {
  const image = await decodeImageFile(file);
  const { faces } = await prnet.reconstruct(image, { boxes: options.box ? [options.box] : undefined, maxFaces: options.maxFaces });
  if (!faces.length) throw new NoFaceError('no face found', file);
  const outputs = await buildOutputs(stem, image, faces, prnet.layout, options.formats, (d, w, h, c) => encodePng(d, w, h, c), options.mesh);
  await writeFilesAtomic(outputs.map((o) => ({ path: join(outDir, o.name), data: o.data })));
  return { faces: faces.length, outputs: outputs.map((o) => o.name) };
}

export async function runReconstruct(args: string[]): Promise<number> {
  const formatFlags = Object.fromEntries(OUTPUT_FORMATS.map((f) => [f, { type: 'boolean' as const }]));
  const { values, positionals } = parseOptions(args, {
    out: { type: 'string', short: 'o' },
    model: { type: 'string', short: 'm' },
    box: { type: 'string' },
    formats: { type: 'string' },
    'max-faces': { type: 'string' },
    detector: { type: 'string' },
    threads: { type: 'string' },
    units: { type: 'string' },
    center: { type: 'boolean' },
    'texture-size': { type: 'string' },
    precision: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    ...formatFlags,
  });
  if (!positionals.length) throw new UsageError('reconstruct needs at least one image or folder (see prnet --help)');
  if (!values.out) throw new UsageError('reconstruct needs --out <dir>');
  const negated: Record<string, boolean | undefined> = {};
  for (const f of OUTPUT_FORMATS) negated[f] = (values as Record<string, unknown>)[f] as boolean | undefined;
  const formats = parseFormats(values.formats, negated);
  const maxFaces = intOption(values['max-faces'], 'max-faces');
  const threads = threadsOption(values.threads);
  const precision = precisionOption(values.precision);
  const box = values.box ? parseBox(values.box) : undefined;
  const detector = values.detector as DetectorKind | undefined;
  if (detector && !DETECTORS.includes(detector)) throw new UsageError(`--detector must be one of ${DETECTORS.join(', ')}`);
  const meshOptions = parseMeshOptions(values);
  const quiet = Boolean(values.quiet);

  const outDir = values.out;
  const { files, empty, unreadable } = await expandInputs(positionals, { outDir });
  for (const d of empty) process.stderr.write(`prnet: ${escapeControl(d)}: no image files in this folder\n`);
  for (const m of unreadable) process.stderr.write(`prnet: ${m}\n`);
  if (!files.length) throw new InputError('no images to process');
  if (box && files.length > 1) throw new UsageError('--box applies to one image; give a single image with it');
  try {
    await mkdir(outDir, { recursive: true });
  } catch (e) {
    throw new UsageError(`cannot create the output folder (${writeFailure(e)})`, outDir);
  }
  // Temporary files left by an earlier run that was killed (SIGKILL, power loss).
  await sweepStaleTemporaries(outDir);

  const prnet = await createPrnet({ model: values.model, detector: box ? false : detector, threads, maxDetections: maxFaces, precision });
  const stems = uniqueStems(files);
  const progress = new Progress(files.length, { label: 'reconstruct', enabled: !quiet && files.length > 1 });
  const failures: string[] = [];
  let outputFailed = false;
  let internalFailed = false;
  let faceCount = 0;
  let written = 0;
  let done = 0;
  const summary = (interrupted?: NodeJS.Signals): void => {
    if (quiet || (files.length === 1 && !interrupted)) return;
    const ok = done - failures.length;
    const seen = interrupted ? `${done} of ${files.length} images (interrupted by ${interrupted})` : `${files.length} images`;
    process.stderr.write(`${seen}: ${ok} done (${faceCount} faces, ${written} files in ${escapeControl(outDir)}), ${failures.length} failed\n`);
    for (const f of failures) process.stderr.write(`  failed: ${f}\n`);
  };
  const processOne = async (i: number): Promise<void> => {
    const file = files[i];
    try {
      const { faces, outputs } = await reconstructToFiles(prnet, file, stems[i], outDir, { box, maxFaces, formats, mesh: meshOptions });
      faceCount += faces;
      written += outputs.length;
      done++;
      progress.tick(true);
      if (!quiet && files.length === 1) process.stderr.write(`${escapeControl(file)}: ${faces} face${faces > 1 ? 's' : ''}, ${outputs.length} files written to ${escapeControl(outDir)}\n`);
    } catch (e) {
      // One image's failure (its input, its outputs, even a bug) does not stop the others.
      if (e instanceof OutputError) outputFailed = true;
      else if (!(e instanceof PrnetError)) internalFailed = true;
      const msg = failureLine(e, file);
      failures.push(msg);
      done++;
      process.stderr.write(`prnet: ${msg}\n`);
      if (process.env.PRNET_DEBUG && !(e instanceof PrnetError) && e instanceof Error) process.stderr.write(`${e.stack}\n`);
      progress.tick(false);
    }
  };
  const stopHandling = onInterrupt((signal) => {
    summary(signal);
    process.exit(signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
  });
  try {
    await inParallel(files.length, IMAGES_IN_FLIGHT, processOne);
  } finally {
    stopHandling();
  }
  await prnet.dispose();
  summary();
  if (internalFailed) return EXIT.internal;
  if (outputFailed) return EXIT.output;
  return failures.length ? EXIT.failed : EXIT.ok;
}

/**
 * One line for a failed image: the error's own message when it names its file (an input or an
 * output path), else the input file, then the message. Control characters are escaped.
 */
export function failureLine(e: unknown, file: string): string {
  const raw = e instanceof Error ? e.message : String(e);
  const text = raw.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  if (e instanceof PrnetError && e.source !== undefined) return escapeControl(text);
  const kind = e instanceof PrnetError ? '' : `internal error (${e instanceof Error ? e.name : typeof e}): `;
  return `${escapeControl(file)}: ${kind}${escapeControl(text)}`;
}
