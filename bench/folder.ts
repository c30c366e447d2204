/**
 * Folder benchmark: photos per second of `prnet reconstruct <folder> --formats json`'s loop
 * against the per-photo bound (the library's reconstruct on decoded photos, one after another),
 * interleaved round by round in one process with one pipeline: the pipelined loop the CLI runs
 * (inPipeline: decode ahead, one image in the network stage, outputs written behind) and the
 * earlier two-images-in-flight loop (inParallel with 2), for comparison.
 *
 *   npx tsx bench/folder.ts [--photos 27] [--rounds 5] [--threads n]
 *
 * The photos are the nine of `npm run bench` (640×480 JPEGs), repeated.
 */
import { loadBenchPhotos } from './photos.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeImageFile } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { inParallel, inPipeline, reconstructImage, reconstructToFiles, writeImageOutputs } from '../src/cli/reconstruct.js';

const { values } = parseArgs({ options: { photos: { type: 'string', default: '27' }, rounds: { type: 'string', default: '5' }, threads: { type: 'string' } } });
const tmp = await mkdtemp(join(tmpdir(), 'prnet-folder-'));
try {
  const { jpegs, photos } = await loadBenchPhotos();
  const dir = join(tmp, 'in');
  await mkdir(dir);
  const files: string[] = [];
  for (let i = 0; i < Number(values.photos); i++) {
    files.push(join(dir, `p${i}.jpg`));
    await writeFile(files[i], jpegs[i % jpegs.length]);
  }
  const prnet = await createPrnet({ threads: values.threads === undefined ? undefined : Number(values.threads) });
  for (const image of photos) await prnet.reconstruct(image);
  const options = { formats: new Set(['json'] as const) };
  const rates: Record<string, number[]> = { 'per-photo bound': [], 'pipeline (the CLI)': [], 'two in flight (before)': [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    let t = performance.now();
    for (const image of photos) await prnet.reconstruct(image);
    rates['per-photo bound'].push((1000 * photos.length) / (performance.now() - t));
    const out = join(tmp, `out${r}`);
    await mkdir(out);
    t = performance.now();
    await inPipeline(files.length, {
      decode: (i) => decodeImageFile(files[i]),
      network: (i, image) => reconstructImage(prnet, files[i], image, options),
      output: async (i, result) => void (await writeImageOutputs(prnet, result, `p${i}`, out, options)),
    }, (_, e) => {
      if (e) throw e;
    });
    rates['pipeline (the CLI)'].push((1000 * files.length) / (performance.now() - t));
    t = performance.now();
    await inParallel(files.length, 2, async (i) => void (await reconstructToFiles(prnet, files[i], `q${i}`, out, options)));
    rates['two in flight (before)'].push((1000 * files.length) / (performance.now() - t));
  }
  await prnet.dispose();
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const bound = median(rates['per-photo bound']);
  console.log(`${files.length} photos × ${values.rounds} interleaved rounds, JSON only; photos/s (median) and % of the per-photo bound, per round`);
  for (const [k, v] of Object.entries(rates)) {
    const perRound = v.map((x, r) => `${((100 * x) / rates['per-photo bound'][r]).toFixed(0)}%`).join(' ');
    console.log(`${k.padEnd(24)} ${median(v).toFixed(2).padStart(6)}  ${((100 * median(v)) / bound).toFixed(0).padStart(4)} %   rounds: ${perRound}`);
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
