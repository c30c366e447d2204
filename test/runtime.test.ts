import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { buildResfcnOnnx, createRng, encodeModel, randomWeights, samePadding, serializeModel, type ResfcnConfig } from '../src/model/index.js';
import { createSession, resizeSquare, type PrnetSession } from '../src/runtime/index.js';
import { defaultSessionThreads, NODE_MAX_DEFAULT_THREADS } from '../src/runtime/node.js';
import { createDetector } from '../src/detect/index.js';

// ---------- naive references (plain loops, NCHW) ----------

interface T4 {
  data: Float32Array;
  dims: [number, number, number, number];
}

/** TensorFlow SAME along one axis: out = ceil(in / s), pad_before = floor(total / 2). */
function tfSame(size: number, k: number, s: number): { out: number; before: number } {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return { out, before: Math.floor(total / 2) };
}

/** tf.nn.conv2d(padding='SAME') with an [out, in, k, k] kernel. */
function refConv(x: T4, w: T4, s: number): T4 {
  const [n, ci, h, wd] = x.dims;
  const [co, , k] = w.dims;
  const { out: oh, before: pt } = tfSame(h, k, s);
  const { out: ow, before: pl } = tfSame(wd, k, s);
  const y = new Float32Array(n * co * oh * ow);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < co; o++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let acc = 0;
          for (let i = 0; i < ci; i++)
            for (let ky = 0; ky < k; ky++) {
              const iy = oy * s + ky - pt;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox * s + kx - pl;
                if (ix < 0 || ix >= wd) continue;
                acc += x.data[((b * ci + i) * h + iy) * wd + ix] * w.data[((o * ci + i) * k + ky) * k + kx];
              }
            }
          y[((b * co + o) * oh + oy) * ow + ox] = acc;
        }
  return { data: y, dims: [n, co, oh, ow] };
}

/**
 * tf.nn.conv2d_transpose(padding='SAME') with an [in, out, k, k] kernel: the adjoint of the SAME
 * conv from the (in · s)² output back to the input, written as a scatter so it is the adjoint by
 * construction.
 */
function refConvTranspose(x: T4, w: T4, s: number): T4 {
  const [n, ci, h, wd] = x.dims;
  const [, co, k] = w.dims;
  const oh = h * s;
  const ow = wd * s;
  const pt = tfSame(oh, k, s).before;
  const pl = tfSame(ow, k, s).before;
  const y = new Float32Array(n * co * oh * ow);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < ci; i++)
      for (let iy = 0; iy < h; iy++)
        for (let ix = 0; ix < wd; ix++) {
          const v = x.data[((b * ci + i) * h + iy) * wd + ix];
          for (let o = 0; o < co; o++)
            for (let ky = 0; ky < k; ky++) {
              const oy = iy * s + ky - pt;
              if (oy < 0 || oy >= oh) continue;
              for (let kx = 0; kx < k; kx++) {
                const ox = ix * s + kx - pl;
                if (ox < 0 || ox >= ow) continue;
                y[((b * co + o) * oh + oy) * ow + ox] += v * w.data[((i * co + o) * k + ky) * k + kx];
              }
            }
        }
  return { data: y, dims: [n, co, oh, ow] };
}

function refBn(x: T4, g: Float32Array, bta: Float32Array, mean: Float32Array, v: Float32Array): T4 {
  const [n, c, h, w] = x.dims;
  const y = new Float32Array(x.data.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++) {
      const sc = g[ch] / Math.sqrt(v[ch] + 0.001);
      for (let p = 0; p < h * w; p++) {
        const idx = (b * c + ch) * h * w + p;
        y[idx] = (x.data[idx] - mean[ch]) * sc + bta[ch];
      }
    }
  return { data: y, dims: x.dims };
}

const relu = (x: T4): T4 => ({ data: x.data.map((v) => Math.max(v, 0)), dims: x.dims });
const add = (a: T4, b: T4): T4 => ({ data: a.data.map((v, i) => v + b.data[i]), dims: a.dims });

