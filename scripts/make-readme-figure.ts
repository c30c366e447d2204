/**
 * Makes docs/images/astronaut-outputs.png for the README: the bundled default model's outputs on
 * examples/astronaut.jpg (landmarks, pose box, dense mesh, depth, UV texture), cropped around the
 * face. Run after changing the model: npx tsx scripts/make-readme-figure.ts
 */
import sharp from 'sharp';
import { createPrnet } from '../src/pipeline/node.js';
import { decodeImageFile, encodePng } from '../src/io/image-node.js';
import { buildOutputs } from '../src/pipeline/outputs.js';

const prnet = await createPrnet();
const image = await decodeImageFile('examples/astronaut.jpg');
const { faces } = await prnet.reconstruct(image);
const files = await buildOutputs('astronaut', image, faces, prnet.layout, new Set(['overlay', 'depth', 'textured'] as const), encodePng);
const byName = new Map(files.map((f) => [f.name, f.data as Uint8Array]));
const { cx, cy, side } = faces[0].crop.square;
const s = Math.round(side * 0.95);
const region = { left: Math.max(0, Math.round(cx - s / 2)), top: Math.max(0, Math.round(cy - s / 2)), width: s, height: s };
const P = 240;
const panels = await Promise.all(
  ['astronaut_landmarks.png', 'astronaut_pose.png', 'astronaut_mesh.png', 'astronaut_depth.png'].map((n) =>
    sharp(byName.get(n)!).extract(region).resize(P, P).png().toBuffer()),
);
panels.push(await sharp(byName.get('astronaut_face0_texture.png')!).resize(P, P).png().toBuffer());
await sharp({ create: { width: P * panels.length, height: P, channels: 3, background: '#000' } })
  .composite(panels.map((input, i) => ({ input, left: P * i, top: 0 })))
  .png({ compressionLevel: 9, palette: true, quality: 90 })
  .toFile('docs/images/astronaut-outputs.png');
await prnet.dispose();
void encodePng;
process.stderr.write('wrote docs/images/astronaut-outputs.png\n');
