/**
 * resfcn256 — the one definition of PRNet's network (docs/model-format.md).
 *
 * `resfcnTensorSpecs` enumerates the weight tensors of a configuration (names, shapes, and the
 * layer each belongs to); `buildResfcnOnnx` emits the ONNX graph from weights. Weight files,
 * random initialisation and the TensorFlow-checkpoint importer all use the same enumeration.
 */
import { ModelError } from '../errors.js';
import { f16ToF32, halfTable } from '../util/safetensors.js';
import { HalfTensorMap } from './tensor-map.js';
import { encodeModel, type OnnxAttribute, type OnnxInitializer, type OnnxNode } from './onnx.js';
import { buildMobileOnnx, checkMobileConfig, mobileConvCosts, mobileTensorSpecs, type ConvCost } from './mobile.js';

/**
 * The network families one config can name (docs/model-format.md): 'resfcn' (PRNet's resfcn256
 * and its narrower variants; the default when `architecture` is absent) and 'mobile' (the
 * real-time inverted-residual network of ./mobile.ts).
 */
export type Architecture = 'resfcn' | 'mobile';
export const ARCHITECTURES: readonly Architecture[] = ['resfcn', 'mobile'];

export interface ResfcnConfig {
  /** Channels of the first conv: 16 for resfcn256, 8 for the half-width variant. */
  width: number;
  /** Input side in pixels: 256, or 128 for the light variant (any multiple of 32 builds). */
  inputSize: number;
  /** The sigmoid output is multiplied by this: 256 × 1.1 = 281.6. */
  outputScale: number;
  /** The network family; absent means 'resfcn' (the files of resfcn models do not name it). */
  architecture?: Architecture;
}


/** resfcn256 as published: width 16, 256² input, output × 281.6. */
export const RESFCN256: Readonly<ResfcnConfig> = Object.freeze({ width: 16, inputSize: 256, outputScale: 281.6 });

/** Batch-norm epsilon of every BN layer (TF-Slim's default in the original). */
export const BN_EPSILON = 0.001;

/** The four tensors of every batch norm, in file order. */
export const BN_SUFFIXES = ['weight', 'bias', 'running_mean', 'running_var'] as const;
export type BnSuffix = (typeof BN_SUFFIXES)[number];

export type TensorRole = 'conv' | 'convTranspose' | 'bn';

export interface TensorSpec {
  name: string;
  shape: number[];
  role: TensorRole;
  /** For BN tensors: which of the four. */
  bn?: BnSuffix;
}

/** One residual block of the encoder. */
export interface EncoderBlock {
  index: number;
  inChannels: number;
  outChannels: number;
  stride: number;
  hasShortcut: boolean;
}

/** One transposed conv of the decoder. */
export interface DecoderLayer {
  index: number;
  inChannels: number;
  outChannels: number;
  stride: number;
}

const ENCODER_PLAN: [number, number][] = [
  [2, 2], [2, 1], [4, 2], [4, 1], [8, 2], [8, 1], [16, 2], [16, 1], [32, 2], [32, 1],
];
const DECODER_PLAN: [number, number][] = [
  [32, 1], [16, 2], [16, 1], [16, 1], [8, 2], [8, 1], [8, 1], [4, 2], [4, 1], [4, 1],
  [2, 2], [2, 1], [1, 2], [1, 1], [0, 1], [0, 1], [0, 1],
];

/**
 * Bounds on a configuration, so that a crafted file cannot ask for gigabytes: the input side is at
 * most 1024 (a 1024² map is 12 MB per face and the graph's activations about 1.5 GB), the width at
 * most 64 (resfcn256 is 16), and the output scale at most 1e5 (resfcn256's is 281.6; the network's
 * float32 output overflows to infinity from about 3.4e38).
 */
export const CONFIG_LIMITS = { maxWidth: 64, maxInputSize: 1024, maxOutputScale: 1e5 } as const;

/** Throws ModelError unless the configuration describes a buildable network within CONFIG_LIMITS. */
export function checkConfig(config: ResfcnConfig, source?: string): void {
  const { width, inputSize, outputScale, architecture } = config;
  if (architecture !== undefined && !ARCHITECTURES.includes(architecture)) {
    throw new ModelError(`unknown architecture ${JSON.stringify(architecture)} (this library builds ${ARCHITECTURES.join(', ')})`, source);
  }
  if (!Number.isInteger(width) || width < 1 || width > CONFIG_LIMITS.maxWidth) {
    throw new ModelError(`width must be a whole number from 1 to ${CONFIG_LIMITS.maxWidth}, got ${width}`, source);
  }
  if (!Number.isInteger(inputSize) || inputSize < 32 || inputSize % 32 !== 0 || inputSize > CONFIG_LIMITS.maxInputSize) {
    throw new ModelError(`input size must be a multiple of 32 from 32 to ${CONFIG_LIMITS.maxInputSize}, got ${inputSize}`, source);
  }
  if (!Number.isFinite(outputScale) || outputScale <= 0 || outputScale > CONFIG_LIMITS.maxOutputScale) {
    throw new ModelError(`output scale must be a positive number up to ${CONFIG_LIMITS.maxOutputScale}, got ${outputScale}`, source);
  }
  if (architecture === 'mobile') checkMobileConfig(config, source);
}

export function encoderBlocks(width: number): EncoderBlock[] {
  let inC = width;
  return ENCODER_PLAN.map(([mult, stride], k) => {
    const outC = mult * width;
    const block = { index: k + 1, inChannels: inC, outChannels: outC, stride, hasShortcut: stride !== 1 || inC !== outC };
    inC = outC;
    return block;
  });
}

export function decoderLayers(width: number): DecoderLayer[] {
  let inC = 32 * width;
  return DECODER_PLAN.map(([mult, stride], j) => {
    const outC = mult === 0 ? 3 : mult * width;
    const layer = { index: j, inChannels: inC, outChannels: outC, stride };
    inC = outC;
    return layer;
  });
}

function bnSpecs(prefix: string, channels: number): TensorSpec[] {
  return BN_SUFFIXES.map((s) => ({ name: `${prefix}.${s}`, shape: [channels], role: 'bn' as const, bn: s }));
}

