/**
 * Export benchmark: milliseconds of buildOutputs for one face — every file (`all`: the CLI's
 * default, OUTPUT_FORMATS: JSON, OBJ, textured OBJ + MTL + PNG, PLY, GLB, depth and overlay PNGs)
 * and the per-face mesh files only (`mesh`: OBJ, textured OBJ + PNG, PLY, GLB) — median and
 * minimum of several calls after warm-ups, with the bundled default model. The case is
 * bench/export-case.ts, the same as `npm run bench`'s export figure: the largest faces of the
 * first two benchmark photos (640×480) in turn, so every call meets a new face.
 *
 *   npx tsx bench/export.ts [--runs 16] [--image a.jpg[,b.jpg]] [--texture-size 256] [--compare ../other/src] [--own-png]
 *
 * --image: other photos instead (their largest faces in turn). --compare runs another tree's
 * buildOutputs (e.g. the main branch's, for a before/after) on the same faces, alternating with
 * this tree's call by call, so a busy machine slows both alike; both use this tree's PNG encoder
 * (the files are then compared byte for byte) unless --own-png, where each uses its own (its zlib
 * level). Also printed: the process's CPU time per call (all threads, sharp's included).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EXPORT_WARMUP, exportInputs, timeExportCall, type ExportInput } from './export-case.js';
import { loadBenchPhotos } from './photos.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '16' },
    image: { type: 'string' },
    'texture-size': { type: 'string' },
    compare: { type: 'string' },
    'own-png': { type: 'boolean', default: false },
    warmup: { type: 'string' },
  },
});
type Lib = typeof import('../src/index.js');
type Build = (...a: unknown[]) => Promise<{ name: string; data: Uint8Array | string }[]>;
const load = async (src: string): Promise<Lib> => (await import(resolve(src, 'index.ts'))) as Lib;
const trees: [string, Lib][] = [['this tree', await load(resolve(import.meta.dirname, '../src'))]];
if (values.compare) trees.push([values.compare, await load(values.compare)]);
const runs = Number(values.runs);
// Calls before timing (default EXPORT_WARMUP). V8 tiers the export code up over the first tens of
// calls in a process (see README, export): `--warmup 80` times the steady state.
const warmup = values.warmup === undefined ? EXPORT_WARMUP : Number(values.warmup);
const lib = trees[0][1];
const prnet = await lib.createPrnet({ threads: 2 });
const photos = values.image
  ? await Promise.all(values.image.split(',').map((p) => lib.decodeImageFile(p)))
  : (await loadBenchPhotos()).photos;
const inputs = await exportInputs((image, o) => prnet.reconstruct(image, o), photos);
const options = values['texture-size'] ? { textureSize: Number(values['texture-size']) } : undefined;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sets = { all: lib.OUTPUT_FORMATS, mesh: ['obj', 'textured', 'ply', 'glb'] } as const;
for (const [name, list] of Object.entries(sets)) {
  const times = trees.map(() => [] as number[]);
  const cpu = trees.map(() => [] as number[]);
  const bytes = trees.map(() => 0);
  // the last files of each tree per input, for the comparison
  const last = trees.map(() => new Map<ExportInput, { name: string; data: Uint8Array | string }[]>());
  const first = trees.map(() => 0);
  for (let r = 0; r < warmup + runs; r++) {
    const input = inputs[r % inputs.length];
    for (let k = 0; k < trees.length; k++) {
      const build = trees[k][1].buildOutputs as Build;
      const encode = values['own-png'] ? trees[k][1].encodePng : lib.encodePng;
      let files: { name: string; data: Uint8Array | string }[] = [];
      // The extra argument is ignored by a tree without output options.
      const t = await timeExportCall(async (i, layout) => (files = await build('b', i.image, i.faces, layout, new Set(list), encode, options)), input, prnet.layout);
      if (r === 0) first[k] = t.ms;
      if (r >= warmup) {
        times[k].push(t.ms);
        cpu[k].push(t.cpu);
      }
      bytes[k] = files.reduce((s, f) => s + (typeof f.data === 'string' ? f.data.length : f.data.byteLength), 0);
      last[k].set(input, files);
    }
  }
  trees.forEach(([tree], k) => {
    console.log(`${name} (${tree}): median ${median(times[k]).toFixed(1)} ms, min ${Math.min(...times[k]).toFixed(1)} ms over ${runs} calls after ${warmup}, CPU ${median(cpu[k]).toFixed(1)} ms; ${(bytes[k] / 1e6).toFixed(2)} MB; its first call ${first[k].toFixed(0)} ms (the first set's: the process's first)`);
  });
  if (trees.length > 1 && !values['own-png']) {
    // the same PNG encoder for both trees, so the files can be compared byte for byte
    const same = (a: Uint8Array | string, b: Uint8Array | string): boolean => (typeof a === 'string' ? a === b : typeof b !== 'string' && Buffer.from(a).equals(Buffer.from(b)));
    const differ = inputs.flatMap((input) => {
      const a = last[0].get(input) ?? [], b = last[1].get(input) ?? [];
      if (a.length !== b.length) return ['the file lists'];
      return a.filter((f, i) => f.name !== b[i].name || !same(f.data, b[i].data)).map((f) => f.name);
    });
    console.log(`${name}: the two trees' files are ${differ.length ? `DIFFERENT (${[...new Set(differ)].join(', ')})` : 'identical'} (${inputs.length} faces)`);
  }
}
await prnet.dispose();
