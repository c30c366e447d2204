import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { rgbaToRgbBytes, toRgbImage } from '../src/io/pixels.js';
import { createWebSession, rgbaToRgb } from '../src/browser.js';
import { InputError } from '../src/errors.js';
import { randomWeights } from '../src/model/weights.js';
import { SMALL_CONFIG } from './helpers/model.js';

const PHOTO = new URL('../../shared/eval/portraits/astronaut.png', import.meta.url).pathname;

/** The byte loop the word-at-a-time conversion replaces. */
function reference(rgba: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(3 * n);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[3 * p + c] = rgba[4 * p + c];
  return out;
}

describe('RGBA → RGB', () => {
  it('gives the byte loop\'s bytes on a real photo, for every pixel count modulo 4 and an unaligned view', async () => {
    const { data, info } = await sharp(PHOTO).resize(161, 97).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const rgba = new Uint8Array(data.buffer, data.byteOffset, data.length);
    expect(info.channels).toBe(4);
    for (const n of [161 * 97, 161 * 97 - 1, 161 * 97 - 2, 161 * 97 - 3, 1, 0]) {
      const copy = rgba.slice(0, 4 * n); // aligned (offset 0)
      expect(rgbaToRgbBytes(copy, n)).toEqual(reference(copy, n));
    }
    // A view at an odd byte offset takes the byte-by-byte path.
    const shifted = new Uint8Array(rgba.length + 1);
    shifted.set(rgba, 1);
    const view = shifted.subarray(1);
    expect(rgbaToRgbBytes(view, 161 * 97)).toEqual(reference(rgba, 161 * 97));
    // Clamped arrays (ImageData) and the library's entry points agree.
    const clamped = new Uint8ClampedArray(rgba);
    expect(rgbaToRgb(clamped, 161, 97).data).toEqual(reference(rgba, 161 * 97));
    expect(toRgbImage({ width: 161, height: 97, data: clamped }).data).toEqual(reference(rgba, 161 * 97));
  });
});

describe('the browser entry\'s session options', () => {
  it('createWebSession refuses threads that are not a whole number ≥ 1, before anything loads (InputError, as in Node)', async () => {
    for (const threads of [NaN, 0, 1.5, -2]) {
      await expect(createWebSession(randomWeights(SMALL_CONFIG, 1), { threads })).rejects.toThrow(/^threads must be a whole number ≥ 1, got /);
      await expect(createWebSession(randomWeights(SMALL_CONFIG, 1), { threads })).rejects.toBeInstanceOf(InputError);
    }
  });
});