/** Every weight tensor of the network (either architecture), in file order, with its ONNX/PyTorch layout shape. */
export function resfcnTensorSpecs(config: Pick<ResfcnConfig, 'width' | 'architecture'>): TensorSpec[] {
  if (config.architecture === 'mobile') return mobileTensorSpecs(config.width);
  const C = config.width;
  const specs: TensorSpec[] = [
    { name: 'enc.0.conv.weight', shape: [C, 3, 4, 4], role: 'conv' },
    ...bnSpecs('enc.0.bn', C),
  ];
  for (const b of encoderBlocks(C)) {
    const p = `enc.${b.index}`;
    const half = b.outChannels / 2;
    specs.push({ name: `${p}.conv1.weight`, shape: [half, b.inChannels, 1, 1], role: 'conv' }, ...bnSpecs(`${p}.bn1`, half));
    specs.push({ name: `${p}.conv2.weight`, shape: [half, half, 4, 4], role: 'conv' }, ...bnSpecs(`${p}.bn2`, half));
    specs.push({ name: `${p}.conv3.weight`, shape: [b.outChannels, half, 1, 1], role: 'conv' });
    if (b.hasShortcut) specs.push({ name: `${p}.shortcut.weight`, shape: [b.outChannels, b.inChannels, 1, 1], role: 'conv' });
    specs.push(...bnSpecs(`${p}.bn3`, b.outChannels));
  }
  for (const d of decoderLayers(C)) {
    specs.push({ name: `dec.${d.index}.conv.weight`, shape: [d.inChannels, d.outChannels, 4, 4], role: 'convTranspose' });
    specs.push(...bnSpecs(`dec.${d.index}.bn`, d.outChannels));
  }
  return specs;
}

/** Trainable parameters (conv kernels, BN gamma and beta; not the running statistics). */
export function countParameters(config: Pick<ResfcnConfig, 'width' | 'architecture'>): number {
  let n = 0;
  for (const s of resfcnTensorSpecs(config)) {
    if (s.bn === 'running_mean' || s.bn === 'running_var') continue;
    n += s.shape.reduce((a, b) => a * b, 1);
  }
  return n;
}

/**
 * Multiply-adds of every conv of one forward pass over one face (batch norms are folded into the
 * convs, so they cost nothing; ReLUs, sums, the sigmoid and resampling are not counted). A
 * transposed conv costs in² · in · out · k² (every input pixel scattered over k² taps): the same
 * as the convs the folded graph rewrites it into.
 */
export function convCosts(config: Pick<ResfcnConfig, 'width' | 'inputSize' | 'architecture'>): ConvCost[] {
  if (config.architecture === 'mobile') return mobileConvCosts(config);
  const C = config.width;
  let size = config.inputSize;
  const costs: ConvCost[] = [{ name: 'enc.0.conv', macs: size * size * C * 3 * 16 }];
  for (const b of encoderBlocks(C)) {
    const half = b.outChannels / 2;
    const out = Math.ceil(size / b.stride) ** 2;
    costs.push({ name: `enc.${b.index}.conv1`, macs: size * size * half * b.inChannels });
    costs.push({ name: `enc.${b.index}.conv2`, macs: out * half * half * 16 });
    costs.push({ name: `enc.${b.index}.conv3`, macs: out * b.outChannels * half });
    if (b.hasShortcut) costs.push({ name: `enc.${b.index}.shortcut`, macs: out * b.outChannels * b.inChannels });
    size = Math.ceil(size / b.stride);
  }
  for (const d of decoderLayers(C)) {
    costs.push({ name: `dec.${d.index}.conv`, macs: size * size * d.inChannels * d.outChannels * 16 });
    size *= d.stride;
  }
  return costs;
}

/** Total multiply-adds of one forward pass over one face (the sum of `convCosts`). */
export function multiplyAdds(config: Pick<ResfcnConfig, 'width' | 'inputSize' | 'architecture'>): number {
  return convCosts(config).reduce((a, c) => a + c.macs, 0);
}

/**
 * TensorFlow SAME padding of a conv along one axis: [before, after], before = floor(total / 2).
 * A transposed conv with stride s is the adjoint of the conv from `size · s` back to `size`, so it
 * uses that conv's padding (ONNX ConvTranspose pads = [before, after]).
 */
