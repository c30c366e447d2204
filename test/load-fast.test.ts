/**
 * The fast model load (docs/model-format.md, "Loading"): the int8 graph is built from the weights
 * at load with the batch norms folded in, the transposed convs rewritten and the kernels quantized
 * in one pass, and half-precision weights are decoded with their finiteness checked in the same
 * pass. These tests hold the fast paths to the plain definitions: the int8 weights are exactly the
 * per-channel quantization of the folded fp32 graph's kernels, and the F16 decoding is exact.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../src/errors.js';
import { buildResfcnOnnx, INT8_FLOAT_LAYERS, quantizeKernel } from '../src/model/resfcn.js';
import { int8RangesFromMetadata, parseModelFile, randomWeights, serializeModel } from '../src/model/weights.js';
import { BUNDLED_MODELS } from '../src/pipeline/node.js';
import { f16ToF32Checked, readSafetensors, writeSafetensors } from '../src/util/safetensors.js';
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
  it('holds exactly the per-channel int8 of the folded fp32 kernels (bundled default model)', async () => {
    const weights = parseModelFile(await readFile(BUNDLED_MODELS.default), 'default');
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
    // every conv outside the float layers is int8: enc.2 … enc.10 and dec.0 … dec.11 (a stride-2
    // decoder layer as four phase convs)
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
