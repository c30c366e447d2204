/**
 * The light model's map smoothed on its own 128² grid (what reconstruct does without flip) against
 * σ 2 on the upsampled 256² map (before), on the same network output: 68-point NME, folded
 * triangles and how far the vertices move, on images spread over the AFLW2000-3D dev set.
 *
 *   npx tsx web/scripts/compare-smoothing.ts [--images 250]
 */
import { createPrnet, decodeImageFile, cropFromBox, warpCrop, smoothPositionMap, uncropPositionMap, readLandmarks, readVertices, foldFraction } from '../../src/index.js';
import { listAflwImages } from '../../tools/eval/aflw2000.js';
import { loadAflwGroundTruth } from '../../tools/eval/mat.js';
import { nme } from '../../tools/eval/nme.js';
const i = process.argv.indexOf('--images');
const n = i >= 0 ? Number(process.argv[i + 1]) : 250;
const all = await listAflwImages(new URL('../../../shared/eval/aflw2000-3d-dev', import.meta.url).pathname);
const step = Math.max(1, Math.floor(all.length / n));
const items = all.filter((_, i) => i % step === 0).slice(0, n);
const p = await createPrnet({ model: 'light' });
const L = p.layout;
const S: Record<string, number[]> = {};
const add = (k: string, v: number) => (S[k] ??= []).push(v);
for (const it of items) {
  const gt = await loadAflwGroundTruth(it.mat);
  const img = await decodeImageFile(it.image);
  const [box] = await p.detect(img);
  if (!box) continue;
  const crop = cropFromBox(box, p.detector!.kind);
  const [map] = await p.session.predictBatch([warpCrop(img, crop)]);
  const before = uncropPositionMap(smoothPositionMap(map, L.faceMask, 2), crop);
  const lmB = readLandmarks(before, L);
  const r = await p.reconstruct(img, { crops: [crop], flip: false });
  const lmA = r.faces[0].landmarks;
  add('NME before (smooth@256)', 100 * nme(lmB, gt.pt3d68, 2));
  add('NME after (smooth@128)', 100 * nme(lmA, gt.pt3d68, 2));
  add('NME3D before', 100 * nme(lmB, gt.pt3d68, 3));
  add('NME3D after', 100 * nme(lmA, gt.pt3d68, 3));
  add('folds before %', 100 * foldFraction(readVertices(before, L), L.triangles));
  add('folds after %', 100 * foldFraction(r.faces[0].vertices, L.triangles));
  const vB = readVertices(before, L), vA = r.faces[0].vertices;
  let d = 0; for (let i = 0; i < vA.length; i += 3) d += Math.hypot(vA[i] - vB[i], vA[i + 1] - vB[i + 1]);
  add('mean vertex shift px (2D)', d / (vA.length / 3));
}
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const [k, v] of Object.entries(S)) console.log(k.padEnd(32), 'mean', mean(v).toFixed(3), 'median', med(v).toFixed(3), 'n', v.length);
