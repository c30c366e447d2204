/**
 * Image decoding and encoding in Node (sharp / libvips). The only place that turns files into
 * RgbImage; every check on bad input happens here, before the pixels are decoded.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { firstLine, InputError, shownValue, UnsupportedImageError } from '../errors.js';
import { checkKnownOptions } from '../track/options.js';
import type { RgbImage } from '../types.js';
import { decodeSimpleImage, pixelCount, sniffSimpleFormat } from './pnm-bmp.js';

export { MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, sideMessage } from './limits.js';
import { MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, sideMessage } from './limits.js';

export interface DecodeOptions {
  maxPixels?: number;
  /** File size limit for decodeImageFile (default MAX_IMAGE_BYTES). */
  maxBytes?: number;
  /**
   * Transparency composited over white (default true, as a viewer shows it); false: the colours as
   * stored, and an image with transparency's alpha plane in `alpha` (`prnet swap`, which puts the
   * target's alpha back on its result).
   */
  flatten?: boolean;
}

/** A decode option misspelt (`maxPixel`) had been ignored: the size limit it meant to set was not set. */
function checkDecodeOptions(options: DecodeOptions): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InputError(`decode options must be an object, got ${shownValue(options)}`);
  checkKnownOptions(options, ['maxPixels', 'maxBytes', 'flatten'], 'decode option');
}

/**
 * Decodes an image file to 8-bit RGB, applying its EXIF orientation, compositing transparency
 * over white (as a viewer shows it: a cut-out portrait's background is white, a fully transparent
 * picture is blank whatever colours it hides), converting greyscale and CMYK to RGB. Throws
 * InputError naming the file and the cause.
 */
export async function decodeImageFile(path: string, options: DecodeOptions = {}): Promise<DecodedImage> {
  if (typeof path !== 'string' || path === '') throw new InputError(`an image path must be a non-empty string, got ${typeof path === 'string' ? "''" : typeof path}`);
  checkDecodeOptions(options);
  const maxBytes = options.maxBytes ?? MAX_IMAGE_BYTES;
  // NaN or a string turned the limit off (every comparison with it false)
  if (!(typeof maxBytes === 'number' && maxBytes > 0)) throw new InputError(`maxBytes must be a positive number, got ${shownValue(maxBytes)}`);
  const st = await statRegularFile(path, 'an image');
  if (st.size === 0) throw new InputError('empty file (0 bytes)', path);
  if (st.size > maxBytes) throw new InputError(`file is ${mib(st.size)}, above the limit of ${mib(maxBytes)}`, path);
  const bytes = await readFile(path).catch((e: unknown) => { throw readFailure(e, path); });
  return decodeImageBuffer(bytes, path, options);
}

/**
 * The stat of an input file that must be a regular file (an image, a video): InputError for a
 * folder, a FIFO, socket or device (which could block a reader), or a path that cannot be read.
 */
export async function statRegularFile(path: string, what: string): Promise<Stats> {
  const st = await stat(path).catch((e: unknown) => { throw readFailure(e, path); });
  if (st.isDirectory()) throw new InputError(`is a folder, not ${what}`, path);
  if (!st.isFile()) throw new InputError(`not a regular file (${fileKind(st)})`, path);
  return st;
}

