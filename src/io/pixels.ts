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
 * An RgbImage of grey, RGB or RGBA pixels (alpha dropped, grey replicated). RGB bytes in a
 * Uint8Array are returned as they are (no copy); a Uint8ClampedArray is viewed, not copied.
 * Throws InputError when the byte count is not width × height × 1, 3 or 4.
 */
export function toRgbImage(image: PixelImage): RgbImage {
  const { width, height } = image;
  if (!isPixelImage(image) || !(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new InputError('not an image: expected { width, height, data } with whole positive sizes and a byte array');
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
  const data = new Uint8Array(n * 3);
  if (channels === 4) {
    for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
      data[j] = src[i];
      data[j + 1] = src[i + 1];
      data[j + 2] = src[i + 2];
    }
  } else {
    for (let i = 0, j = 0; i < n; i++, j += 3) data[j] = data[j + 1] = data[j + 2] = src[i];
  }
  return { width, height, data };
}