function randomT4(dims: [number, number, number, number], seed: number): T4 {
  const rng = createRng(seed);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.5;
  return { data, dims };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Runs a single-op ONNX model (one Conv or ConvTranspose, padded as buildResfcnOnnx pads). */
async function runOnnxOp(op: 'Conv' | 'ConvTranspose', x: T4, w: T4, s: number): Promise<T4> {
  const k = w.dims[2];
  const size = op === 'Conv' ? x.dims[2] : x.dims[2] * s; // the conv's input side (TF SAME basis)
  const [b, a] = samePadding(size, k, s);
  const outC = op === 'Conv' ? w.dims[0] : w.dims[1];
  const outS = op === 'Conv' ? Math.ceil(x.dims[2] / s) : x.dims[2] * s;
  const model = encodeModel({
    name: 'op',
    nodes: [{
      opType: op, inputs: ['x', 'w'], outputs: ['y'],
      attributes: [{ name: 'kernel_shape', ints: [k, k] }, { name: 'strides', ints: [s, s] }, { name: 'pads', ints: [b, b, a, a] }],
    }],
    initializers: [{ name: 'w', dims: w.dims, data: w.data }],
    inputs: [{ name: 'x', shape: ['N', x.dims[1], x.dims[2], x.dims[3]] }],
    outputs: [{ name: 'y', shape: ['N', outC, outS, outS] }],
  });
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ x: new ort.Tensor('float32', x.data, x.dims) });
  await session.release();
  return { data: out.y.data as Float32Array, dims: out.y.dims as [number, number, number, number] };
}

describe('TF SAME padding reproduced by the emitted ONNX ops (naive reference, max abs diff ≤ 1e-4)', () => {
  const convCases: [number, number, number][] = [[4, 1, 8], [4, 2, 8], [1, 1, 8], [1, 2, 8], [4, 1, 5], [4, 2, 2]];
  for (const [k, s, size] of convCases) {
    it(`conv ${k}×${k} stride ${s} on ${size}×${size}`, async () => {
      const x = randomT4([2, 3, size, size], k * 100 + s * 10 + size);
      const w = randomT4([5, 3, k, k], 7 + k + s);
      const ref = refConv(x, w, s);
      const got = await runOnnxOp('Conv', x, w, s);
      expect(got.dims).toEqual(ref.dims);
      expect(maxAbsDiff(got.data, ref.data)).toBeLessThanOrEqual(1e-4);
    });
  }
  const tCases: [number, number, number][] = [[4, 1, 8], [4, 2, 4], [4, 1, 1], [4, 2, 1]];
  for (const [k, s, size] of tCases) {
    it(`transposed conv ${k}×${k} stride ${s} from ${size}×${size}`, async () => {
      const x = randomT4([2, 5, size, size], 31 + s + size);
      const w = randomT4([5, 3, k, k], 37 + s);
      const ref = refConvTranspose(x, w, s);
      const got = await runOnnxOp('ConvTranspose', x, w, s);
      expect(got.dims).toEqual(ref.dims);
      expect(maxAbsDiff(got.data, ref.data)).toBeLessThanOrEqual(1e-4);
    });
  }
  it('the transposed-conv reference is the adjoint of the conv reference: <conv x, y> = <x, convT y>', () => {
    for (const s of [1, 2]) {
      const x = randomT4([1, 3, 8, 8], 1 + s);
      const w = randomT4([5, 3, 4, 4], 2 + s); // conv: 3 → 5; transposed conv [in 5, out 3]
      const y = randomT4([1, 5, 8 / s, 8 / s], 3 + s);
      const cx = refConv(x, w, s);
      const ty = refConvTranspose(y, w, s);
      let lhs = 0;
      let rhs = 0;
      for (let i = 0; i < cx.data.length; i++) lhs += cx.data[i] * y.data[i];
      for (let i = 0; i < x.data.length; i++) rhs += x.data[i] * ty.data[i];
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-3 * Math.max(1, Math.abs(lhs)));
    }
  });
});

