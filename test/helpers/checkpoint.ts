/**
 * A small synthetic TensorFlow checkpoint (`<prefix>.index` + `<prefix>.data-00000-of-00001`) in
 * the official PRNet naming, for any width: a LevelDB-format table of BundleEntryProto values with
 * correct CRC32Cs, and float32 data. Lets `prnet import-checkpoint` run end to end without the
 * official 160 MB data file.
 */
import { writeFile } from 'node:fs/promises';
import { checkpointNameMap, crc32c, maskCrc, resfcnTensorSpecs, tfShapeOf } from '../../src/model/index.js';

function varint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

const key = (out: number[], field: number, wire: number): void => varint(out, field * 8 + wire);

function lenField(out: number[], field: number, bytes: number[]): void {
  key(out, field, 2);
  varint(out, bytes.length);
  out.push(...bytes);
}

function u32le(out: number[], v: number): void {
  out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

/** BundleEntryProto: dtype 1 (float), shape, shard 0, offset, size, masked crc32c (fixed32). */
function entryProto(shape: number[], offset: number, size: number, maskedCrc: number): number[] {
  const shapeMsg: number[] = [];
  for (const d of shape) {
    const dim: number[] = [];
    key(dim, 1, 0);
    varint(dim, d);
    lenField(shapeMsg, 2, dim);
  }
  const out: number[] = [];
  key(out, 1, 0);
  varint(out, 1);
  lenField(out, 2, shapeMsg);
  key(out, 4, 0);
  varint(out, offset);
  key(out, 5, 0);
  varint(out, size);
  key(out, 6, 5);
  u32le(out, maskedCrc);
  return out;
}

/** BundleHeaderProto: one shard, little-endian, producer 1. */
function headerProto(): number[] {
  const out: number[] = [];
  key(out, 1, 0);
  varint(out, 1);
  const version: number[] = [];
  key(version, 1, 0);
  varint(version, 1);
  lenField(out, 3, version);
  return out;
}

/** A LevelDB table: one data block (no key sharing, one restart point), an empty metaindex, an index block. */
export function writeTable(entries: [string, ArrayLike<number>][]): Uint8Array {
  const file: number[] = [];
  const enc = new TextEncoder();
  const block = (kv: [Uint8Array, ArrayLike<number>][]): [number, number] => {
    const body: number[] = [];
    for (const [k, v] of kv) {
      varint(body, 0);
      varint(body, k.length);
      varint(body, v.length);
      body.push(...k, ...Array.from(v));
    }
    u32le(body, 0); // restart point
    u32le(body, 1); // number of restart points
    const offset = file.length;
    file.push(...body, 0); // compression type: none
    u32le(file, maskCrc(crc32c(Uint8Array.from([...body, 0]))));
    return [offset, body.length];
  };
  const data = block(entries.map(([k, v]) => [enc.encode(k), v]));
  const meta = block([]);
  const handle: number[] = [];
  varint(handle, data[0]);
  varint(handle, data[1]);
  const index = block([[enc.encode(entries[entries.length - 1][0] + '\u00ff'), handle]]);
  const footer: number[] = [];
  for (const [o, s] of [meta, index]) {
    varint(footer, o);
    varint(footer, s);
  }
  while (footer.length < 40) footer.push(0);
  footer.push(0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb);
  return Uint8Array.from([...file, ...footer]);
}

/** The value stored at element j of a TF variable (deterministic, float32-exact, positive variances). */
export function syntheticValue(tfName: string, j: number): number {
  let h = 0;
  for (let i = 0; i < tfName.length; i++) h = (h * 31 + tfName.charCodeAt(i)) % 65521;
  const u = ((h * 7919 + j * 104729) % 10007) / 10007;
  return Math.fround(tfName.endsWith('moving_variance') || tfName.endsWith('gamma') ? 0.5 + u : (u - 0.5) * 0.2);
}

export interface SyntheticCheckpoint {
  prefix: string;
  /** TF variable name → its float32 values in TF layout. */
  values: Map<string, Float32Array>;
  /** Our tensor name → TF variable name. */
  names: Map<string, string>;
  /** TF variable name → byte offset of its data in the data file. */
  offsets: Map<string, number>;
}

/**
 * Writes a checkpoint of the resfcn graph at `width` (16 = the official size; 2 makes a file of
 * under 1 MB), with one Adam slot per kernel as optimizer state that the importer must skip.
 */
export async function writeSyntheticCheckpoint(prefix: string, width = 2): Promise<SyntheticCheckpoint> {
  const names = checkpointNameMap(width);
  const values = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  for (const spec of resfcnTensorSpecs({ width })) {
    const tf = names.get(spec.name) as string;
    const shape = tfShapeOf(spec);
    const n = shape.reduce((a, b) => a * b, 1);
    values.set(tf, Float32Array.from({ length: n }, (_, j) => syntheticValue(tf, j)));
    shapes.set(tf, shape);
    if (spec.role !== 'bn') {
      values.set(`${tf}/Adam`, new Float32Array(n));
      shapes.set(`${tf}/Adam`, shape);
    }
  }
  const sorted = [...values.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const entries: [string, number[]][] = [['', headerProto()]];
  const chunks: Uint8Array[] = [];
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const name of sorted) {
    const v = values.get(name) as Float32Array;
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    entries.push([name, entryProto(shapes.get(name) as number[], offset, bytes.length, maskCrc(crc32c(bytes)))]);
    chunks.push(bytes);
    offsets.set(name, offset);
    offset += bytes.length;
  }
  await writeFile(`${prefix}.index`, writeTable(entries));
  await writeFile(`${prefix}.data-00000-of-00001`, Buffer.concat(chunks));
  return { prefix, values, names, offsets };
}
