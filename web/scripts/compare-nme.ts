/**
 * What the app's choices cost in accuracy: 68-point 2D NME on the AFLW2000-3D dev set with and
 * without test-time flip, in fp32 and int8, on the same crops (the detector's, one per image),
 * through the library's reconstruct (Node; the browser computes the same graph).
 *
 *   npx tsx web/scripts/compare-nme.ts [--model light|default] [--images 1000] [--flips 1,0] [--precisions fp32,int8]
 *       [--runtime node|web] [--graph '{"spaceToDepthTail":false}']
 *
 * --images n: every k-th image so that about n are used (default all). --runtime web runs the
 * network in onnxruntime-web's WebAssembly build (in Node, one thread): the browser's own kernels,
 * int8 included, with the graph the browser builds (createWebSession's graph options) unless
 * --graph says otherwise.
 */
import * as ortWeb from 'onnxruntime-web';
import { WEB_WASM_GRAPH } from '../../src/runtime/web.js';
import { loadLayout } from '../../src/layout/node.js';
import { readModelFile } from '../../src/model/file-node.js';
import type { GraphOptions } from '../../src/model/resfcn.js';
import { Prnet } from '../../src/pipeline/prnet.js';
import { createPrnet, resolveModel } from '../../src/pipeline/node.js';
import { NODE_SESSION_EXTRA } from '../../src/runtime/node.js';
import { createOrtSession, type OrtModule } from '../../src/runtime/ort.js';
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
const runtime = opt('runtime', 'node');
const graph = JSON.parse(opt('graph', runtime === 'web' ? JSON.stringify(WEB_WASM_GRAPH) : '{}')) as GraphOptions;
const detecting = await createPrnet({ model });
const weights = await readModelFile(resolveModel(model) as string);
const layout = await loadLayout();
if (runtime === 'web') ortWeb.env.wasm.numThreads = 1;
const ortModule = (runtime === 'web' ? ortWeb : await import('onnxruntime-node')) as unknown as OrtModule;
const extra = runtime === 'web' ? { extra: { executionProviders: ['wasm'] } } : NODE_SESSION_EXTRA;
const pipelines = await Promise.all(precisions.map(async (precision) =>
  new Prnet(await createOrtSession(ortModule, weights, { precision, graph, probe: false, ...extra }), layout, null)));
const scores = new Map<string, number[]>();
for (const item of items) {
  const gt = await loadAflwGroundTruth(item.mat);
  const image = await decodeImageFile(item.image);
  const [box] = await detecting.detect(image);
  if (!box) continue;
  const crop = cropFromBox(box, detecting.detector!.kind);
  for (const [i, prnet] of pipelines.entries()) {
    for (const flip of flips) {
      const { faces } = await prnet.reconstruct(image, { crops: [crop], flip });
      const key = `${precisions[i]}, flip ${flip ? 'on' : 'off'}`;
      scores.set(key, [...(scores.get(key) ?? []), 100 * nme(faces[0].landmarks, gt.pt3d68, 2)]);
    }
  }
}
for (const p of [detecting, ...pipelines]) await p.dispose();
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(`${model} model, AFLW2000-3D dev set, ${items.length} images, the detector's crop; onnxruntime-${runtime}, graph ${JSON.stringify(graph)}; 68-point 2D NME, %`);
console.table([...scores].map(([config, v]) => ({ config, faces: v.length, mean: +mean(v).toFixed(3), median: +median(v).toFixed(3) })));
