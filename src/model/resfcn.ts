/**
 * resfcn256 — the one definition of PRNet's network (docs/model-format.md).
 *
 * `resfcnTensorSpecs` enumerates the weight tensors of a configuration (names, shapes, and the
 * layer each belongs to); `buildResfcnOnnx` emits the ONNX graph from weights. Weight files,
 * random initialisation and the TensorFlow-checkpoint importer all use the same enumeration.
 */
import { ModelError } from '../errors.js';
import { encodeModel, type OnnxInitializer, type OnnxNode } from './onnx.js';

export interface ResfcnConfig {
  /** Channels of the first conv: 16 for resfcn256, 8 for the half-width variant. */
  width: number;
  /** Input side in pixels: 256, or 128 for the light variant (any multiple of 32 builds). */
  inputSize: number;
  /** The sigmoid output is multiplied by this: 256 × 1.1 = 281.6. */
  outputScale: number;
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
  const { width, inputSize, outputScale } = config;
  if (!Number.isInteger(width) || width < 1 || width > CONFIG_LIMITS.maxWidth) {
    throw new ModelError(`width must be a whole number from 1 to ${CONFIG_LIMITS.maxWidth}, got ${width}`, source);
  }
  if (!Number.isInteger(inputSize) || inputSize < 32 || inputSize % 32 !== 0 || inputSize > CONFIG_LIMITS.maxInputSize) {
    throw new ModelError(`input size must be a multiple of 32 from 32 to ${CONFIG_LIMITS.maxInputSize}, got ${inputSize}`, source);
  }
  if (!Number.isFinite(outputScale) || outputScale <= 0 || outputScale > CONFIG_LIMITS.maxOutputScale) {
    throw new ModelError(`output scale must be a positive number up to ${CONFIG_LIMITS.maxOutputScale}, got ${outputScale}`, source);
  }
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

/** Every weight tensor of the network, in file order, with its ONNX/PyTorch layout shape. */
export function resfcnTensorSpecs(config: Pick<ResfcnConfig, 'width'>): TensorSpec[] {
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
export function countParameters(config: Pick<ResfcnConfig, 'width'>): number {
  let n = 0;
  for (const s of resfcnTensorSpecs(config)) {
    if (s.bn === 'running_mean' || s.bn === 'running_var') continue;
    n += s.shape.reduce((a, b) => a * b, 1);
  }
  return n;
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

/**
 * Emits the ONNX model (IR 8, opset 17) of the network with the given weights. Input `input`
 * float32 [N, 3, S, S] (RGB 0..1), output `output` float32 [N, 3, S, S] (crop-pixel units of a
 * 256 crop). Throws ModelError when a tensor is missing or has the wrong size.
 */
export function buildResfcnOnnx(weights: WeightMap, config: ResfcnConfig): Uint8Array {
  checkConfig(config);
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  const specs = new Map(resfcnTensorSpecs(config).map((s) => [s.name, s]));
  const init = (name: string): string => {
    const spec = specs.get(name);
    const data = weights.get(name);
    if (!spec) throw new ModelError(`internal: no tensor spec for ${name}`);
    if (!data) throw new ModelError(`missing tensor ${name}`);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new ModelError(`tensor ${name}: ${data.length} values, expected ${count} for [${spec.shape.join(', ')}]`);
    initializers.push({ name, dims: spec.shape, data });
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
