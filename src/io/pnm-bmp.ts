/**
 * Decoders for the two uncompressed formats libvips (as sharp ships it) cannot read: Netpbm
 * PGM/PPM (P2, P3, P5, P6; 8- or 16-bit) and Windows BMP (uncompressed 8-bit palette, 24- and
 * 32-bit, BI_RGB or BI_BITFIELDS). Pure functions over bytes; the size in the header is checked
 * against the pixel limit and against the bytes present before anything is allocated.
 */
import { InputError } from '../errors.js';
import type { RgbImage } from '../types.js';
import { MAX_IMAGE_SIDE, sideMessage } from './limits.js';

export type SimpleFormat = 'pnm' | 'bmp';

/** Which of these formats the bytes start like (by their magic number), if any. */
export function sniffSimpleFormat(bytes: Uint8Array): SimpleFormat | null {
  if (bytes.length >= 2 && bytes[0] === 0x50 /* P */ && [0x32, 0x33, 0x35, 0x36].includes(bytes[1])) return 'pnm';
  if (bytes.length >= 2 && bytes[0] === 0x42 /* B */ && bytes[1] === 0x4d /* M */) return 'bmp';
  return null;
}

/**
 * The size of a PGM/PPM or BMP image from its header, with the decoder's checks that need no
 * pixels (size limit, format, truncation): the service's header check, which must not decode on
 * its HTTP thread. InputError as the decoder's.
 */
export function simpleImageSize(bytes: Uint8Array, source: string, maxPixels: number): { width: number; height: number } {
  const format = sniffSimpleFormat(bytes);
  const image = format === 'pnm' ? decodePnm(bytes, source, maxPixels, true) : format === 'bmp' ? decodeBmp(bytes, source, maxPixels, true) : null;
  if (!image) throw new InputError('not a PGM, PPM or BMP file', source);
  return { width: image.width, height: image.height };
}

/** Decodes a PGM/PPM or BMP file to 8-bit RGB. Throws InputError naming `source`. */
export function decodeSimpleImage(bytes: Uint8Array, source: string, maxPixels: number): RgbImage {
  const format = sniffSimpleFormat(bytes);
  if (format === 'pnm') return decodePnm(bytes, source, maxPixels);
  if (format === 'bmp') return decodeBmp(bytes, source, maxPixels);
  throw new InputError('not a PGM, PPM or BMP file', source);
}

function checkSize(w: number, h: number, maxPixels: number, source: string, what: string): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) throw new InputError(`${what}: bad dimensions ${w}×${h}`, source);
  if (w * h > maxPixels) {
    throw new InputError(`image is ${w}×${h} = ${pixelCount(w * h)}, above the limit of ${pixelCount(maxPixels)}`, source);
  }
  if (Math.max(w, h) > MAX_IMAGE_SIDE) throw new InputError(sideMessage(w, h), source);
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** Netpbm P2/P3 (ASCII) and P5/P6 (binary), grey or RGB, maxval 1..65535. */
export function decodePnm(bytes: Uint8Array, source: string, maxPixels: number, sizeOnly = false): RgbImage {
  const kind = String.fromCharCode(bytes[1] ?? 0);
  const what = `P${kind} image`;
  let p = 2;
  const token = (): number => {
    for (;;) {
      while (p < bytes.length && isSpace(bytes[p])) p++;
      if (bytes[p] === 0x23 /* # */) {
        while (p < bytes.length && bytes[p] !== 0x0a && bytes[p] !== 0x0d) p++;
        continue;
      }
      break;
    }
    const start = p;
    let v = 0;
    while (p < bytes.length && bytes[p] >= 0x30 && bytes[p] <= 0x39 && p - start < 10) v = v * 10 + bytes[p++] - 0x30;
    if (p === start) throw new InputError(`${what}: truncated or malformed header`, source);
    // (more than 10 digits: one number, not two; read as two it named a size the header does not)
    if (bytes[p] >= 0x30 && bytes[p] <= 0x39) throw new InputError(`${what}: a number in the header is too large`, source);
    return v;
  };
  const w = token();
  const h = token();
  const maxval = token();
  checkSize(w, h, maxPixels, source, what);
  if (maxval < 1 || maxval > 65535) throw new InputError(`${what}: maxval must be 1..65535, got ${maxval}`, source);
  const channels = kind === '2' || kind === '5' ? 1 : 3;
  const samples = w * h * channels;
  if (sizeOnly) {
    const bps = (kind === '5' || kind === '6') ? (maxval < 256 ? 1 : 2) : 1;
    if (bytes.length - p - 1 < samples * bps) throw new InputError(`${what}: truncated`, source);
    return { width: w, height: h, data: new Uint8Array(0) };
  }
  const out = new Uint8Array(w * h * 3);
  const put = (i: number, v: number): void => {
    const b = v >= maxval ? 255 : Math.round((v * 255) / maxval);
    if (channels === 3) out[i] = b;
    else out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = b;
  };
  if (kind === '5' || kind === '6') {
    if (!isSpace(bytes[p] ?? 0)) throw new InputError(`${what}: malformed header`, source);
    p++;
    const bps = maxval < 256 ? 1 : 2;
    if (bytes.length - p < samples * bps) throw new InputError(`${what}: truncated (${bytes.length - p} bytes of pixels, expected ${samples * bps})`, source);
    for (let i = 0; i < samples; i++) put(i, bps === 1 ? bytes[p + i] : (bytes[p + 2 * i] << 8) | bytes[p + 2 * i + 1]);
  } else {
    // ASCII: at least two bytes (digit and separator) per sample must be there.
    if (bytes.length - p < samples) throw new InputError(`${what}: truncated`, source);
    for (let i = 0; i < samples; i++) put(i, token());
  }
  return { width: w, height: h, data: out };
}

