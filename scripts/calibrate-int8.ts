/**
 * Calibrates the int8 graph of a model: runs the folded fp32 graph on real face crops (and their
 * mirror images, as test-time flip feeds them) and records the [min, max] of every activation the
 * int8 graph quantizes. The ranges go into the model file's metadata (`int8_ranges`), so a session
 * builds the int8 graph without calibrating at start-up. The weights are not changed.
 *
 *   npx tsx scripts/calibrate-int8.ts --model default [--images ../shared/faces/utkface]
 *        [--count 128] [--method mse|minmax] [--default-precision int8|fp32] [--write | --out ranges.json]
 *
 * --default-precision goes into the metadata (`default_precision`): the precision sessions use
 * when not told otherwise. With --only-default-precision only that key is rewritten (the file
 * must already hold its calibration).
 *
 * Never calibrate on AFLW images (AFLW2000-3D is the evaluation set).
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { readModelFile, writeModelFile } from '../src/model/file-node.js';
import { buildResfcnOnnx } from '../src/model/resfcn.js';
import { DEFAULT_PRECISION_KEY, INT8_RANGES_KEY, int8RangesFromMetadata } from '../src/model/weights.js';
import { resolveModel } from '../src/pipeline/node.js';
import { hwcToChw, resizeSquare } from '../src/runtime/resample.js';
import { faceCrops, listImages } from './face-crops.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'default' },
    images: { type: 'string', default: '../shared/faces/utkface' },
    count: { type: 'string', default: '128' },
    write: { type: 'boolean', default: false },
    method: { type: 'string', default: 'mse' },
    'default-precision': { type: 'string', default: 'int8' },
    'only-default-precision': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const path = resolveModel(values.model) as string;
if (!['int8', 'fp32'].includes(values['default-precision'])) throw new Error('--default-precision must be int8 or fp32');
if (/aflw/i.test(values.images)) throw new Error('refusing to calibrate on AFLW images (the evaluation set)');
const weights = await readModelFile(path);
if (values['only-default-precision']) {
  if (!int8RangesFromMetadata(weights.metadata, path)) throw new Error(`${path} has no int8 calibration yet`);
  await writeModelFile(path, { ...weights, metadata: { ...weights.metadata, [DEFAULT_PRECISION_KEY]: values['default-precision'] } }, { dtype: 'F16' });
  console.log(`${path}: ${DEFAULT_PRECISION_KEY} = ${values['default-precision']}`);
  process.exit(0);
}
const S = weights.config.inputSize;
const count = Number(values.count);

// Every k-th photo of the folder, so the sample spans it (UTKFace is sorted by age).
const all = await listImages(values.images);
const step = Math.max(1, Math.floor(all.length / (count * 1.2)));
const sample = all.filter((_, i) => i % step === 0);
const t0 = performance.now();
const crops = await faceCrops(sample, count);
console.log(`${crops.length} crops from ${values.images} (every ${step}th photo) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const graph = buildResfcnOnnx(weights.tensors, weights.config, { exposeActivations: true });
const session = await ort.InferenceSession.create(graph, { graphOptimizationLevel: 'all' });
const names = session.outputNames.filter((n) => n !== 'output');
const inputs = function* (): Generator<Float32Array> {
  const x = new Float32Array(3 * S * S);
  for (const { crop } of crops) {
    const src = S === 256 ? crop.data : resizeSquare(crop.data, 256, S, 3);
    for (const mirror of [false, true]) {
      hwcToChw(src, S, 3, x);
      if (mirror) for (let r = 0; r < 3 * S; r++) x.subarray(r * S, (r + 1) * S).reverse();
      yield x;
    }
  }
};
const forward = async (x: Float32Array) => session.run({ input: new ort.Tensor('float32', x, [1, 3, S, S]) });

// Pass 1: the extremes of every activation.
const lo = new Map<string, number>(names.map((n) => [n, 0]));
const hi = new Map<string, number>(names.map((n) => [n, 0]));
for (const x of inputs()) {
  const out = await forward(x);
  for (const n of names) {
    const d = out[n].data as Float32Array;
    let a = lo.get(n) as number;
    let b = hi.get(n) as number;
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      if (v < a) a = v;
      if (v > b) b = v;
    }
    lo.set(n, a);
    hi.set(n, b);
  }
}
// Pass 2: a histogram over [min, max] of each, then the range [α·min, α·max] that minimises the
// expected squared error of 8-bit quantization (clipping error outside, step²/12 inside).
const BINS = 2048;
const hist = new Map<string, Float64Array>(names.map((n) => [n, new Float64Array(BINS)]));
for (const x of inputs()) {
  const out = await forward(x);
  for (const n of names) {
    const d = out[n].data as Float32Array;
    const h = hist.get(n) as Float64Array;
    const a = lo.get(n) as number;
    const w = ((hi.get(n) as number) - a) / BINS || 1;
    for (let i = 0; i < d.length; i++) h[Math.min(BINS - 1, Math.floor((d[i] - a) / w))]++;
  }
}
const clipFor = (n: string): number => {
  const h = hist.get(n) as Float64Array;
  const a = lo.get(n) as number;
  const b = hi.get(n) as number;
  const w = (b - a) / BINS;
  let best = 1;
  let bestErr = Infinity;
  for (let alpha = 1; alpha > 0.02; alpha -= 0.01) {
    const ca = alpha * a;
    const cb = alpha * b;
    const step = (cb - ca) / 255;
    let err = 0;
    for (let k = 0; k < BINS; k++) {
      if (!h[k]) continue;
      const v = a + (k + 0.5) * w;
      const c = v < ca ? ca - v : v > cb ? v - cb : 0;
      err += h[k] * (c > 0 ? c * c : (step * step) / 12);
    }
    if (err < bestErr) {
      bestErr = err;
      best = alpha;
    }
  }
  return best;
};
const method = values.method;
await session.release();
const round = (v: number): number => Number(v.toPrecision(6));
const ranges: Record<string, [number, number]> = { input: [0, 1] };
for (const n of names) {
  const alpha = method === 'mse' ? clipFor(n) : 1;
  ranges[n] = [round(alpha * (lo.get(n) as number)), round(alpha * (hi.get(n) as number))];
}
console.log(`${names.length + 1} activation ranges, e.g. ${names.slice(0, 4).map((n) => `${n} [${ranges[n].join(', ')}]`).join(', ')}`);
const json = JSON.stringify(ranges);
int8RangesFromMetadata({ [INT8_RANGES_KEY]: json }, 'calibration'); // validates
if (values.write) {
  const metadata = { ...weights.metadata, [INT8_RANGES_KEY]: json, [DEFAULT_PRECISION_KEY]: values['default-precision'], int8_calibration: `${crops.length} crops of ${values.images.replace(/^.*shared\//, '')} and their mirror images, ${method === 'mse' ? 'ranges minimising the 8-bit quantization error' : 'min/max'}` };
  await writeModelFile(path, { ...weights, metadata }, { dtype: 'F16' });
  console.log(`wrote ${path}`);
} else if (values.out) {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(values.out, json + '\n');
  console.log(`wrote ${values.out}`);
} else {
  console.log(json);
}
