/**
 * Export benchmark: milliseconds of buildOutputs for one face — every file (`all`: JSON, OBJ,
 * textured OBJ + MTL + PNG, PLY, GLB, depth and overlay PNGs) and the per-face mesh files only
 * (`mesh`: OBJ, textured OBJ + PNG, PLY, GLB) — median and minimum of several runs after warm-ups,
 * on one photo with the bundled default model.
 *
 *   npx tsx bench/export.ts [--runs 25] [--image path] [--texture-size 256] [--compare ../other/src]
 *
 * --compare runs another tree's buildOutputs (e.g. the main branch's, for a before/after) on the
 * same face, alternating with this tree's call by call, so a busy machine slows both alike; both
 * use this tree's PNG encoder (the files are then compared byte for byte) unless --own-png, where
 * each uses its own (its zlib level). Also printed: the process's CPU time per call (all threads,
 * sharp's included).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '25' },
    image: { type: 'string', default: resolve(import.meta.dirname, '../examples/astronaut.jpg') },
    'texture-size': { type: 'string' },
    compare: { type: 'string' },
    'own-png': { type: 'boolean', default: false },
  },
});
type Lib = typeof import('../src/index.js');
type Build = (...a: unknown[]) => Promise<{ data: Uint8Array | string }[]>;
const load = async (src: string): Promise<Lib> => (await import(resolve(src, 'index.ts'))) as Lib;
const trees: [string, Lib][] = [['this tree', await load(resolve(import.meta.dirname, '../src'))]];
if (values.compare) trees.push([values.compare, await load(values.compare)]);
const runs = Number(values.runs);
const lib = trees[0][1];
const prnet = await lib.createPrnet({ threads: 2 });
const image = await lib.decodeImageFile(values.image);
const { faces } = await prnet.reconstruct(image, { maxFaces: 1 });
const options = values['texture-size'] ? { textureSize: Number(values['texture-size']) } : undefined;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sets = { all: lib.OUTPUT_FORMATS, mesh: ['obj', 'textured', 'ply', 'glb'] } as const;
for (const [name, list] of Object.entries(sets)) {
  const times = trees.map(() => [] as number[]);
  const bytes = trees.map(() => 0);
  const last: { data: Uint8Array | string }[][] = trees.map(() => []);
  const cpu = trees.map(() => [] as number[]);
  for (let r = 0; r < runs + 3; r++) {
    for (let k = 0; k < trees.length; k++) {
      const t = performance.now();
      const c = process.cpuUsage();
      // The extra argument is ignored by a tree without output options.
      const files = await (trees[k][1].buildOutputs as Build)('b', image, faces, prnet.layout, new Set(list), values['own-png'] ? trees[k][1].encodePng : lib.encodePng, options);
      const used = process.cpuUsage(c);
      if (r >= 3) {
        times[k].push(performance.now() - t);
        cpu[k].push((used.user + used.system) / 1000);
      }
      bytes[k] = files.reduce((s, f) => s + (typeof f.data === 'string' ? f.data.length : f.data.byteLength), 0);
      last[k] = files;
    }
  }
  trees.forEach(([tree], k) => {
    console.log(`${name} (${tree}): median ${median(times[k]).toFixed(1)} ms, min ${Math.min(...times[k]).toFixed(1)} ms over ${runs} runs, CPU ${median(cpu[k]).toFixed(1)} ms; ${(bytes[k] / 1e6).toFixed(2)} MB`);
  });
  if (trees.length > 1 && !values['own-png']) {
    // the same PNG encoder for both trees, so the files can be compared byte for byte
    const same = (a: Uint8Array | string, b: Uint8Array | string): boolean => (typeof a === 'string' ? a === b : typeof b !== 'string' && Buffer.from(a).equals(Buffer.from(b)));
    const identical = last[0].length === last[1].length && last[0].every((f, i) => same(f.data, last[1][i].data));
    console.log(`${name}: the two trees' files are ${identical ? 'identical' : 'DIFFERENT'}`);
  }
}
await prnet.dispose();
