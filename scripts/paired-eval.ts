/**
 * A paired AFLW2000-3D comparison of two network variants (precision and graph options) in one
 * process: the same detector boxes, crops and test-time flip (as `prnet eval aflw2000`), both
 * variants over every image, then the mean 2D NME of each and the paired difference with its
 * standard error over the images where both found a face. What a change to the graph must pass.
 *
 *   npx tsx scripts/paired-eval.ts <dir> [--model default|light|PATH]
 *        [--a '{"precision":"int8","graph":{"quantizeBoundary":false}}'] [--b '{"precision":"int8"}']
 *
 * e.g. dir = ../shared/eval/aflw2000-3d-dev (1,000 images; ~8 min per variant on this machine).
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { createDetector } from '../src/detect/index.js';
import { loadLayout } from '../src/layout/node.js';
import { readModelFile } from '../src/model/file-node.js';
import type { GraphOptions, Precision } from '../src/model/resfcn.js';
import { Prnet } from '../src/pipeline/prnet.js';
import { resolveModel } from '../src/pipeline/node.js';
import { NODE_SESSION_EXTRA } from '../src/runtime/node.js';
import { createOrtSession, type OrtModule } from '../src/runtime/ort.js';
import { evaluateAflw2000 } from '../tools/eval/aflw2000.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'default' },
    a: { type: 'string', default: '{"precision":"fp32"}' },
    b: { type: 'string', default: '{}' },
  },
});
const [dir] = positionals;
if (!dir) throw new Error('usage: paired-eval.ts <dir> [--model m] [--a variant-json] [--b variant-json]');
const path = resolveModel(values.model) as string;
const weights = await readModelFile(path);
const layout = await loadLayout();
const detector = await createDetector();
const scores: (number | null)[][] = [];
for (const spec of [values.a, values.b]) {
  const v = JSON.parse(spec) as { precision?: Precision; graph?: GraphOptions };
  const session = await createOrtSession(ort as unknown as OrtModule, weights, { probe: false, precision: v.precision, graph: v.graph, ...NODE_SESSION_EXTRA });
  const t = performance.now();
  const report = await evaluateAflw2000(new Prnet(session, layout, detector), dir, { peers: false });
  scores.push(report.ours.perImage.map((s) => s.nme2d));
  console.log(`${spec}: 2D ${(100 * report.ours.nme2d).toFixed(3)} %, 3D ${(100 * report.ours.nme3d).toFixed(3)} % over ${report.images} images (${report.ours.failed} without a face), ${((performance.now() - t) / 1000).toFixed(0)} s`);
  await session.release();
}
const d: number[] = [];
scores[0].forEach((x, i) => {
  const y = scores[1][i];
  if (x !== null && y !== null) d.push(100 * (y - x));
});
const mean = d.reduce((s, x) => s + x, 0) / d.length;
const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1));
console.log(`b − a: ${mean >= 0 ? '+' : ''}${mean.toFixed(4)} ± ${(sd / Math.sqrt(d.length)).toFixed(4)} points of 2D NME over ${d.length} paired images (largest change of one image ${Math.max(...d.map(Math.abs)).toFixed(2)})`);
await detector.release?.();
process.exit(0);
