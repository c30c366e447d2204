/**
 * How small could the browser's model download get? Estimates, per bundled model:
 * - the file as shipped (F16) and gzipped;
 * - int8 weights (per-output-channel symmetric, as the int8 graph stores them) + F16 biases, gzipped;
 * - k-means codebooks, no fine-tuning: scalar (2^b levels per layer) and product quantization in
 *   the spirit of "And the Bit Goes Down" (Stock et al. 2020): each conv's kernel cut into
 *   sub-vectors of d values along the input channels, one codebook of k = 256 centroids per layer,
 *   so log2(256) / d bits per weight plus the codebooks (F16). The paper then fine-tunes the
 *   codebooks by distillation, which is not done here, so the accuracy is a lower bound.
 * Each compressed variant's weights are decoded back to float and scored by the 68-point 2D NME on
 * the 8 AFLW2000-3D images (ground-truth landmark crop, test-time flip, the fp32 graph).
 *
 *   npx tsx scripts/weight-compression.ts [--model default|light] [--only f16,int8,int8-mixed,kmeans,pq4,pq8]
 */
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { cropFromLandmarks } from '../src/crop/index.js';
import { listAflwImages } from '../tools/eval/aflw2000.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { nme } from '../tools/eval/nme.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { loadLayout } from '../src/layout/node.js';
import { readFile } from 'node:fs/promises';
import { readModelFile } from '../src/model/file-node.js';
import { createRng, type ModelWeights } from '../src/model/weights.js';
import { f16Tensor } from '../src/util/safetensors.js';
import { INT8_FLOAT_LAYERS, resfcnTensorSpecs } from '../src/model/resfcn.js';
import { Prnet } from '../src/pipeline/prnet.js';
import { resolveModel } from '../src/pipeline/node.js';
import { createSession } from '../src/runtime/node.js';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'default' }, only: { type: 'string' } } });
const want = (key: string): boolean => !values.only || values.only.split(',').includes(key);
const path = resolveModel(values.model) as string;
const weights = await readModelFile(path);
const specs = resfcnTensorSpecs(weights.config);
const kernels = specs.filter((s) => s.role !== 'bn');
const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;

/** Transposed-conv kernels [in, out, kh, kw] → [out, in, kh, kw] so every kernel is out-major. */
function outMajor(name: string): { data: Float32Array; out: number; inC: number; kk: number } {
  const s = specs.find((t) => t.name === name)!;
  const w = weights.tensors.get(name)!;
  const [a, b, kh, kw] = s.shape;
  const kk = kh * kw;
  if (s.role === 'conv') return { data: w, out: a, inC: b, kk };
  const r = new Float32Array(w.length);
  for (let i = 0; i < a; i++) for (let o = 0; o < b; o++) for (let k = 0; k < kk; k++) r[(o * a + i) * kk + k] = w[(i * b + o) * kk + k];
  return { data: r, out: b, inC: a, kk };
}
function fromOutMajor(name: string, r: Float32Array): Float32Array {
  const s = specs.find((t) => t.name === name)!;
  if (s.role === 'conv') return r;
  const [a, b, kh, kw] = s.shape;
  const kk = kh * kw;
  const w = new Float32Array(r.length);
  for (let i = 0; i < a; i++) for (let o = 0; o < b; o++) for (let k = 0; k < kk; k++) w[(i * b + o) * kk + k] = r[(o * a + i) * kk + k];
  return w;
}

/** BN tensors as F16 bytes (they stay uncompressed: 0.1 % of the weights). */
const bnBytes = specs.filter((s) => s.role === 'bn').reduce((n, s) => n + 2 * s.shape[0], 0);

/**
 * int8 per-output-channel: the int8 values + one F16 scale per channel. With `keepFloat`, the
 * layers the int8 graph leaves in float keep F16 kernels.
 */
