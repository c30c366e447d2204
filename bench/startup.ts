/**
 * Start-up benchmark: `createPrnet()` (bundled default model, its default int8 graph built at load,
 * and the detector), and its parts — reading the model file, parsing it (F16 → float32 with the
 * finiteness check), building the int8 graph, onnxruntime's session — median of several rounds.
 *
 *   npx tsx bench/startup.ts [--rounds 7] [--compare ../other/src]
 *
 * --compare loads another tree's library too (e.g. the main branch's, for a before/after) and
 * alternates the two round by round in this process, so a busy machine slows both alike.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, compare: { type: 'string' } } });
interface Tree {
  label: string;
  lib: typeof import('../src/index.js');
  weights: typeof import('../src/model/weights.js');
  resfcn: typeof import('../src/model/resfcn.js');
}
const load = async (label: string, src: string): Promise<Tree> => ({
  label,
  lib: await import(resolve(src, 'index.ts')),
  weights: await import(resolve(src, 'model/weights.ts')),
  resfcn: await import(resolve(src, 'model/resfcn.ts')),
});
const trees = [await load('this tree', resolve(import.meta.dirname, '../src'))];
if (values.compare) trees.push(await load(values.compare, values.compare));
const rounds = Number(values.rounds);
const spans = ['createPrnet', 'read', 'parse', 'build int8', 'session'] as const;
const times = trees.map(() => Object.fromEntries(spans.map((s) => [s, [] as number[]])) as Record<(typeof spans)[number], number[]>);
const file = trees[0].lib.BUNDLED_MODELS.default;
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < trees.length; k++) {
    const { lib, weights, resfcn } = trees[k];
    let t = performance.now();
    const prnet = await lib.createPrnet();
    times[k].createPrnet.push(performance.now() - t);
    await prnet.dispose();
    t = performance.now();
    const bytes = await readFile(file);
    times[k].read.push(performance.now() - t);
    t = performance.now();
    const w = weights.parseModelFile(bytes, file);
    times[k].parse.push(performance.now() - t);
    t = performance.now();
    const graph = resfcn.buildResfcnOnnx(w.tensors, w.config, { precision: 'int8', ranges: weights.int8RangesFromMetadata(w.metadata, file) });
    times[k]['build int8'].push(performance.now() - t);
    t = performance.now();
    const session = await ort.InferenceSession.create(graph, { graphOptimizationLevel: 'all', executionMode: 'sequential', extra: { session: { intra_op: { allow_spinning: '0' } } } });
    times[k].session.push(performance.now() - t);
    await session.release();
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`median of ${rounds} rounds, ms${trees.length > 1 ? ' (trees alternating)' : ''}`);
console.log(['', ...spans].map((s) => s.padStart(12)).join(''));
trees.forEach((tree, k) => console.log([tree.label.slice(-12), ...spans.map((s) => median(times[k][s]).toFixed(0))].map((s) => s.padStart(12)).join('')));
