/**
 * A minimal protobuf writer for the subset of ONNX (onnx.proto, IR version 8) that the resfcn
 * graph needs: ModelProto → GraphProto → NodeProto / TensorProto / ValueInfoProto.
 *
 * Messages are built as lists of byte chunks, so large initializers (tens of MB) are copied once,
 * when `encodeModel` joins the final buffer. Field numbers are those of onnx.proto.
 */

/** ONNX TensorProto.DataType values of the tensor types the graphs use. */
const ONNX_FLOAT = 1;
const ONNX_UINT8 = 2;
const ONNX_INT8 = 3;
const ONNX_INT32 = 6;
const ONNX_INT64 = 7;
/** AttributeProto.AttributeType */
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** A protobuf message under construction: a list of byte chunks and their total length. */
export class ProtoWriter {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  private scratch: number[] = [];

  private push(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.chunks.push(bytes);
    this.length += bytes.byteLength;
  }

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.push(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private varintToScratch(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.varintToScratch((field << 3) | wire);
  }

  /** An int32/int64/enum/bool field (negative values are written as 10-byte two's complement). */
  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varintToScratch(value);
    return this;
  }

  /** A float field (wire type fixed32). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (const x of b) this.scratch.push(x);
    return this;
  }

  /** A bytes field; the bytes are referenced, not copied, until the message is encoded. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varintToScratch(value.byteLength);
    this.flushScratch();
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** An embedded message field. */
  message(field: number, msg: ProtoWriter): this {
    msg.flushScratch();
    this.tag(field, WIRE_LEN);
    this.varintToScratch(msg.length);
    this.flushScratch();
    for (const c of msg.chunks) this.push(c);
    return this;
  }

  /** The encoded message as one buffer. */
  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.byteLength;
    }
    return out;
  }
}

/** A node attribute: a float, an int, or a list of ints. */
export type OnnxAttribute = { name: string; f: number } | { name: string; i: number } | { name: string; ints: number[] };

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: OnnxAttribute[];
}

/** An initializer (stored as raw little-endian bytes); its ONNX type follows the array type. */
export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;
}

function onnxType(data: OnnxInitializer['data']): number {
  if (data instanceof Float32Array) return ONNX_FLOAT;
  if (data instanceof Uint8Array) return ONNX_UINT8;
  if (data instanceof Int8Array) return ONNX_INT8;
  if (data instanceof BigInt64Array) return ONNX_INT64;
  return ONNX_INT32;
}

/** A float32 graph input/output; a string dimension is symbolic (e.g. the batch size "N"). */
export interface OnnxValueInfo {
  name: string;
  shape: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModelOptions {
  irVersion?: number;
  opsetVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
}

function encodeAttribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  if ('f' in a) w.float(2, a.f).int(20, ATTR_FLOAT);
  else if ('i' in a) w.int(3, a.i).int(20, ATTR_INT);
  else {
    for (const v of a.ints) w.int(8, v); // repeated int64, unpacked (proto2)
    w.int(20, ATTR_INTS);
  }
  return w;
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, encodeAttribute(a));
  return w;
}

function encodeTensor(t: OnnxInitializer): ProtoWriter {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) {
    throw new Error(`initializer ${t.name}: ${t.data.length} values for dims [${t.dims.join(', ')}]`);
  }
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, onnxType(t.data));
  w.string(8, t.name);
  // raw_data is little-endian; typed arrays are little-endian on every platform Node/browsers run on.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, ONNX_FLOAT).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

/** Encodes a ModelProto (default IR version 8, default-domain opset 17). */
export function encodeModel(graph: OnnxGraph, options: OnnxModelOptions = {}): Uint8Array {
  const g = new ProtoWriter();
  for (const n of graph.nodes) g.message(1, encodeNode(n));
  g.string(2, graph.name);
  for (const t of graph.initializers) g.message(5, encodeTensor(t));
  for (const i of graph.inputs) g.message(11, encodeValueInfo(i));
  for (const o of graph.outputs) g.message(12, encodeValueInfo(o));

  const m = new ProtoWriter();
  m.int(1, options.irVersion ?? 8);
  m.string(2, options.producerName ?? 'prnet-ts');
  if (options.producerVersion) m.string(3, options.producerVersion);
  if (options.docString) m.string(6, options.docString);
  m.message(7, g);
  m.message(8, new ProtoWriter().string(1, '').int(2, options.opsetVersion ?? 17));
  return m.finish();
}