function int8(keepFloat = false): { tensors: Map<string, Float32Array>; bytes: Uint8Array } {
  const tensors = new Map(weights.tensors);
  const parts: Uint8Array[] = [];
  for (const s of kernels) {
    if (keepFloat && INT8_FLOAT_LAYERS.includes(s.name.split('.').slice(0, 2).join('.'))) {
      parts.push(f16Tensor(weights.tensors.get(s.name)!, s.shape).bytes);
      continue;
    }
    const { data, out } = outMajor(s.name);
    const per = data.length / out;
    const q = new Int8Array(data.length);
    const r = new Float32Array(data.length);
    for (let o = 0; o < out; o++) {
      let m = 0;
      for (let k = 0; k < per; k++) m = Math.max(m, Math.abs(data[o * per + k]));
      const sc = m / 127 || 1;
      for (let k = 0; k < per; k++) {
        q[o * per + k] = Math.round(data[o * per + k] / sc);
        r[o * per + k] = q[o * per + k] * sc;
      }
    }
    parts.push(new Uint8Array(q.buffer), new Uint8Array(out * 2));
    tensors.set(s.name, fromOutMajor(s.name, r));
  }
  return { tensors, bytes: Buffer.concat(parts) };
}

/** k-means (k-means++ seeding on a sample, Lloyd iterations on the sample, then assign all). */
function kmeans(vectors: Float32Array, d: number, k: number, seed: number): { centroids: Float32Array; assign: Uint32Array } {
  const n = vectors.length / d;
  const rng = createRng(seed);
  const sampleN = Math.min(n, 16384);
  const sample = new Float32Array(sampleN * d);
  for (let i = 0; i < sampleN; i++) {
    const j = sampleN === n ? i : Math.floor(rng.uniform() * n);
    sample.set(vectors.subarray(j * d, j * d + d), i * d);
  }
  const kk = Math.min(k, sampleN);
  const c = new Float32Array(kk * d);
  const dist = new Float64Array(sampleN).fill(Infinity);
  let pick = Math.floor(rng.uniform() * sampleN);
  for (let m = 0; m < kk; m++) {
    c.set(sample.subarray(pick * d, pick * d + d), m * d);
    let total = 0;
    for (let i = 0; i < sampleN; i++) {
      let e = 0;
      for (let t = 0; t < d; t++) e += (sample[i * d + t] - c[m * d + t]) ** 2;
      if (e < dist[i]) dist[i] = e;
      total += dist[i];
    }
    let u = rng.uniform() * total;
    pick = 0;
    for (let i = 0; i < sampleN; i++) {
      u -= dist[i];
      if (u <= 0) {
        pick = i;
        break;
      }
    }
  }
  const nearest = (src: Float32Array, i: number): number => {
    let best = 0;
    let bestE = Infinity;
    for (let m = 0; m < kk; m++) {
      let e = 0;
      for (let t = 0; t < d; t++) e += (src[i * d + t] - c[m * d + t]) ** 2;
      if (e < bestE) {
        bestE = e;
        best = m;
      }
    }
    return best;
  };
  for (let it = 0; it < 12; it++) {
    const sum = new Float64Array(kk * d);
    const cnt = new Uint32Array(kk);
    for (let i = 0; i < sampleN; i++) {
      const m = nearest(sample, i);
      cnt[m]++;
      for (let t = 0; t < d; t++) sum[m * d + t] += sample[i * d + t];
    }
    for (let m = 0; m < kk; m++) if (cnt[m]) for (let t = 0; t < d; t++) c[m * d + t] = sum[m * d + t] / cnt[m];
  }
  const assign = new Uint32Array(n);
  for (let i = 0; i < n; i++) assign[i] = nearest(vectors, i);
  return { centroids: c, assign };
}

/**
 * Product quantization with sub-vectors of d input channels at one kernel tap (scalar when d = 1):
 * returns the decoded tensors and the size (indices at log2 k bits + F16 codebooks).
 */
