/**
 * onnxruntime's per-node profile of the network graph as sessions run it: kernel time by operator
 * type and the heaviest nodes (names after onnxruntime's fusions: `QLinearConv` = an int8 conv,
 * `Conv`/`FusedConv` = float, `_nchwc` = its blocked-layout float kernels). One intra-op thread,
 * batch 1; each node's time is its minimum over the runs (on a shared machine the least-disturbed
 * run; the sum is then stable to a few per cent under load, where whole-run times swing 2–3×).
 *
 *   npx tsx scripts/network-profile.ts [--model default|light|PATH] [--precision int8|fp32]
 *        [--runs 15] [--batch 1] [--graph '{"quantizeBoundary":false}'] [--top 25]
 *
 * --graph: GraphOptions (src/model/resfcn.ts) to compare graph forms, e.g. quantizeBoundary,
 * spaceToDepthTail, floatLayers.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildResfcnOnnx, type GraphOptions } from '../src/model/resfcn.js';
import { int8RangesFromMetadata } from '../src/model/weights.js';
import { readModelFile } from '../src/model/file-node.js';
import { resolveModel } from '../src/pipeline/node.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'default' },
    precision: { type: 'string', default: 'int8' },
    runs: { type: 'string', default: '15' },
    batch: { type: 'string', default: '1' },
    graph: { type: 'string', default: '{}' },
    top: { type: 'string', default: '25' },
  },
});
const path = resolveModel(values.model) as string;
const w = await readModelFile(path);
const graph: GraphOptions = JSON.parse(values.graph) as GraphOptions;
if (values.precision === 'int8') Object.assign(graph, { precision: 'int8', ranges: int8RangesFromMetadata(w.metadata, path) });
const dir = await mkdtemp(join(tmpdir(), 'prnet-profile-'));
try {
  const session = await ort.InferenceSession.create(buildResfcnOnnx(w.tensors, w.config, graph), {
    graphOptimizationLevel: 'all', intraOpNumThreads: 1, enableProfiling: true, profileFilePrefix: join(dir, 'p'),
  });
  const S = w.config.inputSize;
  const B = Number(values.batch);
  const x = new Float32Array(B * 3 * S * S);
  for (let i = 0; i < x.length; i++) x[i] = (i % 977) / 977;
  for (let i = 0; i < Number(values.runs); i++) await session.run({ input: new ort.Tensor('float32', x, [B, 3, S, S]) });
  session.endProfiling();
  await session.release();
  const file = (await readdir(dir)).find((f) => f.startsWith('p_')) as string;
  const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args: { op_name?: string } }[];
  const nodes = new Map<string, { op: string; ms: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.replace(/_kernel_time$/, '');
    const n = nodes.get(name);
    if (!n) nodes.set(name, { op: e.args.op_name ?? '?', ms: e.dur / 1000 });
    else n.ms = Math.min(n.ms, e.dur / 1000);
  }
  const byOp = new Map<string, number>();
  for (const { op, ms } of nodes.values()) byOp.set(op, (byOp.get(op) ?? 0) + ms);
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  console.log(`${values.model} ${values.precision} ${values.graph}, batch ${B}, 1 thread: ${total.toFixed(1)} ms kernel time per run (per node the minimum of ${values.runs} runs), ${nodes.size} nodes`);
  for (const [op, ms] of [...byOp].sort((a, b) => b[1] - a[1])) console.log(`  ${op.padEnd(18)} ${ms.toFixed(2).padStart(7)} ms  ${((100 * ms) / total).toFixed(0).padStart(3)} %`);
  console.log('heaviest nodes:');
  for (const [name, { op, ms }] of [...nodes].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(values.top))) console.log(`  ${ms.toFixed(2).padStart(6)} ms  ${op.padEnd(18)} ${name}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
