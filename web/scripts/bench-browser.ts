/**
 * Frames per second of the built app in headless Chromium on this machine (WebAssembly; no GPU),
 * for each model, fed by a fake camera (scripts/make-fake-camera.ts). Reports the rate of
 * processed frames and the median milliseconds per stage over the measured frames.
 *
 *   npm run build:web && npx tsx web/scripts/bench-browser.ts [--frames 30] [--warmup 5] [--models default,light] [--threads 1,2] [--views 1,0]
 *       [--flips 0,1] [--precisions fp32,int8] [--pipelines 1,0] [--rounds 1] [--queries 'flip=1&pipeline=0&threads=2;']
 *
 * `--views 1,0` measures with the 3D view on and off (in headless Chromium without a GPU, WebGL is
 * SwiftShader: rendering competes with the network for the same cores). `--flips` sets the
 * test-time flip (default: the app's choice, off on WebAssembly), `--precisions` the network's
 * precision (default: the model file's), `--pipelines 0` turns off the page's
 * two-deep pipelining of frames (to measure its gain). `--queries` replaces those lists by
 * whole configurations: URL parameters per configuration, separated by ';' (empty: the app's defaults). `--rounds n` repeats the whole set n times, interleaved
 * (A, B, A, B…), to judge a change on a loaded machine by medians of the same rounds.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { makeFakeCamera } from '../../scripts/make-fake-camera.js';
import { serveStatic } from './serve.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const FRAMES = Number(opt('frames', '30'));
const WARMUP = Number(opt('warmup', '5'));
const models = opt('models', 'default,light').split(',');
const threadsList = opt('threads', '').split(',').filter(Boolean);
const views = opt('views', '1').split(',');
const flips = opt('flips', '').split(',').filter(Boolean);
const precisions = opt('precisions', '').split(',').filter(Boolean);
const pipelines = opt('pipelines', '').split(',').filter(Boolean);
const queries = args.includes('--queries') ? opt('queries', '').split(';') : null;
const ROUNDS = Number(opt('rounds', '1'));
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dist = resolve(import.meta.dirname, '..', 'dist');
if (!existsSync(join(dist, 'index.html'))) throw new Error('build the app first: npm run build:web');

const dir = mkdtempSync(join(tmpdir(), 'prnet-bench-'));
const cam = await makeFakeCamera({ image: resolve(import.meta.dirname, '../../../shared/eval/portraits/astronaut.png'), out: join(dir, 'camera.y4m'), frames: 60, motion: 4 });
const server = await serveStatic(dist);
const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
  executablePath: chromiumPath,
  headless: true,
  viewport: { width: 1280, height: 760 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${cam.path}`,
  ],
});

interface Timing { grab: number; detect: number; crop: number; network: number; readoff: number; stabilize: number; total: number; display: number; roundTrip: number; at: number }
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

const rows: Record<string, string | number>[] = [];
try {
  const or = (xs: string[]): string[] => (xs.length ? xs : ['']);
  const configs = queries ? models.flatMap((model) => queries.flatMap((query) => views.map((view) => ({ model, precision: '', flip: '', pipeline: '', threads: '', view, query })))) : models.flatMap((model) => or(precisions).flatMap((precision) => or(flips).flatMap((flip) => or(pipelines).flatMap((pipeline) =>
    or(threadsList).flatMap((threads) => views.map((view) => ({ model, precision, flip, pipeline, threads, view, query: '' })))))));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const { model, precision, flip, pipeline, threads, view, query } of configs) {
      const page = await context.newPage();
      const extra = `${threads ? `&threads=${threads}` : ''}${flip ? `&flip=${flip}` : ''}${precision ? `&precision=${precision}` : ''}${pipeline ? `&pipeline=${pipeline}` : ''}${query ? `&${query}` : ''}`;
      await page.goto(`${server.url}?model=${model}&backend=wasm&source=camera&view=${view}${extra}`);
      const deadline = Date.now() + 600_000;
      let timings: Timing[] = [];
      while (Date.now() < deadline) {
        await page.waitForTimeout(500);
        const state = await page.evaluate(() => document.body.dataset.state);
        if (state === 'error') throw new Error(`${model}: ${await page.textContent('#status')}`);
        timings = await page.evaluate(() => (window as unknown as { prnetApp: { timings: Timing[] } }).prnetApp.timings);
        if (timings.length >= WARMUP + FRAMES) break;
      }
      const runtime = (await page.textContent('#runtime')) ?? '';
      const faces = await page.evaluate(() => document.body.dataset.faces);
      const measured = timings.slice(WARMUP, WARMUP + FRAMES);
      const fps = ((measured.length - 1) * 1000) / (measured[measured.length - 1].at - measured[0].at);
      const detected = measured.filter((t) => t.detect > 0);
      rows.push({
        ...(ROUNDS > 1 ? { round } : {}),
        model,
        precision: /, (fp32|int8)\)/.exec(runtime)?.[1] ?? '?',
        flip: (await page.isChecked('#flip')) ? 'on' : 'off',
        ...(pipelines.length ? { pipeline: pipeline === '0' ? 'off' : 'on' } : {}),
        ...(queries ? { query: query || '(defaults)' } : {}),
        threads: /(\d+) threads?/.exec(runtime)?.[1] ?? '?',
        ort: /JSEP build/.test(runtime) ? 'jsep' : /WebAssembly build/.test(runtime) ? 'wasm' : '?',
        view3d: view === '0' ? 'off' : 'on',
        fps: +fps.toFixed(2),
        grab: +median(measured.map((t) => t.grab)).toFixed(1),
        crop: +median(measured.map((t) => t.crop)).toFixed(1),
        network: +median(measured.map((t) => t.network)).toFixed(1),
        detect: detected.length ? +median(detected.map((t) => t.detect)).toFixed(1) : 0,
        detectFrames: `${detected.length}/${measured.length}`,
        readoff: +median(measured.map((t) => t.readoff)).toFixed(1),
        stabilize: +median(measured.map((t) => t.stabilize)).toFixed(1),
        worker: +median(measured.map((t) => t.total)).toFixed(1),
        roundTrip: +median(measured.map((t) => t.roundTrip)).toFixed(1),
        display: +median(measured.map((t) => t.display)).toFixed(1),
        faces: Number(faces),
      });
      await page.close();
    }
  }
} finally {
  await context.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`headless Chromium (${chromiumPath}), WebAssembly, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}); ${FRAMES} frames after ${WARMUP} warm-up; medians in ms`);
console.table(rows);
