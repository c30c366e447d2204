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
  for (let i = 0; i < data.length; i += width) {
    for (let k = 0; k < width; k++) {
      const v = data[i + k];
      if (v < min[k]) min[k] = v;
      if (v > max[k]) max[k] = v;
    }
  }
  return { min, max };
}
