import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../src/io/image-node.js';
import { crc32, isMarkedPng, markPng, PNG_MARK_HEAD } from '../src/io/png-mark.js';

/** A PNG's chunk: length, type, data, CRC. */
function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A 2 × 1 RGB PNG with the given chunks between its header and its image data. */
function pngWith(...extra: Buffer[]): Buffer {
  const ihdr = Buffer.from([0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  const idat = deflateSync(Buffer.from([0, 255, 0, 0, 0, 0, 255]));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...extra, chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

describe('the mark in our PNGs', () => {
  it('CRC-32 is PNG\'s (the IEND chunk\'s is AE426082)', () => {
    expect(crc32(Buffer.from('IEND', 'latin1')).toString(16)).toBe('ae426082');
    expect(crc32(Buffer.from('123456789', 'latin1')).toString(16)).toBe('cbf43926');
  });

  it('is a tEXt chunk after the header that decoders read, the pixels unchanged, found in the first bytes', async () => {
    const plain = await encodePng(new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]), 2, 2, 3);
    expect(isMarkedPng(plain)).toBe(false);
    const marked = markPng(plain, '1.2.3');
    expect(marked.length).toBe(plain.length + 12 + 'Software\0prnet-ts 1.2.3'.length);
    expect(isMarkedPng(marked)).toBe(true);
    expect(isMarkedPng(marked.subarray(0, PNG_MARK_HEAD))).toBe(true);
    const meta = await sharp(marked).metadata();
    expect(meta.comments).toEqual([{ keyword: 'Software', text: 'prnet-ts 1.2.3' }]);
    expect(await sharp(marked).raw().toBuffer()).toEqual(await sharp(plain).raw().toBuffer());
    // no version, or one that is not plain text: the name alone
    expect((await sharp(markPng(plain)).metadata()).comments).toEqual([{ keyword: 'Software', text: 'prnet-ts' }]);
    expect((await sharp(markPng(plain, 'a\nb')).metadata()).comments).toEqual([{ keyword: 'Software', text: 'prnet-ts' }]);
  });

  it('is not found in other PNGs: another program\'s Software, a look-alike text, a bad CRC, a head cut short, text after the image data', () => {
    const text = (s: string): Buffer => chunk('tEXt', Buffer.from(s, 'latin1'));
    expect(isMarkedPng(pngWith(text('Software\0prnet-ts 0.4.0')))).toBe(true);
    // a chunk before it (a gamma chunk) does not hide it
    expect(isMarkedPng(pngWith(chunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f])), text('Software\0prnet-ts')))).toBe(true);
    expect(isMarkedPng(pngWith(text('Software\0GIMP 2.10')))).toBe(false);
    expect(isMarkedPng(pngWith(text('Software\0prnet-tsx')))).toBe(false);
    expect(isMarkedPng(pngWith(text('Comment\0prnet-ts')))).toBe(false);
    const bad = pngWith(text('Software\0prnet-ts'));
    bad[33 + 8 + 'Software\0prnet-ts'.length] ^= 1; // its CRC's first byte
    expect(isMarkedPng(bad)).toBe(false);
    const good = pngWith(text('Software\0prnet-ts'));
    expect(isMarkedPng(good.subarray(0, 40))).toBe(false);
    // after IDAT: not among the chunks read
    const late = Buffer.concat([pngWith().subarray(0, -12), text('Software\0prnet-ts'), chunk('IEND', new Uint8Array(0))]);
    expect(isMarkedPng(late)).toBe(false);
  });

  it('leaves bytes that are not a PNG as they are', () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...new Array(60).fill(0)]);
    expect(markPng(jpeg)).toBe(jpeg);
    expect(isMarkedPng(jpeg)).toBe(false);
    expect(isMarkedPng(new Uint8Array(0))).toBe(false);
  });
});
