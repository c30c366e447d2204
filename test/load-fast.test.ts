/**
 * The fast model load (docs/model-format.md, "Loading"): the int8 graph is built from the weights
 * at load with the batch norms folded in, the transposed convs rewritten and the kernels quantized
 * in one pass, and half-precision weights are checked without decoding and decoded only when read
 * (the int8 kernels are quantized from the halves). These tests hold the fast paths to the plain
 * definitions: the int8 weights are exactly the per-channel quantization of the folded fp32
 * graph's kernels, the F16 decoding is exact, and the lazy tensors read as eager ones.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../src/errors.js';
import { buildResfcnOnnx, INT8_FLOAT_LAYERS, quantizeKernel } from '../src/model/resfcn.js';
import { int8RangesFromMetadata, parseModelFile, parseModelFileLazy, randomWeights, serializeModel } from '../src/model/weights.js';
import { createSession } from '../src/runtime/node.js';
import { BUNDLED_MODELS } from '../src/pipeline/node.js';
import { HalfTensorMap } from '../src/model/tensor-map.js';
import { f16AllFinite, f16ToF32, f16ToF32Checked, readSafetensors, writeSafetensors } from '../src/util/safetensors.js';
import { readOnnxModel } from '../tools/detector/onnx-read.js';

/** Symmetric per-output-channel int8 by the textbook rule: q = sign(v)·⌊|v| + ½⌋, v = w / scale. */
function referenceQuantize(kernel: Float32Array, out: number): { q: Int8Array; scale: Float32Array } {
  const per = kernel.length / out;
  const q = new Int8Array(kernel.length);
  const scale = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let m = 0;
    for (let k = o * per; k < (o + 1) * per; k++) m = Math.max(m, Math.abs(kernel[k]));
    scale[o] = m > 0 ? m / 127 : 1;
    const inv = 1 / scale[o];
    for (let k = o * per; k < (o + 1) * per; k++) {
      const v = kernel[k] * inv;
      q[k] = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
    }
  }
  return { q, scale };
}

/** The initializers of an emitted graph, by name, read back from its bytes. */
const initializers = (bytes: Uint8Array) => new Map(readOnnxModel(bytes).initializers.map((t) => [t.name, t]));

describe('int8 graph built at load', () => {
  it('holds exactly the per-channel int8 of the folded fp32 kernels (bundled default model, quantized from its halves)', async () => {
    const weights = parseModelFileLazy(await readFile(BUNDLED_MODELS.default), 'default');
    const ranges = int8RangesFromMetadata(weights.metadata, 'default');
    expect(ranges).toBeDefined();
    const fp32 = initializers(buildResfcnOnnx(weights.tensors, weights.config, { precision: 'fp32' }));
    const int8 = initializers(buildResfcnOnnx(weights.tensors, weights.config, { precision: 'int8', ranges }));
    let layers = 0;
    let values = 0;
    for (const [name, t] of int8) {
      if (!name.endsWith('.w.q')) continue;
      const conv = name.slice(0, -'.w.q'.length);
      const float = fp32.get(`${conv}.weight`);
      expect(float, conv).toBeDefined();
      const kernel = float!.data as Float32Array;
      const out = t.dims[0];
      expect(t.dims).toEqual(float!.dims);
      const ref = referenceQuantize(kernel, out);
      const q = t.data as Int8Array;
      const scale = int8.get(`${conv}.w.scale`)!.data as Float32Array;
      expect(scale).toEqual(ref.scale);
      // and quantizeKernel (the exported rule) agrees
      const wq = quantizeKernel(kernel, out).wq;
      let diff = 0;
      for (let i = 0; i < q.length; i++) if (q[i] !== ref.q[i] || wq[i] !== q[i]) diff++;
      expect(diff, `${conv}: int8 weights that differ from the reference`).toBe(0);
      layers++;
      values += q.length;
    }
    // dec.11, the last int8 layer, feeds a float layer (its output is not quantized, so it cannot
    // run as QLinearConv): it is stored as float weights holding exactly its int8 values × scale
    {
      const kernel = fp32.get('dec.11.conv.weight')!.data as Float32Array;
      const out = fp32.get('dec.11.conv.weight')!.dims[0];
      const ref = referenceQuantize(kernel, out);
      const stored = int8.get('dec.11.conv.weight')!;
      expect(stored.dims).toEqual(fp32.get('dec.11.conv.weight')!.dims);
      expect(int8.has('dec.11.conv.w.q')).toBe(false);
      const per = kernel.length / out;
      const data = stored.data as Float32Array;
      expect(data).toBeInstanceOf(Float32Array);
      let diff = 0;
      for (let i = 0; i < kernel.length; i++) if (data[i] !== Math.fround(ref.q[i] * ref.scale[Math.floor(i / per)])) diff++;
      expect(diff, 'dec.11 weights that differ from int8 × scale').toBe(0);
      expect(data.some((v, i) => v !== kernel[i])).toBe(true); // int8-rounded, not the float kernel
    }
    // every other conv outside the float layers is int8: enc.2 … enc.10 and dec.0 … dec.10 (a
    // stride-2 decoder layer as four phase convs)
    expect(layers).toBeGreaterThanOrEqual(40);
    expect(values).toBeGreaterThan(9e6);
    for (const layer of INT8_FLOAT_LAYERS) expect([...int8.keys()].some((n) => n.startsWith(`${layer}.`) && n.endsWith('.w.q'))).toBe(false);
  });

  it('rounds exact ties away from zero, as the reference does', () => {
    // per channel max 127 → scale 1: values are their own int8 steps, ties included
    const k = Float32Array.from([127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5, 0.49999997, -3.4999998, 0]);
    const { wq, ws } = quantizeKernel(k, 1);
    expect(ws[0]).toBe(1);
    expect([...wq]).toEqual([127, 1, -1, 2, -2, 3, -3, 127, -127, 0, -3, 0]);
  });
});

