/**
 * A minimal protobuf reader for the initializers of an ONNX ModelProto (what the tests compare
 * between graphs): ModelProto.graph (7) → GraphProto.initializer (5) → TensorProto dims (1),
 * data_type (2), name (8), raw_data (9). Other fields are skipped.
 */
export interface ReadInitializer {
  name: string;
  dims: number[];
  dataType: number;
  raw: Uint8Array;
}

function varint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Each field of a message: [field number, wire type, value or bytes]. */
function* fields(buf: Uint8Array): Generator<[number, number, number | Uint8Array]> {
  let pos = 0;
  while (pos < buf.length) {
    let key: number;
    [key, pos] = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let v: number;
      [v, pos] = varint(buf, pos);
      yield [field, wire, v];
    } else if (wire === 2) {
      let len: number;
      [len, pos] = varint(buf, pos);
      yield [field, wire, buf.subarray(pos, pos + len)];
      pos += len;
    } else if (wire === 5) {
      yield [field, wire, buf.subarray(pos, pos + 4)];
      pos += 4;
    } else if (wire === 1) {
      yield [field, wire, buf.subarray(pos, pos + 8)];
      pos += 8;
    } else throw new Error(`wire type ${wire}`);
  }
}

/** The initializers of an ONNX model, by name. */
export function readInitializers(model: Uint8Array): Map<string, ReadInitializer> {
  const out = new Map<string, ReadInitializer>();
  const decoder = new TextDecoder();
  for (const [f, , graph] of fields(model)) {
    if (f !== 7 || !(graph instanceof Uint8Array)) continue;
    for (const [g, , tensor] of fields(graph)) {
      if (g !== 5 || !(tensor instanceof Uint8Array)) continue;
      const t: ReadInitializer = { name: '', dims: [], dataType: 0, raw: new Uint8Array(0) };
      for (const [k, , v] of fields(tensor)) {
        if (k === 1) t.dims.push(v as number);
        else if (k === 2) t.dataType = v as number;
        else if (k === 8) t.name = decoder.decode(v as Uint8Array);
        else if (k === 9) t.raw = v as Uint8Array;
      }
      out.set(t.name, t);
    }
  }
  return out;
}

/** An initializer's raw bytes as the typed array of its ONNX data type (float, uint8, int8, int32). */
export function initializerData(t: ReadInitializer): Float32Array | Uint8Array | Int8Array | Int32Array {
  const copy = t.raw.slice();
  switch (t.dataType) {
    case 1: return new Float32Array(copy.buffer);
    case 2: return copy;
    case 3: return new Int8Array(copy.buffer);
    case 6: return new Int32Array(copy.buffer);
    default: throw new Error(`data type ${t.dataType}`);
  }
}