/** The whole network from the spec's text, with the naive ops above. */
function refResfcn(x: T4, wt: ReadonlyMap<string, Float32Array>, cfg: ResfcnConfig): T4 {
  const C = cfg.width;
  const W = (name: string, dims: [number, number, number, number]): T4 => ({ data: wt.get(name) as Float32Array, dims });
  const bn = (t: T4, p: string): T4 => refBn(t, wt.get(`${p}.weight`)!, wt.get(`${p}.bias`)!, wt.get(`${p}.running_mean`)!, wt.get(`${p}.running_var`)!);
  let h = relu(bn(refConv(x, W('enc.0.conv.weight', [C, 3, 4, 4]), 1), 'enc.0.bn'));
  const enc: [number, number][] = [[2, 2], [2, 1], [4, 2], [4, 1], [8, 2], [8, 1], [16, 2], [16, 1], [32, 2], [32, 1]];
  let inC = C;
  enc.forEach(([m, s], i) => {
    const k = i + 1;
    const out = m * C;
    const shortcut = s !== 1 || inC !== out ? refConv(h, W(`enc.${k}.shortcut.weight`, [out, inC, 1, 1]), s) : h;
    let y = relu(bn(refConv(h, W(`enc.${k}.conv1.weight`, [out / 2, inC, 1, 1]), 1), `enc.${k}.bn1`));
    y = relu(bn(refConv(y, W(`enc.${k}.conv2.weight`, [out / 2, out / 2, 4, 4]), s), `enc.${k}.bn2`));
    y = refConv(y, W(`enc.${k}.conv3.weight`, [out, out / 2, 1, 1]), 1);
    h = relu(bn(add(y, shortcut), `enc.${k}.bn3`));
    inC = out;
  });
  const dec: [number, number][] = [[32, 1], [16, 2], [16, 1], [16, 1], [8, 2], [8, 1], [8, 1], [4, 2], [4, 1], [4, 1], [2, 2], [2, 1], [1, 2], [1, 1], [0, 1], [0, 1], [0, 1]];
  dec.forEach(([m, s], j) => {
    const out = m === 0 ? 3 : m * C;
    h = bn(refConvTranspose(h, W(`dec.${j}.conv.weight`, [inC, out, 4, 4]), s), `dec.${j}.bn`);
    if (j < 16) h = relu(h);
    inC = out;
  });
  return { data: h.data.map((v) => cfg.outputScale / (1 + Math.exp(-v))), dims: h.dims };
}

describe('emitted resfcn graph', () => {
  it('matches a naive forward pass of the spec (width 4, 32² input, batch 2)', async () => {
    const cfg = { width: 4, inputSize: 32, outputScale: 281.6 };
    const w = randomWeights(cfg, 11);
    const x = randomT4([2, 3, 32, 32], 5);
    x.data.forEach((v, i) => (x.data[i] = Math.abs(v) % 1));
    const ref = refResfcn(x, w.tensors, cfg);
    const session = await ort.InferenceSession.create(buildResfcnOnnx(w.tensors, cfg));
    const out = await session.run({ input: new ort.Tensor('float32', x.data, x.dims) });
    await session.release();
    expect(out.output.dims).toEqual([2, 3, 32, 32]);
    expect(maxAbsDiff(out.output.data as Float32Array, ref.data)).toBeLessThanOrEqual(1e-3); // ≈ 4e-6 relative to the output scale
  });
});