/** A failed stat or read of an input file as one InputError naming the file and the cause. */
export function readFailure(e: unknown, path: string): InputError {
  if (e instanceof InputError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new InputError('no such file', path);
  if (code === 'EACCES' || code === 'EPERM') return new InputError('permission denied', path);
  if (code === 'ENOTDIR') return new InputError('no such file (a part of the path is a file, not a folder)', path);
  if (code === 'ENAMETOOLONG') return new InputError('file name too long', path);
  if (code === 'ELOOP') return new InputError('a loop of symbolic links', path);
  if (code === 'EIO') return new InputError('cannot read (input/output error: a failing disk or network share)', path);
  return new InputError(`cannot read (${code ?? firstLine(e)})`, path);
}

/** Formats libvips can read that are drawn rather than decoded (refused: their cost is unbounded). */
const VECTOR_FORMATS = new Set(['svg', 'pdf']);

/** What transparency is composited over when a file is decoded (as rgbaToRgbBytes does). */
const FLATTEN_BACKGROUND = '#ffffff';

/** The pipeline with its transparency composited over FLATTEN_BACKGROUND, or as it is. */
function flattened(pipeline: Sharp, flatten: boolean): Sharp {
  return flatten ? pipeline.flatten({ background: FLATTEN_BACKGROUND }) : pipeline;
}

/** Whether sharp's metadata format is a vector drawing (SVG, PDF), which is refused. */
export function isVectorFormat(format: string | undefined): boolean {
  return VECTOR_FORMATS.has(format ?? '');
}

/**
 * A decoded image. `frames`: how many frames or pages the file holds, when more than one (an
 * animated GIF or WebP, a multi-page TIFF); only the first is decoded.
 */
export interface DecodedImage extends RgbImage {
  frames?: number;
  /** With `flatten: false`, an image with an alpha channel's alpha (one byte per pixel, width × height); absent when it has none. */
  alpha?: Uint8Array;
}

/**
 * Decodes image bytes: any raster format libvips reads (JPEG, PNG, WebP, TIFF, GIF, AVIF, …), and
 * PGM/PPM and uncompressed BMP with our own decoder (pnm-bmp.ts). Vector documents (SVG, PDF) are
 * refused.
 */
export async function decodeImageBuffer(bytes: Uint8Array, source = '<buffer>', options: DecodeOptions = {}): Promise<DecodedImage> {
  checkDecodeOptions(options);
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  if (!(bytes instanceof Uint8Array)) throw new InputError(`image bytes must be a Uint8Array or Buffer, got ${bytes === null ? 'null' : typeof bytes}`, source);
  if (!(typeof maxPixels === 'number' && maxPixels > 0)) throw new InputError(`maxPixels must be a positive number, got ${shownValue(maxPixels)}`);
  if (bytes.byteLength === 0) throw new InputError('empty file (0 bytes)', source);
  if (sniffSimpleFormat(bytes)) return decodeSimpleImage(bytes, source, maxPixels);
  let meta: Metadata;
  try {
    meta = await withSharp(() => sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (e) {
    throw new InputError(`not an image or an unsupported format (${sharpCause(e)})`, source);
  }
  // Vector documents are drawn, not decoded: a 600-byte SVG of large blurs took 3 GB and more than
  // ten minutes to draw (the pixel limit bounds the canvas, not the work). Photos only.
  if (isVectorFormat(meta.format)) {
    throw new InputError(`not a photo (${meta.format!.toUpperCase()} is a vector drawing: export it as PNG or JPEG first)`, source);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (!w || !h) throw new InputError('not an image (no dimensions)', source);
  if (w * h > maxPixels) {
    throw new InputError(`image is ${w}×${h} = ${pixelCount(w * h)}, above the limit of ${pixelCount(maxPixels)}`, source);
  }
  if (Math.max(w, h) > MAX_IMAGE_SIDE) throw new InputError(sideMessage(w, h), source);
  const keepAlpha = options.flatten === false && meta.hasAlpha === true;
  try {
    const { data, info } = await withSharp(() =>
      // failOn 'error': a file whose pixel data is missing (a TIFF whose strips lie past its end)
      // is refused, not decoded as a blank picture ('truncated' let it through; 'warning' would
      // also refuse photos with libjpeg's benign warnings). 6,013 shared photos decode with it.
      // What a viewer shows: a transparent pixel is the white it is drawn on, not the colour a
      // cut-out tool left hidden under it (toRgbImage does the same for RGBA pixels).
      // Unflattened, an image with alpha keeps it in the same decode (swap read the file twice for it).
      withAlphaKept(flattened(sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).rotate() /* EXIF orientation */, options.flatten !== false)
        .toColourspace('srgb'), keepAlpha)
        .raw()
        .toBuffer({ resolveWithObject: true }),
    );
    if (info.channels !== (keepAlpha ? 4 : 3)) throw new Error(`decoded to ${info.channels} channels`);
    const decoded = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const image: DecodedImage = keepAlpha ? splitAlpha(decoded, info.width, info.height) : { width: info.width, height: info.height, data: decoded };
    if ((meta.pages ?? 1) > 1) image.frames = meta.pages;
    return image;
  } catch (e) {
    // An iPhone's photo: HEIF holding HEVC, for which sharp's libvips has no decoder.
    // (only when the decoder is what is missing: a damaged HEIC is a damaged file)
    const cause = sharpCause(e);
    if (meta.format === 'heif' && meta.compression === 'hevc' && /not been built in|no decoding plugin|unsupported codec/i.test(cause)) {
      throw new UnsupportedImageError(`${HEIC_HELP} (${cause.split('; ').at(-1)})`, source);
    }
    throw new InputError(`cannot decode image (${sharpCause(e)})`, source);
  }
}

function withAlphaKept(pipeline: Sharp, keep: boolean): Sharp {
  return keep ? pipeline.ensureAlpha() : pipeline.removeAlpha();
}

/** RGBA bytes as the RGB image and its alpha plane. */
function splitAlpha(rgba: Uint8Array, width: number, height: number): DecodedImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  const alpha = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    data[3 * i] = rgba[4 * i];
    data[3 * i + 1] = rgba[4 * i + 1];
    data[3 * i + 2] = rgba[4 * i + 2];
    alpha[i] = rgba[4 * i + 3];
  }
  return { width, height, data, alpha };
}

/** What a HEIC photo's refusal says (the decoder's own words follow it). */
export const HEIC_HELP =
  'a HEIC photo (HEVC-coded, as iPhones save them): this build of libvips has no HEVC decoder; convert it to JPEG first (macOS: sips -s format jpeg IMG.HEIC --out IMG.jpg; Linux: heif-convert IMG.HEIC IMG.jpg), or set the iPhone camera to "Most Compatible"';

export interface PngOptions {
  /**
   * zlib level, 0..9 (default 1: on the CLI's overlays, depth and texture images 0.6× the time of
   * level 3 for files about 10 % larger — 1 % of one face's files, which the OBJs dominate; level 3
   * was itself about 25 % faster than zlib's usual 6 for files about 3 % larger).
   */
  compressionLevel?: number;
}

/** Encodes RGB (3 channels) or grey (1 channel) pixels as PNG. */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3 | 4 = 3, options: PngOptions | null = {}): Promise<Buffer> {
  options ??= {};
  checkKnownOptions(options, ['compressionLevel'], 'encodePng option', { compression: 'compressionLevel' });
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new InputError(`encodePng: the width and height must be whole numbers > 0, got ${String(width)} × ${String(height)}`);
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new InputError(`encodePng: channels must be 1, 3 or 4, got ${String(channels)}`);
  if (!(data instanceof Uint8Array) || data.length !== width * height * channels) {
    throw new InputError(`encodePng: expected ${width} × ${height} × ${channels} = ${width * height * channels} bytes, got ${data instanceof Uint8Array ? data.length : typeof data}`);
  }
  const level = options.compressionLevel ?? 1;
  if (!(Number.isInteger(level) && level >= 0 && level <= 9)) throw new InputError(`encodePng: compressionLevel must be a whole number from 0 to 9, got ${shownValue(level)}`);
  // Under the shared lock too: a failed decode's second, lone run also waits for encodes in flight
  // (libvips' error buffer is the process's; an encode clears it).
  return shared(() => {
    const image = sharp(data, { raw: { width, height, channels } });
    // (sharp writes one raw channel as RGB unless told: grey images three times the bytes)
    return (channels === 1 ? image.toColourspace('b-w') : image).png({ compressionLevel: level }).toBuffer();
  });
}

