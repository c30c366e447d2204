/**
 * Time per photo of the two FaceMesh teachers in one process, interleaved (A, B, A, B …), median
 * over photos: human (BlazeFace + FaceMesh, tfjs-wasm, 50 px border) and the ONNX labeller
 * (product's BlazeFace + FaceMesh on onnxruntime, up to 3 passes, one thread). Decoding excluded.
 * Also the process's CPU time per photo (all threads; tfjs-wasm may use more than one).
 *
 *   npx tsx scripts/facemesh-speed.ts [--count 60]
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImageFile } from '../src/io/image-node.js';
import { detectFaceMesh } from '../tools/data/facemesh.js';
import { loadFaceMeshOnnx } from '../tools/data/facemesh-onnx.js';
import { sharedDir } from '../tools/data/tddfa.js';

const i = process.argv.indexOf('--count');
const count = i >= 0 ? Number(process.argv[i + 1]) : 60;
const shared = sharedDir();
const pick = (dir: string, n: number) => {
  const all = readdirSync(join(shared, dir)).filter((f) => /\.jpe?g$/i.test(f)).sort();
  const step = Math.max(1, Math.floor(all.length / n));
  return all.filter((_, k) => k % step === 0).slice(0, n).map((f) => join(shared, dir, f));
};
const files = [...pick('faces/utkface', count / 3), ...pick('faces/misc', count / 3), ...pick('faces/webfaces', count / 3)];
const fm = await loadFaceMeshOnnx();
const first = await decodeImageFile(files[0]!);
await detectFaceMesh(first); await fm.detect(first); // warm-up
const human: number[] = [], onnx: number[] = [];
const cpu = { human: 0, onnx: 0 };
for (const [k, f] of files.entries()) {
  const image = await decodeImageFile(f);
  const runs: [string, () => Promise<unknown>][] = [['human', () => detectFaceMesh(image)], ['onnx', () => fm.detect(image)]];
  if (k % 2) runs.reverse();
  for (const [name, run] of runs) {
    const t = performance.now();
    const c = process.cpuUsage();
    await run();
    const d = process.cpuUsage(c);
    cpu[name as 'human' | 'onnx'] += (d.user + d.system) / 1000;
    (name === 'human' ? human : onnx).push(performance.now() - t);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`${files.length} photos: wall human ${med(human).toFixed(1)} ms, onnx ${med(onnx).toFixed(1)} ms per photo (medians; ${(med(human) / med(onnx)).toFixed(1)}×); CPU (process, all threads) human ${(cpu.human / files.length).toFixed(1)} ms, onnx ${(cpu.onnx / files.length).toFixed(1)} ms per photo (${(cpu.human / cpu.onnx).toFixed(1)}×)`);
