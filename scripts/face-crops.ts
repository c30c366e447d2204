/**
 * Real face crops for the network scripts (calibrate-int8.ts, network-bench.ts): each photo is
 * decoded, its largest face found by the pipeline's detector, and cropped by the pipeline's
 * box → crop rule to the 256² float crop the network sees.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cropFromBox, warpCrop } from '../src/crop/index.js';
import { createDetector } from '../src/detect/index.js';
import { decodeImageFile } from '../src/io/image-node.js';
import type { FloatImage } from '../src/types.js';

/** The image files of a folder, sorted by name. */
export async function listImages(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  return names.map((n) => join(dir, n));
}

/** One crop per photo (its largest face); photos without a face are skipped. */
export async function faceCrops(paths: readonly string[], limit = Infinity): Promise<{ path: string; crop: FloatImage }[]> {
  const detector = await createDetector();
  const out: { path: string; crop: FloatImage }[] = [];
  for (const path of paths) {
    if (out.length >= limit) break;
    const image = await decodeImageFile(path);
    const [box] = await detector.detect(image);
    if (box) out.push({ path, crop: warpCrop(image, cropFromBox(box, detector.kind)) });
  }
  return out;
}
