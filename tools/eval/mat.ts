/**
 * A reader for MATLAB level-5 `.mat` files (the format of the AFLW2000-3D and 300W-LP ground
 * truth): a 128-byte header, then data elements, each an 8-byte tag (type, byte count) or a
 * 4-byte "small element" tag with its data packed in the following 4 bytes. Supports
 * miCOMPRESSED (zlib, inflated with node:zlib), miMATRIX with the numeric classes (double, single,
 * int8…uint64; the real part is read, an imaginary part is skipped), char, logical, cell and
 * struct arrays. Numeric data stays column-major, as MATLAB stores it; `at(arr, r, c)` reads an
 * element. Sparse and object arrays are rejected with an error naming the variable.
 *
 * The reader is safe on hostile files: a compressed element inflates to at most MAT_LIMITS.inflated
 * bytes (zlib's maxOutputLength, so a zlib bomb stops there), a file's elements together to
 * MAT_LIMITS.totalInflated, declared dimensions must fit the bytes present before anything is
 * allocated, cells and structs nest at most MAT_LIMITS.depth deep. Every error is an InputError
 * naming the file.
 */
import { inflateSync } from 'node:zlib';
import { firstLine, InputError } from '../../src/errors.js';

/** Limits of the reader (AFLW2000-3D files are about 10 KB and inflate to about 20 KB). */
export const MAT_LIMITS = {
  /** Largest .mat file read. */
  fileBytes: 64 * 2 ** 20,
  /** Largest inflated size of one compressed element. */
  inflated: 64 * 2 ** 20,
  /** Largest inflated size of all compressed elements of a file together. */
  totalInflated: 256 * 2 ** 20,
  /** Most elements of one array (numeric, char, cell or struct): 4 Mi, 32 MiB as float64. */
  elements: 4 * 2 ** 20,
  /** Most dimensions of one array. */
  dims: 32,
  /** Deepest nesting of cells and structs. */
  depth: 32,
} as const;

export type MatClass =
  | 'cell' | 'struct' | 'object' | 'char' | 'sparse'
  | 'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';

const CLASS_NAMES: Record<number, MatClass> = {
  1: 'cell', 2: 'struct', 3: 'object', 4: 'char', 5: 'sparse', 6: 'double', 7: 'single', 8: 'int8',
  9: 'uint8', 10: 'int16', 11: 'uint16', 12: 'int32', 13: 'uint32', 14: 'int64', 15: 'uint64',
};

/** A numeric, logical or char array: `data` holds the real part in column-major order. */
export interface MatNumeric {
  kind: 'numeric';
  name: string;
  className: MatClass;
  dims: number[];
  data: Float64Array;
  logical: boolean;
  complex: boolean;
}

export interface MatChar {
  kind: 'char';
  name: string;
  dims: number[];
  /** The characters in column-major order (a 1×n row is the plain string). */
  text: string;
}

export interface MatStruct {
  kind: 'struct';
  name: string;
  dims: number[];
  fieldNames: string[];
  /** elements[k][field]: the k-th element (column-major) of the struct array. */
  elements: Record<string, MatValue>[];
}

export interface MatCell {
  kind: 'cell';
  name: string;
  dims: number[];
  /** Column-major cell contents. */
  cells: MatValue[];
}

export type MatValue = MatNumeric | MatChar | MatStruct | MatCell;

export interface MatFile {
  /** The 116-byte descriptive text of the header, trimmed. */
  description: string;
  variables: Map<string, MatValue>;
}

const mi = {
  INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, INT64: 12,
  UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16, UTF16: 17, UTF32: 18,
} as const;

const MI_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4 };

interface Element {
  type: number;
  /** The element's data bytes (without tag or padding). */
  bytes: Uint8Array;
  /** Offset just past this element (padding included). */
  next: number;
}

class Reader {
  constructor(readonly little: boolean, readonly source: string) {}

  fail(msg: string): never {
    throw new InputError(msg, this.source);
  }

  element(buf: Uint8Array, offset: number): Element {
    if (offset + 4 > buf.byteLength) this.fail(`truncated data element at byte ${offset}`);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const first = view.getUint32(offset, this.little);
    const small = first >>> 16;
    if (small !== 0) {
      // Small data element: type in the low 16 bits, byte count (≤ 4) in the high 16 bits.
      const type = first & 0xffff;
      if (small > 4 || offset + 4 + small > buf.byteLength) this.fail(`bad small data element at byte ${offset}`);
      return { type, bytes: buf.subarray(offset + 4, offset + 4 + small), next: offset + 8 };
    }
    if (offset + 8 > buf.byteLength) this.fail(`truncated data element at byte ${offset}`);
    const type = first;
    const n = view.getUint32(offset + 4, this.little);
    const start = offset + 8;
    if (start + n > buf.byteLength) this.fail(`data element at byte ${offset} claims ${n} bytes, only ${buf.byteLength - start} left`);
    // miCOMPRESSED is not padded; everything else is padded to a multiple of 8 bytes.
    const next = type === mi.COMPRESSED ? start + n : start + Math.ceil(n / 8) * 8;
    return { type, bytes: buf.subarray(start, start + n), next: Math.min(next, buf.byteLength) };
  }

