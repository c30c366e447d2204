/**
 * NumPy's .npy format (version 1.0) for a float32 array: what `numpy.load` reads back as an array
 * of the given shape (C order, little-endian `<f4`). Used for the position map, PRNet's own output
 * (`pos`, 256×256×3), so that Python code written for the original reads ours unchanged.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The .npy bytes of `data` (float32, C order) with `shape` (its product must be data.length). */
export function npyBytes(data: Float32Array, shape: readonly number[]): Uint8Array {
  if (!(data instanceof Float32Array)) throw new TypeError('npyBytes writes a Float32Array');
  if (!shape.length || shape.some((d) => !Number.isInteger(d) || d < 0)) throw new RangeError(`shape must be whole non-negative numbers, got [${shape.join(', ')}]`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${count} numbers, the data ${data.length}`);
  // A one-element tuple is written "(n,)" in Python.
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64
  // and ended by a newline, as numpy writes it (the data then starts aligned).
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + 4 * data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const start = 10 + header.length;
  if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, 4 * data.length), start);
  else {
    const body = new DataView(out.buffer, out.byteOffset + start, 4 * data.length);
    for (let i = 0; i < data.length; i++) body.setFloat32(4 * i, data[i], true);
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
