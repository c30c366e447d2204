/**
 * Model weight files (docs/model-format.md): a safetensors file with the resfcn tensors and
 * string metadata. Parsing validates everything against `resfcnTensorSpecs`, so a model that
 * parses always builds.
 */
import { InputError, ModelError, shownValue } from '../errors.js';
import { asFloat32Checked, f16Tensor, f16ToF32, f32Tensor, halfBits, readSafetensors, writeSafetensors, type SafeTensor } from '../util/safetensors.js';
import { firstNotFinite } from '../util/finite.js';
import { HalfTensorMap } from './tensor-map.js';
import { ARCHITECTURES, checkConfig, decoderLayers, resfcnTensorSpecs, type ActivationRanges, type Architecture, type ResfcnConfig } from './resfcn.js';

export const MODEL_FORMAT = 'prnet-ts/resfcn';
export const MODEL_FORMAT_VERSION = '1';

/** Free-text model card fields stored in the file's metadata. */
export interface ModelCard {
  name?: string;
  description?: string;
  source?: string;
  license?: string;
}

export interface ModelWeights {
  config: ResfcnConfig;
  /**
   * Float32 tensors by name, ONNX/PyTorch layout, every name of `resfcnTensorSpecs(config)`. From
   * `parseModelFileLazy` (a session's own load), a HalfTensorMap: a file's F16 tensors are
   * decoded when read.
   */
  tensors: Map<string, Float32Array>;
  /** All metadata strings: the config keys (`format`, `version`, `width`, …) and the model card. */
  metadata: Record<string, string>;
}

export interface SerializeOptions {
  /** Storage type: F16 halves the file (the shipped model); F32 is exact. Default F32. */
  dtype?: 'F16' | 'F32';
}

/** The metadata strings of a configuration plus a model card. */
export function modelMetadata(config: ResfcnConfig, card: ModelCard = {}): Record<string, string> {
  const md: Record<string, string> = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    width: String(config.width),
    input_size: String(config.inputSize),
    output_scale: String(config.outputScale),
  };
  // Written only when the config names it, so resfcn files stay as they were (absent = resfcn).
  if (config.architecture !== undefined) md.architecture = config.architecture;
  for (const [k, v] of Object.entries(card)) if (v !== undefined) md[k] = v;
  return md;
}

function parseIntStrict(value: string | undefined, key: string, source: string): number {
  if (value === undefined) throw new ModelError(`metadata is missing "${key}"`, source);
  if (!/^\d+$/.test(value)) throw new ModelError(`metadata "${key}" must be an integer, got "${value}"`, source);
  return Number(value);
}

/**
 * The metadata key naming the precision a session uses when not told otherwise ('int8' or
 * 'fp32'; int8 needs `int8_ranges`). Absent: fp32.
 */
export const DEFAULT_PRECISION_KEY = 'default_precision';
/** Metadata key: how video tracks crop this model's faces, `detector` or `landmarks` (TrackerOptions.framing; absent: landmarks). */
export const TRACK_FRAMING_KEY = 'track_framing';

/** The metadata key holding the int8 calibration (JSON, see `int8RangesFromMetadata`). */
export const INT8_RANGES_KEY = 'int8_ranges';

/**
 * The int8 activation ranges stored in a file's metadata (`int8_ranges`: JSON
 * `{"tensor": [min, max], …}`), or undefined when the file has none. Throws ModelError when the
 * value is malformed.
 */