describe('half-precision decoding at load', () => {
  it('is exact for every half value and flags infinities and NaNs', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const { data, finite } = f16ToF32Checked(all);
    expect(finite).toBe(false);
    for (let h = 0; h < 65536; h += 1) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 31;
      const mant = h & 1023;
      const want = exp === 0 ? sign * mant * 2 ** -24 : exp === 31 ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
      if (!Object.is(data[h], want)) expect.fail(`half 0x${h.toString(16)}: ${data[h]}, expected ${want}`);
    }
    // finite halves only: the largest (65504), the smallest subnormal, both zeros
    expect(f16ToF32Checked(Uint16Array.of(0x7bff, 0xfbff, 0x0001, 0x8000, 0)).finite).toBe(true);
    expect(f16ToF32Checked(Uint16Array.of(0, 0x7c00)).finite).toBe(false);
    expect(f16ToF32Checked(Uint16Array.of(0xfe00, 0)).finite).toBe(false);
  });

  it('rejects a half-precision model file holding an infinity, naming the tensor', () => {
    const cfg = { width: 2, inputSize: 32, outputScale: 281.6 };
    const f = readSafetensors(serializeModel(randomWeights(cfg, 5), { dtype: 'F16' }));
    const t = f.tensors.get('dec.3.conv.weight')!;
    const bytes = t.bytes.slice();
    bytes[6] = 0x00;
    bytes[7] = 0xfc; // value 3 = −∞
    f.tensors.set('dec.3.conv.weight', { ...t, bytes });
    let err: unknown;
    try {
      parseModelFile(writeSafetensors(f.tensors, f.metadata), 'inf.safetensors');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toMatch(/dec\.3\.conv\.weight holds a non-finite value at index 3/);
  });
});