export function samePadding(inSize: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Float32 weights by tensor name (ONNX/PyTorch layout), as `resfcnTensorSpecs` lists them. */
export type WeightMap = ReadonlyMap<string, Float32Array>;

/** A kernel's weights: float32, or half-precision bit patterns as a model file stores them (HalfTensorMap). */
export type WeightData = Float32Array | Uint16Array;

/** Numeric precision of the emitted graph. */
export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

/**
 * Calibrated value range [min, max] of every activation the int8 graph quantizes, by tensor name
 * (the names of the folded graph: `input`, `enc.0`, `enc.k.relu1`, …, `dec.j`). Produced by
 * scripts/calibrate-int8.ts and stored in the model file's metadata (`int8_ranges`).
 */
export type ActivationRanges = Readonly<Record<string, readonly [number, number]>>;

export interface GraphOptions {
  /**
   * 'folded' (default): batch norms folded into the conv weights and a bias, every transposed
   * conv rewritten as convs (stride 1: one conv with the flipped kernel; stride 2: four 2×2 convs,
   * one per output phase, interleaved by Concat + DepthToSpace). 'reference': the literal graph
   * (ConvTranspose + BatchNormalization), kept to check the rewrite against.
   */
  form?: 'folded' | 'reference';
  /** 'int8' emits QuantizeLinear/DequantizeLinear pairs around the convs (needs `ranges`). Default 'fp32'. */
  precision?: Precision;
  /** Activation ranges for int8 (see ActivationRanges). */
  ranges?: ActivationRanges;
  /** Layers kept in float in the int8 graph (default INT8_FLOAT_LAYERS). */
  floatLayers?: readonly string[];
  /**
   * Also output every activation the int8 graph would quantize (folded fp32 graph only), under
   * its own name: what calibration reads.
   */
  exposeActivations?: boolean;
  /**
   * int8 only: also quantize the output of the last int8 layer that feeds a float layer, so that its
   * conv runs as QLinearConv (default false: 0.9× the network's kernel time, but +0.043 points of
   * NME and ~35 % more frame-to-frame jitter in video; docs/model-format.md).
   */
  quantizeBoundary?: boolean;
  /**
   * Run the float stride-1 layers with fewer than 8 output channels at the end of the decoder
   * (dec.14–16, 3 channels) on the image's 2×2 pixel blocks as channels (SpaceToDepth, a 3×3 conv
   * with 4× the channels, DepthToSpace at the output): the same sums, but onnxruntime's blocked
   * conv kernels no longer pad 3 channels to 16 (default true).
   */
  spaceToDepthTail?: boolean;
}

/**
 * Layers the int8 graph leaves in float: the first two encoder stages and the decoder from the
 * 128² stage on (dec.12 … dec.16). At 128²–256² with 3–32 channels, one 8-bit step of these
 * activations moves the output by several tenths of a pixel; quantizing them costs 0.5 points of
 * NME, keeping them costs a quarter of the multiply-adds (measured: docs/model-format.md).
 */
export const INT8_FLOAT_LAYERS: readonly string[] = ['enc.0', 'enc.1', 'dec.12', 'dec.13', 'dec.14', 'dec.15', 'dec.16'];

/**
 * Emits the ONNX model (IR 8, opset 17) of the network with the given weights. Input `input`
 * float32 [N, 3, S, S] (RGB 0..1), output `output` float32 [N, 3, S, S] (crop-pixel units of a
 * 256 crop). Throws ModelError when a tensor is missing or has the wrong size, or when int8 is
 * asked for without the ranges of every quantized activation.
 */
export function buildResfcnOnnx(weights: WeightMap, config: ResfcnConfig, options: GraphOptions = {}): Uint8Array {
  checkConfig(config);
  const form = options.form ?? 'folded';
  const precision = options.precision ?? 'fp32';
  if (config.architecture === 'mobile') {
    if (precision !== 'fp32' && precision !== 'int8') throw new ModelError(`precision must be fp32 or int8, got ${String(precision)}`);
    if (precision === 'int8' && options.exposeActivations) throw new ModelError('exposeActivations needs the fp32 graph');
    return buildMobileOnnx(weights, config, options);
  }
  if (form === 'reference') {
    if (precision !== 'fp32' || options.exposeActivations) throw new ModelError('the reference graph is fp32 only');
    return buildReferenceGraph(weights, config);
  }
  if (precision !== 'fp32' && precision !== 'int8') throw new ModelError(`precision must be fp32 or int8, got ${String(precision)}`);
  if (precision === 'int8' && options.exposeActivations) throw new ModelError('exposeActivations needs the fp32 graph');
  return buildFoldedGraph(weights, config, options);
}

/** Per-channel scale s = γ / √(σ² + ε) and bias β − μ·s of a batch norm (computed in float64). */
export function foldBn(tensor: (name: string) => Float32Array, prefix: string): { scale: Float64Array; bias: Float64Array } {
  const [g, b, m, v] = BN_SUFFIXES.map((k) => tensor(`${prefix}.${k}`));
  const scale = new Float64Array(g.length);
  const bias = new Float64Array(g.length);
  for (let c = 0; c < g.length; c++) {
    scale[c] = g[c] / Math.sqrt(v[c] + BN_EPSILON);
    bias[c] = b[c] - m[c] * scale[c];
  }
  return { scale, bias };
}

/** A conv kernel [out, in, kh, kw] with each output channel multiplied by scale[out]. */
function scaleKernel(w: Float32Array, out: number, scale: Float64Array): Float32Array {
  const per = w.length / out;
  const r = new Float32Array(w.length);
  for (let o = 0; o < out; o++) for (let k = 0; k < per; k++) r[o * per + k] = w[o * per + k] * scale[o];
  return r;
}

/**
 * The conv equivalent to (part of) a 4×4 transposed conv with kernel W [in, out, 4, 4]: kernel
 * [out, in, kh, kw] with K[o, i, a, b] = W[i, o, ky(a), kx(b)] · scale[o].
 */
function transposeKernel(w: Float32Array, inC: number, outC: number, kh: number, kw: number, ky: (a: number) => number, kx: (b: number) => number, scale: Float64Array): Float32Array {
  const r = new Float32Array(outC * inC * kh * kw);
  const kk = kh * kw;
  // source offset within a 4×4 kernel of each destination tap
  const tap = new Int32Array(kk);
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) tap[a * kw + b] = ky(a) * 4 + kx(b);
  for (let i = 0; i < inC; i++) {
    for (let o = 0; o < outC; o++) {
      const src = (i * outC + o) * 16;
      const dst = (o * inC + i) * kk;
      const so = scale[o];
      for (let t = 0; t < kk; t++) r[dst + t] = w[src + tap[t]] * so;
    }
  }
  return r;
}

/** 1.5 × 2^52: adding and subtracting it rounds a double of magnitude < 2^51 to an integer (ties to even). */
const ROUND_MAGIC = 6755399441055744;

/**
 * Symmetric int8 per output channel: values in [-127, 127] and scale = max|w| / 127 per channel.
 * Rounds half away from zero. The rounding has no data-dependent branch: with real weights the
 * signs are random, and a sign test mispredicted about every other weight (3× the time).
 */
export function quantizeKernel(kernel: Float32Array, out: number): { wq: Int8Array; ws: Float32Array } {
  return quantizeScaledKernel(kernel, out, new Float64Array(out).fill(1));
}

/**
 * A stride-1 k×k conv (kernel [out, in, k, k], padding `pad` before on both axes, k − 1 − pad
 * after) as the 3×3 conv (padding 1) over its input's 2×2 pixel blocks (ONNX SpaceToDepth, block 2:
 * channel (sy·2 + sx)·in + i holds pixel (2h + sy, 2w + sx) of channel i) that gives its output's
 * blocks (channel (ry·2 + rx)·out + o; DepthToSpace in DCR order puts them back). Output pixel
 * 2h + ry reads input pixel 2h + ry + a − pad = 2(h + dh) + sy, so tap a of the original kernel
 * moves to block offset dh and phase sy. The same multiply-adds as the original conv plus zeros.
 */
function spaceToDepthKernel(kernel: Float32Array, out: number, inC: number, k: number, pad: number): Float32Array {
  const r = new Float32Array(16 * out * inC * 9);
  // Per axis: [output phase r, original tap a, input phase s · 3 + block offset dh + 1].
  const taps: [number, number, number][] = [];
  for (let ph = 0; ph < 2; ph++) {
    for (let a = 0; a < k; a++) {
      const v = ph + a - pad;
      const dh = Math.floor(v / 2);
      if (dh < -1 || dh > 1) throw new ModelError(`internal: a ${k}×${k} conv with padding ${pad} does not fit 3×3 blocks`);
      taps.push([ph, a, (v - 2 * dh) * 3 + dh + 1]);
    }
  }
  for (const [ry, a, ty] of taps) {
    const sy = Math.floor(ty / 3);
    const ky = ty % 3;
    for (const [rx, b, tx] of taps) {
      const sx = Math.floor(tx / 3);
      const kx = tx % 3;
      for (let o = 0; o < out; o++) {
        const oo = (ry * 2 + rx) * out + o;
        for (let i = 0; i < inC; i++) {
          const ii = (sy * 2 + sx) * inC + i;
          r[(oo * 4 * inC + ii) * 9 + ky * 3 + kx] = kernel[((o * inC + i) * k + a) * k + b];
        }
      }
    }
  }
  return r;
}

/** A per-channel bias repeated for the four pixel phases of a block (DepthToSpace's DCR order). */
function repeatBlocks(bias: Float64Array): Float64Array {
  const r = new Float64Array(4 * bias.length);
  for (let p = 0; p < 4; p++) r.set(bias, p * bias.length);
  return r;
}

