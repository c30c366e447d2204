/**
 * Where the network's time goes in onnxruntime-web's WebAssembly kernels (the app's, run in Node on
 * one thread): onnxruntime's own per-node profile of the graph the browser builds, the median of
 * each node over the last runs, summed by operator and by layer. The profile's timing adds a little
 * to each node; compare the sums between graphs, not with the app's network time.
 *
 *   npx tsx web/scripts/op-profile-web.ts [--model light|default] [--precision int8|fp32] [--runs 30]
 *       [--graph '{"quantizeBoundary":true}']
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { buildResfcnOnnx, type GraphOptions } from '../../src/model/resfcn.js';
import { int8RangesFromMetadata, parseModelFile } from '../../src/model/weights.js';
import { WEB_WASM_GRAPH } from '../../src/runtime/web.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = opt('model', 'light');
const precision = opt('precision', 'int8') === 'fp32' ? 'fp32' : 'int8';
const runs = Number(opt('runs', '30'));
const graph = { ...WEB_WASM_GRAPH, ...(JSON.parse(opt('graph', '{}')) as GraphOptions) };

if (args.includes('--child')) {
  // The child runs the session; onnxruntime-web prints its profile (Chrome trace JSON) to stdout
  // from inside WebAssembly, which the parent reads.
  const w = parseModelFile(new Uint8Array(readFileSync(resolve(import.meta.dirname, '../../assets/models', `prnet-${model}.safetensors`))), model);
  const ranges = int8RangesFromMetadata(w.metadata, model);
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(
    buildResfcnOnnx(w.tensors, w.config, { ...graph, precision, ...(precision === 'int8' ? { ranges } : {}) }),
    { executionProviders: ['wasm'], graphOptimizationLevel: 'all', executionMode: 'sequential', enableProfiling: true },
  );
  const S = w.config.inputSize;
  const input = new Float32Array(3 * S * S).map((_, i) => (i % 97) / 97);
  for (let i = 0; i < runs; i++) await session.run({ input: new ort.Tensor('float32', input, [1, 3, S, S]) });
  session.endProfiling();
  process.exit(0);
}
const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args, '--child'], { encoding: 'utf8', maxBuffer: 1 << 28 });
if (child.status !== 0) throw new Error(`the profiling run failed: ${child.stderr}`);
const text = child.stdout;
interface Event { cat?: string; name: string; ts: number; dur: number; args?: { op_name?: string } }
const events = JSON.parse(text.slice(text.indexOf('['), text.lastIndexOf(']') + 1)) as Event[];
const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
const from = modelRuns[Math.max(0, modelRuns.length - Math.ceil(runs * 2 / 3))].ts;
const perNode = new Map<string, { op: string; ms: number[] }>();
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
  const name = e.name.slice(0, -'_kernel_time'.length);
  const n = perNode.get(name) ?? { op: e.args?.op_name ?? '?', ms: [] };
  n.ms.push(e.dur / 1000);
  perNode.set(name, n);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const byOp = new Map<string, number>();
const byLayer = new Map<string, number>();
for (const [name, { op, ms }] of perNode) {
  const m = median(ms);
  byOp.set(op, (byOp.get(op) ?? 0) + m);
  const layer = /^(enc|dec)\.\d+/.exec(name)?.[0] ?? '(other)';
  const key = `${layer} ${op === 'QLinearConv' || op === 'QLinearAdd' ? 'int8' : 'float'}`;
  byLayer.set(key, (byLayer.get(key) ?? 0) + m);
}
const total = [...byOp.values()].reduce((a, b) => a + b, 0);
const table = (m: Map<string, number>): Record<string, string | number>[] =>
  [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => ({ [m === byOp ? 'operator' : 'layer']: k, ms: +v.toFixed(2), share: `${((100 * v) / total).toFixed(1)} %` }));
console.log(`${model}, ${precision}, graph ${JSON.stringify(graph)}: onnxruntime-web WebAssembly, 1 thread; median ms per node over the last ${Math.ceil(runs * 2 / 3)} of ${runs} runs, summed: ${total.toFixed(2)} ms (model_run median ${median(modelRuns.slice(-Math.ceil(runs * 2 / 3)).map((r) => r.dur / 1000)).toFixed(2)} ms)`);
console.table(table(byOp));
console.table(table(byLayer).slice(0, 16));
