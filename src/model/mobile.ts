/**
 * The real-time architecture (`architecture: 'mobile'`, docs/model-format.md): a MobileNetV2-style
 * encoder of inverted-residual blocks (1×1 expand, 3×3 depthwise, 1×1 linear projection, a residual
 * sum where shapes allow) and a light U-Net decoder (per stage: a 1×1 conv to 4× the channels,
 * pixel shuffle to twice the side, the encoder's feature of that side added, one inverted-residual
 * block), then a 1×1 conv to the three position channels, sigmoid × output scale. Input and output
 * are S×S like resfcn's, so sessions, files and the runtime treat both alike.
 *
 * `width` is the channel count of the stem (enc.0, a 3×3 stride-2 conv; even); the stages have 1, 1.5, 2, 4, 6 and 10 × width.
 * The tensor names are training/mobile.py's state_dict names.
 */
import { ModelError } from '../errors.js';
import { encodeModel } from './onnx.js';
import {
  BN_SUFFIXES, createEmitter, floatUnfusedConvs, foldBn, scaledKernel,
  type GraphOptions, type ResfcnConfig, type TensorSpec, type WeightMap,
} from './resfcn.js';

/** Expansion factor of the encoder's inverted-residual blocks (MobileNetV2: 6). */
export const MOBILE_EXPANSION = 4;
/** Expansion factor of the decoder's blocks. */
export const MOBILE_DECODER_EXPANSION = 2;

/**
 * Encoder stages: [expansion (0 = MOBILE_EXPANSION), channels in halves of width, blocks, stride of
 * the first]. The stem (3×3, stride 2) runs before them, so the sides are S/2, S/4, S/8, S/16,
 * S/16, S/32.
 */
const ENCODER_STAGES: [number, number, number, number][] = [
  [1, 2, 1, 1], [0, 3, 2, 2], [0, 4, 3, 2], [0, 8, 3, 2], [0, 12, 2, 1], [0, 20, 2, 2],
];
/** Decoder stages: [channels in halves of width, the encoder stage whose output is added (-1: none)]. */
const DECODER_STAGES: [number, number][] = [[12, 4], [4, 2], [3, 1], [2, 0], [1, -1]];

/** One inverted-residual block: `prefix`.expand (absent when hidden = in), .dw, .project. */
export interface InvertedResidual {
  prefix: string;
  inChannels: number;
  hidden: number;
  outChannels: number;
  stride: number;
  /** input side */
  size: number;
  residual: boolean;
}

export interface MobileDecoderStage {
  index: number;
  inChannels: number;
  outChannels: number;
  /** input side (the output is twice it) */
  size: number;
  /** The encoder block whose output is added after the upsampling, if any. */
  skip?: string;
  block: InvertedResidual;
}

export interface MobilePlan {
  stemChannels: number;
  encoder: InvertedResidual[];
  decoder: MobileDecoderStage[];
  headChannels: number;
}

/** Throws ModelError unless `width` and `inputSize` build a mobile network. */
export function checkMobileConfig(config: ResfcnConfig, source?: string): void {
  if (config.width % 2 !== 0) throw new ModelError(`the mobile architecture needs an even width, got ${config.width}`, source);
}

/** The blocks of a mobile network of this width at input side S (S only sets the blocks' sides). */
export function mobilePlan(width: number, inputSize = 128): MobilePlan {
  const ch = (halves: number): number => (width * halves) / 2;
  const encoder: InvertedResidual[] = [];
  const stageEnd: string[] = [];
  let inC = width;
  let size = inputSize / 2;
  for (const [t, halves, n, s] of ENCODER_STAGES) {
    const outC = ch(halves);
    for (let r = 0; r < n; r++) {
      const stride = r === 0 ? s : 1;
      const hidden = inC * (t === 0 ? MOBILE_EXPANSION : t);
      encoder.push({ prefix: `enc.${encoder.length + 1}`, inChannels: inC, hidden, outChannels: outC, stride, size, residual: stride === 1 && inC === outC });
      size /= stride;
      inC = outC;
    }
    stageEnd.push(`enc.${encoder.length}`);
  }
  const decoder: MobileDecoderStage[] = DECODER_STAGES.map(([halves, skip], j) => {
    const outC = ch(halves);
    const stage: MobileDecoderStage = {
      index: j, inChannels: inC, outChannels: outC, size,
      ...(skip >= 0 ? { skip: stageEnd[skip] } : {}),
      block: { prefix: `dec.${j}.block`, inChannels: outC, hidden: outC * MOBILE_DECODER_EXPANSION, outChannels: outC, stride: 1, size: size * 2, residual: true },
    };
    inC = outC;
    size *= 2;
    return stage;
  });
  return { stemChannels: width, encoder, decoder, headChannels: inC };
}

function bnSpecs(prefix: string, channels: number): TensorSpec[] {
  return BN_SUFFIXES.map((s) => ({ name: `${prefix}.${s}`, shape: [channels], role: 'bn' as const, bn: s }));
}

