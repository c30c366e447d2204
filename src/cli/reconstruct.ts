/** `prnet reconstruct`: images → 3D faces → files. */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { encodePng } from '../io/image-node.js';
import { decodeImageFile } from '../io/image-node.js';
import { NoFaceError, InputError } from '../errors.js';
import type { DetectorKind } from '../detect/index.js';
import { createPrnet } from '../pipeline/node.js';
import type { Prnet } from '../pipeline/prnet.js';
import { buildOutputs, OUTPUT_FORMATS, type OutputFormat } from '../pipeline/outputs.js';
import type { FaceBox } from '../types.js';
import { writeFailure, writeFilesAtomic } from './atomic.js';
import { expandInputs, uniqueStems } from './inputs.js';
import { EXIT, UsageError, intOption, parseOptions } from './main.js';
import { Progress } from './progress.js';

export const DETECTORS: DetectorKind[] = ['blazeface-mesh', 'blazeface', 'ssd-mobilenet', 'tiny-face'];

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

export function parseBox(s: string): FaceBox {
  const parts = s.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p)) || parts[2] <= 0 || parts[3] <= 0) {
    throw new UsageError(`--box must be x,y,width,height in pixels with a positive size, got '${s}'`);
  }
  return { x: parts[0], y: parts[1], width: parts[2], height: parts[3], score: 1 };
}

/**
 * One image → its output files in `outDir`, all or none (written atomically): what `prnet
 * reconstruct` does per image, shared with the batch workers. Throws InputError (NoFaceError when
 * there is no face) for the image, PrnetError when the files cannot be written.
 */
export async function reconstructToFiles(
  prnet: Prnet,
  file: string,
  stem: string,
  outDir: string,
  options: { box?: FaceBox; maxFaces?: number; formats: ReadonlySet<OutputFormat> },
): Promise<{ faces: number; outputs: string[] }> {
  const image = await decodeImageFile(file);
  const { faces } = await prnet.reconstruct(image, { boxes: options.box ? [options.box] : undefined, maxFaces: options.maxFaces });
  if (!faces.length) throw new NoFaceError('no face found', file);
  const outputs = await buildOutputs(stem, image, faces, prnet.layout, options.formats, (d, w, h, c) => encodePng(d, w, h, c));
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
    quiet: { type: 'boolean', short: 'q' },
    ...formatFlags,
  });
  if (!positionals.length) throw new UsageError('reconstruct needs at least one image or folder (see prnet --help)');
  if (!values.out) throw new UsageError('reconstruct needs --out <dir>');
  const negated: Record<string, boolean | undefined> = {};
  for (const f of OUTPUT_FORMATS) negated[f] = (values as Record<string, unknown>)[f] as boolean | undefined;
  const formats = parseFormats(values.formats, negated);
  const maxFaces = intOption(values['max-faces'], 'max-faces');
  const threads = intOption(values.threads, 'threads');
  const box = values.box ? parseBox(values.box) : undefined;
  const detector = values.detector as DetectorKind | undefined;
  if (detector && !DETECTORS.includes(detector)) throw new UsageError(`--detector must be one of ${DETECTORS.join(', ')}`);
  const quiet = Boolean(values.quiet);

  const { files, empty } = await expandInputs(positionals);
  for (const d of empty) process.stderr.write(`prnet: ${d}: no image files in this folder\n`);
  if (!files.length) throw new InputError('no images to process');
  if (box && files.length > 1) throw new UsageError('--box applies to one image; give a single image with it');
  const outDir = values.out;
  try {
    await mkdir(outDir, { recursive: true });
  } catch (e) {
    throw new UsageError(`cannot create the output folder (${writeFailure(e)})`, outDir);
  }

  const prnet = await createPrnet({ model: values.model, detector: box ? false : detector, threads });
  const stems = uniqueStems(files);
  const progress = new Progress(files.length, { label: 'reconstruct', enabled: !quiet && files.length > 1 });
  const failures: string[] = [];
  let faceCount = 0;
  let written = 0;
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    try {
      const { faces, outputs } = await reconstructToFiles(prnet, file, stems[i], outDir, { box, maxFaces, formats });
      faceCount += faces;
      written += outputs.length;
      progress.tick(true);
      if (!quiet && files.length === 1) process.stderr.write(`${file}: ${faces} face${faces > 1 ? 's' : ''}, ${outputs.length} files written to ${outDir}\n`);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      failures.push(e.message);
      process.stderr.write(`prnet: ${e.message}\n`);
      progress.tick(false);
    }
  }
  await prnet.dispose();
  if (!quiet && files.length > 1) {
    process.stderr.write(`${files.length} images: ${files.length - failures.length} done (${faceCount} faces, ${written} files in ${outDir}), ${failures.length} failed\n`);
    for (const f of failures) process.stderr.write(`  failed: ${f}\n`);
  }
  return failures.length ? EXIT.failed : EXIT.ok;
}
