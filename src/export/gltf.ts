/** glTF 2.0 enum values (accessor component types, buffer-view targets, samplers), GLB framing and the GLB container writer. */
export const FLOAT = 5126;
export const SHORT = 5122;
export const UNSIGNED_BYTE = 5121;
export const UNSIGNED_SHORT = 5123;
export const UNSIGNED_INT = 5125;
export const ARRAY_BUFFER = 34962;
export const ELEMENT_ARRAY_BUFFER = 34963;
export const LINEAR = 9729;
export const CLAMP_TO_EDGE = 33071;
export const GLB_MAGIC = 0x46546c67; // "glTF"
export const CHUNK_JSON = 0x4e4f534a; // "JSON"
export const CHUNK_BIN = 0x004e4942; // "BIN\0"

/**
 * The GLB container: a 12-byte header, the JSON chunk (padded with spaces to 4 bytes) and the
 * binary chunk made of `parts` (each already padded to 4 bytes), `binLength` bytes in all.
 */
export function packGlb(gltf: Record<string, unknown>, parts: readonly Uint8Array[], binLength: number): Uint8Array {
  const jsonRaw = new TextEncoder().encode(JSON.stringify(gltf));
  const jsonLength = (jsonRaw.byteLength + 3) & ~3;
  const total = 12 + 8 + jsonLength + 8 + binLength;
  // The header's length is 32 bits: a larger file would say a wrong length, and readers reject it.
  if (total > 0xffffffff) throw new RangeError(`a GLB holds at most 4 GiB, this one would be ${(total / 2 ** 30).toFixed(1)} GiB`);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, GLB_MAGIC, true);
  dv.setUint32(4, 2, true);
  dv.setUint32(8, total, true);
  dv.setUint32(12, jsonLength, true);
  dv.setUint32(16, CHUNK_JSON, true);
  out.set(jsonRaw, 20);
  out.fill(0x20, 20 + jsonRaw.byteLength, 20 + jsonLength);
  let o = 20 + jsonLength;
  dv.setUint32(o, binLength, true);
  dv.setUint32(o + 4, CHUNK_BIN, true);
  o += 8;
  for (const part of parts) {
    out.set(part, o);
    o += part.byteLength;
  }
  return out;
}

/** Per-component min and max of an accessor's data (`width` components per element), as glTF wants them. */
export function accessorBounds(data: ArrayLike<number>, width: number): { min: number[]; max: number[] } {
  const min = new Array<number>(width).fill(Infinity);
  const max = new Array<number>(width).fill(-Infinity);
  if ((width === 1 || width === 3) && data.length % width === 0) {
    // the common widths (indices, positions) in local variables
    let lo0 = Infinity, lo1 = Infinity, lo2 = Infinity, hi0 = -Infinity, hi1 = -Infinity, hi2 = -Infinity;
    if (width === 1) {
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        lo0 = v < lo0 ? v : lo0;
        hi0 = v > hi0 ? v : hi0;
      }
    } else {
      for (let i = 0; i < data.length; i += 3) {
        const a = data[i], b = data[i + 1], c = data[i + 2];
        lo0 = a < lo0 ? a : lo0;
        hi0 = a > hi0 ? a : hi0;
        lo1 = b < lo1 ? b : lo1;
        hi1 = b > hi1 ? b : hi1;
        lo2 = c < lo2 ? c : lo2;
        hi2 = c > hi2 ? c : hi2;
      }
    }
    const lo = [lo0, lo1, lo2], hi = [hi0, hi1, hi2];
    for (let k = 0; k < width; k++) {
      min[k] = lo[k];
      max[k] = hi[k];
    }
    return { min, max };
  }
  for (let i = 0; i < data.length; i += width) {
    for (let k = 0; k < width; k++) {
      const v = data[i + k];
      if (v < min[k]) min[k] = v;
      if (v > max[k]) max[k] = v;
    }
  }
  return { min, max };
}