function blockSpecs(b: InvertedResidual): TensorSpec[] {
  const specs: TensorSpec[] = [];
  if (b.hidden !== b.inChannels) specs.push({ name: `${b.prefix}.expand.weight`, shape: [b.hidden, b.inChannels, 1, 1], role: 'conv' }, ...bnSpecs(`${b.prefix}.bn1`, b.hidden));
  specs.push({ name: `${b.prefix}.dw.weight`, shape: [b.hidden, 1, 3, 3], role: 'conv' }, ...bnSpecs(`${b.prefix}.bn2`, b.hidden));
  specs.push({ name: `${b.prefix}.project.weight`, shape: [b.outChannels, b.hidden, 1, 1], role: 'conv' }, ...bnSpecs(`${b.prefix}.bn3`, b.outChannels));
  return specs;
}

/** Every weight tensor of the mobile network, in file order (training/mobile.py's state_dict order). */
export function mobileTensorSpecs(width: number): TensorSpec[] {
  const plan = mobilePlan(width);
  const specs: TensorSpec[] = [{ name: 'enc.0.conv.weight', shape: [width, 3, 3, 3], role: 'conv' }, ...bnSpecs('enc.0.bn', width)];
  for (const b of plan.encoder) specs.push(...blockSpecs(b));
  for (const d of plan.decoder) {
    specs.push({ name: `dec.${d.index}.up.weight`, shape: [4 * d.outChannels, d.inChannels, 1, 1], role: 'conv' }, ...bnSpecs(`dec.${d.index}.up_bn`, 4 * d.outChannels));
    specs.push(...blockSpecs(d.block));
  }
  specs.push({ name: 'head.conv.weight', shape: [3, plan.headChannels, 1, 1], role: 'conv' }, ...bnSpecs('head.bn', 3));
  return specs;
}

/** One conv of a network for the multiply-add count. */
export interface ConvCost {
  name: string;
  /** multiply-adds of one forward pass of one image */
  macs: number;
}

/** Multiply-adds of every conv of the mobile network at its input side (BN folded; adds, ReLUs, resampling not counted). */
export function mobileConvCosts(config: Pick<ResfcnConfig, 'width' | 'inputSize'>): ConvCost[] {
  const plan = mobilePlan(config.width, config.inputSize);
  const S = config.inputSize;
  const costs: ConvCost[] = [{ name: 'enc.0.conv', macs: (S / 2) ** 2 * config.width * 3 * 9 }];
  const block = (b: InvertedResidual): void => {
    const out = (b.size / b.stride) ** 2;
    if (b.hidden !== b.inChannels) costs.push({ name: `${b.prefix}.expand`, macs: b.size ** 2 * b.hidden * b.inChannels });
    costs.push({ name: `${b.prefix}.dw`, macs: out * b.hidden * 9 });
    costs.push({ name: `${b.prefix}.project`, macs: out * b.outChannels * b.hidden });
  };
  plan.encoder.forEach(block);
  for (const d of plan.decoder) {
    costs.push({ name: `dec.${d.index}.up`, macs: d.size ** 2 * 4 * d.outChannels * d.inChannels });
    block(d.block);
  }
  costs.push({ name: 'head.conv', macs: S * S * 3 * plan.headChannels });
  return costs;
}

/**
 * Layers the int8 graph of the mobile network leaves in float: the stem enc.0 (it reads the photo) and
 * the full-resolution end (dec.4 and the head), where one 8-bit step moves the output most.
 */
export const MOBILE_INT8_FLOAT_LAYERS: readonly string[] = ['enc.0', 'dec.4', 'head'];

/**
 * The folded ONNX graph of the mobile network (batch norms folded into the convs; pixel shuffle as
 * DepthToSpace with the up-conv's channels reordered from PyTorch's CRD order to ONNX's default
 * DCR). Int8 as resfcn's: QuantizeLinear/DequantizeLinear around every conv of the int8 layers
 * (depthwise ones included, per-channel weight scales).
 */
