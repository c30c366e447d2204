/**
 * Real photos with approximate targets, for looking at the trainer's augmentation (not for
 * training): the shipped default model reconstructs the largest face of each photo, and the
 * photo is cut to a square 2 × the face's PRNet crop (clamped to the photo) and scaled to ≤ 256 px;
 * the vertices follow. `training/pack.py --from-vertices DIR OUT` turns the folder into a pack
 * (the vertices fitted by least squares in the pack's coefficient form), which
 * `training/selftest.py --preview PNG --pack OUT` draws.
 *
 *   npx tsx scripts/preview-pack.ts --out tmp/preview-src [--count 16] [photos…]
 *
 * Default photos: every n-th of ../shared/faces/webfaces and misc (never AFLW).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { squareFromLandmarks } from '../src/crop/rules.js';
import { createPrnet } from '../src/index.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { sharedDir } from '../tools/data/tddfa.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const out = opt('out', 'tmp/preview-src');
const count = Number(opt('count', '16'));
let photos = args;
if (!photos.length) {
  const faces = join(sharedDir(), 'faces');
  const pick = (set: string, n: number): string[] => {
    const all = readdirSync(join(faces, set)).filter((f) => /\.jpe?g$/i.test(f)).sort();
    const step = Math.floor(all.length / n);
    return all.filter((_, i) => i % step === 7).slice(0, n).map((f) => join(faces, set, f));
  };
  photos = [...pick('webfaces', Math.ceil(count * 0.75) + 4), ...pick('misc', Math.ceil(count * 0.25) + 2)];
}
mkdirSync(out, { recursive: true });
const prnet = await createPrnet();
const verts: Float32Array[] = [];
const names: string[] = [];
for (const file of photos) {
  if (names.length >= count) break;
  const image = await decodeImageFile(file);
  const [face] = (await prnet.reconstruct(image)).faces;
  if (!face) continue;
  const sq = squareFromLandmarks(face.landmarks, 3);
  const half = sq.side; // a square of 2 × the crop side
  const left = Math.max(0, Math.floor(sq.cx - half));
  const top = Math.max(0, Math.floor(sq.cy - half));
  const w = Math.min(image.width, Math.ceil(sq.cx + half)) - left;
  const h = Math.min(image.height, Math.ceil(sq.cy + half)) - top;
  if (sq.side < 60 || w < 32 || h < 32) continue;
  const s = Math.min(1, 256 / Math.max(w, h));
  const W = Math.max(1, Math.round(w * s));
  const H = Math.max(1, Math.round(h * s));
  const sx = W / w;
  const sy = H / h;
  const jpeg = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width: w, height: h }).resize(W, H).jpeg({ quality: 92 }).toBuffer();
  const v = new Float32Array(face.vertices.length);
  // resize maps pixel centres: x' + 0.5 = (x - left + 0.5) · sx
  for (let i = 0; i < v.length; i += 3) {
    v[i] = (face.vertices[i] - left + 0.5) * sx - 0.5;
    v[i + 1] = (face.vertices[i + 1] - top + 0.5) * sy - 0.5;
    v[i + 2] = face.vertices[i + 2] * (sx + sy) / 2;
  }
  const name = `p${String(names.length).padStart(3, '0')}.jpg`;
  writeFileSync(join(out, name), jpeg);
  verts.push(v);
  names.push(name);
}
const all = new Float32Array(verts.length * verts[0].length);
verts.forEach((v, i) => all.set(v, i * v.length));
writeFileSync(join(out, 'vertices.f32'), Buffer.from(all.buffer));
writeFileSync(join(out, 'files.txt'), names.join('\n') + '\n');
console.log(`wrote ${names.length} photos and their vertices (shipped default model) to ${out}`);