/*
 * libvips keeps one error buffer for the whole process: when two decodes fail at the same time,
 * one may take the other's message, or find it cleared ("Unknown error"); so may a decode that
 * fails while a PNG encode runs (the folder pipeline writes one photo's files while it decodes the
 * next: a CI run read "cannot decode image (Unknown error)" for a truncated JPEG). Decodes and
 * encodes run concurrently (a shared lock); a decode that fails is run again alone (an exclusive
 * lock: the others in flight finish first, new ones wait), so the message is its own. Only
 * failures pay.
 */
let active = 0;
let exclusive: Promise<void> | null = null;
let idle: (() => void)[] = [];

async function withSharp<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await shared(run);
  } catch {
    return alone(run);
  }
}

async function shared<T>(run: () => Promise<T>): Promise<T> {
  while (exclusive) await exclusive;
  active++;
  try {
    return await run();
  } finally {
    if (--active === 0) {
      const waiting = idle;
      idle = [];
      for (const w of waiting) w();
    }
  }
}

async function alone<T>(run: () => Promise<T>): Promise<T> {
  while (exclusive) await exclusive;
  let release!: () => void;
  exclusive = new Promise<void>((r) => (release = r));
  try {
    while (active > 0) await new Promise<void>((r) => idle.push(r));
    return await run();
  } finally {
    exclusive = null;
    release();
  }
}

/**
 * libvips' message as one line: its lines joined (the first is often only "Input buffer has
 * corrupt header:" with the reason on the next), with "no details" when there is nothing.
 */
export function sharpCause(e: unknown): string {
  const lines = (e instanceof Error ? e.message : String(e)).split('\n').map((l) => l.trim()).filter(Boolean);
  // A cause libvips repeats (once after sharp's own words, once on its own line) is said once.
  const seen = new Set<string>();
  const kept = lines.filter((l) => {
    const cause = l.replace(/^.*?(Vips\w*: )/, '$1');
    if (seen.has(cause)) return false;
    seen.add(cause);
    return true;
  });
  let text = kept.join('; ').replace(/:\s*$/, '').replace(/\s+/g, ' ');
  if (!text) text = 'no details';
  if (/corrupt header$/i.test(text)) text += ': unrecognised or damaged file header';
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function mib(n: number): string {
  // below a MiB in bytes: a limit of 100 bytes read "0.00 MiB"
  return n < 2 ** 20 ? `${Math.round(n)} bytes` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}


/** What a path that is not a regular file is, for messages ("a FIFO", "a socket", …). */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a file';
}
