/**
 * The network alone in onnxruntime-web's two WebAssembly-capable builds, in headless Chromium (a
 * worker, as the app): the plain WebAssembly build (ort.wasm + ort-wasm-simd-threaded.wasm, 14 MB)
 * and the JSEP build (ort + ort-wasm-simd-threaded.jsep.wasm, WebGPU and WebAssembly, 28 MB), each
 * on its own fresh page, for several graph forms run back to back, rounds interleaved. Prints the
 * median of the second half of the runs (full speed) and the median of each block of 10 runs from
 * load on, which shows how long each build takes to reach full speed (V8 compiles hot WebAssembly
 * functions again with its optimising compiler in the background).
 *
 *   npx tsx web/scripts/ort-builds.ts [--model light|default] [--runs 60] [--rounds 2] [--threads 1]
 *       [--builds plain,jsep] [--forms '[["fp32",{}],["int8",{"precision":"int8"}]]']
 *
 * A form is [name, GraphOptions] (src/model/resfcn.ts); int8 forms get the model file's ranges.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { buildResfcnOnnx, type GraphOptions } from '../../src/model/resfcn.js';
import { int8RangesFromMetadata, parseModelFile } from '../../src/model/weights.js';
import { packageDir } from '../../src/detect/node-packages.js';
import { serveStatic } from './serve.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = opt('model', 'light');
const runs = Number(opt('runs', '60'));
const rounds = Number(opt('rounds', '2'));
const threads = Number(opt('threads', '1'));
const builds = opt('builds', 'plain,jsep').split(',');
const forms = JSON.parse(opt('forms', '[["fp32",{}],["int8",{"precision":"int8"}]]')) as [string, GraphOptions][];
const repo = resolve(import.meta.dirname, '..', '..');

const dir = mkdtempSync(join(tmpdir(), 'prnet-ort-builds-'));
mkdirSync(join(dir, 'site'));
const site = join(dir, 'site');
symlinkSync(packageDir('onnxruntime-web', 'dist/ort.wasm.min.mjs'), join(site, 'dist'));
const weights = parseModelFile(new Uint8Array(readFileSync(join(repo, 'assets', 'models', `prnet-${model}.safetensors`))), model);
const ranges = int8RangesFromMetadata(weights.metadata, model);
for (const [name, g] of forms) {
  if (g.precision === 'int8' && !ranges) throw new Error(`${model} has no int8 calibration`);
  writeFileSync(join(site, `${name}.onnx`), buildResfcnOnnx(weights.tensors, weights.config, { ...g, ...(g.precision === 'int8' ? { ranges } : {}) }));
}
writeFileSync(join(site, 'index.html'), `<!doctype html><script type="module">
window.bench = () => new Promise((res) => { new Worker('worker.mjs' + location.search, { type: 'module' }).onmessage = (e) => res(e.data); });
</script>`);
writeFileSync(join(site, 'worker.mjs'), `
const p = new URLSearchParams(location.search);
const plain = p.get('build') === 'plain';
const ort = await import(plain ? './dist/ort.wasm.min.mjs' : './dist/ort.min.mjs');
const d = new URL('./dist/', location.href).href;
const file = 'ort-wasm-simd-threaded' + (plain ? '' : '.jsep');
ort.env.wasm.wasmPaths = { mjs: d + file + '.mjs', wasm: d + file + '.wasm' };
ort.env.wasm.numThreads = Number(p.get('threads'));
const S = Number(p.get('S')), runs = Number(p.get('runs'));
const input = new Float32Array(3 * S * S).map((_, i) => (i % 97) / 97);
const sessions = [];
for (const name of p.get('forms').split(',')) {
  const bytes = new Uint8Array(await (await fetch(name + '.onnx')).arrayBuffer());
  sessions.push([name, await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', executionMode: 'sequential' })]);
}
const times = {};
for (let r = 0; r < runs; r++) for (const [name, s] of sessions) {
  const t = performance.now();
  await s.run({ input: new ort.Tensor('float32', input, [1, 3, S, S]) });
  (times[name] ??= []).push(performance.now() - t);
}
postMessage(times);
`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const server = await serveStatic(site);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
const rows: Record<string, string | number>[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    for (const build of builds) {
      const page = await browser.newPage();
      await page.goto(`${server.url}index.html?build=${build}&threads=${threads}&S=${weights.config.inputSize}&runs=${runs}&forms=${forms.map((f) => f[0]).join(',')}`);
      const times = await page.evaluate(() => (window as unknown as { bench(): Promise<Record<string, number[]>> }).bench());
      for (const [form, t] of Object.entries(times)) {
        const blocks = Array.from({ length: Math.ceil(t.length / 10) }, (_, i) => median(t.slice(10 * i, 10 * i + 10)).toFixed(0));
        rows.push({ round, build, form, 'ms (2nd half)': +median(t.slice(t.length >> 1)).toFixed(1), 'ms per block of 10 runs from load': blocks.join(' / ') });
      }
      await page.close();
    }
  }
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${model} model, ${threads} thread(s), headless Chromium, WebAssembly; medians in ms`);
console.table(rows);
