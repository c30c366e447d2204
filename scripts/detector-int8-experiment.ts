/**
 * An experiment, not a product path: BlazeFace as a QDQ int8 graph — int8 weights per output
 * channel, uint8 activations per tensor calibrated (min/max) on the 9 bench photos and 40 WebFaces
 * photos, int32 biases — against the shipped float graph: the error of the first 39 activations on
 * one photo, the time of a 256 × 224 pass at 1 and 2 threads (interleaved, median of 135), and the
 * detections on the 49 photos, and how many int8 operators onnxruntime made of the graph (QLinearConv,
 * QLinearAdd: the fusion happened). The result (docs/detectors.md): slower and wrong, so not used.
 *
 *   npx tsx scripts/detector-int8-experiment.ts
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readOnnxModel } from '../tools/detector/onnx-read.js';
import { encodeModel, type OnnxInitializer, type OnnxNode } from '../src/model/onnx.js';
import { BLAZEFACE_MODEL } from '../src/detect/create-node.js';
import { createBlazeFaceDetector } from '../src/detect/blazeface-detector.js';
import { fillInput, fitWindow } from '../src/detect/blazeface.js';
import { loadBenchPhotos } from '../bench/photos.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { iou } from '../src/detect/detector.js';
import type { OrtModule } from '../src/runtime/ort.js';
import type { RgbImage } from '../src/types.js';

const WEBFACES = join(import.meta.dirname, '..', '..', 'shared', 'eval', 'webfaces-detect');
const bytes = new Uint8Array(await readFile(BLAZEFACE_MODEL));
const g = readOnnxModel(bytes);
const inits = new Map(g.initializers.map((t) => [t.name, t]));
const isHead = (n: OnnxNode) => g.nodes.some((m) => m.opType === 'Transpose' && m.inputs[0] === n.outputs[0]);
const acts = ['input:0', ...g.nodes.filter((n) => ['Conv', 'Add', 'Relu', 'MaxPool'].includes(n.opType) && !isHead(n)).map((n) => n.outputs[0])];
const enc = (nodes: OnnxNode[], initializers: OnnxInitializer[], outputs: { name: string; shape: (string | number)[] }[]) =>
  encodeModel({ name: 'bf', nodes, initializers, inputs: [{ name: 'input:0', shape: [1, 3, 'height', 'width'] }], outputs }, { irVersion: 8, opsetVersion: 13 });
const headOutputs = g.outputs.map((name) => ({ name, shape: [1, `${name}_a`, `${name}_n`] as (string | number)[] }));

// 1. Calibration: the fp32 graph with every activation as an output, on photos' first-pass inputs.
const calib = await ort.InferenceSession.create(enc(g.nodes, g.initializers, [...headOutputs, ...acts.slice(1).map((name) => ({ name, shape: [1, `${name}_c`, `${name}_h`, `${name}_w`] }))]), { logSeverityLevel: 3 });
const { photos } = await loadBenchPhotos();
const extra: RgbImage[] = [];
for (const f of (await readdir(WEBFACES)).filter((f) => f.endsWith('.jpg')).slice(0, 40)) extra.push(await decodeImageFile(join(WEBFACES, f)));
const ranges = new Map<string, [number, number]>(acts.map((a) => [a, [0, 0]]));
ranges.set('input:0', [-1, 1]);
for (const im of [...photos, ...extra]) {
  const fit = fitWindow(im.width, im.height);
  const input = new Float32Array(3 * 256 * 256);
  fillInput(im, input, 256, fit.x0, fit.y0, fit.side);
  const out = await calib.run({ 'input:0': new ort.Tensor('float32', input, [1, 3, 256, 256]) });
  for (const a of acts.slice(1)) {
    const d = out[a].data as Float32Array;
    const r = ranges.get(a)!;
    for (let i = 0; i < d.length; i++) { if (d[i] < r[0]) r[0] = d[i]; if (d[i] > r[1]) r[1] = d[i]; }
  }
}
// 2. The QDQ graph.
const nodes: OnnxNode[] = [];
const initializers: OnnxInitializer[] = g.initializers.filter((t) => !g.nodes.some((n) => n.opType === 'Conv' && !isHead(n) && n.inputs.slice(1).includes(t.name)));
const scaleOf = new Map<string, number>();
const qdq = (x: string) => {
  const [lo0, hi0] = ranges.get(x)!;
  const lo = Math.min(lo0, 0), hi = Math.max(hi0, lo + 1e-6);
  const scale = (hi - lo) / 255;
  const zero = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  initializers.push({ name: `${x}.s`, dims: [], data: Float32Array.of(scale) }, { name: `${x}.z`, dims: [], data: Uint8Array.of(zero) });
  nodes.push({ opType: 'QuantizeLinear', name: `${x}.q`, inputs: [x, `${x}.s`, `${x}.z`], outputs: [`${x}.q`] });
  nodes.push({ opType: 'DequantizeLinear', name: `${x}.dq`, inputs: [`${x}.q`, `${x}.s`, `${x}.z`], outputs: [`${x}.dq`] });
  scaleOf.set(x, scale);
};
const quantized = new Set(acts);
const src = (x: string) => (quantized.has(x) ? `${x}.dq` : x);
qdq('input:0');
for (const n of g.nodes) {
  const ins = n.inputs.map((x, i) => (i === 0 || n.opType === 'Add' ? src(x) : x));
  if (n.opType === 'Conv' && !isHead(n)) {
    const w = inits.get(n.inputs[1])!;
    const wd = w.data as Float32Array;
    const O = w.dims[0], per = wd.length / O;
    const wq = new Int8Array(wd.length), ws = new Float32Array(O);
    for (let o = 0; o < O; o++) {
      let m = 0;
      for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(wd[o * per + i]));
      ws[o] = m > 0 ? m / 127 : 1;
      for (let i = 0; i < per; i++) wq[o * per + i] = Math.round(wd[o * per + i] / ws[o]);
    }
    initializers.push({ name: `${w.name}.q`, dims: w.dims, data: wq }, { name: `${w.name}.ws`, dims: [O], data: ws }, { name: `${w.name}.wz`, dims: [O], data: new Int8Array(O) });
    nodes.push({ opType: 'DequantizeLinear', name: `${w.name}.dq`, inputs: [`${w.name}.q`, `${w.name}.ws`, `${w.name}.wz`], outputs: [`${w.name}.dq`], attributes: [{ name: 'axis', i: 0 } ] });
    ins[1] = `${w.name}.dq`;
    if (n.inputs[2]) {
      const b = inits.get(n.inputs[2])!.data as Float32Array;
      const sx = scaleOf.get(n.inputs[0])!;
      const bs = new Float32Array(O).map((_, o) => sx * ws[o]);
      const bq = new Int32Array(O).map((_, o) => Math.round(b[o] / bs[o]));
      initializers.push({ name: `${n.inputs[2]}.q`, dims: [O], data: bq }, { name: `${n.inputs[2]}.bs`, dims: [O], data: bs }, { name: `${n.inputs[2]}.bz`, dims: [O], data: new Int32Array(O) });
      nodes.push({ opType: 'DequantizeLinear', name: `${n.inputs[2]}.dq`, inputs: [`${n.inputs[2]}.q`, `${n.inputs[2]}.bs`, `${n.inputs[2]}.bz`], outputs: [`${n.inputs[2]}.dq`], attributes: [{ name: 'axis', i: 0 } ] });
      ins[2] = `${n.inputs[2]}.dq`;
    }
  }
  nodes.push({ ...n, inputs: ins });
  if (quantized.has(n.outputs[0])) qdq(n.outputs[0]);
}
const int8bytes = enc(nodes, initializers, headOutputs);
/** The whole-photo 256² input of one photo (its fitted window), as a feed. */
const feed256 = (im: (typeof photos)[number]): Record<string, ort.Tensor> => {
  const fit = fitWindow(im.width, im.height);
  const input = new Float32Array(3 * 256 * 256);
  fillInput(im, input, 256, fit.x0, fit.y0, fit.side);
  return { 'input:0': new ort.Tensor('float32', input, [1, 3, 256, 256]) };
};
{
  const probe = acts.slice(1, 40);
  const dbg = await ort.InferenceSession.create(enc(nodes, initializers, [...headOutputs, ...probe.map((a) => ({ name: `${a}.dq`, shape: [1, `${a}_c`, `${a}_h`, `${a}_w`] as (string | number)[] }))]), { logSeverityLevel: 3 });
  const feed = feed256(photos[0]);
  const [a, b] = [await calib.run(feed), await dbg.run(feed)];
  for (const k of probe) {
    const x = a[k].data as Float32Array, y = b[`${k}.dq`].data as Float32Array;
    let m = 0, mx = 0; for (let i = 0; i < x.length; i++) { m = Math.max(m, Math.abs(x[i] - y[i])); mx = Math.max(mx, Math.abs(x[i])); }
    console.log(`  ${k.replace('StatefulPartitionedCall/functional_1/', '')}:`, 'max |x|', mx.toFixed(2), 'max diff', m.toFixed(3), 'range', ranges.get(k)!.map((v) => v.toFixed(2)).join('..'));
  }
}
console.log(`int8 graph: ${nodes.length} nodes, ${(int8bytes.length / 1024).toFixed(0)} kB (fp32 ${(bytes.length / 1024).toFixed(0)} kB)`);