/** Rounds v (|v| ≤ 127.5) to the nearest integer, half away from zero, without a data-dependent branch (see quantizeKernel). */
function roundAway(v: number): number {
  const r = v + ROUND_MAGIC - ROUND_MAGIC;
  const d = v - r;
  return d === 0.5 || d === -0.5 ? (v < 0 ? v - 0.5 : v + 0.5) | 0 : r;
}

/** The int8 scale of an output channel whose largest |weight| is m before its batch-norm factor so. */
function channelScale(m: number, so: number): number {
  const mk = Math.fround(m * Math.abs(so));
  return mk > 0 ? mk / 127 : 1;
}

/**
 * `quantizeKernel(scaleKernel(w, out, scale), out)` without the float kernel in between: the
 * same values, bit for bit (the scaled weight is rounded to float32 before quantizing, and
 * max|fround(w·s)| = fround(max|w|·|s|) since rounding is monotonic). Half-precision weights are
 * read through the decoding table, never decoded as a whole.
 */
function quantizeScaledKernel(w: WeightData, out: number, scale: Float64Array): { wq: Int8Array; ws: Float32Array } {
  const per = w.length / out;
  const wq = new Int8Array(w.length);
  const ws = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    ws[o] = w instanceof Uint16Array ? quantizeHalfRow(w, halfTable(), o * per, per, scale[o], wq, o * per) : quantizeRow(w, o * per, per, scale[o], wq, o * per);
  }
  return { wq, ws };
}

/**
 * `quantizeKernel(transposeKernel(…), outC)` without the float kernel in between (same values,
 * bit for bit). Output channel by output channel: each channel's taps are gathered into a small
 * reused row (every (in, out) pair reads its 16 source taps from one cache line), then quantized.
 */
function quantizeTransposedKernel(w: WeightData, inC: number, outC: number, kh: number, kw: number, ky: (a: number) => number, kx: (b: number) => number, scale: Float64Array): { wq: Int8Array; ws: Float32Array } {
  const kk = kh * kw;
  const n = inC * kk;
  const wq = new Int8Array(outC * n);
  const ws = new Float32Array(outC);
  const tap = new Int32Array(kk);
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) tap[a * kw + b] = ky(a) * 4 + kx(b);
  if (w instanceof Uint16Array) {
    const row = new Uint16Array(n);
    for (let o = 0; o < outC; o++) {
      gatherTaps(w, o * 16, outC * 16, tap, row);
      ws[o] = quantizeHalfRow(row, halfTable(), 0, n, scale[o], wq, o * n);
    }
  } else {
    const row = new Float32Array(n);
    for (let o = 0; o < outC; o++) {
      gatherTaps(w, o * 16, outC * 16, tap, row);
      ws[o] = quantizeRow(row, 0, n, scale[o], wq, o * n);
    }
  }
  return { wq, ws };
}

/**
 * Quantizes one output channel's n weights w[start…] times its batch-norm factor `so` into
 * wq[dst…]; returns the channel's scale.
 */
function quantizeRow(w: Float32Array, start: number, n: number, so: number, wq: Int8Array, dst: number): number {
  let m = 0;
  for (let k = start; k < start + n; k++) {
    const a = Math.abs(w[k]);
    m = a > m ? a : m;
  }
  const sc = channelScale(m, so);
  const inv = 1 / Math.fround(sc);
  for (let k = 0; k < n; k++) wq[dst + k] = roundAway(Math.fround(w[start + k] * so) * inv);
  return sc;
}

/**
 * quantizeRow over half-precision bits (finite: the model file's check). The largest magnitude is
 * found on the bits themselves (for finite halves, |value| orders as the bits without the sign).
 */
function quantizeHalfRow(h: Uint16Array, table: Float32Array, start: number, n: number, so: number, wq: Int8Array, dst: number): number {
  let m = 0;
  for (let k = start; k < start + n; k++) {
    const a = h[k] & 0x7fff;
    m = a > m ? a : m;
  }
  const sc = channelScale(table[m], so);
  const inv = 1 / Math.fround(sc);
  for (let k = 0; k < n; k++) wq[dst + k] = roundAway(Math.fround(table[h[start + k]] * so) * inv);
  return sc;
}

/** The taps of one output channel of a transposed kernel [in, out, 4, 4], input channel by input channel. */
function gatherTaps<T extends Float32Array | Uint16Array>(w: T, src: number, step: number, tap: Int32Array, row: T): void {
  const kk = tap.length;
  for (let dst = 0; dst < row.length; dst += kk, src += step) for (let t = 0; t < kk; t++) row[dst + t] = w[src + tap[t]];
}

/** Float32 weights of a kernel stored as float32 or half precision (decoded once per array). */
function floatWeights(w: WeightData): Float32Array {
  if (!(w instanceof Uint16Array)) return w;
  let f = decodedHalves.get(w);
  if (!f) decodedHalves.set(w, (f = f16ToF32(w)));
  return f;
}
const decodedHalves = new WeakMap<Uint16Array, Float32Array>();

/** A conv kernel, made in the form the graph asks for: float32, or int8 with per-channel scales. */
interface KernelSource {
  float(): Float32Array;
  int8(): { wq: Int8Array; ws: Float32Array };
}

/** A kernel [out, …] already in its final form (the float tail's block kernels). */
function floatKernel(w: Float32Array, out: number): KernelSource {
  return { float: () => w, int8: () => quantizeKernel(w, out) };
}

/** A conv kernel [out, …] with each output channel multiplied by scale[out] (batch norm folded in). */
export function scaledKernel(w: WeightData, out: number, scale: Float64Array): KernelSource {
  return { float: () => scaleKernel(floatWeights(w), out, scale), int8: () => quantizeScaledKernel(w, out, scale) };
}

/** The conv kernel equivalent to (part of) a transposed conv (see transposeKernel). */
function transposedKernel(w: WeightData, inC: number, outC: number, kh: number, kw: number, ky: (a: number) => number, kx: (b: number) => number, scale: Float64Array): KernelSource {
  return {
    float: () => transposeKernel(floatWeights(w), inC, outC, kh, kw, ky, kx, scale),
    int8: () => quantizeTransposedKernel(w, inC, outC, kh, kw, ky, kx, scale),
  };
}

export interface ConvSpec {
  kernel: KernelSource;
  bias?: Float64Array;
  outChannels: number;
  k: number;
  stride: number;
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
  /** Groups (depthwise: the channel count); kernel [out, in / group, k, k]. Default 1. */
  group?: number;
}

