/**
 * The browser runtime's speed without a browser: onnxruntime-web's WebAssembly build (the same
 * kernels a page runs, SIMD, here in Node) on the bundled models, fp32 vs int8, interleaved.
 * Its int8 graph must also run there (QDQ → QLinear kernels of the wasm build).
 *
 *   npx tsx scripts/wasm-bench.ts [--rounds 10] [--threads 1]
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { readModelFile } from '../src/model/file-node.js';
import { BUNDLED_MODELS } from '../src/pipeline/node.js';
import { createSession } from '../src/runtime/web.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, threads: { type: 'string', default: '1' } } });
ort.env.wasm.numThreads = Number(values.threads);
for (const name of ['default', 'light'] as const) {
  const w = await readModelFile(BUNDLED_MODELS[name]);
  const S = w.config.inputSize;
  const sessions = [];
  for (const precision of ['fp32', 'int8'] as const) sessions.push({ precision, session: await createSession(w, { precision }), times: [] as number[] });
  const x = new Float32Array(3 * S * S).map((_, i) => (i % 251) / 251);
  for (const s of sessions) await s.session.run(x, 1);
  const out: Float32Array[] = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const s of sessions) {
      const t = performance.now();
      const y = await s.session.run(x, 1);
      s.times.push(performance.now() - t);
      if (r === 0) out.push(y);
    }
  }
  if (out[1].some((v) => !Number.isFinite(v))) throw new Error('the int8 graph gave non-finite values');
  const med = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1];
  const [f, q] = sessions.map((s) => med(s.times));
  console.log(`onnxruntime-web wasm, ${name} (${S}²), ${values.threads} thread(s), batch 1: fp32 ${f.toFixed(1)} ms, int8 ${q.toFixed(1)} ms (${(q / f).toFixed(2)}×)`);
  for (const s of sessions) await s.session.release();
}
