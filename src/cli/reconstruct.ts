/** `prnet reconstruct`: images → 3D faces → files. */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encodePng } from '../io/image-node.js';
import { decodeImageFile, type DecodedImage } from '../io/image-node.js';
import { escapeControl, InputError, NoFaceError, OutputError, PrnetError } from '../errors.js';
import { createPrnet, producerJson, resolveModel } from '../pipeline/node.js';
import type { Prnet, TestTimeOptions } from '../pipeline/prnet.js';
import { ALL_OUTPUT_FORMATS, buildOutputs, EXTRA_OUTPUT_FORMATS, OUTPUT_FORMATS, type OutputFormat, type OutputOptions } from '../pipeline/outputs.js';
import { TEXTURE_SIZES } from '../pipeline/face.js';
import { MESH_UNITS, type MeshUnits } from '../export/index.js';
import { cropTransform, type CropSquare } from '../crop/transform.js';
import type { FaceBox } from '../types.js';
import type { DetectorKind } from '../detect/index.js';
import type { Face } from '../pipeline/face.js';
import { suspectReasons } from '../pipeline/quality.js';
import { fileIdentities, inputAt, makeOutputFolder, onInterrupt, removeFacesBeyond, sweepStaleTemporaries, writeFailure, writeFilesAtomic } from './atomic.js';
import { exitBySignal } from './signals.js';
import { expandInputs, recordClaims, uniqueStems, UNOWNED_OUTPUT } from './inputs.js';
import { EXIT, TEST_TIME_OPTIONS, UsageError, intOption, parseOptions, pixelLimitHint, precisionOption, testTimeOptions, threadsOption, detectorOption, minScoreOption } from './options.js';
import { counted, Progress } from './progress.js';
import { DONE_RECORD, DoneRecord, fileIdentity, isDone, keepsRecord, readDone, runKey } from './resume.js';
import { packageVersion } from '../util/version.js';
import { didYouMean } from '../util/nearest-name.js';

/**
 * Images in flight at once in `inParallel` (batch workers): while one image's outputs are built
 * and written or the next is decoded, another's network runs on onnxruntime's threads.
 */
export const IMAGES_IN_FLIGHT = 2;

/** Images decoded ahead of the one the network works on (sharp decodes on libuv's threads). */
export const DECODE_AHEAD = 2;

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

/** The three stages of one image in `inPipeline`. */
export interface PipelineStages<A, B> {
  /** Reading and decoding (I/O and sharp's threads). */
  decode(i: number): Promise<A>;
  /** Detector and network: one image at a time, in order. */
  network(i: number, decoded: A): Promise<B>;
  /** Building and writing the outputs. */
  output(i: number, result: B): Promise<void>;
}

/**
 * Runs count images through three overlapped stages: image i + 1 … i + DECODE_AHEAD are decoded
 * while image i is in the network stage, and image i − 1's outputs are built and written while it
 * is; the network stage itself takes one image at a time. On a few cores the network's threads
 * already use every core, so two images in the detector and network at once only made them wait
 * on each other; what overlaps here is what the network leaves idle (file I/O, sharp's decoding
 * thread, the JavaScript of the outputs). `done(i, error?)` is called once per image, in order;
 * an image whose stage throws is reported there and the others go on.
 */
export async function inPipeline<A, B>(count: number, stages: PipelineStages<A, B>, done: (i: number, error?: unknown) => void): Promise<void> {
  const decoded: (Promise<A> | undefined)[] = [];
  const startDecode = (i: number): void => {
    if (i >= count || decoded[i] !== undefined) return;
    const d = stages.decode(i);
    d.catch(() => undefined); // awaited below, in order
    decoded[i] = d;
  };
  for (let i = 0; i < DECODE_AHEAD; i++) startDecode(i);
  let writing: Promise<void> = Promise.resolve();
  for (let i = 0; i < count; i++) {
    let result: B;
    try {
      const input = (await decoded[i]) as A;
      startDecode(i + DECODE_AHEAD);
      result = await stages.network(i, input);
    } catch (e) {
      startDecode(i + DECODE_AHEAD);
      await writing; // keeps done() in image order
      done(i, e);
      continue;
    }
    decoded[i] = undefined; // the decoded image is held by `result` as long as its outputs need it
    await writing;
    writing = stages.output(i, result).then(() => done(i), (e: unknown) => done(i, e));
  }
  await writing;
}

