/**
 * Network-only timing and accuracy of the graph forms of a model, in one process: the reference
 * graph (ConvTranspose + BatchNormalization), the folded fp32 graph and the int8 graph, run
 * interleaved (round-robin, so machine load hits all alike), batch 1 and batch 2. Prints ms per
 * forward pass (median over rounds), the ratio to the first variant, and the difference of the
 * position maps from the first variant's on real crops (../shared/eval/portraits, the pipeline's
 * detector and crop; held out from the int8 calibration): max and mean |diff| over the face
 * pixels of the UV layout, and the mean 2D distance at the 68 landmarks, in crop pixels.
 *
 *   npx tsx scripts/network-bench.ts [--model default|light|PATH] [--rounds 10] [--threads N]
 *        [--variants reference,folded,int8] [--float-layers enc.0,dec.16] [--profile]
 *
 * --profile: also onnxruntime's per-node profile of each variant (one thread, batch 1, 4 runs):
 * kernel time by operator type, summed over the nodes.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildResfcnOnnx, type GraphOptions } from '../src/model/resfcn.js';
import { int8RangesFromMetadata } from '../src/model/weights.js';
import { readModelFile } from '../src/model/file-node.js';
import { loadLayout } from '../src/layout/node.js';
import { resolveModel } from '../src/pipeline/node.js';
import { hwcToChw } from '../src/runtime/resample.js';
import { resizeSquare } from '../src/runtime/resample.js';
import { faceCrops, listImages } from './face-crops.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'default' },
    rounds: { type: 'string', default: '10' },
    threads: { type: 'string' },
    variants: { type: 'string', default: 'reference,folded,int8' },
    'float-layers': { type: 'string' },
    crops: { type: 'string', default: '8' },
    profile: { type: 'boolean', default: false },
  },
});
const path = resolveModel(values.model) as string;
const weights = await readModelFile(path);
const S = weights.config.inputSize;
const ranges = int8RangesFromMetadata(weights.metadata, path);
const variants: [string, GraphOptions][] = values.variants.split(',').map((v) => {
  if (v === 'reference') return [v, { form: 'reference' }];
  if (v === 'folded') return [v, {}];
  if (v === 'int8') {
    if (!ranges) throw new Error(`${path} has no int8 calibration (run scripts/calibrate-int8.ts)`);
    return [v, { precision: 'int8', ranges, floatLayers: values['float-layers']?.split(',').filter(Boolean) }];
  }
  throw new Error(`unknown variant ${v}`);
});
const opts: Record<string, unknown> = { graphOptimizationLevel: 'all', executionMode: 'sequential' };
if (values.threads) Object.assign(opts, { intraOpNumThreads: Number(values.threads), interOpNumThreads: 1 });
const sessions = [];
for (const [name, g] of variants) {
  let t = performance.now();
  const graph = buildResfcnOnnx(weights.tensors, weights.config, g);
  const build = performance.now() - t;
  t = performance.now();
  const session = await ort.InferenceSession.create(graph, opts);
  sessions.push({ name, session, build, create: performance.now() - t, bytes: graph.byteLength, times: { 1: [] as number[], 2: [] as number[] } });
}

// Real crops (held out from calibration: portraits, not utkface).
const crops = await faceCrops(await listImages('../shared/eval/portraits'), Number(values.crops));
const toInput = (n: number, offset: number): Float32Array => {
  const x = new Float32Array(n * 3 * S * S);
  for (let i = 0; i < n; i++) {
    const c = crops[(offset + i) % crops.length].crop.data;
    hwcToChw(S === 256 ? c : resizeSquare(c, 256, S, 3), S, 3, x, i * 3 * S * S);
  }
  return x;
};
const run = async (s: ort.InferenceSession, x: Float32Array, n: number): Promise<Float32Array> =>
  (await s.run({ input: new ort.Tensor('float32', x, [n, 3, S, S]) })).output.data as Float32Array;

// Accuracy against the first variant on every crop, at the layout's face pixels (a 128² map at
// the pixel under each 256² layout pixel).
const layout = await loadLayout();
const pix = (p: number): number => (S === 256 ? p : Math.floor(p / 512) * S + Math.floor((p % 256) / 2));
const plane = S * S;
const refOut = [];
for (let i = 0; i < crops.length; i++) refOut.push(await run(sessions[0].session, toInput(1, i), 1));
const acc = new Map<string, { max: number; mean: number; kpt: number }>();
for (const s of sessions.slice(1)) {
  let max = 0;
  let sum = 0;
  let count = 0;
  let kpt = 0;
  for (let i = 0; i < crops.length; i++) {
    const y = await run(s.session, toInput(1, i), 1);
    const r = refOut[i];
    for (const p of layout.faceIndex) {
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(y[c * plane + pix(p)] - r[c * plane + pix(p)]);
        max = Math.max(max, d);
        sum += d;
        count++;
      }
    }
    for (const p of layout.kptIndex) kpt += Math.hypot(y[pix(p)] - r[pix(p)], y[plane + pix(p)] - r[plane + pix(p)]) / 68 / crops.length;
  }
  acc.set(s.name, { max, mean: sum / count, kpt });
}

// Timing: warm-up, then interleaved rounds.
for (const s of sessions) for (const n of [1, 2]) await run(s.session, toInput(n, 0), n);
const rounds = Number(values.rounds);
for (let r = 0; r < rounds; r++) {
  for (const n of [1, 2] as const) {
    for (const s of sessions) {
      const x = toInput(n, r);
      const t = performance.now();
      await run(s.session, x, n);
      s.times[n].push(performance.now() - t);
    }
  }
}
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1];
const base = { 1: median(sessions[0].times[1]), 2: median(sessions[0].times[2]) };
console.log(`model ${path} (width ${weights.config.width}, ${S}²), ${crops.length} crops, ${rounds} rounds, threads ${values.threads ?? 'default'}`);
console.log('variant    graph MB  build ms  session ms  batch1 ms (×1st)   batch2 ms (×1st)   face max|diff|  mean|diff|  68-pt mean (px)');
for (const s of sessions) {
  const m1 = median(s.times[1]);
  const m2 = median(s.times[2]);
  const a = acc.get(s.name);
  console.log(
    `${s.name.padEnd(10)} ${(s.bytes / 1e6).toFixed(1).padStart(8)}  ${s.build.toFixed(0).padStart(8)}  ${s.create.toFixed(0).padStart(10)}  ` +
      `${m1.toFixed(1).padStart(8)} (${(m1 / base[1]).toFixed(2)})  ${m2.toFixed(1).padStart(9)} (${(m2 / base[2]).toFixed(2)})  ` +
      (a ? `${a.max.toFixed(4).padStart(14)}  ${a.mean.toFixed(5).padStart(10)}  ${a.kpt.toFixed(4).padStart(10)}` : ''),
  );
}

if (values.profile) {
  const dir = await mkdtemp(join(tmpdir(), 'prnet-profile-'));
  for (const [name, g] of variants) {
    const session = await ort.InferenceSession.create(buildResfcnOnnx(weights.tensors, weights.config, g), {
      graphOptimizationLevel: 'all', intraOpNumThreads: 1, enableProfiling: true, profileFilePrefix: join(dir, name),
    });
    for (let i = 0; i < 4; i++) await run(session, toInput(1, i), 1);
    session.endProfiling();
    await session.release();
    const file = (await readdir(dir)).find((f) => f.startsWith(`${name}_`)) as string;
    const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args: { op_name?: string } }[];
    const byOp = new Map<string, number>();
    for (const e of events) {
      if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.args.op_name) byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur / 4000);
    }
    const total = [...byOp.values()].reduce((a, b) => a + b, 0);
    console.log(`profile ${name} (1 thread, batch 1): ${total.toFixed(1)} ms kernel time: ` + [...byOp].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '));
  }
  await rm(dir, { recursive: true, force: true });
}
