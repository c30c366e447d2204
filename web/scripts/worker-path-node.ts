/**
 * The app worker's per-frame path (VideoTracker over the light model, no flip) in Node, over
 * onnxruntime-web's WebAssembly build on one thread as in the app, on a moving 640×480 frame of
 * astronaut.png: median ms per stage. Under `node --cpu-prof` it shows what the JavaScript stages
 * cost per frame beside the network (docs/web.md).
 *
 *   [P=int8|fp32] [N=150] node [--cpu-prof --cpu-prof-dir=tmp/prof] --import tsx web/scripts/worker-path-node.ts
 */
import * as ort from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import sharp from 'sharp';
import { createBlazeFaceDetector } from '../../src/detect/blazeface-detector.js';
import { loadLayout } from '../../src/layout/node.js';
import { parseModelFile } from '../../src/model/weights.js';
import { Prnet } from '../../src/pipeline/prnet.js';
import { createOrtSession, type OrtModule } from '../../src/runtime/ort.js';
import { WEB_WASM_GRAPH } from '../../src/runtime/web.js';
import { VideoTracker } from '../../src/track/index.js';
import { rgbaToRgbBytes } from '../../src/io/pixels.js';

const at = (p: string): string => resolve(import.meta.dirname, p);
ort.env.wasm.numThreads = 1;
const O = ort as unknown as OrtModule;
const w = parseModelFile(new Uint8Array(readFileSync(at('../../assets/models/prnet-light.safetensors'))), 'light');
const session = await createOrtSession(O, w, { precision: process.env.P === 'fp32' ? 'fp32' : 'int8', graph: WEB_WASM_GRAPH, extra: { executionProviders: ['wasm'] } });
const det = await createBlazeFaceDetector(O, new Uint8Array(readFileSync(at('../../assets/detector/blazeface-back-256.onnx'))), { extra: { executionProviders: ['wasm'] } });
const prnet = new Prnet(session, await loadLayout(), det);
const video = new VideoTracker(prnet, { flip: false });
const { data } = await sharp(at('../../../shared/eval/portraits/astronaut.png')).resize(640, 480, { fit: 'contain', background: '#000' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
const N = Number(process.env.N ?? 150);
const T: Record<string, number[]> = {};
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  // The frame moves a little each time (whole pixels).
  const dx = Math.round(4 * Math.sin(i / 5)) * 4;
  const rgba = new Uint8Array(data.length);
  if (dx >= 0) rgba.set(data.subarray(dx)); else rgba.set(data.subarray(0, data.length + dx), -dx);
  const ta = performance.now();
  const img = { width: 640, height: 480, data: rgbaToRgbBytes(rgba, 640 * 480) };
  const r = await video.process(img, i * 33);
  const tot = performance.now() - ta;
  for (const [k, v] of Object.entries({ ...r.timings, all: tot })) (T[k] ??= []).push(v as number);
}
const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`${N} frames in ${((performance.now() - t0) / 1000).toFixed(1)} s;`, Object.entries(T).map(([k, v]) => `${k} ${med(v.slice(20)).toFixed(2)}`).join(', '));
process.exit(0);