describe('inference sessions (onnxruntime-node)', () => {
  const configs: [string, ResfcnConfig][] = [
    ['width 16 at 256 (resfcn256)', { width: 16, inputSize: 256, outputScale: 281.6 }],
    ['width 8 at 128', { width: 8, inputSize: 128, outputScale: 281.6 }],
  ];
  for (const [label, cfg] of configs) {
    describe(label, () => {
      let session: PrnetSession;
      beforeAll(async () => {
        session = await createSession(randomWeights(cfg, 1), { threads: 2 });
      });
      afterAll(async () => session.release());

      it('runs a batch: output N×3×S×S strictly inside (0, output_scale), reused across runs', async () => {
        const S = cfg.inputSize;
        const x = randomT4([2, 3, S, S], 9).data.map((v) => Math.abs(v) % 1);
        const out = await session.run(x, 2);
        expect(out.length).toBe(2 * 3 * S * S);
        let mn = Infinity;
        let mx = -Infinity;
        for (const v of out) {
          mn = Math.min(mn, v);
          mx = Math.max(mx, v);
        }
        expect(mn).toBeGreaterThan(0);
        expect(mx).toBeLessThan(cfg.outputScale);
        expect(mx - mn).toBeGreaterThan(0.1); // not a constant (saturated) map
        const single = await session.run(x.subarray(0, 3 * S * S), 1);
        expect(maxAbsDiff(single, out.subarray(0, 3 * S * S))).toBeLessThan(1e-3);
        const t0 = performance.now();
        const reps = 3;
        let last = single;
        for (let r = 0; r < reps; r++) last = await session.run(x.subarray(0, 3 * S * S), 1);
        expect(maxAbsDiff(last, single), 'a reused session gives the same output run after run').toBeLessThan(1e-5);
        console.log(`${label}: ${((performance.now() - t0) / reps).toFixed(0)} ms per image (2 threads)`);
      });

      it('predict maps a 256² HWC crop to a 256×256×3 position map (upsampled when S = 128)', async () => {
        const crop = { width: 256, height: 256, data: randomT4([1, 256, 256, 3], 3).data.map((v) => Math.abs(v) % 1) };
        const map = await session.predict(crop);
        expect(map.size).toBe(256);
        expect(map.data.length).toBe(256 * 256 * 3);
        expect(map.data.every((v) => v > 0 && v < cfg.outputScale)).toBe(true);
        const [again] = await session.predictBatch([crop]);
        expect(maxAbsDiff(again.data, map.data)).toBeLessThan(1e-3);
      });
    });
  }

  it('a model path that does not exist is a ModelError naming it', async () => {
    await expect(createSession('/nonexistent/model.safetensors')).rejects.toThrow(/\/nonexistent\/model\.safetensors: model file not found/);
  });

  it('runs views into a larger buffer (batch slices) correctly', async () => {
    const session = await createSession(randomWeights({ width: 2, inputSize: 32, outputScale: 281.6 }, 2));
    const n = 3 * 32 * 32;
    const both = randomT4([2, 3, 32, 32], 8).data.map((v) => Math.abs(v) % 1);
    const fromView = await session.run(both.subarray(n), 1);
    const fromCopy = await session.run(both.slice(n), 1);
    expect(maxAbsDiff(fromView, fromCopy)).toBe(0);
    await session.release();
  });

  it('rejects input of the wrong size and crops that are not 256²', async () => {
    const session = await createSession(randomWeights({ width: 2, inputSize: 32, outputScale: 281.6 }, 2));
    await expect(session.run(new Float32Array(10), 1)).rejects.toBeInstanceOf(InputError);
    await expect(session.predict({ width: 128, height: 128, data: new Float32Array(128 * 128 * 3) })).rejects.toBeInstanceOf(InputError);
    await session.release();
    await expect(session.run(new Float32Array(3 * 32 * 32), 1)).rejects.toThrow(/released/);
  });
});

