/**
 * The export benchmark's case, one definition for `npm run bench` (bench/pipeline.ts) and
 * bench/export.ts, so that both time the same thing: buildOutputs with every format the CLI writes
 * by default (OUTPUT_FORMATS: JSON, OBJ, textured OBJ + MTL + PNG, PLY, GLB, depth and the three
 * overlay PNGs) for the largest face of a photo, the photos taken in turn — the largest faces of
 * the first two benchmark photos (640×480), so that every call meets a new face, as a folder of
 * photos does (the text that depends on the face is written every time; only the text the layout
 * fixes is reused). After EXPORT_WARMUP calls, the median and minimum of the calls timed.
 */
import type { Layout } from '../src/layout/index.js';
import type { Face } from '../src/pipeline/face.js';
import type { RgbImage } from '../src/types.js';

/** Photos taken in turn (indices into loadBenchPhotos' photos). */
export const EXPORT_PHOTOS = [0, 1] as const;
/** Calls before timing: the layout's text, the tables and the JIT warm. */
export const EXPORT_WARMUP = 4;

export interface ExportInput {
  image: RgbImage;
  /** The largest face only. */
  faces: Face[];
}

/** The inputs of the case: the largest face of each of EXPORT_PHOTOS. */
export async function exportInputs(reconstruct: (image: RgbImage, options: { maxFaces: number }) => Promise<{ faces: Face[] }>, photos: RgbImage[]): Promise<ExportInput[]> {
  const inputs: ExportInput[] = [];
  for (const k of EXPORT_PHOTOS) {
    const image = photos[k % photos.length];
    const { faces } = await reconstruct(image, { maxFaces: 1 });
    if (!faces.length) throw new Error(`export benchmark: no face found in benchmark photo ${k}`);
    inputs.push({ image, faces });
  }
  return inputs;
}

/** One call of the case: every file for the face of `input` (what buildOutputs is given). */
export type ExportCall = (input: ExportInput, layout: Layout) => Promise<unknown>;

/** Wall and CPU milliseconds (the process's, all threads: sharp's PNG encoders included) of one call. */
export async function timeExportCall(call: ExportCall, input: ExportInput, layout: Layout): Promise<{ ms: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  await call(input, layout);
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  return { ms, cpu: (used.user + used.system) / 1000 };
}

/** `runs` timed calls after EXPORT_WARMUP, the inputs in turn. */
export async function timeExport(call: ExportCall, inputs: ExportInput[], layout: Layout, runs: number): Promise<{ ms: number[]; cpu: number[] }> {
  const ms: number[] = [], cpu: number[] = [];
  for (let r = 0; r < EXPORT_WARMUP + runs; r++) {
    const t = await timeExportCall(call, inputs[r % inputs.length], layout);
    if (r < EXPORT_WARMUP) continue;
    ms.push(t.ms);
    cpu.push(t.cpu);
  }
  return { ms, cpu };
}
