/**
 * The mark in the PNGs prnet-ts writes as outputs: a `tEXt` chunk right after the header,
 * keyword `Software`, text `prnet-ts` (and the version when known), as PNG defines the keyword
 * ("software used to create the image"; image viewers and exiftool show it). It lets a later run
 * tell its own outputs from a user's photo of the same name (`y_mesh.png` beside `y.jpg` in a
 * folder that is also `--out`: cli/inputs.ts), by reading the first bytes of the file only.
 * Pure byte code, shared with the browser.
 */

/** The chunk's keyword. */
export const PNG_MARK_KEYWORD = 'Software';
/** The start of the chunk's text (then a space and the version, where known). */
export const PNG_MARK_TEXT = 'prnet-ts';
/** Bytes of a file's head that hold the mark when there is one (signature, header, the chunk). */
export const PNG_MARK_HEAD = 128;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Where the header chunk ends: the signature (8), its length and type (8), 13 bytes of data, its CRC (4). */
const HEADER_END = 33;

let table: Uint32Array | undefined;

/** CRC-32 (ISO 3309, as PNG's chunks use) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Whether the bytes start as a PNG whose first chunk is a 13-byte header (IHDR), as every PNG's must. */
function hasHeader(png: Uint8Array): boolean {
  if (png.length < HEADER_END) return false;
  for (let i = 0; i < 8; i++) if (png[i] !== SIGNATURE[i]) return false;
  const length = ((png[8] << 24) | (png[9] << 16) | (png[10] << 8) | png[11]) >>> 0;
  return length === 13 && png[12] === 0x49 && png[13] === 0x48 && png[14] === 0x44 && png[15] === 0x52;
}

/**
 * The PNG with the mark inserted after its header (a copy); bytes that are not a PNG are returned
 * as they are (an encoder of the caller's that writes something else is not ours to change).
 * `version`, when given, follows the text after a space (printable ASCII only).
 */
export function markPng(png: Uint8Array, version?: string): Uint8Array {
  if (!hasHeader(png)) return png;
  const text = version && /^[\x20-\x7e]{1,40}$/.test(version) ? `${PNG_MARK_TEXT} ${version}` : PNG_MARK_TEXT;
  const data = `${PNG_MARK_KEYWORD}\0${text}`;
  const chunk = new Uint8Array(12 + data.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  chunk[4] = 0x74; // t
  chunk[5] = 0x45; // E
  chunk[6] = 0x58; // X
  chunk[7] = 0x74; // t
  for (let i = 0; i < data.length; i++) chunk[8 + i] = data.charCodeAt(i);
  view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
  const out = new Uint8Array(png.length + chunk.length);
  out.set(png.subarray(0, HEADER_END), 0);
  out.set(chunk, HEADER_END);
  out.set(png.subarray(HEADER_END), HEADER_END + chunk.length);
  return out;
}

/**
 * Whether a file's first bytes (PNG_MARK_HEAD of them is enough) are a PNG that prnet-ts marked:
 * a `tEXt` chunk with the keyword and text markPng writes, among the chunks before the image
 * data, with a matching CRC (a chunk cut off by the head's end does not count).
 */
export function isMarkedPng(head: Uint8Array): boolean {
  if (!hasHeader(head)) return false;
  for (let at = HEADER_END; at + 12 <= head.length; ) {
    const length = ((head[at] << 24) | (head[at + 1] << 16) | (head[at + 2] << 8) | head[at + 3]) >>> 0;
    const type = String.fromCharCode(head[at + 4], head[at + 5], head[at + 6], head[at + 7]);
    if (type === 'IDAT' || type === 'IEND' || at + 12 + length > head.length) return false;
    if (type === 'tEXt') {
      const data = head.subarray(at + 8, at + 8 + length);
      const text = String.fromCharCode(...data);
      const crc = ((head[at + 8 + length] << 24) | (head[at + 9 + length] << 16) | (head[at + 10 + length] << 8) | head[at + 11 + length]) >>> 0;
      const [keyword, value] = [text.slice(0, text.indexOf('\0')), text.slice(text.indexOf('\0') + 1)];
      if (text.includes('\0') && keyword === PNG_MARK_KEYWORD && (value === PNG_MARK_TEXT || value.startsWith(`${PNG_MARK_TEXT} `)) && crc === crc32(head.subarray(at + 4, at + 8 + length))) return true;
    }
    at += 12 + length;
  }
  return false;
}