  numbers(el: Element, what: string): Float64Array {
    const size = MI_BYTES[el.type];
    if (size === undefined) this.fail(`${what}: unsupported data type ${el.type}`);
    const count = Math.floor(el.bytes.byteLength / size);
    if (count > MAT_LIMITS.elements) this.fail(`${what}: ${count} values exceed the limit of ${MAT_LIMITS.elements}`);
    const out = new Float64Array(count);
    const v = new DataView(el.bytes.buffer, el.bytes.byteOffset, el.bytes.byteLength);
    const le = this.little;
    for (let i = 0; i < count; i++) {
      const o = i * size;
      switch (el.type) {
        case mi.INT8: out[i] = v.getInt8(o); break;
        case mi.UINT8: case mi.UTF8: out[i] = v.getUint8(o); break;
        case mi.INT16: out[i] = v.getInt16(o, le); break;
        case mi.UINT16: case mi.UTF16: out[i] = v.getUint16(o, le); break;
        case mi.INT32: out[i] = v.getInt32(o, le); break;
        case mi.UINT32: case mi.UTF32: out[i] = v.getUint32(o, le); break;
        case mi.SINGLE: out[i] = v.getFloat32(o, le); break;
        case mi.DOUBLE: out[i] = v.getFloat64(o, le); break;
        case mi.INT64: out[i] = Number(v.getBigInt64(o, le)); break;
        case mi.UINT64: out[i] = Number(v.getBigUint64(o, le)); break;
        default: this.fail(`${what}: unsupported data type ${el.type}`);
      }
    }
    return out;
  }

  text(el: Element): string {
    if (el.type === mi.INT8 || el.type === mi.UINT8 || el.type === mi.UTF8) {
      return new TextDecoder().decode(el.bytes);
    }
    return codesToString(this.numbers(el, 'text'));
  }

  /** Parses the contents of one miMATRIX element. `nameOverride` names struct fields / cells. */
  matrix(bytes: Uint8Array, nameOverride?: string, depth = 0): MatValue | undefined {
    if (depth > MAT_LIMITS.depth) this.fail(`cells or structs nested deeper than ${MAT_LIMITS.depth}`);
    if (bytes.byteLength === 0) {
      // An empty matrix (e.g. an empty struct field).
      return { kind: 'numeric', name: nameOverride ?? '', className: 'double', dims: [0, 0], data: new Float64Array(0), logical: false, complex: false };
    }
    let off = 0;
    const flagsEl = this.element(bytes, off);
    off = flagsEl.next;
    const flagWords = this.numbers(flagsEl, 'array flags');
    const flags = flagWords[0] ?? 0;
    const classId = flags & 0xff;
    const complex = (flags & 0x800) !== 0;
    const logical = (flags & 0x200) !== 0;
    const className = CLASS_NAMES[classId];
    if (className === undefined) this.fail(`unknown array class ${classId}`);
    const dimsEl = this.element(bytes, off);
    off = dimsEl.next;
    const dims = Array.from(this.numbers(dimsEl, 'dimensions'));
    if (dims.length < 1 || dims.length > MAT_LIMITS.dims) this.fail(`${dims.length} dimensions (expected 1 to ${MAT_LIMITS.dims})`);
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) this.fail(`bad dimensions ${dims.join('×')}`);
    const nameEl = this.element(bytes, off);
    off = nameEl.next;
    const name = nameOverride ?? this.text(nameEl);
    const count = dims.reduce((a, b) => a * b, 1);
    const label = name || '(unnamed)';
    // Declared sizes are checked against the limit and the bytes present before any allocation.
    if (count > MAT_LIMITS.elements) this.fail(`${label}: dimensions ${dims.join('×')} exceed the limit of ${MAT_LIMITS.elements} elements`);