/** uint8 activation quantization of a range: the range is widened to hold 0. */
function activationQuant(range: readonly [number, number]): { scale: number; zeroPoint: number } {
  const lo = Math.min(range[0], 0);
  const hi = Math.max(range[1], lo + 1e-6);
  const scale = (hi - lo) / 255;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/**
 * A weight by name, checked against the tensor specs (ModelError when missing or of the wrong
 * size): `tensor` as float32; `weight` (a conv kernel) as stored, half-precision bits where `weights` is a model
 * file's HalfTensorMap, the tensor is not decoded yet and `halves` (an int8 graph: its kernels
 * quantize from them).
 */
function tensorLookup(weights: WeightMap, config: ResfcnConfig, halves = true): { tensor: (name: string) => Float32Array; weight: (name: string) => WeightData } {
  const specs = new Map(resfcnTensorSpecs(config).map((s) => [s.name, s]));
  const checked = <T extends WeightData>(name: string, data: T | undefined): T => {
    const spec = specs.get(name);
    if (!spec) throw new ModelError(`internal: no tensor spec for ${name}`);
    if (!data) throw new ModelError(`missing tensor ${name}`);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new ModelError(`tensor ${name}: ${data.length} values, expected ${count} for [${spec.shape.join(', ')}]`);
    return data;
  };
  return {
    tensor: (name) => checked(name, weights.get(name)),
    weight: (name) => checked(name, (halves && weights instanceof HalfTensorMap ? weights.halves(name) : undefined) ?? weights.get(name)),
  };
}

/**
 * The state and the node emitters of a folded graph (either architecture): initializers, the
 * activation shapes, int8 QuantizeLinear/DequantizeLinear pairs, convs (int8 or float), ReLUs.
 */
export interface GraphEmitter {
  int8: boolean;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  /** A weight by name, checked against the tensor specs. */
  tensor: (name: string) => Float32Array;
  /** A conv kernel by name as stored (half-precision bits until decoded), checked likewise. */
  weight: (name: string) => WeightData;
  constant: (name: string, dims: number[], data: OnnxInitializer['data']) => string;
  /** Channels and side of every activation. */
  shapes: Map<string, [number, number]>;
  /** Activations exposed as outputs (exposeActivations). */
  exposed: string[];
  dequantized: Map<string, { name: string; scale: number }>;
  quantParams: (x: string) => { scale: string; zero: string; value: number };
  /** The dequantized form of an fp32 activation (QuantizeLinear → DequantizeLinear, emitted once). */
  dq: (x: string) => { name: string; scale: number };
  expose: (x: string) => void;
  /** Emits a conv (int8 when `quantize`, reading the input through its QDQ pair), named `out`. */
  conv: (x: string, c: ConvSpec, out: string, quantize: boolean) => string;
  relu: (x: string, out: string) => string;
  /** TF SAME pads of a k×k conv as ONNX [top, left, bottom, right]. */
  pads: (size: number, k: number, stride: number) => [number, number, number, number];
  /** Whether a layer runs int8 in this graph. */
  q: (layer: string) => boolean;
}

/**
 * Rewrites the int8 convs that onnxruntime cannot fuse into QLinearConv (their output is not
 * quantized: no QuantizeLinear reads it, directly or through one Relu) to float convs on constant
 * weights holding the same int8-rounded values (q × scale, rounded to float32 as DequantizeLinear
 * computes it). The sums are the same; onnxruntime then runs the conv in its blocked-layout
 * kernels instead of dequantizing the kernel on every run and running the plain one (dec.11 of the
 * default model: 4.2 → ~2 ms a run). Changes `nodes` and `initializers` in place.
 */
export function floatUnfusedConvs(nodes: OnnxNode[], initializers: OnnxInitializer[]): void {
  const readers = new Map<string, OnnxNode[]>();
  for (const n of nodes) for (const i of n.inputs) (readers.get(i) ?? readers.set(i, []).get(i) as OnnxNode[]).push(n);
  const quantized = (x: string): boolean => {
    const r = readers.get(x) ?? [];
    if (r.length === 0) return false;
    return r.every((n) => n.opType === 'QuantizeLinear' || (n.opType === 'Relu' && r.length === 1 && quantized(n.outputs[0] as string)));
  };
  const byName = new Map(initializers.map((t) => [t.name, t]));
  const producer = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const dropNodes = new Set<OnnxNode>();
  const dropInits = new Set<string>();
  for (const n of nodes) {
    if (n.opType !== 'Conv' || quantized(n.outputs[0] as string)) continue;
    for (let k = 1; k < n.inputs.length; k++) {
      const d = producer.get(n.inputs[k] as string);
      if (!d || d.opType !== 'DequantizeLinear' || (readers.get(d.outputs[0] as string) ?? []).length !== 1) continue;
      const [q, scale] = d.inputs.map((name) => byName.get(name));
      if (!q || !scale || !(scale.data instanceof Float32Array) || !(q.data instanceof Int8Array || q.data instanceof Int32Array)) continue;
      const per = q.data.length / scale.data.length;
      const out = new Float32Array(q.data.length);
      for (let i = 0; i < out.length; i++) out[i] = Math.fround(q.data[i] as number) * (scale.data[Math.floor(i / per)] as number);
      const name = `${n.name ?? n.outputs[0]}.${k === 1 ? 'weight' : 'bias'}`;
      initializers.push({ name, dims: q.dims, data: out });
      n.inputs[k] = name;
      dropNodes.add(d);
      for (const i of d.inputs) dropInits.add(i);
    }
  }
  if (dropNodes.size === 0) return;
  const kept = nodes.filter((n) => !dropNodes.has(n));
  nodes.splice(0, nodes.length, ...kept);
  const stillRead = new Set(nodes.flatMap((n) => n.inputs));
  const keptInits = initializers.filter((t) => !dropInits.has(t.name) || stillRead.has(t.name));
  initializers.splice(0, initializers.length, ...keptInits);
}

/** A GraphEmitter for `weights` of `config` (int8 layers: all but `options.floatLayers ?? defaultFloatLayers`). */
export function createEmitter(weights: WeightMap, config: ResfcnConfig, options: GraphOptions, defaultFloatLayers: readonly string[]): GraphEmitter {
  const int8 = options.precision === 'int8';
  const floatLayers = new Set(options.floatLayers ?? defaultFloatLayers);
  const ranges = options.ranges ?? {};
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  // An int8 graph quantizes from the halves; an fp32 one decodes every kernel through the map.
  const { tensor, weight } = tensorLookup(weights, config, int8);
  const constant = (name: string, dims: number[], data: OnnxInitializer['data']): string => {
    initializers.push({ name, dims, data });
    return name;
  };
  /** Channels and side of every activation, for the exposed outputs. */
  const shapes = new Map<string, [number, number]>([['input', [3, config.inputSize]]]);
  const exposed: string[] = [];
  /** Quantized activations: the DequantizeLinear output and the scale, by fp32 name. */
  const dequantized = new Map<string, { name: string; scale: number }>();

  const quantParams = (x: string): { scale: string; zero: string; value: number } => {
    const range = ranges[x];
    if (!range) throw new ModelError(`the int8 calibration has no range for activation ${x}`);
    const { scale, zeroPoint } = activationQuant(range);
    return {
      scale: constant(`${x}.q.scale`, [], Float32Array.of(scale)),
      zero: constant(`${x}.q.zero`, [], Uint8Array.of(zeroPoint)),
      value: scale,
    };
  };
  /** The dequantized form of an fp32 activation (QuantizeLinear → DequantizeLinear, emitted once). */
  const dq = (x: string): { name: string; scale: number } => {
    let d = dequantized.get(x);
    if (!d) {
      const q = quantParams(x);
      nodes.push({ opType: 'QuantizeLinear', name: `${x}.q`, inputs: [x, q.scale, q.zero], outputs: [`${x}.q`] });
      nodes.push({ opType: 'DequantizeLinear', name: `${x}.dq`, inputs: [`${x}.q`, q.scale, q.zero], outputs: [`${x}.dq`] });
      d = { name: `${x}.dq`, scale: q.value };
      dequantized.set(x, d);
    }
    return d;
  };
  const expose = (x: string): void => {
    if (options.exposeActivations) exposed.push(x);
  };

  /** Emits a conv (int8 when `quantize`, reading the input through its QDQ pair), named `out`. */
  const conv = (x: string, c: ConvSpec, out: string, quantize: boolean): string => {
    const [inC, size] = shapes.get(x) as [number, number];
    const attributes: OnnxAttribute[] = [
      { name: 'kernel_shape', ints: [c.k, c.k] },
      { name: 'strides', ints: [c.stride, c.stride] },
      { name: 'pads', ints: c.pads },
    ];
    const group = c.group ?? 1;
    if (group !== 1) attributes.push({ name: 'group', i: group });
    const dims = [c.outChannels, inC / group, c.k, c.k];
    const inputs: string[] = [];
    if (quantize) {
      const input = dq(x);
      // Symmetric per-output-channel int8 weights in [-127, 127]; the bias as int32 in units of
      // input scale × weight scale, as QLinearConv takes it.
      const { wq, ws } = c.kernel.int8();
      const axis = [{ name: 'axis', i: 0 }];
      nodes.push({
        opType: 'DequantizeLinear', name: `${out}.w.dq`, outputs: [`${out}.w.dq`], attributes: axis,
        inputs: [constant(`${out}.w.q`, dims, wq), constant(`${out}.w.scale`, [c.outChannels], ws), constant(`${out}.w.zero`, [c.outChannels], new Int8Array(c.outChannels))],
      });
      inputs.push(input.name, `${out}.w.dq`);
      if (c.bias) {
        const bs = new Float32Array(c.outChannels);
        const bq = new Int32Array(c.outChannels);
        for (let o = 0; o < c.outChannels; o++) {
          bs[o] = input.scale * ws[o];
          bq[o] = Math.round(c.bias[o] / bs[o]);
        }
        nodes.push({
          opType: 'DequantizeLinear', name: `${out}.b.dq`, outputs: [`${out}.b.dq`], attributes: axis,
          inputs: [constant(`${out}.b.q`, [c.outChannels], bq), constant(`${out}.b.scale`, [c.outChannels], bs), constant(`${out}.b.zero`, [c.outChannels], new Int32Array(c.outChannels))],
        });
        inputs.push(`${out}.b.dq`);
      }
    } else {
      inputs.push(x, constant(`${out}.weight`, dims, c.kernel.float()));
      if (c.bias) inputs.push(constant(`${out}.bias`, [c.outChannels], Float32Array.from(c.bias)));
    }
    nodes.push({ opType: 'Conv', name: out, inputs, outputs: [out], attributes });
    shapes.set(out, [c.outChannels, Math.floor((size + c.pads[0] + c.pads[2] - c.k) / c.stride) + 1]);
    return out;
  };
  const relu = (x: string, out: string): string => {
    nodes.push({ opType: 'Relu', name: out, inputs: [x], outputs: [out] });
    shapes.set(out, shapes.get(x) as [number, number]);
    return out;
  };
  const pads = (size: number, k: number, stride: number): [number, number, number, number] => {
    const [b, a] = samePadding(size, k, stride);
    return [b, b, a, a];
  };
  const q = (layer: string): boolean => int8 && !floatLayers.has(layer);
  return { int8, nodes, initializers, tensor, weight, constant, shapes, exposed, dequantized, quantParams, dq, expose, conv, relu, pads, q };
}

function buildFoldedGraph(weights: WeightMap, config: ResfcnConfig, options: GraphOptions): Uint8Array {
  const { int8, nodes, initializers, tensor, weight, constant, shapes, exposed, dequantized, quantParams, dq, expose, conv, relu, pads, q } = createEmitter(weights, config, options, INT8_FLOAT_LAYERS);

  let x = 'input';
  let size = config.inputSize;
  {
    const bn = foldBn(tensor, 'enc.0.bn');
    const C = config.width;
    x = relu(conv(x, { kernel: scaledKernel(weight('enc.0.conv.weight'), C, bn.scale), bias: bn.bias, outChannels: C, k: 4, stride: 1, pads: pads(size, 4, 1) }, 'enc.0.conv', q('enc.0')), 'enc.0');
    expose(x);
  }
  for (const b of encoderBlocks(config.width)) {
    const p = `enc.${b.index}`;
    const half = b.outChannels / 2;
    const quant = q(p);
    const bn1 = foldBn(tensor, `${p}.bn1`);
    const bn2 = foldBn(tensor, `${p}.bn2`);
    const bn3 = foldBn(tensor, `${p}.bn3`);
    let y = relu(conv(x, { kernel: scaledKernel(weight(`${p}.conv1.weight`), half, bn1.scale), bias: bn1.bias, outChannels: half, k: 1, stride: 1, pads: [0, 0, 0, 0] }, `${p}.conv1`, quant), `${p}.relu1`);
    expose(y);
    y = relu(conv(y, { kernel: scaledKernel(weight(`${p}.conv2.weight`), half, bn2.scale), bias: bn2.bias, outChannels: half, k: 4, stride: b.stride, pads: pads(size, 4, b.stride) }, `${p}.conv2`, quant), `${p}.relu2`);
    expose(y);
    size = Math.ceil(size / b.stride);
    // bn3 follows the sum: its scale goes into both branches, its bias into conv3.
    const c3 = conv(y, { kernel: scaledKernel(weight(`${p}.conv3.weight`), b.outChannels, bn3.scale), bias: bn3.bias, outChannels: b.outChannels, k: 1, stride: 1, pads: [0, 0, 0, 0] }, `${p}.conv3`, quant);
    expose(c3);
    let shortcut: string;
    if (b.hasShortcut) {
      shortcut = conv(x, { kernel: scaledKernel(weight(`${p}.shortcut.weight`), b.outChannels, bn3.scale), outChannels: b.outChannels, k: 1, stride: b.stride, pads: [0, 0, 0, 0] }, `${p}.shortcut`, quant);
      expose(shortcut);
    } else {
      // identity shortcut: bn3's per-channel scale as a Mul
      const s = constant(`${p}.bn3.scale`, [b.outChannels, 1, 1], Float32Array.from(bn3.scale));
      nodes.push({ opType: 'Mul', name: `${p}.identity`, inputs: [quant ? dq(x).name : x, s], outputs: [`${p}.identity`] });
      shortcut = `${p}.identity`;
    }
    nodes.push({ opType: 'Add', name: `${p}.add`, inputs: [quant ? dq(c3).name : c3, quant && b.hasShortcut ? dq(shortcut).name : shortcut], outputs: [`${p}.add`] });
    shapes.set(`${p}.add`, [b.outChannels, size]);
    x = relu(`${p}.add`, p);
    expose(x);
  }
  const layers = decoderLayers(config.width);
  // The float layers with few output channels at the end (dec.14–16: 3 channels at 256²) run on
  // 2×2 pixel blocks (see spaceToDepthKernel), unless calibration reads their activations.
  const tailS2d = (options.spaceToDepthTail ?? true) && !options.exposeActivations;
  let s2d = false;
  for (const d of layers) {
    const p = `dec.${d.index}`;
    const quant = q(p);
    const last = d.index === layers.length - 1;
    const bn = foldBn(tensor, `${p}.bn`);
    const w = weight(`${p}.conv.weight`);
    if (d.stride === 1) {
      // A stride-1 transposed conv is the conv with the flipped kernel, in/out swapped, and
      // padding k − 1 − p on each side (the transposed conv pads 1 before, 2 after).
      const [tb, ta] = samePadding(size, 4, 1);
      const kernel = transposedKernel(w, d.inChannels, d.outChannels, 4, 4, (a) => 3 - a, (b) => 3 - b, bn.scale);
      const pads: [number, number, number, number] = [3 - tb, 3 - tb, 3 - ta, 3 - ta];
      if (!s2d && tailS2d && !quant && d.outChannels < 8 && size % 2 === 0 && pads.join() === '2,2,1,1' &&
        layers.slice(d.index).every((l) => l.stride === 1 && !q(`dec.${l.index}`))) {
        // From here to the output: the 2×2 blocks of pixels as channels (see spaceToDepthKernel).
        nodes.push({ opType: 'SpaceToDepth', name: `${p}.s2d`, inputs: [x], outputs: [`${p}.s2d`], attributes: [{ name: 'blocksize', i: 2 }] });
        shapes.set(`${p}.s2d`, [4 * d.inChannels, size / 2]);
        x = `${p}.s2d`;
        s2d = true;
      }
      const y = s2d
        ? conv(x, {
          kernel: floatKernel(spaceToDepthKernel(kernel.float(), d.outChannels, d.inChannels, 4, 2), 4 * d.outChannels), bias: bn.bias && repeatBlocks(bn.bias),
          outChannels: 4 * d.outChannels, k: 3, stride: 1, pads: [1, 1, 1, 1],
        }, `${p}.conv`, false)
        : conv(x, { kernel, bias: bn.bias, outChannels: d.outChannels, k: 4, stride: 1, pads }, `${p}.conv`, quant);
      x = last ? y : relu(y, p);
      if (quant && !last && !q(`dec.${d.index + 1}`) && (options.quantizeBoundary ?? false)) {
        // The last int8 layer before the float ones: its output is quantized too, so onnxruntime
        // runs its conv as QLinearConv (a float conv on int8-rounded weights otherwise: dec.11,
        // 32→32 channels at 128², was 13 % of the int8 graph's kernel time); the float layer reads
        // it through DequantizeLinear.
        const d8 = dq(x);
        shapes.set(d8.name, shapes.get(x) as [number, number]);
        x = d8.name;
      }
    } else {
      // Stride 2 (pads 1): output pixel 2m + r takes input m − 1 + r + t with kernel tap 3 − r − 2t
      // (t = 0, 1) along each axis. Four 2×2 convs, one per phase (ry, rx), give the four
      // interleaved sub-images; Concat in DepthToSpace's DCR order then puts them in place.
      if (samePadding(size * 2, 4, 2).join() !== '1,1' || last) throw new ModelError(`internal: unexpected stride-2 layer ${p}`);
      const phases: string[] = [];
      for (let ry = 0; ry < 2; ry++) {
        for (let rx = 0; rx < 2; rx++) {
          const y = conv(x, {
            kernel: transposedKernel(w, d.inChannels, d.outChannels, 2, 2, (t) => 3 - ry - 2 * t, (t) => 3 - rx - 2 * t, bn.scale), bias: bn.bias,
            outChannels: d.outChannels, k: 2, stride: 1, pads: [1 - ry, 1 - rx, ry, rx],
          }, `${p}.phase${ry}${rx}`, quant);
          phases.push(relu(y, `${p}.phase${ry}${rx}.relu`));
        }
      }
      if (quant) {
        // Interleave the uint8 tensors themselves (one scale for the four phases): Concat and
        // DepthToSpace only move bytes; the next conv reads them through one DequantizeLinear.
        const qp = quantParams(p);
        const qs = phases.map((ph) => {
          nodes.push({ opType: 'QuantizeLinear', name: `${ph}.q`, inputs: [ph, qp.scale, qp.zero], outputs: [`${ph}.q`] });
          return `${ph}.q`;
        });
        nodes.push({ opType: 'Concat', name: `${p}.concat`, inputs: qs, outputs: [`${p}.concat`], attributes: [{ name: 'axis', i: 1 }] });
        nodes.push({ opType: 'DepthToSpace', name: `${p}.q`, inputs: [`${p}.concat`], outputs: [`${p}.q`], attributes: [{ name: 'blocksize', i: 2 }] });
        nodes.push({ opType: 'DequantizeLinear', name: `${p}.dq`, inputs: [`${p}.q`, qp.scale, qp.zero], outputs: [`${p}.dq`] });
        dequantized.set(p, { name: `${p}.dq`, scale: qp.value });
        // the fp32 name `p` stands for the dequantized tensor from here on
        x = p;
        nodes.push({ opType: 'Identity', name: p, inputs: [`${p}.dq`], outputs: [p] });
      } else {
        nodes.push({ opType: 'Concat', name: `${p}.concat`, inputs: phases, outputs: [`${p}.concat`], attributes: [{ name: 'axis', i: 1 }] });
        nodes.push({ opType: 'DepthToSpace', name: p, inputs: [`${p}.concat`], outputs: [p], attributes: [{ name: 'blocksize', i: 2 }] });
        x = p;
      }
      shapes.set(p, [d.outChannels, size * 2]);
    }
    size *= d.stride;
    if (!last) expose(x);
  }
  nodes.push({ opType: 'Sigmoid', name: 'sigmoid', inputs: [x], outputs: ['sigmoid'] });
  constant('output_scale', [], Float32Array.of(config.outputScale));
  if (s2d) {
    nodes.push({ opType: 'Mul', name: 'output.s2d', inputs: ['sigmoid', 'output_scale'], outputs: ['output.s2d'] });
    nodes.push({ opType: 'DepthToSpace', name: 'output', inputs: ['output.s2d'], outputs: ['output'], attributes: [{ name: 'blocksize', i: 2 }] });
  } else {
    nodes.push({ opType: 'Mul', name: 'output', inputs: ['sigmoid', 'output_scale'], outputs: ['output'] });
  }

  if (int8) floatUnfusedConvs(nodes, initializers);
  const S = config.inputSize;
  return encodeModel(
    {
      name: `resfcn_w${config.width}_s${S}_${int8 ? 'int8' : 'fp32'}`,
      nodes,
      initializers,
      inputs: [{ name: 'input', shape: ['N', 3, S, S] }],
      outputs: [
        { name: 'output', shape: ['N', 3, S, S] },
        ...exposed.map((name) => {
          const [c, side] = shapes.get(name) as [number, number];
          return { name, shape: ['N', c, side, side] };
        }),
      ],
    },
    { docString: `PRNet resfcn (width ${config.width}, input ${S}, output scale ${config.outputScale}, ${int8 ? 'int8 QDQ' : 'fp32'}, batch norms folded)` },
  );
}

/** The literal graph: ConvTranspose and BatchNormalization nodes as the checkpoint defines them. */
function buildReferenceGraph(weights: WeightMap, config: ResfcnConfig): Uint8Array {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  const { tensor } = tensorLookup(weights, config);
  const specs = new Map(resfcnTensorSpecs(config).map((s) => [s.name, s]));
  const init = (name: string): string => {
    initializers.push({ name, dims: specs.get(name)!.shape, data: tensor(name) });
    return name;
  };
  let size = config.inputSize;

  const conv = (x: string, weight: string, kernel: number, stride: number, out: string): string => {
    const [b, a] = samePadding(size, kernel, stride);
    nodes.push({
      opType: 'Conv', name: out, inputs: [x, init(weight)], outputs: [out],
      attributes: [
        { name: 'kernel_shape', ints: [kernel, kernel] },
        { name: 'strides', ints: [stride, stride] },
        { name: 'pads', ints: [b, b, a, a] },
      ],
    });
    return out;
  };
  const bn = (x: string, prefix: string, out: string): string => {
    nodes.push({
      opType: 'BatchNormalization', name: out,
      inputs: [x, ...BN_SUFFIXES.map((s) => init(`${prefix}.${s}`))], outputs: [out],
      attributes: [{ name: 'epsilon', f: BN_EPSILON }],
    });
    return out;
  };
  const relu = (x: string, out: string): string => {
    nodes.push({ opType: 'Relu', name: out, inputs: [x], outputs: [out] });
    return out;
  };

  let x = 'input';
  x = relu(bn(conv(x, 'enc.0.conv.weight', 4, 1, 'enc.0.conv'), 'enc.0.bn', 'enc.0.bn'), 'enc.0.relu');
  for (const b of encoderBlocks(config.width)) {
    const p = `enc.${b.index}`;
    const inSize = size; // TF SAME pads the shortcut and conv2 by the block's input size
    let shortcut = x;
    if (b.hasShortcut) shortcut = conv(x, `${p}.shortcut.weight`, 1, b.stride, `${p}.shortcut`);
    let y = relu(bn(conv(x, `${p}.conv1.weight`, 1, 1, `${p}.conv1`), `${p}.bn1`, `${p}.bn1`), `${p}.relu1`);
    y = relu(bn(conv(y, `${p}.conv2.weight`, 4, b.stride, `${p}.conv2`), `${p}.bn2`, `${p}.bn2`), `${p}.relu2`);
    size = Math.ceil(inSize / b.stride);
    // conv3 runs at the output size; its 1×1 padding is zero either way.
    y = conv(y, `${p}.conv3.weight`, 1, 1, `${p}.conv3`);
    nodes.push({ opType: 'Add', name: `${p}.add`, inputs: [y, shortcut], outputs: [`${p}.add`] });
    x = relu(bn(`${p}.add`, `${p}.bn3`, `${p}.bn3`), `${p}.relu3`);
  }
  const layers = decoderLayers(config.width);
  for (const d of layers) {
    const p = `dec.${d.index}`;
    const outSize = size * d.stride;
    const [b, a] = samePadding(outSize, 4, d.stride);
    nodes.push({
      opType: 'ConvTranspose', name: `${p}.conv`, inputs: [x, init(`${p}.conv.weight`)], outputs: [`${p}.conv`],
      attributes: [
        { name: 'kernel_shape', ints: [4, 4] },
        { name: 'strides', ints: [d.stride, d.stride] },
        { name: 'pads', ints: [b, b, a, a] },
      ],
    });
    size = outSize;
    x = bn(`${p}.conv`, `${p}.bn`, `${p}.bn`);
    if (d.index < layers.length - 1) x = relu(x, `${p}.relu`);
  }
  nodes.push({ opType: 'Sigmoid', name: 'sigmoid', inputs: [x], outputs: ['sigmoid'] });
  initializers.push({ name: 'output_scale', dims: [], data: Float32Array.of(config.outputScale) });
  nodes.push({ opType: 'Mul', name: 'output', inputs: ['sigmoid', 'output_scale'], outputs: ['output'] });

  const S = config.inputSize;
  return encodeModel(
    {
      name: `resfcn_w${config.width}_s${S}`,
      nodes,
      initializers,
      inputs: [{ name: 'input', shape: ['N', 3, S, S] }],
      outputs: [{ name: 'output', shape: ['N', 3, S, S] }],
    },
    { docString: `PRNet resfcn (width ${config.width}, input ${S}, output scale ${config.outputScale})` },
  );
}
