/**
 * Photos turned without their EXIF tag: how many faces the detector finds in photos turned by 90°,
 * 180° and 270°, and how many more the pipeline's turned looks find (Prnet.reconstruct with the
 * orientation step; pipeline/prnet.ts, detectTurned), with the found faces' 68 landmarks against
 * the upright photo's turned alike (mean distance in landmark-box sides). Then false faces: strips
 * of web photos away from every face found in them, which no look should call a face.
 *
 *   npx tsx scripts/turned-looks.ts [--every 1]   (every n-th photo of each set; ~10 min at 1)
 *
 * Sets: eval/portraits (14), eval/afw68 (every 6th), faces/utkface (every 100th), faces/webfaces
 * (every 40th); the strips from every 8th webfaces photo. docs/detectors.md, "Orientation".
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createPrnet } from '../src/index.js';
import { decodeImageBuffer } from '../src/io/image-node.js';
import type { RgbImage } from '../src/types.js';

const SHARED = join(import.meta.dirname, '..', '..', 'shared');
const { values } = parseArgs({ options: { every: { type: 'string', default: '1' } } });
const every = Number(values.every);
const SETS: [string, number][] = [['eval/portraits', 1], ['eval/afw68', 6], ['faces/utkface', 100], ['faces/webfaces', 40]];

const prnet = await createPrnet();
const detector = prnet.detector!;
const photo = async (file: string, angle: number): Promise<RgbImage> => decodeImageBuffer(await sharp(file).rotate(angle).png().toBuffer());

/** The upright landmarks turned clockwise by `angle` in a W × H photo (pixel centres). */
function turned(l: Float32Array, angle: number, W: number, H: number): Float32Array {
  const out = new Float32Array(l.length);
  for (let i = 0; i < l.length; i += 3) {
    const x = l[i] + 0.5, y = l[i + 1] + 0.5;
    const [u, v] = angle === 90 ? [H - y, x] : angle === 180 ? [W - x, H - y] : [y, W - x];
    out[i] = u - 0.5;
    out[i + 1] = v - 0.5;
  }
  return out;
}

for (const [rel, step] of SETS) {
  const dir = join(SHARED, rel);
  const files = readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().filter((_, i) => i % (step * every) === 0);
  const rows: string[] = [];
  for (const angle of [90, 180, 270]) {
    let plain = 0, more = 0, uprightFaces = 0;
    const found: string[] = [];
    for (const f of files) {
      const up = await photo(join(dir, f), 0);
      if (!(await detector.detect(up)).length) continue;
      uprightFaces++;
      const image = await photo(join(dir, f), angle);
      if ((await detector.detect(image)).length) {
        plain++;
        continue;
      }
      const r = await prnet.reconstruct(image);
      if (!r.faces.length) continue;
      more++;
      const ref = (await prnet.reconstruct(up)).faces[0];
      const want = turned(ref.landmarks, angle, up.width, up.height);
      const got = r.faces[0].landmarks;
      let d = 0, lo = Infinity, hi = -Infinity;
      for (let i = 0; i < 68; i++) {
        d += Math.hypot(got[3 * i] - want[3 * i], got[3 * i + 1] - want[3 * i + 1]);
        lo = Math.min(lo, want[3 * i]);
        hi = Math.max(hi, want[3 * i]);
      }
      found.push(`${f} ${r.faces[0].box.score.toFixed(2)}: ${(d / 68 / (hi - lo)).toFixed(3)}`);
    }
    rows.push(`${angle}°: ${plain} found by the detector, ${more} more by the turned looks, of ${uprightFaces} found upright${found.length ? ` (photo, score: landmarks off the upright's, in face widths: ${found.join('; ')})` : ''}`);
  }
  console.log(`${rel}, ${files.length} photos:\n  ${rows.join('\n  ')}`);
}

// Strips without a face: the top or bottom third of a web photo, where no face found lies within
// half a face's size of it; no face should be found there, upright or turned.
const webDir = join(SHARED, 'faces', 'webfaces');
let strips = 0, falseUpright = 0, falseTurned = 0;
for (const f of readdirSync(webDir).filter((n) => /\.jpe?g$/i.test(n)).sort().filter((_, i) => i % (8 * every) === 0)) {
  const image = await photo(join(webDir, f), 0);
  const faces = await detector.detect(image);
  for (const top of [true, false]) {
    const h = Math.floor(image.height / 3);
    const y0 = top ? 0 : image.height - h;
    if (h < 64 || faces.some((b) => b.y - b.height / 2 < y0 + h && b.y + 1.5 * b.height > y0)) continue;
    const strip: RgbImage = { width: image.width, height: h, data: image.data.slice(y0 * image.width * 3, (y0 + h) * image.width * 3) };
    strips++;
    if ((await detector.detect(strip)).length) {
      falseUpright++;
      continue;
    }
    if ((await prnet.reconstruct(strip)).faces.length) falseTurned++;
  }
}
console.log(`strips without a face: ${strips}; a face found by the detector in ${falseUpright}, by the turned looks in ${falseTurned} more`);
await prnet.dispose();