    switch (className) {
      case 'double': case 'single': case 'int8': case 'uint8': case 'int16': case 'uint16':
      case 'int32': case 'uint32': case 'int64': case 'uint64': {
        const re = this.element(bytes, off);
        const data = this.numbers(re, label);
        if (data.length !== count) this.fail(`${label}: ${data.length} values for dimensions ${dims.join('×')}`);
        return { kind: 'numeric', name, className, dims, data, logical, complex };
      }
      case 'char': {
        const el = this.element(bytes, off);
        const codes = this.numbers(el, label);
        const text = el.type === mi.UTF8 ? new TextDecoder().decode(el.bytes) : codesToString(codes);
        return { kind: 'char', name, dims, text };
      }
      case 'cell': {
        // Every cell is a data element of at least 8 bytes.
        if (count * 8 > bytes.byteLength - off) this.fail(`${label}: ${dims.join('×')} cells declared, the bytes hold at most ${Math.floor((bytes.byteLength - off) / 8)}`);
        const cells: MatValue[] = [];
        for (let k = 0; k < count; k++) {
          const el = this.element(bytes, off);
          off = el.next;
          if (el.type !== mi.MATRIX) this.fail(`${label}: cell ${k} is not a matrix (type ${el.type})`);
          const v = this.matrix(el.bytes, '', depth + 1);
          if (v) cells.push(v);
        }
        return { kind: 'cell', name, dims, cells };
      }
      case 'struct': {
        const lenEl = this.element(bytes, off);
        off = lenEl.next;
        const fieldLen = this.numbers(lenEl, `${label} field name length`)[0] ?? 0;
        if (!Number.isInteger(fieldLen) || fieldLen < 0 || fieldLen > 1024) this.fail(`${label}: bad field name length ${fieldLen}`);
        const namesEl = this.element(bytes, off);
        off = namesEl.next;
        const fieldNames: string[] = [];
        if (fieldLen > 0) {
          for (let p = 0; p + fieldLen <= namesEl.bytes.byteLength; p += fieldLen) {
            const raw = namesEl.bytes.subarray(p, p + fieldLen);
            const end = raw.indexOf(0);
            fieldNames.push(new TextDecoder().decode(end >= 0 ? raw.subarray(0, end) : raw));
          }
        }
        // Every field of every element is a data element of at least 8 bytes; without fields, at
        // most one element per byte left is believed.
        if (count * Math.max(1, fieldNames.length) * (fieldNames.length ? 8 : 1) > bytes.byteLength - off + (fieldNames.length ? 0 : 64)) {
          this.fail(`${label}: a ${dims.join('×')} struct with ${fieldNames.length} fields does not fit the ${bytes.byteLength - off} bytes left`);
        }
        const elements: Record<string, MatValue>[] = [];
        for (let k = 0; k < count; k++) {
          const rec: Record<string, MatValue> = {};
          for (const f of fieldNames) {
            const el = this.element(bytes, off);
            off = el.next;
            if (el.type !== mi.MATRIX) this.fail(`${label}.${f}: not a matrix (type ${el.type})`);
            const v = this.matrix(el.bytes, f, depth + 1);
            if (v) rec[f] = v;
          }
          elements.push(rec);
        }
        return { kind: 'struct', name, dims, fieldNames, elements };
      }
      default:
        this.fail(`${label}: ${className} arrays are not supported`);
    }
  }
}

/** Character codes as a string, in chunks (a spread of millions of arguments overflows the stack). */
function codesToString(codes: ArrayLike<number>): string {
  let text = '';
  for (let i = 0; i < codes.length; i += 4096) {
    text += String.fromCharCode(...Array.from({ length: Math.min(4096, codes.length - i) }, (_, k) => codes[i + k] & 0xffff));
  }
  return text;
}

/** Parses a MATLAB v5 .mat buffer. `source` names the file in error messages. */
export function readMat(buf: Uint8Array, source = 'mat file'): MatFile {
  if (!(buf instanceof Uint8Array)) throw new InputError('a .mat file must be given as bytes (Uint8Array)', source);
  if (buf.byteLength < 128) throw new InputError(`not a MATLAB v5 file (${buf.byteLength} bytes)`, source);
  const description = new TextDecoder().decode(buf.subarray(0, 116)).replace(/[\s\0]+$/, '');
  const endian = String.fromCharCode(buf[126] ?? 0, buf[127] ?? 0);
  if (endian !== 'IM' && endian !== 'MI') {
    throw new InputError(`not a MATLAB v5 file (endian indicator ${JSON.stringify(endian)}${description.startsWith('MATLAB 7.3') ? '; v7.3 files are HDF5' : ''})`, source);
  }
  const r = new Reader(endian === 'IM', source);
  const variables = new Map<string, MatValue>();
  let off = 128;
  let inflatedTotal = 0;
  while (off + 8 <= buf.byteLength) {
    const el = r.element(buf, off);
    off = el.next;
    let matrixBytes: Uint8Array;
    if (el.type === mi.COMPRESSED) {
      let inflated: Uint8Array;
      const budget = Math.min(MAT_LIMITS.inflated, MAT_LIMITS.totalInflated - inflatedTotal);
      try {
        inflated = new Uint8Array(inflateSync(el.bytes, { maxOutputLength: Math.max(1, budget) }));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
          throw new InputError(`a compressed element inflates past the limit of ${budget} bytes`, source, { cause: e });
        }
        throw new InputError(`cannot inflate a compressed element (${firstLine(e)})`, source, { cause: e });
      }
      inflatedTotal += inflated.byteLength;
      const inner = r.element(inflated, 0);
      if (inner.type !== mi.MATRIX) continue;
      matrixBytes = inner.bytes;
    } else if (el.type === mi.MATRIX) {
      matrixBytes = el.bytes;
    } else {
      continue;
    }
    const v = r.matrix(matrixBytes);
    if (v) variables.set(v.name, v);
  }
  return { description, variables };
}