describe('half-precision tensors decoded when read (HalfTensorMap)', () => {
  it('checks finiteness without decoding, two halves at a time, aligned or not', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    for (const offset of [0, 1]) {
      // each value alone at an even and an odd index of a 4-byte-aligned view and of an unaligned one
      const buf = new Uint16Array(8 + offset);
      const view = buf.subarray(offset);
      for (let h = 0; h < 65536; h++) {
        const want = f16ToF32Checked(Uint16Array.of(h)).finite;
        for (const at of [2, 5, 6]) {
          view.fill(0x3c00);
          view[at] = all[h];
          if (f16AllFinite(view) !== want) expect.fail(`half 0x${h.toString(16)} at ${at}, offset ${offset}: ${!want}`);
        }
      }
    }
    expect(f16AllFinite(new Uint16Array(0))).toBe(true);
  });

  it('reads like the eagerly decoded tensors, and building the int8 graph decodes no kernel', async () => {
    const bytes = await readFile(BUNDLED_MODELS.light);
    const weights = parseModelFileLazy(bytes, 'light');
    const map = weights.tensors as HalfTensorMap;
    expect(map).toBeInstanceOf(HalfTensorMap);
    const stored = readSafetensors(bytes).tensors;
    const kernel = 'enc.0.conv.weight';
    expect(map.halves(kernel)).toBeDefined();
    expect(map.has(kernel)).toBe(true);
    expect(map.size).toBe(stored.size);
    expect(map.lengths().get(kernel)!.length).toBe(stored.get(kernel)!.shape.reduce((a, b) => a * b, 1));
    const ranges = int8RangesFromMetadata(weights.metadata, 'light');
    const lazyGraph = buildResfcnOnnx(map, weights.config, { precision: 'int8', ranges });
    // the kernels were quantized from the halves: still not decoded
    const pending = [...stored.keys()].filter((name) => map.halves(name));
    const count = (names: string[]): number => names.reduce((a, name) => a + map.lengths().get(name)!.length, 0);
    expect(count(pending) / count([...stored.keys()])).toBeGreaterThan(0.8);
    expect(map.decodedEntries().length).toBe(stored.size - pending.length);
    // the same graph, byte for byte, from a plain Map of the decoded tensors (iteration decodes all)
    const eager = new Map(map);
    expect(pending.every((name) => !map.halves(name))).toBe(true);
    expect(buildResfcnOnnx(eager, weights.config, { precision: 'int8', ranges })).toEqual(lazyGraph);
    for (const [name, t] of stored) {
      const want = f16ToF32(new Uint16Array(new Uint8Array(t.bytes).buffer)); // a copy: a Buffer's slice is a view
      expect(eager.get(name), name).toEqual(want);
    }
  });

  it('is a Map: set replaces a pending tensor, delete and clear drop it, every iteration decodes', () => {
    // built from entries as a Map is (the Map constructor's own set ran before the private field existed)
    expect([...new HalfTensorMap([['x', Float32Array.of(5)]]).entries()]).toEqual([['x', Float32Array.of(5)]]);
    const m = new HalfTensorMap();
    m.setHalves('a', Uint16Array.of(0x3c00, 0xc000)).setHalves('b', Uint16Array.of(0x3800));
    m.set('b', Float32Array.of(7));
    expect(m.halves('b')).toBeUndefined();
    expect([...m.entries()]).toEqual([['a', Float32Array.of(1, -2)], ['b', Float32Array.of(7)]]);
    m.setHalves('c', Uint16Array.of(0x4000));
    expect([...m.values()].at(-1)).toEqual(Float32Array.of(2));
    m.setHalves('d', Uint16Array.of(0x4200));
    const seen: [string, number][] = [];
    m.forEach((v, k) => seen.push([k, v[0]]));
    expect(seen).toEqual([['a', 1], ['b', 7], ['c', 2], ['d', 3]]);
    m.setHalves('e', Uint16Array.of(0x4400));
    expect(m.delete('e')).toBe(true);
    expect(m.halves('e')).toBeUndefined();
    expect(m.get('e')).toBeUndefined();
    expect(() => m.setHalves('g', Uint16Array.of(0x3c00, 0x7e00))).toThrow(/^tensor g holds a non-finite value$/);
    expect(m.has('g')).toBe(false);
    m.setHalves('f', Uint16Array.of(0x4400));
    m.clear();
    expect(m.size).toBe(0);
    expect(m.halves('f')).toBeUndefined();
  });
});

describe('weights handed to the caller', () => {
  it('parseModelFile decodes into a plain Map: no view of the bytes, and a structured clone keeps every tensor', async () => {
    const bytes = new Uint8Array(await readFile(BUNDLED_MODELS.light));
    const weights = parseModelFile(bytes, 'light');
    expect(weights.tensors).not.toBeInstanceOf(HalfTensorMap);
    const before = new Map([...weights.tensors].map(([k, v]) => [k, v.slice()]));
    const clone = structuredClone(weights);
    bytes.fill(0, 100_000); // the caller reuses its buffer
    for (const [name, t] of before) {
      expect(weights.tensors.get(name), name).toEqual(t);
      expect(clone.tensors.get(name), name).toEqual(t);
    }
  });

  it('a session refuses weights given in memory that hold a NaN, int8 as fp32 (the int8 graph had quantized it to 0)', async () => {
    for (const precision of ['int8', 'fp32'] as const) {
      const weights = parseModelFile(await readFile(BUNDLED_MODELS.light), 'light');
      const t = weights.tensors.get('enc.0.conv.weight')!.slice();
      t[5] = NaN;
      weights.tensors.set('enc.0.conv.weight', t);
      await expect(createSession(weights, { precision }), precision).rejects.toThrow(/^model weights: tensor enc\.0\.conv\.weight holds a non-finite value at index 5$/);
    }
  });
});