function pq(d: number, k: number): { tensors: Map<string, Float32Array>; bytes: number } {
  const tensors = new Map(weights.tensors);
  let bits = 0;
  for (const s of kernels) {
    const { data, out, inC, kk } = outMajor(s.name);
    const dd = inC % d === 0 ? d : 1;
    // vectors: for each (out, tap, group of dd input channels)
    const groups = inC / dd;
    const vec = new Float32Array(data.length);
    let p = 0;
    for (let o = 0; o < out; o++) for (let t = 0; t < kk; t++) for (let g = 0; g < groups; g++) for (let j = 0; j < dd; j++) vec[p++] = data[(o * inC + g * dd + j) * kk + t];
    const kEff = Math.min(k, Math.max(2, Math.floor(vec.length / dd / 4)));
    const { centroids, assign } = kmeans(vec, dd, kEff, 1);
    const r = new Float32Array(data.length);
    p = 0;
    for (let o = 0; o < out; o++) {
      for (let t = 0; t < kk; t++) {
        for (let g = 0; g < groups; g++) {
          const m = assign[p++];
          for (let j = 0; j < dd; j++) r[(o * inC + g * dd + j) * kk + t] = centroids[m * dd + j];
        }
      }
    }
    bits += assign.length * Math.ceil(Math.log2(kEff)) + centroids.length * 16;
    tensors.set(s.name, fromOutMajor(s.name, r));
  }
  return { tensors, bytes: bits / 8 + bnBytes };
}

// Scoring: 8 AFLW2000-3D images, ground-truth crops, test-time flip.
const layout = await loadLayout();
const items = await listAflwImages('../shared/eval/aflw2000-3d');
const data = await Promise.all(items.map(async (it) => ({ gt: await loadAflwGroundTruth(it.mat), image: await decodeImageFile(it.image) })));
async function score(tensors: Map<string, Float32Array>): Promise<number> {
  const w: ModelWeights = { ...weights, tensors };
  const prnet = new Prnet(await createSession(w), layout, null);
  let sum = 0;
  for (const { gt, image } of data) {
    const { faces } = await prnet.reconstruct(image, { crops: [cropFromLandmarks(gt.pt3d68, 3)] });
    sum += nme(faces[0].landmarks, gt.pt3d68, 2);
  }
  await prnet.dispose();
  return (100 * sum) / data.length;
}

const file = await readFile(path);
const params = kernels.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
console.log(`${path}: ${params} kernel weights; NME: 2D, 8 AFLW2000-3D images, ground-truth crop, flip`);
console.log(`variant                          bits/weight  size       gzip       NME2D`);
const row = (name: string, bpw: string, size: number, gz: number | null, n: number): void =>
  console.log(`${name.padEnd(32)} ${bpw.padStart(11)}  ${mb(size).padEnd(9)}  ${gz === null ? '–'.padEnd(9) : mb(gz).padEnd(9)}  ${n.toFixed(3)}%`);
if (want('f16')) row('F16 file (shipped)', '16', file.length, gzipSync(file, { level: 9 }).length, await score(weights.tensors));
for (const [key, label, keep] of [['int8', 'int8 per channel, all layers', false], ['int8-mixed', 'int8, F16 where the graph is float', true]] as const) {
  if (!want(key)) continue;
  const r = int8(keep);
  row(label, ((8 * r.bytes.length) / params).toFixed(2), r.bytes.length + bnBytes, gzipSync(r.bytes, { level: 9 }).length + bnBytes, await score(r.tensors));
}
for (const [key, label, d, k] of [['kmeans', 'k-means 16 levels (scalar)', 1, 16], ['pq4', 'PQ d=4, k=256', 4, 256], ['pq8', 'PQ d=8, k=256', 8, 256]] as const) {
  if (!want(key)) continue;
  const t0 = performance.now();
  const r = pq(d, k);
  console.error(`${label}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  row(label, ((8 * r.bytes) / params).toFixed(2), r.bytes, null, await score(r.tensors));
}