/** Reads and parses a .mat file (at most MAT_LIMITS.fileBytes; a FIFO or device is refused). */
export async function loadMat(path: string): Promise<MatFile> {
  const { readFile, stat } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new InputError(st.isDirectory() ? 'is a folder, not a .mat file' : 'not a regular file', path);
    if (st.size > MAT_LIMITS.fileBytes) throw new InputError(`.mat file of ${st.size} bytes is above the limit of ${MAT_LIMITS.fileBytes}`, path);
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`, path, { cause: e });
  }
  return readMat(bytes, path);
}

/** The numeric variable `name`, or an error naming what is there instead. */
export function matNumeric(file: MatFile, name: string, source?: string): MatNumeric {
  const v = file.variables.get(name);
  if (!v) throw new InputError(`no variable ${name} (have: ${[...file.variables.keys()].join(', ') || 'none'})`, source);
  if (v.kind !== 'numeric') throw new InputError(`variable ${name} is a ${v.kind}, not numeric`, source);
  return v;
}

/** Element (r, c) (0-based) of a column-major 2D (or higher, first page) array. */
export function at(arr: MatNumeric, r: number, c = 0): number {
  const rows = arr.dims[0] ?? 0;
  const cols = arr.dims[1] ?? 1;
  if (r < 0 || r >= rows || c < 0 || c >= cols) throw new RangeError(`${arr.name}: (${r}, ${c}) outside ${arr.dims.join('×')}`);
  return arr.data[c * rows + r] as number;
}

/** A 2D column-major array as row-major rows × cols Float64Array (e.g. 3×68 → 68×3 via transpose). */
export function toRowMajor(arr: MatNumeric): Float64Array {
  const rows = arr.dims[0] ?? 0;
  const cols = arr.dims[1] ?? 1;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = arr.data[c * rows + r] as number;
  return out;
}

/** A D×N column-major array (D coordinates per point, as pt3d_68 is 3×68) as N×D row-major points. */
export function pointsFromColumns(arr: MatNumeric): Float64Array {
  // Column-major D×N is exactly row-major N×D.
  return Float64Array.from(arr.data);
}

/** The AFLW2000-3D / 300W-LP ground truth of one image. */
export interface AflwGroundTruth {
  /** 68×3 row-major: x, y in image pixels (y down), z (towards the camera, image-pixel scale). */
  pt3d68: Float64Array;
  /** pitch, yaw, roll (radians), tx, ty, tz, scale. */
  pose: Float64Array;
  /** 68×2 row-major, when the file has pt2d. */
  pt2d?: Float64Array;
}

/** Reads pt3d_68, Pose_Para and (if present) pt2d from an AFLW2000-3D .mat file. */
export async function loadAflwGroundTruth(path: string): Promise<AflwGroundTruth> {
  const f = await loadMat(path);
  const pt = matNumeric(f, 'pt3d_68', path);
  if (pt.dims[0] !== 3 || pt.dims[1] !== 68) throw new InputError(`pt3d_68 is ${pt.dims.join('×')}, expected 3×68`, path);
  if (pt.data.some((x) => !Number.isFinite(x))) throw new InputError('pt3d_68 holds non-finite values', path);
  const pose = matNumeric(f, 'Pose_Para', path);
  if (pose.data.length < 3 || !pose.data.subarray(0, 3).every(Number.isFinite)) throw new InputError(`Pose_Para must hold at least 3 finite values (pitch, yaw, roll), got ${pose.data.length}`, path);
  const out: AflwGroundTruth = { pt3d68: pointsFromColumns(pt), pose: Float64Array.from(pose.data) };
  const p2 = f.variables.get('pt2d');
  if (p2?.kind === 'numeric' && p2.dims[0] === 2) out.pt2d = pointsFromColumns(p2);
  return out;
}
