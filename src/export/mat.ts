/**
 * MATLAB's level-5 MAT-file format (uncompressed, little-endian) for 2-D numeric arrays: what
 * MATLAB's `load` and SciPy's `scipy.io.loadmat` read. The original PRNet demo's `--isMat` wrote a
 * face's mesh so (`vertices`, `colors`, `triangles`, with `scipy.io.savemat`, uncompressed); the
 * `mat` output format writes ours the same way, so that MATLAB and Python code written for the
 * original reads it unchanged.
 *
 * Layout: a 128-byte header (text, subsystem offset, version 0x0100, endian mark "IM"), then one
 * miMATRIX element per variable: array flags, dimensions, name and the real part, each sub-element
 * padded to 8 bytes. MATLAB stores arrays column-major; the data given here is row-major (as every
 * typed array of this package) and is transposed on the way.
 */

/** The numeric classes written: MATLAB's double (float64), single (float32) and int32. */
export type MatNumericClass = 'double' | 'single' | 'int32';

export interface MatVariable {
  /** A MATLAB identifier: a letter, then letters, digits or underscores (at most 63). */
  name: string;
  /** Rows × columns. */
  shape: readonly [number, number];
  /** rows × columns numbers, row-major. */
  data: ArrayLike<number>;
  /** The array's class (default 'double'). */
  class?: MatNumericClass;
}

// Data types (miINT8 …) and array classes (mxDOUBLE_CLASS …) of the format.
const MI_INT8 = 1, MI_INT32 = 5, MI_UINT32 = 6, MI_SINGLE = 7, MI_DOUBLE = 9, MI_MATRIX = 14;
const CLASS: Record<MatNumericClass, { mx: number; mi: number; bytes: number }> = {
  double: { mx: 6, mi: MI_DOUBLE, bytes: 8 },
  single: { mx: 7, mi: MI_SINGLE, bytes: 4 },
  int32: { mx: 12, mi: MI_INT32, bytes: 4 },
};
const HEADER_TEXT = 'MATLAB 5.0 MAT-file, written by prnet-ts';
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

const padded = (n: number): number => Math.ceil(n / 8) * 8;
/** The most bytes of one array's data (MATLAB's limit for level-5 files: 2^31 − 1). */
const MAX_ARRAY_BYTES = 0x7fffffff;

/** The .mat bytes holding the variables, in the order given. */
export function matBytes(variables: readonly MatVariable[]): Uint8Array {
  const names = new Set<string>();
  let size = 128;
  for (const v of variables) {
    if (typeof v.name !== 'string' || !NAME.test(v.name)) throw new RangeError(`a MAT variable's name must be a letter, then letters, digits or _ (at most 63), got ${JSON.stringify(v.name)}`);
    if (names.has(v.name)) throw new RangeError(`two MAT variables are named ${v.name}`);
    names.add(v.name);
    if (!Array.isArray(v.shape) || v.shape.length !== 2) throw new RangeError(`${v.name}'s shape must be [rows, columns], got ${JSON.stringify(v.shape)}`);
    const [rows, cols] = v.shape;
    if (!(Number.isInteger(rows) && rows >= 0 && rows <= 0x7fffffff && Number.isInteger(cols) && cols >= 0 && cols <= 0x7fffffff)) throw new RangeError(`${v.name}'s shape must be two whole numbers from 0 to 2^31 − 1, got [${v.shape.join(', ')}]`);
    if (rows * cols !== v.data.length) throw new RangeError(`${v.name}'s shape [${rows}, ${cols}] holds ${rows * cols} numbers, the data ${v.data.length}`);
    if (!Object.hasOwn(CLASS, v.class ?? 'double')) throw new RangeError(`${v.name}'s class must be double, single or int32, got ${String(v.class)}`);
    // A level-5 element's byte count is 32 bits; MATLAB reads at most 2^31 bytes of one array.
    if (rows * cols * CLASS[v.class ?? 'double'].bytes > MAX_ARRAY_BYTES) throw new RangeError(`${v.name} takes ${rows * cols * CLASS[v.class ?? 'double'].bytes} bytes, above a MAT-file array's ${MAX_ARRAY_BYTES}`);
    size += 8 + matrixBytes(v);
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.fill(0x20, 0, 116);
  for (let i = 0; i < HEADER_TEXT.length; i++) out[i] = HEADER_TEXT.charCodeAt(i);
  // bytes 116–123: the subsystem data offset, none (zeros); then the version and the endian mark
  view.setUint16(124, 0x0100, true);
  out[126] = 0x49; // 'I'
  out[127] = 0x4d; // 'M': written little-endian
  let at = 128;
  const tag = (type: number, bytes: number): void => {
    view.setUint32(at, type, true);
    view.setUint32(at + 4, bytes, true);
    at += 8;
  };
  for (const v of variables) {
    const cls = CLASS[v.class ?? 'double'];
    const [rows, cols] = v.shape;
    tag(MI_MATRIX, matrixBytes(v));
    tag(MI_UINT32, 8);
    view.setUint32(at, cls.mx, true); // flags: not complex, global or logical
    at += 8;
    tag(MI_INT32, 8);
    view.setInt32(at, rows, true);
    view.setInt32(at + 4, cols, true);
    at += 8;
    tag(MI_INT8, v.name.length);
    for (let i = 0; i < v.name.length; i++) out[at + i] = v.name.charCodeAt(i);
    at += padded(v.name.length);
    tag(cls.mi, rows * cols * cls.bytes);
    // Column-major: the first column's rows, then the second's, …
    for (let c = 0; c < cols; c++) {
      for (let r = 0; r < rows; r++) {
        const x = v.data[r * cols + c];
        if (cls.mi === MI_DOUBLE) view.setFloat64(at, x, true);
        else if (cls.mi === MI_SINGLE) view.setFloat32(at, x, true);
        else {
          if (!(Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff)) throw new RangeError(`${v.name} is int32, but holds ${x}`);
          view.setInt32(at, x, true);
        }
        at += cls.bytes;
      }
    }
    at = 128 + padded(at - 128);
  }
  return out;
}

/** A variable's miMATRIX element without its tag. */
function matrixBytes(v: MatVariable): number {
  const cls = CLASS[v.class ?? 'double'];
  return 16 + 16 + 8 + padded(v.name.length) + 8 + padded(v.shape[0] * v.shape[1] * cls.bytes);
}
