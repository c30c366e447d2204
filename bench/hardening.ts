/**
 * Costs and effects of the hostile-input limits (docs/hardening.md):
 *   npx tsx bench/hardening.ts
 * - the load-time probe: one forward pass of each bundled model, as a share of creating the session;
 * - a 208-byte .mat declaring a 65536×65536 struct, and a zlib bomb (65 MiB of zeros in ~64 KB):
 *   time to refuse and the RSS growth;
 * - a 600 MiB file given as an image: time to refuse (it is not read).
 */
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { MAT_LIMITS, readMat } from '../tools/eval/mat.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { readModelFile } from '../src/model/index.js';
import { BUNDLED_MODELS } from '../src/pipeline/node.js';
import { createSession } from '../src/runtime/node.js';

const ms = (t0: number): string => `${(performance.now() - t0).toFixed(1)} ms`;
const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;

for (const [name, path] of Object.entries(BUNDLED_MODELS)) {
  const weights = await readModelFile(path);
  let t0 = performance.now();
  const s = await createSession(weights, { threads: 1 });
  const create = performance.now() - t0;
  const S = s.inputSize;
  const input = new Float32Array(3 * S * S).fill(0.5);
  await s.run(input, 1);
  t0 = performance.now();
  for (let i = 0; i < 3; i++) await s.run(input, 1);
  const pass = (performance.now() - t0) / 3;
  await s.release();
  console.log(`${name} model (${S}², 1 thread): createSession ${create.toFixed(0)} ms including the probe; one forward pass ${pass.toFixed(0)} ms (${((100 * pass) / create).toFixed(0)} %)`);
}

function mat(...elements: Uint8Array[]): Uint8Array {
  const head = new Uint8Array(128);
  head[126] = 0x49;
  head[127] = 0x4d;
  return Buffer.concat([head, ...elements]);
}
function el(type: number, data: Uint8Array, pad = true): Uint8Array {
  const out = new Uint8Array(8 + (pad ? Math.ceil(data.length / 8) * 8 : data.length));
  new DataView(out.buffer).setUint32(0, type, true);
  new DataView(out.buffer).setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}
const u32 = (...x: number[]): Uint8Array => new Uint8Array(Uint32Array.from(x).buffer);
const struct = mat(el(14, Buffer.concat([el(6, u32(2, 0)), el(5, u32(65536, 65536)), el(1, Buffer.from('s')), el(5, u32(0)), el(1, new Uint8Array(0))])));
const bomb = mat(el(15, deflateSync(Buffer.alloc(MAT_LIMITS.inflated + 2 ** 20), { level: 9 }), false));
for (const [what, bytes] of [[`${struct.length}-byte .mat, a 65536×65536 struct`, struct], [`zlib bomb (${(bomb.length / 1024).toFixed(0)} KB → 65 MiB)`, bomb]] as const) {
  const rss = process.memoryUsage().rss;
  const t0 = performance.now();
  let msg = '';
  try {
    readMat(bytes, 'crafted.mat');
  } catch (e) {
    msg = (e as Error).message;
  }
  console.log(`${what}: refused in ${ms(t0)}, RSS +${mib(Math.max(0, process.memoryUsage().rss - rss))}: ${msg}`);
}

const big = join(tmpdir(), `prnet-bench-${process.pid}.jpg`);
const fh = await open(big, 'w');
await fh.truncate(600 * 2 ** 20);
await fh.close();
const t0 = performance.now();
const err = await decodeImageFile(big).then(() => 'decoded?', (e: Error) => e.message);
console.log(`600 MiB file: refused in ${ms(t0)}: ${err}`);
await rm(big);
