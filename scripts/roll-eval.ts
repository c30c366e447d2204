/**
 * Rolled faces: AFW photos turned in the image plane, 68-point 2D NME against their turned `.pts`
 * (docs/evaluation.md §0.14). Each photo is turned by sharp about its centre onto a canvas that
 * holds it whole (black corners), its ground truth turned alike; the face nearest the annotated one
 * is scored, normalised by the upright landmark box (sqrt(w·h), as `prnet eval pts`).
 *
 *   npx tsx scripts/roll-eval.ts [--model default|light|PATH] [--faces 60] [--angles 0,30,45,60,90,135,180] [--no-flip] [--no-orientation]
 *
 * Prints, per angle, the mean and median NME, the faces over 10 % and the faces not found.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createPrnet } from '../src/pipeline/node.js';
import { boxSize, nearestFace } from '../tools/eval/nme.js';
import { listPtsImages, readPts } from '../tools/eval/pts.js';

const EVAL_DIR = join(import.meta.dirname, '..', '..', 'shared', 'eval');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'default' },
    faces: { type: 'string', default: '60' },
    angles: { type: 'string', default: '0,30,45,60,90,135,180' },
    'no-flip': { type: 'boolean' },
    'no-orientation': { type: 'boolean' },
  },
});
const angles = values.angles.split(',').map(Number);
const prnet = await createPrnet({ model: values.model, orientation: !values['no-orientation'] });
const list = (await listPtsImages(`${EVAL_DIR}/afw68`)).slice(0, Number(values.faces));
console.log(`${values.model} model, ${list.length} AFW faces, flip ${values['no-flip'] ? 'off' : 'on'}`);
for (const deg of angles) {
  const errors: number[] = [];
  let missed = 0;
  for (const { image, pts } of list) {
    const gt = await readPts(pts);
    const { width: w, height: h } = await sharp(image).metadata();
    const { data, info } = await sharp(image).removeAlpha().rotate(deg, { background: '#000' }).raw().toBuffer({ resolveWithObject: true });
    // sharp turns clockwise on screen (y down) about the centre: p' = R (p − c) + c'
    const a = (deg * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a);
    const turned = new Float64Array(gt.length);
    for (let i = 0; i < gt.length; i += 2) {
      const x = gt[i]! + 0.5 - w! / 2, y = gt[i + 1]! + 0.5 - h! / 2;
      turned[i] = c * x - s * y + info.width / 2 - 0.5;
      turned[i + 1] = s * x + c * y + info.height / 2 - 0.5;
    }
    const rgb = { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
    const { faces } = await prnet.reconstruct(rgb, { flip: !values['no-flip'] });
    const norm = boxSize(gt, 2);
    const face = nearestFace(faces.map((f) => f.landmarks), turned, 2, norm);
    if (!face) {
      missed++;
      continue;
    }
    let e = 0;
    for (let k = 0; k < 68; k++) e += Math.hypot(face[3 * k]! - turned[2 * k]!, face[3 * k + 1]! - turned[2 * k + 1]!);
    errors.push(e / 68 / norm);
  }
  errors.sort((p, q) => p - q);
  const mean = errors.reduce((p, q) => p + q, 0) / Math.max(1, errors.length);
  const pc = (x: number): string => (100 * x).toFixed(2);
  console.log(`turned ${deg}°: NME ${pc(mean)} % (median ${pc(errors[errors.length >> 1] ?? NaN)}), ${errors.filter((e) => e > 0.1).length} over 10 %, ${missed} of ${list.length} not found`);
}
await prnet.dispose();