describe('onnxruntime threads', () => {
  // onnxruntime starts a session's intra-op thread pool (threads − 1 threads: the caller is one) when
  // the session is made; Linux lists a process's threads in /proc/self/task.
  it.skipIf(!existsSync('/proc/self/task'))('a session made without `threads` runs on the cores of a machine of up to 4 (onnxruntime-node alone ran one thread here)', async () => {
    const cores = availableParallelism();
    expect(defaultSessionThreads()).toBe(cores <= NODE_MAX_DEFAULT_THREADS ? cores : undefined);
    const w = randomWeights({ width: 2, inputSize: 32, outputScale: 281.6 }, 5);
    const count = (): number => readdirSync('/proc/self/task').length;
    const opened = [await createSession(w, { threads: 1 })]; // onnxruntime's own threads start with the first session
    const started = async (threads?: number): Promise<number> => {
      const before = count();
      opened.push(await createSession(w, threads === undefined ? {} : { threads }));
      return count() - before;
    };
    const one = await started(1);
    const byDefault = await started();
    // (a larger machine keeps onnxruntime's own default, not measured here)
    if (cores <= NODE_MAX_DEFAULT_THREADS) expect(byDefault - one).toBe(cores - 1);
    expect(await started(2)).toBe(one + Math.min(2, cores) - 1); // the count is the pool's
    await Promise.all(opened.map((s) => s.release()));
  });

  // BlazeFace's small convolutions gained nothing from a second thread: a call took longer at two
  // (docs/detectors.md, "Threads"), so the detector asks for one unless told otherwise.
  it.skipIf(!existsSync('/proc/self/task'))('the detector made without `threads` runs one intra-op thread', async () => {
    const count = (): number => readdirSync('/proc/self/task').length;
    const opened = [await createDetector({ threads: 1 })];
    const started = async (threads?: number): Promise<number> => {
      const before = count();
      opened.push(await createDetector(threads === undefined ? {} : { threads }));
      return count() - before;
    };
    const one = await started(1);
    expect(await started()).toBe(one);
    expect(await started(2)).toBe(one + 1);
    await Promise.all(opened.map((d) => d.release?.()));
  });
});

describe('the browser binding (onnxruntime-web, run here on its Node/wasm build)', () => {
  it('gives the same output as onnxruntime-node for the same weights and bytes', async () => {
    const { createSession: createWebSession } = await import('../src/runtime/web.js');
    const cfg = { width: 4, inputSize: 64, outputScale: 281.6 };
    const w = randomWeights(cfg, 21);
    const x = randomT4([1, 3, 64, 64], 4).data.map((v) => Math.abs(v) % 1);
    const web = await createWebSession(serializeModel(w), { threads: 1 });
    const node = await createSession(w, { threads: 1 });
    expect(web.config).toEqual(cfg);
    expect(maxAbsDiff(await web.run(x, 1), await node.run(x, 1))).toBeLessThan(1e-3);
    await web.release();
    await node.release();
  });
});

describe('resampling between 256² and the network size', () => {
  it('area-shrinks by block averages and keeps constants', () => {
    const src = new Float32Array(4 * 4).map((_, i) => i);
    expect([...resizeSquare(src, 4, 2, 1)]).toEqual([2.5, 4.5, 10.5, 12.5]);
    // 3 channels, 256² → 128², every pixel the same colour: the colour comes back everywhere.
    const constant = new Float32Array(256 * 256 * 3).map((_, i) => [0.25, 117.5, -3][i % 3]);
    const small = resizeSquare(constant, 256, 128, 3);
    expect(small.length).toBe(128 * 128 * 3);
    small.forEach((v, i) => { if (v !== [0.25, 117.5, -3][i % 3]) expect(v, `value ${i}`).toBe([0.25, 117.5, -3][i % 3]); });
  });
  it('upsamples bilinearly with aligned pixel centres: a linear ramp stays linear inside', () => {
    const n = 8;
    const src = new Float32Array(n * n).map((_, i) => i % n); // value = column
    const up = resizeSquare(src, n, 2 * n, 1);
    // Output column c has its centre at source x = (c + 0.5) / 2 − 0.5.
    for (let c = 1; c < 2 * n - 1; c++) expect(up[3 * 2 * n + c]).toBeCloseTo((c + 0.5) / 2 - 0.5, 5);
    expect(up[0]).toBe(0);
    expect(up[2 * n - 1]).toBe(n - 1);
  });
});
