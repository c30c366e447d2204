/**
 * The benchmarks' photos: nine 640×480 JPEGs (three AFLW2000-3D faces, three iBUG group photos,
 * three portraits from ../shared/eval, cropped to fill), and the same photos decoded. A photo
 * missing from ../shared is replaced by examples/astronaut.jpg, so the benchmarks run anywhere.
 * Used by bench/pipeline.ts (`npm run bench`), bench/folder.ts and scripts/stage-profile.ts.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { decodeImageBuffer } from '../src/io/image-node.js';
import type { RgbImage } from '../src/types.js';

const repo = resolve(import.meta.dirname, '..');
const shared = resolve(repo, '..', 'shared', 'eval');

export const BENCH_PHOTOS = [
  'aflw2000-3d/image00050.jpg', 'aflw2000-3d/image00475.jpg', 'aflw2000-3d/image03614.jpg',
  'ibug68/2008_001322.jpg', 'ibug68/2008_001009.jpg', 'ibug68/einstein.jpg',
  'portraits/astronaut.png', 'portraits/bjork.jpg', 'portraits/dj_krush.jpg',
] as const;

/** The nine photos as 640×480 JPEG bytes (quality 92) and decoded, in BENCH_PHOTOS order. */
export async function loadBenchPhotos(): Promise<{ jpegs: Buffer[]; photos: RgbImage[] }> {
  const jpegs: Buffer[] = [];
  const photos: RgbImage[] = [];
  for (const p of BENCH_PHOTOS) {
    const file = join(shared, p);
    const src = existsSync(file) ? file : join(repo, 'examples', 'astronaut.jpg');
    const jpeg = await sharp(await readFile(src)).removeAlpha().resize(640, 480, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
    jpegs.push(jpeg);
    photos.push(await decodeImageBuffer(jpeg, p));
  }
  return { jpegs, photos };
}
