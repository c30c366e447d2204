/**
 * Image decoding and encoding in Node (sharp / libvips). The only place that turns files into
 * RgbImage; every check on bad input happens here, before the pixels are decoded.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { InputError } from '../errors.js';
import type { RgbImage } from '../types.js';

/** Largest image, in pixels, that is decoded (about 100 megapixels, e.g. 10000 × 10000). */
export const MAX_IMAGE_PIXELS = 100_000_000;

export interface DecodeOptions {
  maxPixels?: number;
}

/**
 * Decodes an image file to 8-bit RGB, applying its EXIF orientation, dropping alpha (composited
 * over black is *not* done: the colour channels are kept as stored), converting greyscale and
 * CMYK to RGB. Throws InputError naming the file and the cause.
 */
export async function decodeImageFile(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new InputError('is a folder, not an image', path);
    if (st.size === 0) throw new InputError('empty file (0 bytes)', path);
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError('no such file', path);
    if (code === 'EACCES') throw new InputError('permission denied', path);
    throw new InputError(`cannot read: ${(e as Error).message}`, path);
  }
  return decodeImageBuffer(bytes, path, options);
}

/** Decodes image bytes (any format libvips reads: JPEG, PNG, WebP, TIFF, GIF, AVIF, PPM, …). */
export async function decodeImageBuffer(bytes: Uint8Array, source = '<buffer>', options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  if (bytes.byteLength === 0) throw new InputError('empty file (0 bytes)', source);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new InputError(`not an image or an unsupported format (${firstLine(e)})`, source);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (!w || !h) throw new InputError('not an image (no dimensions)', source);
  if (w * h > maxPixels) {
    throw new InputError(`image is ${w}×${h} = ${(w * h / 1e6).toFixed(0)} megapixels, above the limit of ${(maxPixels / 1e6).toFixed(0)} megapixels`, source);
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated' })
      .rotate() // EXIF orientation
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new InputError(`cannot decode image (${firstLine(e)})`, source);
  }
}

export interface PngOptions {
  /**
   * zlib level, 0..9 (default 3: on the CLI's overlays, depth and texture images about 25 % faster
   * than zlib's usual 6 for files about 3 % larger).
   */
  compressionLevel?: number;
}

/** Encodes RGB (3 channels) or grey (1 channel) pixels as PNG. */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3 | 4 = 3, options: PngOptions = {}): Promise<Buffer> {
  return sharp(data, { raw: { width, height, channels } }).png({ compressionLevel: options.compressionLevel ?? 3 }).toBuffer();
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
}
