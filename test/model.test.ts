import { describe, expect, it } from 'vitest';
import { ModelError } from '../src/errors.js';
import {
  countParameters, parseModelFile, randomWeights, resfcnTensorSpecs, samePadding, serializeModel, RESFCN256,
  type ModelWeights,
} from '../src/model/index.js';
import { readSafetensors, writeSafetensors, f32Tensor } from '../src/util/safetensors.js';

const W16 = RESFCN256;
const W8 = { width: 8, inputSize: 128, outputScale: 281.6 };

function expectModelError(fn: () => unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ModelError);
  for (const p of parts) expect((err as Error).message).toContain(p);
}

/** Rewrites a model file's tensors/metadata through `edit` (on the raw safetensors level). */
function editFile(bytes: Uint8Array, edit: (f: ReturnType<typeof readSafetensors>) => void): Uint8Array {
  const f = readSafetensors(bytes);
  edit(f);
  return writeSafetensors(f.tensors, f.metadata);
}

describe('resfcn graph definition', () => {
  it('has 13,353,618 trainable parameters and 245 tensors at width 16 (as the paper’s resfcn256)', () => {
    expect(countParameters(W16)).toBe(13_353_618);
    expect(resfcnTensorSpecs(W16)).toHaveLength(245);
  });

  it('names and shapes tensors as docs/model-format.md says', () => {
    const specs = new Map(resfcnTensorSpecs(W16).map((s) => [s.name, s.shape]));
    expect(specs.get('enc.0.conv.weight')).toEqual([16, 3, 4, 4]);
    expect(specs.get('enc.1.conv1.weight')).toEqual([16, 16, 1, 1]);
    expect(specs.get('enc.1.shortcut.weight')).toEqual([32, 16, 1, 1]);
    expect(specs.has('enc.2.shortcut.weight')).toBe(false);
    expect(specs.get('enc.10.conv2.weight')).toEqual([256, 256, 4, 4]);
    expect(specs.get('enc.10.bn3.running_var')).toEqual([512]);
    expect(specs.get('dec.0.conv.weight')).toEqual([512, 512, 4, 4]);
    expect(specs.get('dec.1.conv.weight')).toEqual([512, 256, 4, 4]);
    expect(specs.get('dec.13.conv.weight')).toEqual([16, 16, 4, 4]);
    expect(specs.get('dec.14.conv.weight')).toEqual([16, 3, 4, 4]);
    expect(specs.get('dec.16.bn.weight')).toEqual([3]);
  });

  it('pads like TensorFlow SAME: 4×4 s1 → 1 before, 2 after; 4×4 s2 on even sizes → 1, 1; 1×1 → 0', () => {
    expect(samePadding(256, 4, 1)).toEqual([1, 2]);
    expect(samePadding(256, 4, 2)).toEqual([1, 1]);
    expect(samePadding(256, 1, 1)).toEqual([0, 0]);
    expect(samePadding(256, 1, 2)).toEqual([0, 0]);
    expect(samePadding(7, 4, 2)).toEqual([1, 2]);
  });
});

