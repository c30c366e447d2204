/**
 * Export benchmark: milliseconds of buildOutputs for one face — every file (`all`: JSON, OBJ,
 * textured OBJ + MTL + PNG, PLY, GLB, depth and overlay PNGs) and the per-face mesh files only
 * (`mesh`) — median of several runs after warm-ups, on one photo with the bundled default model.
 *
 *   npx tsx bench/export.ts [--runs 15] [--image path] [--texture-size 256]
 *
 * PRNET_SRC=<other checkout>/src runs the same measurement against another tree's code (e.g. the
 * main branch, for a before/after).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    image: { type: 'string', default: resolve(import.meta.dirname, '../examples/astronaut.jpg') },
    'texture-size': { type: 'string' },
  },
});
const src = process.env.PRNET_SRC ? resolve(process.env.PRNET_SRC) : resolve(import.meta.dirname, '../src');
const lib = (await import(resolve(src, 'index.ts'))) as typeof import('../src/index.js');
const runs = Number(values.runs);
const prnet = await lib.createPrnet({ threads: 2 });
const image = await lib.decodeImageFile(values.image);
const { faces } = await prnet.reconstruct(image, { maxFaces: 1 });
const options = values['texture-size'] ? { textureSize: Number(values['texture-size']) } : undefined;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sets = {
  all: new Set(lib.OUTPUT_FORMATS),
  mesh: new Set(['obj', 'textured', 'ply', 'glb'] as const),
};
for (const [name, formats] of Object.entries(sets)) {
  const times: number[] = [];
  let bytes = 0;
  for (let r = 0; r < runs + 3; r++) {
    const t = performance.now();
    // The extra argument is ignored by a tree without output options.
    const files = await (lib.buildOutputs as (...a: unknown[]) => Promise<{ data: Uint8Array | string }[]>)('b', image, faces, prnet.layout, formats, lib.encodePng, options);
    if (r >= 3) times.push(performance.now() - t);
    bytes = files.reduce((s, f) => s + (typeof f.data === 'string' ? f.data.length : f.data.byteLength), 0);
  }
  console.log(`${name}: ${median(times).toFixed(1)} ms (median of ${runs}; min ${Math.min(...times).toFixed(1)}), ${(bytes / 1e6).toFixed(2)} MB`);
}
await prnet.dispose();