export function buildMobileOnnx(weights: WeightMap, config: ResfcnConfig, options: GraphOptions): Uint8Array {
  if ((options.form ?? 'folded') !== 'folded') throw new ModelError('the mobile architecture has the folded graph form only');
  const e = createEmitter(weights, config, options, MOBILE_INT8_FLOAT_LAYERS);
  const { nodes, shapes, tensor, weight, conv, relu, dq, expose, q } = e;
  const S = config.inputSize;
  const plan = mobilePlan(config.width, S);
  const onePad: [number, number, number, number] = [1, 1, 1, 1];
  const zeroPad: [number, number, number, number] = [0, 0, 0, 0];

  const add = (a: string, b: string, out: string, shape: [number, number]): string => {
    nodes.push({ opType: 'Add', name: out, inputs: [a, b], outputs: [out] });
    shapes.set(out, shape);
    return out;
  };
  /** An inverted-residual block whose output is named `out`. */
  const block = (x: string, b: InvertedResidual, out: string, quant: boolean): string => {
    const p = b.prefix;
    let y = x;
    if (b.hidden !== b.inChannels) {
      const bn1 = foldBn(tensor, `${p}.bn1`);
      y = relu(conv(y, { kernel: scaledKernel(weight(`${p}.expand.weight`), b.hidden, bn1.scale), bias: bn1.bias, outChannels: b.hidden, k: 1, stride: 1, pads: zeroPad }, `${p}.expand`, quant), `${p}.relu1`);
      expose(y);
    }
    const bn2 = foldBn(tensor, `${p}.bn2`);
    y = relu(conv(y, { kernel: scaledKernel(weight(`${p}.dw.weight`), b.hidden, bn2.scale), bias: bn2.bias, outChannels: b.hidden, k: 3, stride: b.stride, pads: onePad, group: b.hidden }, `${p}.dw`, quant), `${p}.relu2`);
    expose(y);
    const bn3 = foldBn(tensor, `${p}.bn3`);
    const proj = { kernel: scaledKernel(weight(`${p}.project.weight`), b.outChannels, bn3.scale), bias: bn3.bias, outChannels: b.outChannels, k: 1, stride: 1, pads: zeroPad };
    if (!b.residual) {
      conv(y, proj, out, quant);
      expose(out);
      return out;
    }
    const pr = conv(y, proj, `${p}.project`, quant);
    expose(pr);
    add(quant ? dq(pr).name : pr, quant ? dq(x).name : x, out, shapes.get(pr) as [number, number]);
    expose(out);
    return out;
  };

  let x = 'input';
  {
    const bn = foldBn(tensor, 'enc.0.bn');
    x = relu(conv(x, { kernel: scaledKernel(weight('enc.0.conv.weight'), config.width, bn.scale), bias: bn.bias, outChannels: config.width, k: 3, stride: 2, pads: onePad }, 'enc.0.conv', q('enc.0')), 'enc.0');
    expose(x);
  }
  for (const b of plan.encoder) x = block(x, b, b.prefix, q(b.prefix));
  for (const d of plan.decoder) {
    const p = `dec.${d.index}`;
    const quant = q(p);
    const C = d.outChannels;
    // PyTorch's PixelShuffle reads channel c·4 + 2i + j (CRD); ONNX DepthToSpace's default (DCR)
    // reads (2i + j)·C + c: the up-conv's output channels are reordered to match.
    const w = tensor(`${p}.up.weight`);
    const bn = foldBn(tensor, `${p}.up_bn`);
    const per = d.inChannels;
    const wp = new Float32Array(w.length);
    const sp = new Float64Array(4 * C);
    const bp = new Float64Array(4 * C);
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < 4; k++) {
        const src = c * 4 + k;
        const dst = k * C + c;
        wp.set(w.subarray(src * per, (src + 1) * per), dst * per);
        sp[dst] = bn.scale[src];
        bp[dst] = bn.bias[src];
      }
    }
    const up = relu(conv(x, { kernel: scaledKernel(wp, 4 * C, sp), bias: bp, outChannels: 4 * C, k: 1, stride: 1, pads: zeroPad }, `${p}.up`, quant), `${p}.up.relu`);
    nodes.push({ opType: 'DepthToSpace', name: `${p}.shuffle`, inputs: [up], outputs: [`${p}.shuffle`], attributes: [{ name: 'blocksize', i: 2 }] });
    shapes.set(`${p}.shuffle`, [C, d.size * 2]);
    x = `${p}.shuffle`;
    if (d.skip) x = add(x, d.skip, `${p}.sum`, [C, d.size * 2]);
    expose(x);
    x = block(x, d.block, p, quant);
  }
  {
    const bn = foldBn(tensor, 'head.bn');
    x = conv(x, { kernel: scaledKernel(weight('head.conv.weight'), 3, bn.scale), bias: bn.bias, outChannels: 3, k: 1, stride: 1, pads: zeroPad }, 'head.conv', q('head'));
  }
  nodes.push({ opType: 'Sigmoid', name: 'sigmoid', inputs: [x], outputs: ['sigmoid'] });
  e.constant('output_scale', [], Float32Array.of(config.outputScale));
  nodes.push({ opType: 'Mul', name: 'output', inputs: ['sigmoid', 'output_scale'], outputs: ['output'] });
  if (e.int8) floatUnfusedConvs(nodes, e.initializers);
  return encodeModel(
    {
      name: `mobile_w${config.width}_s${S}_${e.int8 ? 'int8' : 'fp32'}`,
      nodes,
      initializers: e.initializers,
      inputs: [{ name: 'input', shape: ['N', 3, S, S] }],
      outputs: [
        { name: 'output', shape: ['N', 3, S, S] },
        ...e.exposed.map((name) => {
          const [c, side] = shapes.get(name) as [number, number];
          return { name, shape: ['N', c, side, side] };
        }),
      ],
    },
    { docString: `PRNet mobile (width ${config.width}, input ${S}, output scale ${config.outputScale}, ${e.int8 ? 'int8 QDQ' : 'fp32'}, batch norms folded)` },
  );
}
