/**
 * Pixel layouts the library accepts, converted to its RgbImage (pure, browser-safe): packed RGB,
 * RGBA (canvas ImageData, sharp's `ensureAlpha()` output, WebCodecs frames copied to RGBA) and
 * greyscale, told apart by the byte count per pixel.
 */
import { InputError } from '../errors.js';
import type { RgbImage } from '../types.js';

/** width × height pixels of 1 (grey), 3 (RGB) or 4 (RGBA) bytes, row-major, no padding — ImageData has this shape. */
export interface PixelImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** Whether a value has PixelImage's shape (width, height and a byte array). */
export function isPixelImage(x: unknown): x is PixelImage {
  if (!x || typeof x !== 'object') return false;
  const o = x as Partial<PixelImage>;
  return typeof o.width === 'number' && typeof o.height === 'number' && (o.data instanceof Uint8Array || o.data instanceof Uint8ClampedArray);
}

/**
 * An RgbImage of grey, RGB or RGBA pixels (RGBA composited over white, grey replicated). RGB bytes in a
 * Uint8Array are returned as they are (no copy); a Uint8ClampedArray is viewed, not copied.
 * Throws InputError when the byte count is not width × height × 1, 3 or 4.
 */
export function toRgbImage(image: PixelImage): RgbImage {
  const { width, height } = image;
  if (!isPixelImage(image) || !(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    // An <img>, <canvas> or <video> (what the browser's reconstruct takes) is not pixels yet.
    const element = typeof image === 'object' && image !== null && !('data' in image) && 'width' in image;
    throw new InputError(`not an image: expected { width, height, data } with whole positive sizes and a byte array${element ? ' (in a browser, an <img>, <canvas>, <video> or ImageBitmap: imageToRgb(it) from prnet-ts/browser gives its pixels)' : ''}`);
  }
  const n = width * height;
  const src = image.data;
  const channels = src.length / n;
  if (channels === 3) {
    if (src instanceof Uint8Array) return image as RgbImage;
    return { width, height, data: new Uint8Array(src.buffer, src.byteOffset, src.length) };
  }
  if (channels !== 4 && channels !== 1) {
    throw new InputError(`expected ${width}×${height} pixels of 3 (RGB), 4 (RGBA) or 1 (grey) bytes, got ${src.length} bytes`);
  }
  if (channels === 4) return { width, height, data: rgbaToRgbBytes(src, n) };
  const data = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) data[j] = data[j + 1] = data[j + 2] = src[i];
  return { width, height, data };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The RGB bytes of n RGBA pixels, each composited over white by its alpha (an opaque pixel's
 * colour as it is; a transparent one white, as a viewer draws it, and as decodeImageFile does for
 * files). Four pixels at a time as 32-bit words where the platform is little-endian and the bytes
 * are 4-aligned (0.5–0.6× the time of a byte loop on a 640×480 frame; a camera frame is opaque,
 * so the blend is only paid for the pixels that need it), else byte by byte; the same bytes
 * either way.
 */
export function rgbaToRgbBytes(rgba: Uint8Array | Uint8ClampedArray, n: number): Uint8Array {
  const data = new Uint8Array(n * 3);
  let start = 0;
  if (LITTLE_ENDIAN && rgba.byteOffset % 4 === 0) {
    const src = new Uint32Array(rgba.buffer, rgba.byteOffset, n);
    const n4 = n & ~3;
    const out = new Uint32Array(data.buffer, 0, (n4 * 3) >> 2);
    for (let i = 0, j = 0; i < n4; i += 4, j += 3) {
      const w0 = src[i];
      const w1 = src[i + 1];
      const w2 = src[i + 2];
      const w3 = src[i + 3];
      if ((w0 & w1 & w2 & w3) >>> 24 !== 255) {
        for (let p = i; p < i + 4; p++) overWhite(rgba, data, p);
        continue;
      }
      const p0 = w0 & 0xffffff;
      const p1 = w1 & 0xffffff;
      const p2 = w2 & 0xffffff;
      const p3 = w3 & 0xffffff;
      out[j] = p0 | (p1 << 24);
      out[j + 1] = (p1 >>> 8) | (p2 << 16);
      out[j + 2] = (p2 >>> 16) | (p3 << 8);
    }
    start = n4;
  }
  for (let p = start; p < n; p++) overWhite(rgba, data, p);
  return data;
}

/** Pixel p of rgba composited over white into rgb: 255 − (255 − c) · a / 255, rounded. */
function overWhite(rgba: Uint8Array | Uint8ClampedArray, rgb: Uint8Array, p: number): void {
  const i = 4 * p;
  const j = 3 * p;
  const a = rgba[i + 3];
  if (a === 255) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
    return;
  }
  rgb[j] = 255 - Math.round(((255 - rgba[i]) * a) / 255);
  rgb[j + 1] = 255 - Math.round(((255 - rgba[i + 1]) * a) / 255);
  rgb[j + 2] = 255 - Math.round(((255 - rgba[i + 2]) * a) / 255);
}