// 3. Speed, 1 and 2 threads, interleaved, at 256 × 224; and detections on the bench photos + 40 webfaces photos.
const opts = (t: number): ort.InferenceSession.SessionOptions => ({ graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: t, interOpNumThreads: 1, logSeverityLevel: 3, extra: { session: { intra_op: { allow_spinning: '0' } } } });
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
for (const t of [1, 2]) {
  const [f, q] = [await ort.InferenceSession.create(bytes, opts(t)), await ort.InferenceSession.create(int8bytes, opts(t))];
  const input = new Float32Array(3 * 256 * 224);
  const [tf, tq]: number[][] = [[], []];
  for (let r = 0; r < 15; r++) for (const im of photos) {
    const fit = fitWindow(im.width, im.height);
    fillInput(im, input, 256, fit.x0, (im.height - (224 * fit.side) / 256) / 2, fit.side, 224);
    const feed = { 'input:0': new ort.Tensor('float32', input, [1, 3, 224, 256]) };
    let t0 = performance.now(); await f.run(feed); tf.push(performance.now() - t0);
    t0 = performance.now(); await q.run(feed); tq.push(performance.now() - t0);
  }
  console.log(`${t} thread(s): fp32 ${med(tf).toFixed(2)} ms, int8 ${med(tq).toFixed(2)} ms per 256 × 224 pass (median)`);
}
{
  const [f, q] = [await ort.InferenceSession.create(bytes, opts(1)), await ort.InferenceSession.create(int8bytes, opts(1))];
  const feed = feed256(photos[0]);
  const [a, b] = [await f.run(feed), await q.run(feed)];
  for (const k of g.outputs) { const x = a[k].data as Float32Array, y = b[k].data as Float32Array; let m = 0, mx = -1e9, my = -1e9; for (let i = 0; i < x.length; i++) { m = Math.max(m, Math.abs(x[i] - y[i])); mx = Math.max(mx, x[i]); my = Math.max(my, y[i]); } console.log(k, a[k].dims.join('x'), b[k].dims.join('x'), 'max diff', m.toFixed(3), 'max', mx.toFixed(2), my.toFixed(2)); }
}
{
  // What onnxruntime made of each graph: the optimised graphs' operators.
  const { mkdtemp } = await import('node:fs/promises');
  const dir = await mkdtemp(join((await import('node:os')).tmpdir(), 'bf-int8-'));
  for (const [label, b] of [['fp32', bytes], ['int8', int8bytes]] as const) {
    const file = join(dir, `${label}.onnx`);
    await ort.InferenceSession.create(b, { ...opts(1), optimizedModelFilePath: file });
    // (The optimised graph holds attribute types the project's reader does not read: operator names counted in the bytes.)
    const text = new TextDecoder('latin1').decode(await readFile(file));
    const count = (op: string) => text.split(new RegExp(`[^A-Za-z]${op}[^A-Za-z_]`)).length - 1;
    console.log(`optimised ${label} graph:`, ['QLinearConv', 'QLinearAdd', 'QuantizeLinear', 'DequantizeLinear'].map((op) => `${op} ${count(op)}`).join(', '));
  }
}
const df = await createBlazeFaceDetector(ort as unknown as OrtModule, bytes, { threads: 1 });
const dq = await createBlazeFaceDetector(ort as unknown as OrtModule, int8bytes, { threads: 1 });
let same = 0, total = 0, worst = 1;
for (const im of [...photos, ...extra]) {
  const [a, b] = [await df.detect(im), await dq.detect(im)];
  total++;
  if (a.length === b.length) { same++; a.forEach((x, i) => (worst = Math.min(worst, iou(x, b[i])))); }
}
console.log(`detections: the same number of faces on ${same} of ${total} photos${same ? `; lowest box IoU there ${worst.toFixed(3)}` : ''}`);
process.exit(0);
