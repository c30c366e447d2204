/**
 * A HEIC file (HEIF with an HEVC-coded image item, as an iPhone saves photos) for tests, made by
 * rewriting the AVIF sharp writes: the item's type av01 → hvc1, its av1C property → a valid hvcC
 * (an HEVC decoder configuration with no parameter sets), the brands → heic/mif1, and the item's
 * data offsets moved by the size change. The structure and header (size) read like a real HEIC;
 * the coded data is not HEVC, which matters only to a build that has an HEVC decoder (sharp's
 * prebuilt libvips has none: libheif with AV1 only).
 */
import sharp from 'sharp';

const HVCC = Buffer.from([
  0x01, // configurationVersion
  0x01, // profile space 0, tier 0, profile Main
  0x60, 0x00, 0x00, 0x00, // profile compatibility
  0x90, 0x00, 0x00, 0x00, 0x00, 0x00, // constraint indicator flags
  90, // level 3
  0xf0, 0x00, // min spatial segmentation
  0xfc, // parallelism
  0xfd, // chroma 4:2:0
  0xf8, 0xf8, // bit depths 8
  0x00, 0x00, // average frame rate
  0x0f, // length size 4
  0x00, // no arrays
]);

function box(type: string, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + payload.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, payload]);
}

/** Children of a container's payload, rebuilt: av1C → hvcC, meta/iprp/ipco entered. */
function rebuild(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (size < 8 || at + size > buf.length) throw new Error(`bad box ${type} at ${at}`);
    const payload = buf.subarray(at + 8, at + size);
    if (type === 'av1C') out.push(box('hvcC', HVCC));
    else if (type === 'meta') out.push(box('meta', Buffer.concat([payload.subarray(0, 4), rebuild(payload.subarray(4))])));
    else if (type === 'iprp' || type === 'ipco') out.push(box(type, rebuild(payload)));
    else out.push(buf.subarray(at, at + size));
    at += size;
  }
  return Buffer.concat(out);
}

/** Adds `delta` to every extent's absolute offset in the file's iloc box (found in the rebuilt meta). */
function shiftIloc(file: Buffer, delta: number): void {
  const i = file.indexOf('iloc', 0, 'latin1') - 4;
  let p = i + 8;
  const version = file[p];
  p += 4;
  const offsetSize = file[p] >> 4, lengthSize = file[p] & 15, baseSize = file[p + 1] >> 4, indexSize = version >= 1 ? file[p + 1] & 15 : 0;
  p += 2;
  const read = (n: number): number => (n === 0 ? 0 : n === 4 ? file.readUInt32BE(p) : Number(file.readBigUInt64BE(p)));
  const write = (n: number, v: number): void => { if (n === 4) file.writeUInt32BE(v, p); else if (n === 8) file.writeBigUInt64BE(BigInt(v), p); };
  const items = version < 2 ? file.readUInt16BE(p) : file.readUInt32BE(p);
  p += version < 2 ? 2 : 4;
  for (let k = 0; k < items; k++) {
    p += version < 2 ? 2 : 4; // item ID
    if (version >= 1) p += 2; // construction method
    p += 2; // data reference index
    const base = read(baseSize);
    if (baseSize) write(baseSize, base + delta);
    p += baseSize;
    const extents = file.readUInt16BE(p);
    p += 2;
    for (let e = 0; e < extents; e++) {
      p += indexSize;
      if (!baseSize && offsetSize) write(offsetSize, read(offsetSize) + delta);
      p += offsetSize + lengthSize;
    }
  }
}

/** HEIC bytes of the image at `path` (any format sharp reads). */
export async function heicOf(path: string): Promise<Buffer> {
  const avif = await sharp(path).avif({ quality: 40 }).toBuffer();
  const swapped = Buffer.from(avif);
  for (const [from, to] of [['av01', 'hvc1'], ['avif', 'heic']] as const) {
    for (let i = swapped.indexOf(from, 0, 'latin1'); i >= 0; i = swapped.indexOf(from, i + 4, 'latin1')) swapped.write(to, i, 'latin1');
  }
  const file = rebuild(swapped);
  // The meta box grew (hvcC is longer than av1C); the image data after it moved as much.
  shiftIloc(file, file.length - swapped.length);
  return file;
}
