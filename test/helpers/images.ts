/**
 * Image fixtures, generated at test time (nothing binary is committed): bad files (text, truncated,
 * empty, a huge-dimension header), colour variants (greyscale, alpha, CMYK), EXIF-rotated photos,
 * and face-free images.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { heicOf } from './heic.js';
import { AFLW_PHOTO, ASTRONAUT } from './paths.js';

/** PNG chunk: length, type, data, CRC-32 of type + data. */
function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([head, body, tail]);
}

/** A greyscale PNG of `depth` bits whose IDAT holds `rows` (deflated), whatever the header says. */
function greyPng(width: number, height: number, depth: number, rows: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', rows), pngChunk('IEND', new Uint8Array(0))]);
}

/**
 * A ~100-byte 8-bit greyscale PNG whose header says width × height; its IDAT holds only the
 * first rows, so decoding it would have to allocate the full size before noticing.
 */
export function pngHeaderOnly(width: number, height: number): Buffer {
  return greyPng(width, height, 8, deflateSync(Buffer.alloc((width + 1) * 4)));
}

/** A black PNG of any size, small to send (1-bit greyscale, every row zero): its decoded pixels are the cost. */
export function blackPng(width: number, height: number): Buffer {
  return greyPng(width, height, 1, deflateSync(Buffer.alloc((Math.ceil(width / 8) + 1) * height), { level: 9 }));
}

/** A smooth colour gradient (no face), as PNG. */
export async function gradientPng(width = 400, height = 300): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      data[i] = Math.round((255 * x) / (width - 1));
      data[i + 1] = Math.round((255 * y) / (height - 1));
      data[i + 2] = 128;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export interface BadFixtures {
  missing: string;
  text: string;
  truncated: string;
  empty: string;
  huge: string;
  gradient: string;
  /** An iPhone-style HEIC photo (HEVC in HEIF), which sharp's libvips cannot decode. */
  heic: string;
}

/** The bad inputs, written into `dir` (`missing` is a path that does not exist). */
export async function writeBadFixtures(dir: string): Promise<BadFixtures> {
  const f: BadFixtures = {
    missing: join(dir, 'missing.jpg'),
    text: join(dir, 'notes.jpg'),
    truncated: join(dir, 'truncated.jpg'),
    empty: join(dir, 'empty.jpg'),
    huge: join(dir, 'huge.png'),
    gradient: join(dir, 'gradient.png'),
    heic: join(dir, 'IMG_0001.HEIC'),
  };
  const jpeg = await readFile(AFLW_PHOTO);
  await Promise.all([
    writeFile(f.text, 'This is a text file with a .jpg name, not an image.\n'),
    writeFile(f.truncated, jpeg.subarray(0, jpeg.length >> 1)),
    writeFile(f.empty, new Uint8Array(0)),
    writeFile(f.huge, pngHeaderOnly(30000, 30000)),
    gradientPng().then((b) => writeFile(f.gradient, b)),
    heicOf(AFLW_PHOTO).then((b) => writeFile(f.heic, b)),
  ]);
  return f;
}

export interface GoodFixtures {
  /** 8-bit greyscale PNG (1 channel) of the astronaut. */
  grey: string;
  /** RGBA PNG, half-transparent. */
  alpha: string;
  /** CMYK JPEG. */
  cmyk: string;
  /** The astronaut squeezed to 512×384, upright, no EXIF orientation (the reference for the rotated ones). */
  upright: string;
  /** The same picture stored rotated (384×512) with EXIF orientation 6: shown upright, 512×384. */
  exif6: string;
  /** The same with EXIF orientation 8. */
  exif8: string;
}

/** Inputs that must work, written into `dir`. */
export async function writeGoodFixtures(dir: string): Promise<GoodFixtures> {
  const f: GoodFixtures = {
    grey: join(dir, 'grey.png'),
    alpha: join(dir, 'alpha.png'),
    cmyk: join(dir, 'cmyk.jpg'),
    upright: join(dir, 'upright.jpg'),
    exif6: join(dir, 'exif6.jpg'),
    exif8: join(dir, 'exif8.jpg'),
  };
  const upright = await sharp(ASTRONAUT).resize(512, 384, { fit: 'fill' }).jpeg({ quality: 95 }).toBuffer();
  await Promise.all([
    sharp(ASTRONAUT).toColourspace('b-w').png().toFile(f.grey),
    sharp(ASTRONAUT).ensureAlpha(0.5).png().toFile(f.alpha),
    sharp(ASTRONAUT).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(f.cmyk),
    writeFile(f.upright, upright),
    // Orientation 6: the viewer turns the stored pixels 90° clockwise, so store them turned 90° anticlockwise.
    sharp(upright).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toFile(f.exif6),
    // Orientation 8: the viewer turns them 90° anticlockwise.
    sharp(upright).rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 95 }).toFile(f.exif8),
  ]);
  return f;
}

/** A photo resized in memory (e.g. 640×480 for benchmarks), as RGB JPEG bytes. */
export async function resizedJpeg(path: string, width: number, height: number): Promise<Buffer> {
  return sharp(path).resize(width, height, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
}

/** Width and height from a PNG's IHDR (throws when the bytes are not a PNG). */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || sig.some((b, i) => bytes[i] !== b)) throw new Error('not a PNG');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}
