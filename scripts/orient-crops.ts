/**
 * Training crops for the face-orientation network (training/orient.py): each face the product
 * finds in upright photos of ../shared/faces (webfaces, misc, every 4th UTKFace chip; never AFLW),
 * cropped as the detector's crop square turned by the face's own roll (landmarkRoll of its
 * reconstruction), at 1.5× the side so that the trainer can turn it by any angle and cut the
 * middle without black corners. Written to <out>/crops.u8 (N × SIZE × SIZE × 3 bytes) and
 * <out>/crops.json (count, size, and per crop its source, detector score and head yaw in degrees:
 * the yaws show how few profiles these photos hold — 7 of 7,215 crops past 45° at --min-score 0.5 —
 * which is why the network misreads upright far-turned profiles, scripts/orient-check.ts).
 *
 *   npx tsx scripts/orient-crops.ts --out .train/orient [--utk-step 4] [--min-score 0.75] [--limit n]
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPrnet } from '../src/pipeline/node.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { cropTransform, landmarkRoll, warpCrop } from '../src/crop/index.js';
import { rotationToAngles } from '../src/geometry/pose.js';
import { SHARED } from '../test/helpers/paths.js';

/** Side of a stored crop in pixels (1.5 × the crop square's side). */
export const ORIENT_STORE = 96;
/** The stored crop's side over the crop square's. */
export const ORIENT_MARGIN = 1.5;

const { values } = parseArgs({ options: { out: { type: 'string' }, 'utk-step': { type: 'string' }, 'min-score': { type: 'string' }, limit: { type: 'string' } } });
if (!values.out) throw new Error('usage: npx tsx scripts/orient-crops.ts --out <dir> [--utk-step 4] [--min-score 0.75] [--limit n]');
const utkStep = Number(values['utk-step'] ?? 4);
const minScore = Number(values['min-score'] ?? 0.75);
const limit = values.limit ? Number(values.limit) : Infinity;

const FACES = join(SHARED, 'faces');
const list = async (dir: string, step = 1): Promise<string[]> =>
  (await readdir(join(FACES, dir))).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort().filter((_, i) => i % step === 0).map((n) => join(FACES, dir, n));
const files = [...(await list('webfaces')), ...(await list('misc')), ...(await list('utkface', utkStep))].slice(0, limit);

// The crops as the detector makes them, without the orientation network they train.
const prnet = await createPrnet({ model: 'default', orientation: false });
const chunks: Uint8Array[] = [];
const sources: string[] = [];
const scores: number[] = [];
const yaws: number[] = [];
let done = 0;
const t0 = Date.now();
for (const file of files) {
  done++;
  let image;
  try {
    image = await decodeImageFile(file);
  } catch {
    continue;
  }
  const { faces } = await prnet.reconstruct(image, { flip: false });
  for (const face of faces) {
    // Sure faces wholly in the photo, large enough to show their orientation.
    if (face.box.score < minScore || face.inImage < 0.98 || face.crop.square.side < 48) continue;
    const roll = landmarkRoll(face.landmarks);
    if (roll === null) continue;
    const s = face.crop.square;
    const crop = warpCrop(image, cropTransform({ cx: s.cx, cy: s.cy, side: s.side * ORIENT_MARGIN, angle: roll }, ORIENT_STORE));
    chunks.push(Uint8Array.from(crop.data, (v) => Math.round(v * 255)));
    sources.push(`${file.slice(FACES.length + 1)}#${face.index}`);
    scores.push(Math.round(face.box.score * 1000) / 1000);
    yaws.push(Math.round(rotationToAngles(face.pose.rotation).yaw * 10) / 10);
  }
  if (done % 200 === 0) process.stderr.write(`${done}/${files.length} photos, ${sources.length} crops, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}
await prnet.dispose();
await mkdir(values.out, { recursive: true });
const all = new Uint8Array(chunks.length * ORIENT_STORE * ORIENT_STORE * 3);
chunks.forEach((c, i) => all.set(c, i * c.length));
await writeFile(join(values.out, 'crops.u8'), all);
await writeFile(join(values.out, 'crops.json'), JSON.stringify({ count: chunks.length, size: ORIENT_STORE, margin: ORIENT_MARGIN, sources, scores, yaws }));
process.stderr.write(`${sources.length} crops from ${files.length} photos in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
