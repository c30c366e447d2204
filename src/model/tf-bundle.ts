/**
 * Reader for TensorFlow's tensor-bundle checkpoint index (`<prefix>.index`), written by hand:
 *
 * - the index is a LevelDB-format table (SSTable): a 48-byte footer (metaindex and index block
 *   handles, then the magic 0xdb4775248b80fb57), an index block whose values are the handles of
 *   the data blocks, and data blocks of prefix-compressed key/value entries followed by restart
 *   points; every block is followed by a compression-type byte and a masked CRC32C;
 * - the value under the empty key is a BundleHeaderProto; every other key is a tensor name whose
 *   value is a BundleEntryProto (dtype, shape, shard, offset, size, masked CRC32C of the bytes).
 *
 * Only uncompressed blocks are supported (TensorFlow writes bundle indexes uncompressed).
 * The tensor bytes themselves live in `<prefix>.data-SSSSS-of-NNNNN` (see import-checkpoint.ts).
 */
import { ModelError } from '../errors.js';

// ---- CRC32C (Castagnoli), as TensorFlow and LevelDB use it ----

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C of `bytes`, optionally continuing from a previous CRC. */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const MASK_DELTA = 0xa282ead8;

/** LevelDB/TensorFlow CRC masking: rotate right by 15 bits, add a constant. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

// ---- protobuf reading ----

/** A protobuf wire-format reader over one message. */
export class ProtoReader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly what = 'protobuf message') {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** A varint as a JS number (exact below 2^53, which covers every size and offset here). */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new Error(`${this.what}: truncated varint`);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new Error(`${this.what}: varint longer than 10 bytes`);
  }

  fixed32(): number {
    if (this.pos + 4 > this.buf.length) throw new Error(`${this.what}: truncated fixed32`);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw new Error(`${this.what}: field of ${len} bytes overruns the message`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Reads a tag: [field number, wire type]. */
  tag(): [number, number] {
    const t = this.varint();
    return [Math.floor(t / 8), t & 7];
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`${this.what}: unsupported wire type ${wire}`);
    if (this.pos > this.buf.length) throw new Error(`${this.what}: truncated field`);
  }
}

// ---- the LevelDB table ----

export const TABLE_MAGIC = 0xdb4775248b80fb57n;
const FOOTER_BYTES = 48;
const BLOCK_TRAILER_BYTES = 5;

interface BlockHandle {
  offset: number;
  size: number;
}

function readHandle(r: ProtoReader): BlockHandle {
  return { offset: r.varint(), size: r.varint() };
}

/**
 * Reads one block's key/value entries. Checks the trailer's CRC and compression byte.
 * `name` says which block, for errors.
 */
function readBlock(file: Uint8Array, h: BlockHandle, name: string): [string, Uint8Array][] {
  if (h.offset + h.size + BLOCK_TRAILER_BYTES > file.length) {
    throw new Error(`${name} (offset ${h.offset}, ${h.size} bytes) lies beyond the end of the file (truncated?)`);
  }
  const contents = file.subarray(h.offset, h.offset + h.size);
  const type = file[h.offset + h.size];
  const stored = new DataView(file.buffer, file.byteOffset + h.offset + h.size + 1, 4).getUint32(0, true);
  const actual = maskCrc(crc32c(file.subarray(h.offset + h.size, h.offset + h.size + 1), crc32c(contents)));
  if (stored !== actual) throw new Error(`${name} fails its CRC32C check (corrupt file)`);
  if (type !== 0) {
    const kind = type === 1 ? 'snappy' : type === 2 ? 'zstd' : `type ${type}`;
    throw new Error(`${name} is ${kind}-compressed; only uncompressed tables are supported`);
  }
  if (contents.length < 4) throw new Error(`${name} is too short`);
  const view = new DataView(contents.buffer, contents.byteOffset, contents.byteLength);
  const numRestarts = view.getUint32(contents.length - 4, true);
  const entriesEnd = contents.length - 4 * (numRestarts + 1);
  if (entriesEnd < 0) throw new Error(`${name}: ${numRestarts} restart points do not fit its ${contents.length} bytes`);
  const r = new ProtoReader(contents.subarray(0, entriesEnd), name);
  const out: [string, Uint8Array][] = [];
  let key = new Uint8Array(0);
  const dec = new TextDecoder();
  while (!r.done) {
    const shared = r.varint();
    const nonShared = r.varint();
    const valueLen = r.varint();
    if (shared > key.length || r.pos + nonShared + valueLen > entriesEnd) throw new Error(`${name}: malformed entry at byte ${r.pos}`);
    const next = new Uint8Array(shared + nonShared);
    next.set(key.subarray(0, shared));
    next.set(r.buf.subarray(r.pos, r.pos + nonShared), shared);
    r.pos += nonShared;
    key = next;
    out.push([dec.decode(key), r.buf.subarray(r.pos, r.pos + valueLen)]);
    r.pos += valueLen;
  }
  return out;
}