describe('model files', () => {
  const w = randomWeights(W8, 3);

  it('random weights are deterministic per seed', () => {
    const again = randomWeights(W8, 3);
    const other = randomWeights(W8, 4);
    expect(again.tensors.get('enc.3.conv2.weight')).toEqual(w.tensors.get('enc.3.conv2.weight'));
    expect(other.tensors.get('enc.3.conv2.weight')).not.toEqual(w.tensors.get('enc.3.conv2.weight'));
    for (const [name, t] of w.tensors) if (name.endsWith('running_var')) expect(Math.min(...t)).toBeGreaterThan(0);
  });

  it('round-trips exactly in F32, with config and model card metadata', () => {
    const bytes = serializeModel({ ...w, metadata: { ...w.metadata, description: 'test' } }, { dtype: 'F32' });
    const back = parseModelFile(bytes, 'm.safetensors');
    expect(back.config).toEqual(W8);
    expect(back.metadata).toMatchObject({ format: 'prnet-ts/resfcn', version: '1', width: '8', input_size: '128', output_scale: '281.6', description: 'test' });
    for (const [name, t] of w.tensors) {
      const b = back.tensors.get(name) as Float32Array;
      expect(b.length, name).toBe(t.length);
      expect(t.every((v, i) => v === b[i]), name).toBe(true);
    }
  });

  it('round-trips in F16 to half precision, in about half the bytes', () => {
    const f32 = serializeModel(w, { dtype: 'F32' });
    const f16 = serializeModel(w, { dtype: 'F16' });
    expect(f16.byteLength).toBeLessThan(f32.byteLength * 0.52);
    const back = parseModelFile(f16, 'm16.safetensors');
    for (const [name, t] of w.tensors) {
      const b = back.tensors.get(name) as Float32Array;
      let worst = 0; // error relative to half precision's rounding bound
      for (let i = 0; i < t.length; i++) worst = Math.max(worst, Math.abs(b[i] - t[i]) / (Math.abs(t[i]) * 2 ** -11 + 6e-8));
      expect(worst, name).toBeLessThanOrEqual(1);
    }
  });

  const good = serializeModel(w);

  it('rejects a tensor of the wrong shape, naming the file and the tensor', () => {
    const bad = editFile(good, (f) => f.tensors.set('enc.3.conv2.weight', f32Tensor(new Float32Array(16 * 16 * 3 * 3), [16, 16, 3, 3])));
    expectModelError(() => parseModelFile(bad, 'bad.safetensors'), 'bad.safetensors', 'enc.3.conv2.weight', '[16, 16, 3, 3]', '[16, 16, 4, 4]');
  });

  it('rejects a missing tensor, naming it', () => {
    const bad = editFile(good, (f) => f.tensors.delete('dec.16.bn.running_var'));
    expectModelError(() => parseModelFile(bad, 'bad.safetensors'), 'bad.safetensors', 'missing tensor dec.16.bn.running_var');
  });

  it('rejects an extra tensor, naming it', () => {
    const bad = editFile(good, (f) => f.tensors.set('enc.0.bn.num_batches_tracked', f32Tensor(new Float32Array(1), [])));
    expectModelError(() => parseModelFile(bad, 'bad.safetensors'), 'unexpected tensor enc.0.bn.num_batches_tracked');
  });

  it('rejects bad metadata: wrong format, missing width, a width that does not fit the tensors', () => {
    expectModelError(() => parseModelFile(editFile(good, (f) => (f.metadata.format = 'other')), 'x.st'), 'x.st', 'format');
    expectModelError(() => parseModelFile(editFile(good, (f) => delete f.metadata.width), 'x.st'), 'width');
    expectModelError(() => parseModelFile(editFile(good, (f) => (f.metadata.width = '16')), 'x.st'), 'enc.0.conv.weight', 'width 16');
    expectModelError(() => parseModelFile(editFile(good, (f) => (f.metadata.input_size = '100')), 'x.st'), 'multiple of 32');
    expectModelError(() => parseModelFile(editFile(good, (f) => (f.metadata.output_scale = 'big')), 'x.st'), 'output_scale');
  });

  it('rejects a truncated file and a file that is not safetensors, naming the file', () => {
    expectModelError(() => parseModelFile(good.subarray(0, good.byteLength - 100), 'cut.safetensors'), 'cut.safetensors', 'truncated');
    expectModelError(() => parseModelFile(new Uint8Array([1, 2, 3]), 'junk.bin'), 'junk.bin');
  });

  it('refuses to serialise weights that do not match their config', () => {
    const broken: ModelWeights = { ...w, tensors: new Map(w.tensors) };
    broken.tensors.delete('enc.0.conv.weight');
    expectModelError(() => serializeModel(broken), 'enc.0.conv.weight');
  });
});
