/**
 * Makes docs/images/texture-completion.png for the README: the UV texture before (the photo only,
 * texels the camera does not see black — PRNet's original) and after completion (mirrored side,
 * blended seam, pull-push fill) for a frontal and two turned faces, with the share of black texels
 * inside the face. Prints the numbers it writes into the figure.
 *
 *   npx tsx scripts/make-texture-figure.ts
 *
 * Reads examples/astronaut.jpg and two AFLW2000-3D photos from ../shared/eval/aflw2000-3d.
 */
import { resolve } from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { decodeImageFile } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { faceTexture } from '../src/pipeline/face.js';
import type { RgbImage } from '../src/types.js';

const ROOT = resolve(import.meta.dirname, '..');
const AFLW = resolve(ROOT, '../shared/eval/aflw2000-3d');
const INPUTS = [
  ['frontal', resolve(ROOT, 'examples/astronaut.jpg')],
  ['turned', resolve(AFLW, 'image00516.jpg')],
  ['turned far', resolve(AFLW, 'image00475.jpg')],
] as const;
const OUT = resolve(ROOT, 'docs/images/texture-completion.png');
const P = 256; // panel side
const LABEL = 22;

const prnet = await createPrnet();
const layout = prnet.layout;
const raw = (img: RgbImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
const blackShare = (tex: RgbImage): number => {
  let black = 0;
  for (const p of layout.faceIndex) if (tex.data[3 * p] === 0 && tex.data[3 * p + 1] === 0 && tex.data[3 * p + 2] === 0) black++;
  return black / layout.vertexCount;
};
const text = (s: string, w: number) =>
  Buffer.from(`<svg width="${w}" height="${LABEL}"><rect width="100%" height="100%" fill="#fff"/><text x="6" y="16" font-family="sans-serif" font-size="14" fill="#000">${s}</text></svg>`);

const tiles: OverlayOptions[] = [];
let row = 0;
for (const [name, file] of INPUTS) {
  const image = await decodeImageFile(file);
  const { faces } = await prnet.reconstruct(image, { maxFaces: 1 });
  const face = faces[0];
  const before = faceTexture(image, face, layout, { complete: false }).texture;
  const after = faceTexture(image, face, layout);
  const b = blackShare(before);
  const a = blackShare(after.texture);
  const s = after.sources!;
  const line = `${name} (${file.split('/').pop()}, yaw ${face.pose.yaw.toFixed(0)}°): black texels inside the face ${(100 * b).toFixed(1)} % → ${(100 * a).toFixed(1)} %; ` +
    `after: ${(100 * s.own).toFixed(1)} % own, ${(100 * s.mirrored).toFixed(1)} % mirrored, ${(100 * s.filled).toFixed(1)} % filled`;
  process.stdout.write(`${line}\n`);
  const { cx, cy, side } = face.crop.square;
  const c = Math.round(side);
  const left = Math.max(0, Math.min(image.width - c, Math.round(cx - c / 2)));
  const top = Math.max(0, Math.min(image.height - c, Math.round(cy - c / 2)));
  const photo = await raw(image).extract({ left, top, width: Math.min(c, image.width), height: Math.min(c, image.height) }).resize(P, P).png().toBuffer();
  const y = row * (P + LABEL);
  tiles.push(
    { input: text(`${name}: photo (yaw ${face.pose.yaw.toFixed(0)}°)`, P), left: 0, top: y },
    { input: text(`before: ${(100 * b).toFixed(1)} % black`, P), left: P, top: y },
    { input: text(`after: ${(100 * a).toFixed(1)} % black`, P), left: 2 * P, top: y },
    { input: photo, left: 0, top: y + LABEL },
    { input: await raw(before).png().toBuffer(), left: P, top: y + LABEL },
    { input: await raw(after.texture).png().toBuffer(), left: 2 * P, top: y + LABEL },
  );
  row++;
}
await sharp({ create: { width: 3 * P, height: row * (P + LABEL), channels: 3, background: '#fff' } })
  .composite(tiles)
  .png({ compressionLevel: 9 })
  .toFile(OUT);
await prnet.dispose();
process.stderr.write(`wrote ${OUT}\n`);