/** Windows BMP: BITMAPINFOHEADER or later, 8-bit palette, 24 or 32 bits, BI_RGB or BI_BITFIELDS. */
export function decodeBmp(bytes: Uint8Array, source: string, maxPixels: number, sizeOnly = false): RgbImage {
  const what = 'BMP image';
  if (bytes.length < 54) throw new InputError(`${what}: truncated header (${bytes.length} bytes)`, source);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = v.getUint32(10, true);
  const dib = v.getUint32(14, true);
  if (dib < 40 || 14 + dib > bytes.length) throw new InputError(`${what}: unsupported header (${dib} bytes; only BITMAPINFOHEADER and later)`, source);
  const w = v.getInt32(18, true);
  const rawH = v.getInt32(22, true);
  const bpp = v.getUint16(28, true);
  const compression = v.getUint32(30, true);
  const topDown = rawH < 0;
  const h = Math.abs(rawH);
  checkSize(w, h, maxPixels, source, what);
  if (![8, 24, 32].includes(bpp)) throw new InputError(`${what}: ${bpp} bits per pixel is not supported (8, 24 or 32)`, source);
  if (!(compression === 0 || (compression === 3 && bpp === 32))) {
    throw new InputError(`${what}: compression ${compression} is not supported (only uncompressed)`, source);
  }
  // Channel masks for 32-bit pixels: BGRX by default, else the BI_BITFIELDS masks after the header.
  let masks = [0x00ff0000, 0x0000ff00, 0x000000ff];
  if (compression === 3) {
    if (bytes.length < 66) throw new InputError(`${what}: truncated bit masks`, source);
    masks = [v.getUint32(54, true), v.getUint32(58, true), v.getUint32(62, true)];
    if (masks.some((m) => m === 0)) throw new InputError(`${what}: a zero colour mask`, source);
  }
  const shifts = masks.map((m) => 31 - Math.clz32(m & -m));
  const maxes = masks.map((m, i) => m >>> shifts[i]);
  let palette: Uint8Array | null = null;
  if (bpp === 8) {
    const colours = v.getUint32(46, true) || 256;
    const start = 14 + dib;
    if (colours > 256 || start + colours * 4 > bytes.length) throw new InputError(`${what}: bad palette (${colours} colours)`, source);
    palette = bytes.subarray(start, start + colours * 4);
  }
  const stride = Math.floor((bpp * w + 31) / 32) * 4;
  if (dataOffset < 14 + dib || dataOffset + stride * h > bytes.length) {
    throw new InputError(`${what}: truncated (${Math.max(0, bytes.length - dataOffset)} bytes of pixels, expected ${stride * h})`, source);
  }
  if (sizeOnly) return { width: w, height: h, data: new Uint8Array(0) };
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const row = dataOffset + (topDown ? y : h - 1 - y) * stride;
    for (let x = 0; x < w; x++) {
      const o = 3 * (y * w + x);
      if (bpp === 24) {
        const s = row + 3 * x;
        out[o] = bytes[s + 2];
        out[o + 1] = bytes[s + 1];
        out[o + 2] = bytes[s];
      } else if (bpp === 32) {
        const px = v.getUint32(row + 4 * x, true);
        for (let c = 0; c < 3; c++) out[o + c] = Math.round((((px & masks[c]) >>> shifts[c]) * 255) / maxes[c]);
      } else {
        const idx = bytes[row + x];
        if (4 * idx + 2 >= palette!.length) throw new InputError(`${what}: palette index ${idx} out of range`, source);
        out[o] = palette![4 * idx + 2];
        out[o + 1] = palette![4 * idx + 1];
        out[o + 2] = palette![4 * idx];
      }
    }
  }
  return { width: w, height: h, data: out };
}

/** A pixel count for messages: megapixels (3 significant digits below 100), or pixels below one. */
export function pixelCount(n: number): string {
  if (n < 1e6) return `${Math.round(n)} pixels`;
  const mp = n / 1e6;
  // two decimals past 100: 10001×10000 read "100 megapixels, above the limit of 100 megapixels"
  return `${mp >= 100 ? String(+mp.toFixed(2)) : String(+mp.toPrecision(3))} megapixels`;
}
