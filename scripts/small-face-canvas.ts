/**
 * The same faces in larger photos: AFLW2000-3D dev images (every k-th, |yaw| ≤ 60°) composited,
 * pixels unchanged, at an offset into W × H canvases of one grey, reconstructed with the default
 * model (flip) and scored against the ground truth moved by the offset. Per canvas: mean and
 * median 68-point NME (2D, landmark-box normalised), faces over 10 %, suspect faces, the median box
 * width and keypoint disagreement. A face that the first detector pass sees at a few input pixels
 * is boxed coarsely unless it is looked at again (docs/detectors.md, "Small faces in large photos").
 *
 *   npx tsx scripts/small-face-canvas.ts [--count 60] [--canvases "0,0,0,0;1280,960,400,300;4032,3024,1800,1300"]
 *
 * A canvas is W,H,x,y (the photo's top-left corner in it); 0,0,0,0 is the photo alone.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { decodeImageBuffer } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';

const DEV = join(import.meta.dirname, '..', '..', 'shared', 'eval', 'aflw2000-3d-dev');
const { values } = parseArgs({ options: { count: { type: 'string', default: '60' }, canvases: { type: 'string', default: '0,0,0,0;1280,960,400,300;1920,1080,700,300;4032,3024,1800,1300' } } });
const count = Number(values.count);
const canvases = values.canvases.split(';').map((c) => c.split(',').map(Number) as [number, number, number, number]);
const all = (await readdir(DEV)).filter((f) => f.endsWith('.jpg')).sort();
const step = Math.max(1, Math.floor(all.length / count));
const files = all.filter((_, i) => i % step === 7).slice(0, count);
const prnet = await createPrnet();
const rows = canvases.map(() => ({ nme: [] as number[], suspect: 0, boxes: [] as number[], kp: [] as number[], missed: 0 }));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const f of files) {
  const gt = await loadAflwGroundTruth(join(DEV, f.replace(/\.jpg$/, '.mat')));
  if (Math.abs(gt.pose[1]) > (60 * Math.PI) / 180) continue;
  const g = gt.pt3d68;
  let l = Infinity, t = Infinity, r = -Infinity, b = -Infinity;
  for (let k = 0; k < 68; k++) {
    l = Math.min(l, g[3 * k]);
    r = Math.max(r, g[3 * k]);
    t = Math.min(t, g[3 * k + 1]);
    b = Math.max(b, g[3 * k + 1]);
  }
  const norm = Math.sqrt((r - l) * (b - t));
  const png = await sharp(join(DEV, f)).png().toBuffer();
  for (const [c, [w, h, ox, oy]] of canvases.entries()) {
    const bytes = w ? await sharp({ create: { width: w, height: h, channels: 3, background: '#556677' } }).composite([{ input: png, left: ox, top: oy }]).png().toBuffer() : png;
    const { faces } = await prnet.reconstruct(await decodeImageBuffer(bytes));
    // the face nearest the annotated one (landmark centroids)
    const gx = (l + r) / 2 + ox, gy = (t + b) / 2 + oy;
    let best: (typeof faces)[number] | undefined;
    let bestD = Infinity;
    for (const face of faces) {
      let sx = 0, sy = 0;
      for (let k = 0; k < 68; k++) {
        sx += face.landmarks[3 * k];
        sy += face.landmarks[3 * k + 1];
      }
      const d = Math.hypot(sx / 68 - gx, sy / 68 - gy);
      if (d < bestD) [best, bestD] = [face, d];
    }
    const row = rows[c];
    if (!best || bestD > norm) {
      row.missed++;
      continue;
    }
    let e = 0;
    for (let k = 0; k < 68; k++) e += Math.hypot(best.landmarks[3 * k] - ox - g[3 * k], best.landmarks[3 * k + 1] - oy - g[3 * k + 1]);
    row.nme.push((100 * e) / 68 / norm);
    if (best.suspect) row.suspect++;
    row.boxes.push(best.box.width);
    if (best.keypointDisagreement !== undefined) row.kp.push(best.keypointDisagreement);
  }
}
for (const [c, [w, h, ox, oy]] of canvases.entries()) {
  const row = rows[c];
  const mean = row.nme.reduce((a, x) => a + x, 0) / row.nme.length;
  console.log(`${w ? `${w}×${h} at ${ox},${oy}` : 'the photo alone'}: ${row.nme.length} faces (${row.missed} missed); NME mean ${mean.toFixed(2)} %, median ${median(row.nme).toFixed(2)} %, over 10 %: ${row.nme.filter((x) => x > 10).length}; suspect ${row.suspect}; median box ${median(row.boxes).toFixed(1)} px; median keypoint disagreement ${row.kp.length ? median(row.kp).toFixed(3) : '–'}`);
}
await prnet.dispose();
