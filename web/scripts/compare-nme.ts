/**
 * What the app's choices cost in accuracy: 68-point 2D NME on the AFLW2000-3D dev set with and
 * without test-time flip, in fp32 and int8, on the same crops (the detector's, one per image),
 * through the library's reconstruct (Node; the browser computes the same graph).
 *
 *   npx tsx web/scripts/compare-nme.ts [--model light|default] [--images 1000] [--flips 1,0] [--precisions fp32,int8]
 *
 * --images n: every k-th image so that about n are used (default all).
 */
import { createPrnet } from '../../src/pipeline/node.js';
import { cropFromBox } from '../../src/crop/index.js';
import { decodeImageFile } from '../../src/io/image-node.js';
import { listAflwImages } from '../../tools/eval/aflw2000.js';
import { loadAflwGroundTruth } from '../../tools/eval/mat.js';
import { nme } from '../../tools/eval/nme.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = opt('model', 'light');
const flips = opt('flips', '1,0').split(',').map((f) => f === '1');
const precisions = opt('precisions', 'fp32,int8').split(',') as ('fp32' | 'int8')[];
const all = await listAflwImages(new URL('../../../shared/eval/aflw2000-3d-dev', import.meta.url).pathname);
const step = Math.max(1, Math.floor(all.length / Number(opt('images', String(all.length)))));
const items = all.filter((_, i) => i % step === 0);
const pipelines = await Promise.all(precisions.map((precision, i) => createPrnet({ model, precision, detector: i === 0 ? undefined : false })));
const scores = new Map<string, number[]>();
for (const item of items) {
  const gt = await loadAflwGroundTruth(item.mat);
  const image = await decodeImageFile(item.image);
  const [box] = await pipelines[0].detect(image);
  if (!box) continue;
  const crop = cropFromBox(box, pipelines[0].detector!.kind);
  for (const [i, prnet] of pipelines.entries()) {
    for (const flip of flips) {
      const { faces } = await prnet.reconstruct(image, { crops: [crop], flip });
      const key = `${precisions[i]}, flip ${flip ? 'on' : 'off'}`;
      scores.set(key, [...(scores.get(key) ?? []), 100 * nme(faces[0].landmarks, gt.pt3d68, 2)]);
    }
  }
}
for (const p of pipelines) await p.dispose();
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(`${model} model, AFLW2000-3D dev set, ${items.length} images, the detector's crop; 68-point 2D NME, %`);
console.table([...scores].map(([config, v]) => ({ config, faces: v.length, mean: +mean(v).toFixed(3), median: +median(v).toFixed(3) })));