/** All key/value pairs of a LevelDB-format table, in key order. */
export function readTable(file: Uint8Array): [string, Uint8Array][] {
  if (file.length < FOOTER_BYTES) throw new Error(`only ${file.length} bytes: too short for a table footer`);
  const footer = file.subarray(file.length - FOOTER_BYTES);
  const magic = new DataView(footer.buffer, footer.byteOffset + 40, 8).getBigUint64(0, true);
  if (magic !== TABLE_MAGIC) throw new Error(`bad table magic 0x${magic.toString(16)} (not a TensorFlow checkpoint index)`);
  const fr = new ProtoReader(footer.subarray(0, 40), 'table footer');
  readHandle(fr); // metaindex: unused (no filters in bundle indexes)
  const indexHandle = readHandle(fr);
  const out: [string, Uint8Array][] = [];
  readBlock(file, indexHandle, 'index block').forEach(([, value], i) => {
    const h = readHandle(new ProtoReader(value, 'block handle'));
    out.push(...readBlock(file, h, `data block ${i}`));
  });
  return out;
}

// ---- bundle protos ----

/** TensorFlow DataType enum values with their names and byte sizes (the ones worth naming). */
export const TF_DTYPES: Record<number, { name: string; bytes: number }> = {
  1: { name: 'float32', bytes: 4 },
  2: { name: 'float64', bytes: 8 },
  3: { name: 'int32', bytes: 4 },
  4: { name: 'uint8', bytes: 1 },
  5: { name: 'int16', bytes: 2 },
  6: { name: 'int8', bytes: 1 },
  7: { name: 'string', bytes: 0 },
  9: { name: 'int64', bytes: 8 },
  10: { name: 'bool', bytes: 1 },
  14: { name: 'bfloat16', bytes: 2 },
  19: { name: 'float16', bytes: 2 },
};
export const DT_FLOAT = 1;

export interface BundleHeader {
  numShards: number;
  /** 0 = little-endian, 1 = big-endian. */
  endianness: number;
  producer: number;
}

export interface BundleEntry {
  name: string;
  dtype: number;
  shape: number[];
  shardId: number;
  offset: number;
  size: number;
  /** The masked CRC32C of the tensor's bytes, when the entry has one. */
  maskedCrc32c?: number;
  /** True when the tensor is stored as slices (not supported by the importer). */
  sliced: boolean;
}

export interface BundleIndex {
  header: BundleHeader;
  /** Entries by tensor name, in key order. */
  entries: Map<string, BundleEntry>;
}

function parseHeader(value: Uint8Array): BundleHeader {
  const r = new ProtoReader(value, 'BundleHeaderProto');
  const h: BundleHeader = { numShards: 0, endianness: 0, producer: 0 };
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 0) h.numShards = r.varint();
    else if (field === 2 && wire === 0) h.endianness = r.varint();
    else if (field === 3 && wire === 2) {
      const v = new ProtoReader(r.bytes(), 'VersionDef');
      while (!v.done) {
        const [f, w] = v.tag();
        if (f === 1 && w === 0) h.producer = v.varint();
        else v.skip(w);
      }
    } else r.skip(wire);
  }
  return h;
}

function parseShape(value: Uint8Array, name: string): number[] {
  const r = new ProtoReader(value, `shape of ${name}`);
  const dims: number[] = [];
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 2 && wire === 2) {
      const d = new ProtoReader(r.bytes(), `dim of ${name}`);
      let size = 0;
      while (!d.done) {
        const [f, w] = d.tag();
        if (f === 1 && w === 0) size = d.varint();
        else d.skip(w);
      }
      dims.push(size);
    } else if (field === 3 && wire === 0) {
      if (r.varint()) throw new Error(`tensor ${name} has unknown rank`);
    } else r.skip(wire);
  }
  return dims;
}

function parseEntry(name: string, value: Uint8Array): BundleEntry {
  const r = new ProtoReader(value, `BundleEntryProto of ${name}`);
  const e: BundleEntry = { name, dtype: 0, shape: [], shardId: 0, offset: 0, size: 0, sliced: false };
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 0) e.dtype = r.varint();
    else if (field === 2 && wire === 2) e.shape = parseShape(r.bytes(), name);
    else if (field === 3 && wire === 0) e.shardId = r.varint();
    else if (field === 4 && wire === 0) e.offset = r.varint();
    else if (field === 5 && wire === 0) e.size = r.varint();
    else if (field === 6 && wire === 5) e.maskedCrc32c = r.fixed32();
    else if (field === 7 && wire === 2) {
      r.bytes();
      e.sliced = true;
    } else r.skip(wire);
  }
  return e;
}

/** Parses a `<prefix>.index` file. `source` (the path) names the file in errors (ModelError). */
export function parseBundleIndex(bytes: Uint8Array, source: string): BundleIndex {
  try {
    const table = readTable(bytes);
    let header: BundleHeader | undefined;
    const entries = new Map<string, BundleEntry>();
    for (const [key, value] of table) {
      if (key === '') header = parseHeader(value);
      else entries.set(key, parseEntry(key, value));
    }
    if (!header) throw new Error('no bundle header (empty key) in the index');
    return { header, entries };
  } catch (e) {
    if (e instanceof ModelError) throw e;
    throw new ModelError(`not a readable TensorFlow checkpoint index: ${(e as Error).message}`, source, { cause: e });
  }
}

/** The data file of one shard: `<prefix>.data-00000-of-00001`. */
export function bundleDataPath(prefix: string, shard: number, numShards: number): string {
  const pad = (n: number): string => String(n).padStart(5, '0');
  return `${prefix}.data-${pad(shard)}-of-${pad(numShards)}`;
}
