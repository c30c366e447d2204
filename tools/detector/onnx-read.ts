/**
 * A minimal protobuf reader for the subset of ONNX that onnx.ts writes: a ModelProto's graph
 * (nodes with float / int / ints attributes, initializers as float32 / int64 data or raw little-endian
 * uint8 / int8 / int32, input and output names) and its opsets. Used to rewrite small third-party
 * graphs (the BlazeFace detector, scripts/build-detector-assets.ts) when assets are built, and by
 * tests that read back the graphs we emit; field numbers are those of onnx.proto.
 */
import type { OnnxAttribute, OnnxInitializer, OnnxNode } from '../../src/model/onnx.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

interface Field {
  no: number;
  wire: number;
  /** Varint value (wire 0). */
  int: bigint;
  /** Bytes (wire 2). */
  bytes: Uint8Array;
  /** Float (wire 5). */
  float: number;
}

const EMPTY = new Uint8Array(0);

/** The fields of one message, in order (nested messages are left as bytes). */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let p = 0;
  const varint = (): bigint => {
    // Numbers while they are exact (7 bytes: 49 bits), BigInt only for longer varints.
    let r = 0;
    let mul = 1;
    for (let k = 0; k < 7; k++) {
      if (p >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[p++];
      r += (b & 0x7f) * mul;
      if (b < 0x80) return BigInt(r);
      mul *= 128;
    }
    let big = BigInt(r);
    let s = 49n;
    for (;;) {
      if (p >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[p++];
      big |= BigInt(b & 0x7f) << s;
      s += 7n;
      if (b < 0x80) return big;
    }
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (p < buf.length) {
    const tag = Number(varint());
    const no = tag >>> 3;
    const wire = tag & 7;
    const f: Field = { no, wire, int: 0n, bytes: EMPTY, float: 0 };
    if (wire === WIRE_VARINT) f.int = varint();
    else if (wire === WIRE_LEN) {
      const n = Number(varint());
      if (p + n > buf.length) throw new Error('truncated protobuf field');
      f.bytes = buf.subarray(p, p + n);
      p += n;
    } else if (wire === WIRE_FIXED32) {
      f.float = view.getFloat32(p, true);
      p += 4;
    } else if (wire === WIRE_FIXED64) p += 8;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
    out.push(f);
  }
  return out;
}

const decoder = new TextDecoder();
const text = (b: Uint8Array): string => decoder.decode(b);

/** Varints of a packed repeated field, or the one varint of an unpacked element. */
function ints(f: Field): number[] {
  if (f.wire === WIRE_VARINT) return [Number(BigInt.asIntN(64, f.int))];
  const out: number[] = [];
  for (const g of fields(prefixPacked(f.bytes))) out.push(Number(BigInt.asIntN(64, g.int)));
  return out;
}

/** Packed varints re-tagged as field 1 so that `fields` can split them. */
function prefixPacked(b: Uint8Array): Uint8Array {
  // Each varint ends at a byte < 0x80; prefix each with the tag byte 0x08 (field 1, varint).
  const out: number[] = [];
  let start = true;
  for (const x of b) {
    if (start) out.push(0x08);
    out.push(x);
    start = x < 0x80;
  }
  return Uint8Array.from(out);
}

function readTensor(b: Uint8Array): OnnxInitializer {
  let name = '';
  const dims: number[] = [];
  let type = 0;
  let raw: Uint8Array | undefined;
  const int64s: number[] = [];
  const floats: number[] = [];
  for (const f of fields(b)) {
    if (f.no === 1) dims.push(...ints(f));
    else if (f.no === 2) type = Number(f.int);
    else if (f.no === 8) name = text(f.bytes);
    else if (f.no === 9) raw = f.bytes;
    else if (f.no === 7) int64s.push(...ints(f));
    else if (f.no === 4) {
      if (f.wire === WIRE_FIXED32) floats.push(f.float);
      else {
        const v = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
        for (let i = 0; i + 4 <= f.bytes.byteLength; i += 4) floats.push(v.getFloat32(i, true));
      }
    }
  }
  if (type === 1) {
    // Copy: raw_data need not be 4-byte aligned inside the file.
    const data = raw ? new Float32Array(raw.slice().buffer) : Float32Array.from(floats);
    return { name, dims, data };
  }
  if (type === 7) {
    const data = raw ? new BigInt64Array(raw.slice().buffer) : BigInt64Array.from(int64s, (x) => BigInt(x));
    return { name, dims, data };
  }
  // Raw bytes only for these (what onnx.ts writes); copied, as above, for alignment.
  if (raw && type === 2) return { name, dims, data: raw.slice() };
  if (raw && type === 3) return { name, dims, data: new Int8Array(raw.slice().buffer) };
  if (raw && type === 6) return { name, dims, data: new Int32Array(raw.slice().buffer) };
  throw new Error(`initializer ${name}: ONNX data type ${type}${raw ? '' : ' without raw_data'} is not supported here`);
}

function readAttribute(b: Uint8Array): OnnxAttribute {
  let name = '';
  let type = 0;
  let f = 0;
  let i = 0;
  const list: number[] = [];
  for (const x of fields(b)) {
    if (x.no === 1) name = text(x.bytes);
    else if (x.no === 20) type = Number(x.int);
    else if (x.no === 2) f = x.float;
    else if (x.no === 3) i = Number(BigInt.asIntN(64, x.int));
    else if (x.no === 8) list.push(...ints(x));
  }
  if (type === 1) return { name, f };
  if (type === 2) return { name, i };
  if (type === 7) return { name, ints: list };
  throw new Error(`attribute ${name}: ONNX attribute type ${type} is not supported here`);
}

function readNode(b: Uint8Array): OnnxNode {
  const node: OnnxNode = { opType: '', inputs: [], outputs: [], attributes: [] };
  for (const f of fields(b)) {
    if (f.no === 1) node.inputs.push(text(f.bytes));
    else if (f.no === 2) node.outputs.push(text(f.bytes));
    else if (f.no === 3) node.name = text(f.bytes);
    else if (f.no === 4) node.opType = text(f.bytes);
    else if (f.no === 5) node.attributes!.push(readAttribute(f.bytes));
    else if (f.no === 7 && f.bytes.length) throw new Error(`node ${node.name ?? ''}: operator domain '${text(f.bytes)}' is not supported here`);
  }
  return node;
}

/** A read graph: nodes, initializers, and the names of its inputs and outputs. */
export interface ReadOnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: string[];
  outputs: string[];
  irVersion: number;
  /** The default domain's opset version. */
  opsetVersion: number;
}

/** Reads a ModelProto. Throws on parts this reader does not support (it never guesses). */
export function readOnnxModel(bytes: Uint8Array): ReadOnnxGraph {
  let graph: Uint8Array | undefined;
  let irVersion = 0;
  let opsetVersion = 0;
  for (const f of fields(bytes)) {
    if (f.no === 1) irVersion = Number(f.int);
    else if (f.no === 7) graph = f.bytes;
    else if (f.no === 8) {
      let domain = '';
      let version = 0;
      for (const g of fields(f.bytes)) {
        if (g.no === 1) domain = text(g.bytes);
        else if (g.no === 2) version = Number(g.int);
      }
      if (domain === '' || domain === 'ai.onnx') opsetVersion = version;
    }
  }
  if (!graph) throw new Error('not an ONNX model (no graph)');
  const out: ReadOnnxGraph = { name: '', nodes: [], initializers: [], inputs: [], outputs: [], irVersion, opsetVersion };
  const valueName = (b: Uint8Array): string => text(fields(b).find((x) => x.no === 1)?.bytes ?? EMPTY);
  for (const f of fields(graph)) {
    if (f.no === 1) out.nodes.push(readNode(f.bytes));
    else if (f.no === 2) out.name = text(f.bytes);
    else if (f.no === 5) out.initializers.push(readTensor(f.bytes));
    else if (f.no === 11) out.inputs.push(valueName(f.bytes));
    else if (f.no === 12) out.outputs.push(valueName(f.bytes));
  }
  // Initializers may also be listed as graph inputs (IR < 4 style): keep only the real inputs.
  const inits = new Set(out.initializers.map((t) => t.name));
  out.inputs = out.inputs.filter((n) => !inits.has(n));
  return out;
}
