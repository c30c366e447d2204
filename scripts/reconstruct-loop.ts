/**
 * `reconstruct` over and over on the nine photos of `npm run bench`, one configuration, nothing
 * else in the process: for profilers and the garbage collector's trace, e.g.
 *
 *   node --trace-gc --import tsx scripts/reconstruct-loop.ts --model light --rounds 20 [--flip] [--tree tmp/before]
 *   node --cpu-prof --import tsx scripts/reconstruct-loop.ts --model default
 *
 * --tree runs an earlier tree's src (unpacked as scripts/reconstruct-compare.ts says). Prints the
 * mean wall time per photo and, from the trace (when --trace-gc is given), nothing more: count the
 * "Scavenge" and "Mark-Compact" lines and sum their pauses.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadBenchPhotos } from '../bench/photos.js';
import type * as NP from '../src/pipeline/node.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'default' },
    rounds: { type: 'string', default: '20' },
    flip: { type: 'boolean', default: false },
    tree: { type: 'string' },
  },
});
const src = values.tree ? pathToFileURL(join(resolve(values.tree), 'src', 'pipeline', 'node.ts')).href : '../src/pipeline/node.js';
const { createPrnet } = (await import(src)) as typeof NP;
const { photos } = await loadBenchPhotos();
const prnet = await createPrnet(values.model === 'default' ? {} : { model: values.model });
const flip = values.flip;
for (const image of photos) await prnet.reconstruct(image, { flip });
const rounds = Number(values.rounds);
const t = performance.now();
for (let r = 0; r < rounds; r++) for (const image of photos) await prnet.reconstruct(image, { flip });
console.log(`${values.model}${flip ? ', flip' : ''}: ${((performance.now() - t) / (rounds * photos.length)).toFixed(2)} ms per photo (mean of ${rounds} rounds × ${photos.length} photos)`);
await prnet.dispose();
process.exit(0);
