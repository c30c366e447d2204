/**
 * The real-time architecture ('mobile', src/model/mobile.ts): the multiply-add counter, the
 * architecture in the file format, and its fp32 and int8 graphs on onnxruntime-node over real face
 * crops. Its weights here are random, so the checks are structural and numerical; the trained
 * network is the bundled light model, whose accuracy model-quality.test.ts and precision.test.ts check.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../src/errors.js';
import {
  INT8_RANGES_KEY, RESFCN256, buildResfcnOnnx, convCosts, countParameters, modelMetadata, multiplyAdds, parseModelFile, randomWeights,
  readModelFile, resfcnTensorSpecs, serializeModel, type ResfcnConfig,
} from '../src/model/index.js';
import { hwcToChw, resizeSquare } from '../src/runtime/resample.js';
import { createSession } from '../src/runtime/index.js';
import { faceCrops, listImages } from '../scripts/face-crops.js';

const MOBILE: ResfcnConfig = { width: 16, inputSize: 128, outputScale: 281.6, architecture: 'mobile' };
const LIGHT: ResfcnConfig = { width: 8, inputSize: 128, outputScale: 281.6 };

describe('multiply-adds per face', () => {
  it('resfcn256 has 4.13 G (the published figure, ±1 %), counted conv by conv', () => {
    const macs = multiplyAdds(RESFCN256);
    expect(Math.abs(macs / 4.13e9 - 1)).toBeLessThan(0.01);
    // enc.0: 256² pixels × 16 out × 3 in × 4×4 taps; dec.16: the last 4×4 transposed conv, 3 → 3 at 256²
    const costs = new Map(convCosts(RESFCN256).map((c) => [c.name, c.macs]));
    expect(costs.get('enc.0.conv')).toBe(256 * 256 * 16 * 3 * 16);
    expect(costs.get('dec.16.conv')).toBe(256 * 256 * 3 * 3 * 16);
    // dec.0: 512 → 512 at 8²; dec.1: 512 → 256, stride 2, from 8² (every input pixel scatters 16 taps)
    expect(costs.get('dec.1.conv')).toBe(8 * 8 * 512 * 256 * 16);
  });

  it('the light model (resfcn width 8 at 128²) has 0.268 G; the mobile network at 16/128 0.069 G (≤ 0.5 G)', () => {
    // about 1/16 of resfcn256 (half the width, a quarter of the pixels); the layers with 3 channels
    // (enc.0's input, dec.14–16) scale with the width only once
    expect(multiplyAdds(LIGHT)).toBe(267_911_168);
    const m = multiplyAdds(MOBILE);
    expect(m).toBe(69_144_576);
    expect(m).toBeLessThanOrEqual(0.5e9);
    // one depthwise conv: 64² pixels × 16 channels × 9 taps
    expect(convCosts(MOBILE).find((c) => c.name === 'enc.1.dw')?.macs).toBe(64 * 64 * 16 * 9);
    // the cost of every conv is its kernel size × its output pixels, so the total grows with S²
    expect(multiplyAdds({ ...MOBILE, inputSize: 256 })).toBe(4 * m);
  });
});

describe('the architecture in the model file', () => {
  it('resfcn files do not name it (they stay byte-identical); mobile files do, and parse back', () => {
    expect(Object.keys(modelMetadata(LIGHT))).toEqual(['format', 'version', 'width', 'input_size', 'output_scale']);
    const w = randomWeights(MOBILE, 2);
    const bytes = serializeModel(w, { dtype: 'F16' });
    const parsed = parseModelFile(bytes, 'mobile.safetensors');
    expect(parsed.config).toEqual(MOBILE);
    expect(parsed.metadata.architecture).toBe('mobile');
    expect(parsed.tensors.size).toBe(resfcnTensorSpecs(MOBILE).length);
    expect(countParameters(MOBILE)).toBe(693_534); // training/mobile.py prints the same count
  });

  it('an unknown architecture or a mismatched tensor set is a ModelError naming the file', () => {
    const w = randomWeights(MOBILE, 2);
    const unknown = serializeModel({ ...w, metadata: { ...w.metadata } }).slice();
    // rewrite "mobile" in the header's metadata to "mobilf" (same length, the header stays valid)
    const text = new TextDecoder('latin1').decode(unknown.subarray(0, 200_000));
    const at = text.indexOf('"architecture":"mobile"');
    expect(at).toBeGreaterThan(0);
    unknown[at + '"architecture":"mobil'.length] = 'f'.charCodeAt(0);
    expect(() => parseModelFile(unknown, 'x.safetensors')).toThrow(ModelError);
    expect(() => parseModelFile(unknown, 'x.safetensors')).toThrow(/x\.safetensors.*unknown architecture "mobilf"/);
    // resfcn tensors under a mobile header
    const light = randomWeights(LIGHT, 1);
    const mixed = serializeModel(light);
    const t2 = new TextDecoder('latin1').decode(mixed.subarray(0, 200_000));
    expect(t2.indexOf('"architecture"')).toBe(-1);
    expect(() => serializeModel({ ...light, config: { ...LIGHT, architecture: 'mobile' } })).toThrow(ModelError);
    expect(() => serializeModel({ ...light, config: { ...LIGHT, architecture: 'mobile' } })).toThrow(/enc\.0\.conv\.weight has shape .* expected \[8, 3, 3, 3\] \(mobile, width 8\)/);
    expect(() => randomWeights({ ...MOBILE, width: 15 })).toThrow(/even width/);
  });
});

describe('the mobile graphs on onnxruntime-node (random weights, real crops)', () => {
  it('fp32 and int8 (depthwise convs quantized) run; int8 stays close to fp32; the session upsamples to 256²', async () => {
    const weights = randomWeights(MOBILE, 3);
    const S = MOBILE.inputSize;
    const crops = (await faceCrops(await listImages('../shared/eval/portraits'), 4)).map((c) => c.crop);
    expect(crops.length).toBe(4);
    const inputs = crops.map((c) => {
      const x = new Float32Array(3 * S * S);
      hwcToChw(resizeSquare(c.data, 256, S, 3), S, 3, x);
      return x;
    });
    // calibration as scripts/calibrate-int8.ts does it (min/max), on crops 0–1; measured on 2–3
    const expose = await ort.InferenceSession.create(buildResfcnOnnx(weights.tensors, MOBILE, { exposeActivations: true }));
    const names = expose.outputNames.filter((n) => n !== 'output');
    expect(names).toContain('enc.1'); // every block's output is calibrated
    const ranges: Record<string, [number, number]> = { input: [0, 1] };
    for (const x of inputs.slice(0, 2)) {
      const out = await expose.run({ input: new ort.Tensor('float32', x, [1, 3, S, S]) });
      for (const n of names) {
        const r = (ranges[n] ??= [0, 0]);
        for (const v of out[n].data as Float32Array) {
          if (v < r[0]) r[0] = v;
          if (v > r[1]) r[1] = v;
        }
      }
    }
    await expose.release();
    const int8Graph = buildResfcnOnnx(weights.tensors, MOBILE, { precision: 'int8', ranges });
    // depthwise convs are quantized: an int8 weight initializer with the depthwise shape exists
    expect(Buffer.from(int8Graph).includes(Buffer.from('enc.2.dw.w.q'))).toBe(true);
    const w2 = { ...weights, metadata: { ...weights.metadata, [INT8_RANGES_KEY]: JSON.stringify(ranges) } };
    const fp32 = await createSession(w2, { threads: 2, precision: 'fp32' });
    const int8 = await createSession(w2, { threads: 2, precision: 'int8' });
    try {
      expect(int8.precision).toBe('int8');
      let sum = 0;
      let n = 0;
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of inputs.slice(2)) {
        const a = await fp32.run(x, 1);
        const b = await int8.run(x, 1);
        for (let i = 0; i < a.length; i++) {
          sum += Math.abs(a[i] - b[i]);
          lo = Math.min(lo, a[i]);
          hi = Math.max(hi, a[i]);
        }
        n += a.length;
      }
      const mean = sum / n;
      console.log(`mobile 16/128, random weights: fp32 output ${lo.toFixed(1)}..${hi.toFixed(1)} px, mean |int8 − fp32| ${mean.toFixed(3)} px`);
      expect(hi - lo).toBeGreaterThan(10); // live, not saturated
      expect(mean).toBeLessThan(0.02 * (hi - lo));
      const [map] = await fp32.predictBatch([crops[0]]);
      expect(map.size).toBe(256);
      expect(map.data.every(Number.isFinite)).toBe(true);
    } finally {
      await fp32.release();
      await int8.release();
    }
  });

  it('the bundled default model reads as resfcn (no architecture key), the light model as mobile', async () => {
    const def = await readModelFile('assets/models/prnet-default.safetensors');
    expect(def.config.architecture).toBeUndefined();
    expect(def.metadata.architecture).toBeUndefined();
    const light = await readModelFile('assets/models/prnet-light.safetensors');
    expect(light.config).toEqual({ width: 16, inputSize: 128, outputScale: 281.6, architecture: 'mobile' });
    expect(multiplyAdds(light.config)).toBeLessThan(0.5e9);
  });
});