export function int8RangesFromMetadata(md: Record<string, string>, source: string): ActivationRanges | undefined {
  const text = md[INT8_RANGES_KEY];
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ModelError(`metadata "${INT8_RANGES_KEY}" is not JSON: ${(e as Error).message}`, source, { cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ModelError(`metadata "${INT8_RANGES_KEY}" must be a JSON object`, source);
  const ranges: Record<string, [number, number]> = {};
  for (const [name, r] of Object.entries(value)) {
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || r[0] > r[1]) {
      throw new ModelError(`metadata "${INT8_RANGES_KEY}": the range of ${name} must be [min, max], got ${JSON.stringify(r)}`, source);
    }
    // Its span as quantized (widened to hold 0): an empty or a vast one makes every value one step
    // (a session ran with [0, 0] everywhere and gave a head turned 40°, no error).
    const span = Math.max(r[1], 0) - Math.min(r[0], 0);
    if (!(span >= MIN_RANGE_SPAN && span <= MAX_RANGE_SPAN)) {
      throw new ModelError(`metadata "${INT8_RANGES_KEY}": the range of ${name} must span ${MIN_RANGE_SPAN} to ${MAX_RANGE_SPAN} (with 0), got ${JSON.stringify(r)}`, source);
    }
    ranges[name] = [r[0], r[1]];
  }
  return ranges;
}

/** The narrowest and widest span of a calibrated activation range, 0 included (the bundled models' are 1 to 32). */
export const MIN_RANGE_SPAN = 1e-3;
export const MAX_RANGE_SPAN = 1e6;

/** Reads and checks the configuration from a file's metadata. */
export function configFromMetadata(md: Record<string, string>, source: string): ResfcnConfig {
  if (md.format !== MODEL_FORMAT) {
    throw new ModelError(`metadata "format" must be "${MODEL_FORMAT}", got ${md.format === undefined ? 'none' : `"${md.format}"`}`, source);
  }
  if (md.version !== MODEL_FORMAT_VERSION) {
    throw new ModelError(`unsupported format version ${md.version === undefined ? '(none)' : `"${md.version}"`} (this library reads ${MODEL_FORMAT_VERSION})`, source);
  }
  const width = parseIntStrict(md.width, 'width', source);
  const inputSize = parseIntStrict(md.input_size, 'input_size', source);
  if (md.output_scale === undefined) throw new ModelError('metadata is missing "output_scale"', source);
  const outputScale = Number(md.output_scale);
  if (md.output_scale.trim() === '' || !Number.isFinite(outputScale)) {
    throw new ModelError(`metadata "output_scale" must be a number, got "${md.output_scale}"`, source);
  }
  const config: ResfcnConfig = { width, inputSize, outputScale };
  if (md.architecture !== undefined) {
    if (!(ARCHITECTURES as readonly string[]).includes(md.architecture)) {
      throw new ModelError(`unknown architecture "${md.architecture}" in metadata "architecture" (this library builds ${ARCHITECTURES.join(', ')}; a newer prnet-ts may read it)`, source);
    }
    config.architecture = md.architecture as Architecture;
  }
  const precision = md[DEFAULT_PRECISION_KEY];
  if (precision !== undefined && precision !== 'fp32' && precision !== 'int8') {
    throw new ModelError(`metadata "${DEFAULT_PRECISION_KEY}" must be "fp32" or "int8", got "${precision}"`, source);
  }
  const framing = md[TRACK_FRAMING_KEY];
  if (framing !== undefined && framing !== 'detector' && framing !== 'landmarks') {
    throw new ModelError(`metadata "${TRACK_FRAMING_KEY}" must be "detector" or "landmarks", got "${framing}"`, source);
  }
  checkConfig(config, source);
  return config;
}

/**
 * Checks that `tensors` holds exactly the tensors of `config` with the right sizes (and shapes,
 * when given). Throws ModelError naming `source` and the first offending tensor.
 */
export function validateTensors(
  config: ResfcnConfig,
  tensors: ReadonlyMap<string, { shape?: number[]; length: number }>,
  source: string,
): void {
  const specs = resfcnTensorSpecs(config);
  const expected = new Set(specs.map((s) => s.name));
  const arch = config.architecture && config.architecture !== 'resfcn' ? `${config.architecture}, ` : '';
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (!t) throw new ModelError(`missing tensor ${s.name} [${s.shape.join(', ')}] (${arch}width ${config.width})`, source);
    const count = s.shape.reduce((a, b) => a * b, 1);
    const shapeOk = t.shape ? t.shape.length === s.shape.length && t.shape.every((d, i) => d === s.shape[i]) : true;
    if (!shapeOk || t.length !== count) {
      const got = t.shape ? `[${t.shape.join(', ')}]` : `${t.length} values`;
      throw new ModelError(`tensor ${s.name} has shape ${got}, expected [${s.shape.join(', ')}] (${arch}width ${config.width})`, source);
    }
  }
  for (const name of tensors.keys()) {
    if (!expected.has(name)) throw new ModelError(`unexpected tensor ${name} (not part of the ${config.architecture ?? 'resfcn'} graph)`, source);
  }
}

/**
 * Parses and validates a model file's bytes. `source` (a path or URL) names the file in errors.
 * Every tensor is decoded to float32 in a plain Map: the weights refer to nothing of `bytes`, and
 * survive a structured clone (postMessage to a worker).
 */
export function parseModelFile(bytes: Uint8Array, source: string): ModelWeights {
  return parseModel(bytes, source, false);
}

/**
 * parseModelFile whose F16 tensors stay half precision until read: `tensors` is a HalfTensorMap,
 * from which the int8 graph is quantized without a float32 copy of the weights (docs/model-format.md,
 * "Loading"). The weights keep views of `bytes`, so this is for bytes nothing else holds or changes
 * (a file or a response body this library read) and for weights used where they are made: a
 * structured clone copies a HalfTensorMap's undecoded entries as empty arrays.
 */
export function parseModelFileLazy(bytes: Uint8Array, source: string): ModelWeights {
  return parseModel(bytes, source, true);
}