export function parseFormats(list: string | undefined, negated: Record<string, boolean | undefined>): Set<OutputFormat> {
  // parseArgs takes --json as well as --no-json for a boolean: `--glb --json` wrote every format and
  // nothing on stdout, and said nothing.
  const positive = ALL_OUTPUT_FORMATS.filter((f) => negated[f] === true);
  if (positive.length) {
    const extra = positive.filter((f) => (EXTRA_OUTPUT_FORMATS as readonly string[]).includes(f));
    throw new UsageError(
      `--${positive[0]} is not an option: choose the outputs with --formats ${positive.join(',')}` +
        (extra.length
          ? ` (only those), or --formats default,${extra.join(',')} (every output written without --formats, and ${extra.length === 1 ? 'that one' : 'those'})`
          : ` (or leave one out with --no-${positive[0]}); the JSON goes to files, one per face`),
    );
  }
  let formats: Set<OutputFormat>;
  if (list !== undefined) {
    formats = new Set();
    for (const f of list.split(',').map((s) => s.trim()).filter(Boolean)) {
      // `default` names the default set, so that `--formats default,posmap` adds to it.
      if (f === 'default') for (const d of OUTPUT_FORMATS) formats.add(d);
      else if ((ALL_OUTPUT_FORMATS as readonly string[]).includes(f)) formats.add(f as OutputFormat);
      else throw new UsageError(`--formats: unknown format '${f}' (known: ${ALL_OUTPUT_FORMATS.join(', ')}, and default for ${OUTPUT_FORMATS.join(',')})${didYouMean(f, [...ALL_OUTPUT_FORMATS, 'default'])}`);
    }
  } else formats = new Set(OUTPUT_FORMATS);
  for (const f of ALL_OUTPUT_FORMATS) if (negated[f] === false) formats.delete(f);
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

/**
 * --crop cx,cy,side[,angle]: the crop square in image pixels (centre, side; the face's roll in
 * degrees, as the JSON's `crop` has them: centerX, centerY, side, angle).
 */
export function parseCrop(s: string): CropSquare {
  const parts = s.split(',').map((p) => p.trim()).map((p) => (p === '' ? NaN : Number(p)));
  const shown = escapeControl(s);
  if ((parts.length !== 3 && parts.length !== 4) || parts.some((p) => !Number.isFinite(p))) {
    throw new UsageError(`--crop must be centerX,centerY,side[,angle] (pixels; the angle in degrees), as a face's JSON "crop" has them, got '${shown}'`);
  }
  if (parts[2] < 1) throw new UsageError(`--crop: the side must be at least 1 pixel, got '${shown}'`);
  if (parts.slice(0, 3).some((p) => Math.abs(p) > MAX_BOX_COORD)) throw new UsageError(`--crop: the centre and side must be within ±${MAX_BOX_COORD} pixels, got '${shown}'`);
  if (parts.length === 4 && Math.abs(parts[3]) > 360) throw new UsageError(`--crop: the angle must be within ±360 degrees, got '${shown}'`);
  return { cx: parts[0], cy: parts[1], side: parts[2], angle: ((parts[3] ?? 0) * Math.PI) / 180 };
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
  options: ImageOptions & { maxPixels?: number },
): Promise<{ faces: number; outputs: string[]; removed: string[] }> {
  const image = await decodeImageFile(file, { maxPixels: options.maxPixels });
  return writeImageOutputs(prnet, await reconstructImage(prnet, file, image, options), stem, outDir, options);
}

/** What reconstructToFiles is told for each image. */
export interface ImageOptions extends TestTimeOptions {
  box?: FaceBox;
  /** The crop square instead of the detector (--crop). */
  crop?: CropSquare;
  maxFaces?: number;
  formats: ReadonlySet<OutputFormat>;
  mesh?: OutputOptions;
  /** This run's input files (fileIdentities): never removed as an earlier run's face files. */
  inputs?: () => Promise<ReadonlySet<string>>;
  /** Which of this run's inputs writing a path would replace (inputAt): an image whose output would is not written. */
  inputAt?: (path: string) => Promise<string | null>;
  /** The same for the images named as outputs that prnet-ts did not write (InputList.unowned): not replaced either. */
  unownedAt?: (path: string) => Promise<string | null>;
}

/** A decoded image's faces (NoFaceError, naming the file, when there is none). */
export async function reconstructImage(prnet: Prnet, file: string, image: DecodedImage, options: ImageOptions): Promise<ReconstructedImage> {
  const crops = options.crop ? [cropTransform(options.crop)] : undefined;
  const { faces } = await prnet.reconstruct(image, { boxes: options.box ? [options.box] : undefined, crops, maxFaces: options.maxFaces, flip: options.flip, smooth: options.smooth });
  if (!faces.length) throw new NoFaceError(`no face found${image.frames ? ` in ${firstFrameNote(file, image.frames)}` : ''}`, file);
  return { image, faces, file };
}

/**
 * What is said of a file of several frames or pages, of which only the first is read: an animated
 * GIF is a clip that `prnet video` reads whole (through ffmpeg; Debian's ffmpeg 5.1 cannot decode
 * an animated WebP, so a WebP is not pointed there).
 */
export function firstFrameNote(file: string, frames: number): string {
  if (/\.gif$/i.test(file)) return `the first of its ${frames} frames (prnet video reads every frame)`;
  return /\.webp$/i.test(file) ? `the first of its ${frames} frames` : `the first of its ${frames} pages`;
}

/** An image's faces, and the file it was read from (its base name goes into the faces' JSON). */
export interface ReconstructedImage {
  image: DecodedImage;
  faces: Face[];
  file: string;
}

/**
 * An image's output files in `outDir`, all or none (written atomically); then the files of faces
 * beyond this run's count that an earlier run into the same folder left (`removed`).
 */
export async function writeImageOutputs(
  prnet: Prnet,
  { image, faces, file }: ReconstructedImage,
  stem: string,
  outDir: string,
  options: ImageOptions,
): Promise<{ faces: number; outputs: string[]; removed: string[] }> {
  const outputs = await buildOutputs(stem, image, faces, prnet.layout, options.formats, (d, w, h, c) => encodePng(d, w, h, c), { ...options.mesh, source: basename(file) });
  // An output that would replace one of the run's inputs (a photo named as this image's output,
  // e.g. y_mesh.png beside y.jpg in a folder that is also --out): none of the image's files is written.
  for (const o of outputs) {
    const path = join(outDir, o.name);
    const input = await options.inputAt?.(path);
    if (input) throw new OutputError(`is an input of this run${input === path ? '' : ` (${escapeControl(input)})`}, named as this image's output: writing it would destroy that photo; rename it or choose another --out`, path);
    const theirs = await options.unownedAt?.(path);
    if (theirs) throw new OutputError(UNOWNED_OUTPUT, path);
  }
  await writeFilesAtomic(outputs.map((o) => ({ path: join(outDir, o.name), data: o.data })));
  const removed = await removeFacesBeyond(outDir, stem, faces.length, options.inputs);
  return { faces: faces.length, outputs: outputs.map((o) => o.name), removed };
}

/** How an image's files were made, as recordedOptions is told (a run's options; the batch job's data). */
export interface RecordedRun extends TestTimeOptions {
  /** The model as named (a bundled model's name or a file's path; undefined: the default). */
  model?: string;
  detector?: DetectorKind;
  tiles?: boolean;
  minScore?: number;
  box?: FaceBox;
  crop?: CropSquare;
  maxFaces?: number;
  formats: Iterable<OutputFormat>;
  mesh: OutputOptions;
}

/**
 * The options that decide an image's files as the folder's record keeps them (DoneEntry.options;
 * --resume compares them by runKey): `prnet reconstruct`'s and the batch worker's lines alike, so
 * that either's finished image is the other's too.
 */
export async function recordedOptions(prnet: Prnet, run: RecordedRun): Promise<Record<string, unknown>> {
  /** Where the face is, given: no detector. */
  const given = Boolean(run.box || run.crop);
  return {
    version: packageVersion(),
    model: await fileIdentity(resolveModel(run.model) as string),
    precision: prnet.session.precision,
    detector: given ? null : (run.detector ?? 'blazeface'),
    tiles: run.tiles ?? true,
    minScore: given ? undefined : run.minScore, // undefined (the default) is left out of the key: an earlier run's stays the same
    orientation: given ? null : prnet.orientation !== null,
    box: run.box,
    crop: run.crop,
    maxFaces: run.maxFaces,
    flip: run.flip ?? true,
    smooth: run.smooth ?? null,
    formats: [...run.formats].sort(),
    mesh: run.mesh,
  };
}

/** What the messages say of an earlier run's face files removed (removeFacesBeyond). */
function staleNote(files: number): string {
  return `${counted(files, 'file')} of faces an earlier run found beyond these removed`;
}

export async function runReconstruct(args: string[]): Promise<number> {
  const formatFlags = Object.fromEntries(ALL_OUTPUT_FORMATS.map((f) => [f, { type: 'boolean' as const }]));
  const { values, positionals } = parseOptions(args, {
    out: { type: 'string', short: 'o' },
    model: { type: 'string', short: 'm' },
    box: { type: 'string' },
    crop: { type: 'string' },
    formats: { type: 'string' },
    'max-faces': { type: 'string' },
    'min-score': { type: 'string' },
    'max-pixels': { type: 'string' },
    detector: { type: 'string' },
    tiles: { type: 'boolean' },
    orientation: { type: 'boolean' },
    threads: { type: 'string' },
    units: { type: 'string' },
    center: { type: 'boolean' },
    'texture-size': { type: 'string' },
    precision: { type: 'string' },
    ...TEST_TIME_OPTIONS,
    quiet: { type: 'boolean', short: 'q' },
    resume: { type: 'boolean' },
    ...formatFlags,
  });
  if (!positionals.length) throw new UsageError('reconstruct needs at least one image or folder (see prnet --help)');
  if (!values.out) throw new UsageError('reconstruct needs --out <dir>');
  const negated: Record<string, boolean | undefined> = {};
  for (const f of ALL_OUTPUT_FORMATS) negated[f] = (values as Record<string, unknown>)[f] as boolean | undefined;
  const formats = parseFormats(values.formats, negated);
  const maxFaces = intOption(values['max-faces'], 'max-faces');
  const threads = threadsOption(values.threads);
  const precision = precisionOption(values.precision);
  const testTime = testTimeOptions(values);
  const box = values.box ? parseBox(values.box) : undefined;
  const crop = values.crop ? parseCrop(values.crop) : undefined;
  if (box && crop) throw new UsageError('--box and --crop both say where the face is: give one');
  /** Where the face is, given: no detector. */
  const given = Boolean(box || crop);
  const detector = detectorOption(values.detector);
  const minScore = minScoreOption(values['min-score']);
  // A phone's 108- or 200-megapixel photo is over the default limit (100 megapixels, against decompression bombs).
  const maxPixels = intOption(values['max-pixels'], 'max-pixels');
  const meshOptions = parseMeshOptions(values);
  const quiet = Boolean(values.quiet);

  const outDir = values.out;
  const { files, empty, unreadable, notes, unowned } = await expandInputs(positionals, { outDir });
  for (const d of empty) process.stderr.write(`prnet: ${escapeControl(d)}: no image files in this folder\n`);
  if (!values.quiet) for (const n of notes) process.stderr.write(`prnet: ${n}\n`);
  for (const m of unreadable) process.stderr.write(`prnet: ${m}\n`);
  if (!files.length) throw new InputError('no images to process');
  if (given && files.length > 1) throw new UsageError(`--${box ? 'box' : 'crop'} applies to one image; give a single image with it`);
  // An interrupt before the images' loop (the model loading) ends the run too, and takes back a
  // folder made for it and left empty (Node's default ended it and left the folder).
  const stopEarly = onInterrupt((signal) => exitBySignal(signal));
  // --no-tiles: no tile looks at large photos (faster; their small faces are missed).
  const tiles = values.tiles === false ? false : undefined;
  // --no-orientation: the detector's crops as they are (a face lying sideways or upside down is not turned upright).
  const orientation = values.orientation === false ? false : undefined;
  let prnet: Prnet;
  try {
    await makeOutputFolder(outDir);
    // Temporary files left by an earlier run that was killed (SIGKILL, power loss).
    await sweepStaleTemporaries(outDir);
    prnet = await createPrnet({ model: values.model, detector: given ? false : detector, threads, maxDetections: maxFaces, minScore, precision, tiles, orientation });
  } catch (e) {
    stopEarly();
    throw e;
  }
  // A stem whose outputs in the folder the record gives to another photo is not this run's: the
  // photo takes the next free one (a/x.jpg and b/x.jpg wrote x and x-2; b/x.jpg alone writes x-2 again).
  const claims = await recordClaims(outDir, files);
  const allStems = uniqueStems(files, (f) => existsSync(f), claims.othersAt);
  // The options that decide the files' content (threads do not): --resume skips an image only
  // when an earlier run made its files with the same ones.
  const runOptions = await recordedOptions(prnet, { model: values.model, detector, tiles, minScore, box, crop, maxFaces, ...testTime, formats, mesh: meshOptions });
  const key = runKey(runOptions);
  const todo: number[] = [];
  if (values.resume) {
    const { entries: earlier, unreadable: notEntries } = await readDone(outDir, true).catch((e: unknown) => {
      throw new OutputError(`cannot read what earlier runs finished (${writeFailure(e)})`, join(outDir, DONE_RECORD));
    });
    // Lines that are no record (a hand edit, a line cut by a full disk) are said, then compacted away.
    if (notEntries && !quiet) process.stderr.write(`prnet: warning: ${counted(notEntries, 'line')} of ${escapeControl(join(outDir, DONE_RECORD))} ${notEntries === 1 ? 'is' : 'are'} not a finished image's record and ${notEntries === 1 ? 'was' : 'were'} left out\n`);
    for (let i = 0; i < files.length; i++) if (!(earlier.size && (await isDone(earlier, outDir, files[i], allStems[i], key)))) todo.push(i);
  } else for (let i = 0; i < files.length; i++) todo.push(i);
  const skipped = files.length - todo.length;
  if (skipped && !quiet) {
    process.stderr.write(`${counted(skipped, 'image')} of ${files.length} skipped: done by an earlier run into ${escapeControl(outDir)} with the same options (--resume)\n`);
  }
  const inputs = todo.map((i) => files[i]);
  const stems = todo.map((i) => allStems[i]);
  const progress = new Progress(inputs.length, { label: 'reconstruct', unit: 'photos', enabled: !quiet && inputs.length > 1 });
  const failures: string[] = [];
  // Files of several frames or pages of which only the first was read: said under the summary.
  const firstFrames: string[] = [];
  // Suspect faces (Face.suspect) of a run of several images: said under the summary.
  const suspects: string[] = [];
  let outputFailed = false;
  let internalFailed = false;
  let faceCount = 0;
  let written = 0;
  let staleRemoved = 0;
  let done = 0;
  const summary = (interrupted?: NodeJS.Signals): void => {
    // One image named alone says its own line instead; images left after --resume skipped the
    // others get the summary, which counts those.
    if (quiet || (files.length === 1 && !interrupted) || (!inputs.length && !interrupted)) return;
    const ok = done - failures.length;
    const seen = interrupted ? `${done} of ${counted(inputs.length, 'image')} (interrupted by ${interrupted})` : counted(inputs.length, 'image');
    const stale = staleRemoved ? `; ${staleNote(staleRemoved)}` : '';
    const earlier = skipped ? ` (${skipped} more done earlier, skipped)` : '';
    const doubt = suspects.length ? `, ${suspects.length} of them suspect` : '';
    process.stderr.write(`${seen}${earlier}: ${ok} done (${counted(faceCount, 'face')}${doubt}, ${counted(written, 'file')} in ${escapeControl(outDir)}${stale}), ${failures.length} failed\n`);
    for (const f of failures) process.stderr.write(`  failed: ${f}\n`);
    for (const f of firstFrames) process.stderr.write(`  read: ${f}\n`);
    for (const f of suspects) process.stderr.write(`  suspect: ${f}\n`);
  };
  const imageOptions: ImageOptions = { box, crop, maxFaces, ...testTime, formats, mesh: { ...meshOptions, producer: producerJson(prnet, values.model, testTime) }, inputs: fileIdentities([...files, ...unowned]), inputAt: inputAt(files), unownedAt: inputAt(unowned) };
  type Decoded = { image: DecodedImage; id: Awaited<ReturnType<typeof fileIdentity>> };
  const record = new DoneRecord(outDir);
  // A run of one image has nothing to resume: it leaves no record unless --resume is given, or
  // the folder keeps one already (its outputs' owner is kept up to date there: a one-image rerun of
  // a/x.jpg left the record's x files changed, the claim lapsed, and b/x.jpg alone wrote over them).
  let recording = files.length > 1 || Boolean(values.resume) || keepsRecord(outDir);
  const stages: PipelineStages<Decoded, ReconstructedImage & { id: Decoded['id'] }> = {
    // The input's identity is taken before it is read: a photo replaced meanwhile is not recorded as done.
    decode: async (i) => {
      const id = recording ? await fileIdentity(inputs[i]) : undefined;
      return { image: await decodeImageFile(inputs[i], { maxPixels }), id };
    },
    network: async (i, { image, id }) => ({ ...(await reconstructImage(prnet, inputs[i], image, imageOptions)), id }),
    output: async (i, result) => {
      const { faces, outputs, removed } = await writeImageOutputs(prnet, result, stems[i], outDir, imageOptions);
      faceCount += faces;
      written += outputs.length;
      staleRemoved += removed.length;
      const stale = removed.length ? ` (${staleNote(removed.length)})` : '';
      const first = result.image.frames ? ` in ${firstFrameNote(inputs[i], result.image.frames)}` : '';
      if (!quiet && files.length === 1) process.stderr.write(`${escapeControl(inputs[i])}: ${counted(faces, 'face')}${first}, ${counted(outputs.length, 'file')} written to ${escapeControl(outDir)}${stale}\n`);
      else if (result.image.frames) firstFrames.push(`${escapeControl(inputs[i])}: only ${firstFrameNote(inputs[i], result.image.frames)}`);
      // Faces whose quality signals say they are likely wrong (Face.suspect): said under the image's
      // line, or under the summary of several.
      for (const f of result.faces) {
        if (!f.suspect) continue;
        const json = imageOptions.formats.has('json') ? '; its JSON\'s "suspect" is true' : '';
        const what = `face ${f.index} may be wrong (${suspectReasons(f).join(', ')}${json})`;
        if (files.length === 1) {
          if (!quiet) process.stderr.write(`prnet: warning: ${escapeControl(inputs[i])}: ${what}\n`);
        } else suspects.push(`${escapeControl(inputs[i])}: ${what}`);
      }
      if (result.id && recording) {
        const { path: input, size, mtimeMs } = result.id;
        // The image's files are in place whatever happens here: a record that cannot be written
        // costs only a later --resume's skipping, so it is said once and not counted as a failure.
        await record.add({ input, size, mtimeMs, stem: stems[i], options: runOptions, faces }, outputs).catch((e: unknown) => {
          recording = false;
          process.stderr.write(`prnet: warning: cannot record finished images in ${escapeControl(join(outDir, DONE_RECORD))} (${writeFailure(e)}); --resume will do them again\n`);
        });
      }
    },
  };
  const imageDone = (i: number, e?: unknown): void => {
    done++;
    if (e === undefined) {
      progress.tick(true);
      return;
    }
    // One image's failure (its input, its outputs, even a bug) does not stop the others.
    if (e instanceof OutputError) outputFailed = true;
    else if (!(e instanceof PrnetError)) internalFailed = true;
    const msg = failureLine(e, inputs[i]) + pixelLimitHint(e, maxPixels);
    failures.push(msg);
    process.stderr.write(`prnet: ${msg}\n`);
    if (process.env.PRNET_DEBUG && !(e instanceof PrnetError) && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    progress.tick(false);
  };
  stopEarly();
  const stopHandling = onInterrupt((signal) => {
    summary(signal);
    exitBySignal(signal);
  });
  try {
    await inPipeline(inputs.length, stages, imageDone);
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
  // An output that cannot be written names the output file: the image it was for comes first.
  if (e instanceof OutputError && e.source !== undefined && e.source !== file) return `${escapeControl(file)}: ${escapeControl(text)}`;
  if (e instanceof PrnetError && e.source !== undefined) return escapeControl(text);
  const kind = e instanceof PrnetError ? '' : `internal error (${e instanceof Error ? e.name : typeof e}): `;
  return `${escapeControl(file)}: ${kind}${escapeControl(text)}`;
}