/** Both parses: `lazy` keeps F16 tensors as halves in a HalfTensorMap, else each is decoded (and checked) in one pass. */
function parseModel(bytes: Uint8Array, source: string, lazy: boolean): ModelWeights {
  let file;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    throw new ModelError(`not a valid model file: ${(e as Error).message}`, source, { cause: e });
  }
  const metadata = { ...file.metadata };
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new ModelError(`metadata "${k}" is not a string`, source);
  }
  const config = configFromMetadata(metadata, source);
  const shapes = new Map<string, { shape: number[]; length: number }>();
  for (const [name, t] of file.tensors) {
    if (t.dtype !== 'F32' && t.dtype !== 'F16') throw new ModelError(`tensor ${name} has dtype ${t.dtype}, expected F32 or F16`, source);
    shapes.set(name, { shape: t.shape, length: t.shape.reduce((a, b) => a * b, 1) });
  }
  validateTensors(config, shapes, source);
  // F16 tensors stay half precision until read (the int8 graph quantizes from the halves).
  const tensors = lazy ? new HalfTensorMap() : new Map<string, Float32Array>();
  for (const s of resfcnTensorSpecs(config)) {
    const stored = file.tensors.get(s.name) as SafeTensor;
    if (tensors instanceof HalfTensorMap && stored.dtype === 'F16' && s.bn !== 'running_var') {
      const halves = halfBits(stored);
      try {
        tensors.setHalves(s.name, halves);
      } catch {
        throw nonFinite(s.name, firstNotFinite(f16ToF32(halves)), source);
      }
      continue;
    }
    const { data, finite } = asFloat32Checked(stored);
    // F16 reports finiteness from the conversion; F32 is looked at here
    const bad = finite === true ? -1 : firstNotFinite(data);
    if (bad >= 0) throw nonFinite(s.name, bad, source);
    if (s.bn === 'running_var') {
      for (let i = 0; i < data.length; i++) {
        if (data[i] < 0) throw new ModelError(`tensor ${s.name} holds a negative variance at index ${i}`, source);
      }
    }
    tensors.set(s.name, data);
  }
  return { config, tensors, metadata };
}

/** The error for a weight that is not finite (a file's or one given in memory). */
export function nonFinite(name: string, index: number, source: string): ModelError {
  return new ModelError(`tensor ${name} holds a non-finite value at index ${index}`, source);
}

/** Serialises weights to the safetensors model format (tensors in spec order). */
export function serializeModel(weights: ModelWeights, options: SerializeOptions = {}): Uint8Array {
  const dtype = options.dtype ?? 'F32';
  // 'f16' wrote F32 silently
  if (dtype !== 'F16' && dtype !== 'F32') throw new InputError(`dtype must be 'F16' or 'F32', got ${shownValue(dtype)}`);
  const { config } = weights;
  checkConfig(config);
  validateTensors(config, weights.tensors, 'model');
  const entries: [string, SafeTensor][] = resfcnTensorSpecs(config).map((s) => {
    const data = weights.tensors.get(s.name) as Float32Array;
    return [s.name, dtype === 'F16' ? f16Tensor(data, s.shape) : f32Tensor(data, s.shape)];
  });
  // The config keys always reflect `config`; other metadata (the model card) is kept.
  const metadata = { ...weights.metadata, ...modelMetadata(config) };
  return writeSafetensors(entries, metadata);
}

/**
 * A small deterministic PRNG (mulberry32) with Box–Muller normals. The same seed gives the same
 * weights on every platform.
 */
export function createRng(seed: number): { uniform(): number; normal(): number } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  const normal = (): number => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u = 1 - uniform(); // (0, 1]
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return { uniform, normal };
}

/**
 * Deterministic random weights for tests and parity checks: He-normal conv kernels
 * (std = sqrt(2 / fan_in), fan_in = in × kh × kw of the equivalent conv; for a transposed conv
 * with stride s the fan-in is in × kh × kw / s²), BN gamma ~ 1 ± 0.1, beta ~ ±0.1, running mean
 * ~ ±0.1 and running variance in [1, 2). The residual sums' BN (bn3) gets a running variance of
 * about 2 (the sum of two unit-variance branches), so activations stay O(1) through the net and
 * the output is not saturated.
 */
export function randomWeights(config: ResfcnConfig, seed = 1, card: ModelCard = {}): ModelWeights {
  checkConfig(config);
  const rng = createRng(seed);
  const decoderStride = new Map(decoderLayers(config.width).map((d) => [`dec.${d.index}.conv.weight`, d.stride]));
  const tensors = new Map<string, Float32Array>();
  for (const s of resfcnTensorSpecs(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (s.role === 'conv' || s.role === 'convTranspose') {
      const [, , kh, kw] = s.shape;
      let fanIn: number;
      if (s.role === 'conv') fanIn = s.shape[1] * kh * kw;
      else {
        const st = decoderStride.get(s.name) ?? 1;
        fanIn = (s.shape[0] * kh * kw) / (st * st);
      }
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    } else {
      const isSum = /\.bn3\./.test(s.name);
      for (let i = 0; i < n; i++) {
        const u = rng.uniform();
        if (s.bn === 'weight') data[i] = 0.9 + 0.2 * u;
        else if (s.bn === 'bias' || s.bn === 'running_mean') data[i] = 0.2 * u - 0.1;
        else data[i] = (isSum ? 2 : 1) + u;
      }
    }
    tensors.set(s.name, data);
  }
  return { config: { ...config }, tensors, metadata: modelMetadata(config, { name: `random-${config.architecture === 'mobile' ? 'mobile-' : ''}w${config.width}-s${config.inputSize}-seed${seed}`, ...card }) };
}
