/**
 * Pipeline benchmark (`npm run bench`): prnet-ts per photo against MediaPipe FaceMesh (the peer:
 * BlazeFace + FaceMesh through @vladmandic/human on tfjs-wasm) in the same process, on the same
 * decoded 640×480 photos, interleaved over rounds, so every figure is also printed as a ratio to
 * FaceMesh's time (absolute times on a shared machine vary 2× with load; the ratios much less).
 *
 * Per photo = detect + crop + network + read-offs (`prnet.reconstruct`; decoding excluded), for the
 * default model with and without test-time flip and the light model; the detector alone; creating
 * the pipeline (`createPrnet`), its int8 graph from the graph cache and built; building every output
 * file for one face; and, when dist/ is built, the CLI's first result (a fresh `prnet reconstruct`
 * process, JSON only), with the graph cache and without.
 *
 * Many photos: `prnet reconstruct <folder> --formats json` (in this process) over `--folder N`
 * photos (the nine, repeated), as photos per second against the per-photo bound (1 / the default's
 * mean per-photo time measured above, decode excluded).
 *
 *   npm run bench -- [--rounds 3] [--threads n] [--folder 100] [--no-cli]
 */
import { exportInputs, timeExport } from './export-case.js';
import { loadBenchPhotos } from './photos.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createDetector } from '../src/detect/index.js';
import { timeRounds, type TimedCase } from './shuffle.js';
import { loadHuman } from '../src/detect/human-node.js';
import { encodePng } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { GRAPH_CACHE_ENV } from '../src/runtime/graph-cache.js';
import { buildOutputs, OUTPUT_FORMATS } from '../src/pipeline/outputs.js';
import { runReconstruct } from '../src/cli/reconstruct.js';
import type { Prnet, ReconstructOptions } from '../src/pipeline/prnet.js';
import type { RgbImage } from '../src/types.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string' },
    cli: { type: 'boolean', default: true },
    folder: { type: 'string', default: '100' },
  },
  allowNegative: true,
});
const ROUNDS = Number(values.rounds);
const THREADS = values.threads === undefined ? undefined : Number(values.threads);
const repo = resolve(import.meta.dirname, '..');


const now = (): number => performance.now();
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** One timed configuration: a function of the photo, run once per photo per round. */
interface Case extends TimedCase<RgbImage> {
  label: string;
}

const tmp = await mkdtemp(join(tmpdir(), 'prnet-bench-'));
try {
  // The CLI's first result: a fresh process, from start to exit, JSON only; timed first, while this
  // process holds nothing (later, the peer's tfjs stack and the sessions share the machine with it).
  // With the graph cache (the default; a first run fills it) and without it (PRNET_GRAPH_CACHE=off: a
  // model's first load builds its int8 graph), alternating.
  let cliMs: { cached: number; built: number } | null = null;
  const bin = join(repo, 'bin', 'prnet.js');
  if (values.cli && existsSync(join(repo, 'dist', 'cli', 'main.js'))) {
    const runs = { cached: [] as number[], built: [] as number[] };
    const cli = (env: NodeJS.ProcessEnv) => {
      const t = now();
      const r = spawnSync(process.execPath, [bin, 'reconstruct', join(repo, 'examples', 'astronaut.jpg'), '--out', tmp, '--formats', 'json', '--quiet'], { env });
      return r.status === 0 ? now() - t : null;
    };
    cli(process.env); // fills the graph cache where it is empty
    for (let i = 0; i < 3; i++) {
      for (const [key, env] of [['cached', process.env], ['built', { ...process.env, [GRAPH_CACHE_ENV]: 'off' }]] as const) {
        const ms = cli(env);
        if (ms !== null) runs[key].push(ms);
      }
    }
    if (runs.cached.length && runs.built.length) cliMs = { cached: median(runs.cached), built: median(runs.built) };
  }


  const { jpegs, photos } = await loadBenchPhotos();

  // Start-up: the pipeline with the bundled default model and the detector, three times (its graph
  // from the graph cache when the CLI runs above filled it: `startupGraph` says), then twice more
  // with the cache off (the graph built, as at a model's first load).
  const startup: number[] = [];
  const startupBuilt: number[] = [];
  let startupGraph = '';
  for (let i = 0; i < 5; i++) {
    const saved = process.env[GRAPH_CACHE_ENV];
    if (i >= 3) process.env[GRAPH_CACHE_ENV] = 'off';
    const t = now();
    const p = await createPrnet({ threads: THREADS });
    (i >= 3 ? startupBuilt : startup).push(now() - t);
    if (i === 0) startupGraph = p.session.graph;
    await p.dispose();
    if (saved === undefined) delete process.env[GRAPH_CACHE_ENV];
    else process.env[GRAPH_CACHE_ENV] = saved;
  }

  // Export: every output file for one face — the case of bench/export.ts (bench/export-case.ts),
  // and in the same kind of process: before the peer's tfjs stack is loaded, which the CLI never has
  // (its larger heap makes every garbage collection dearer).
  let exportMs: number[];
  {
    const p = await createPrnet({ threads: THREADS });
    const inputs = await exportInputs((image, o) => p.reconstruct(image, o), photos);
    ({ ms: exportMs } = await timeExport((input, layout) => buildOutputs('bench', input.image, input.faces, layout, new Set(OUTPUT_FORMATS), encodePng), inputs, p.layout, 16));
    await p.dispose();
  }

  const human = await loadHuman({ mesh: true });
  const facemesh = async (image: RgbImage): Promise<number> => {
    const t = human.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
    try {
      return (await human.detect(t)).face.length;
    } finally {
      t.dispose();
    }
  };
  const def = await createPrnet({ threads: THREADS });
  const light = await createPrnet({ model: 'light', threads: THREADS });
  // The light model at int8 (its default is its file's fp32): what int8 would gain it.
  const lightInt8 = await createPrnet({ model: 'light', threads: THREADS, precision: 'int8' });
  const recon = (p: Prnet, o: ReconstructOptions) => (image: RgbImage) => p.reconstruct(image, o);
  // One detector pass alone: the same detector without the second look at faces at the edge.
  const onePass = await createDetector({ retryPadded: false });
  // The second look as before region looks: the whole image at 256² inside a border.
  const wholeLook = await createDetector({ edgeLook: 'whole' });
  const cases: Case[] = [
    { label: 'FaceMesh (human, tfjs-wasm)', run: facemesh, ms: [], cpu: [] },
    { label: 'detector (blazeface)', run: (image) => def.detect(image), ms: [], cpu: [] },
    { label: 'detector, one pass (no edge look)', run: (image) => onePass.detect(image), ms: [], cpu: [] },
    { label: "detector, edgeLook 'whole' (the former second look)", run: (image) => wholeLook.detect(image), ms: [], cpu: [] },
    { label: 'default, flip (the default)', run: recon(def, { flip: true }), ms: [], cpu: [] },
    { label: 'default, no flip', run: recon(def, { flip: false }), ms: [], cpu: [] },
    { label: 'light, no flip', run: recon(light, { flip: false }), ms: [], cpu: [] },
    { label: 'light, flip', run: recon(light, { flip: true }), ms: [], cpu: [] },
    { label: 'light int8, no flip', run: recon(lightInt8, { flip: false }), ms: [], cpu: [] },
  ];
  const faceCounts = await Promise.all(photos.map((image) => def.detect(image).then((f) => f.length)));
  // A warm-up, then a fresh seeded shuffle of the cases per photo and round (bench/shuffle.ts says why).
  await timeRounds(cases, photos, ROUNDS);

  await def.dispose();
  await light.dispose();
  await lightInt8.dispose();

  // Many photos through the CLI's folder path, in this process.
  const folderCount = Number(values.folder);
  let folder: { photos: number; seconds: number } | null = null;
  if (folderCount > 0) {
    const dir = join(tmp, 'folder');
    await mkdir(dir);
    for (let i = 0; i < folderCount; i++) await writeFile(join(dir, `photo${String(i).padStart(4, '0')}.jpg`), jpegs[i % jpegs.length]);
    const t = now();
    const code = await runReconstruct([dir, '--out', join(tmp, 'folder-out'), '--formats', 'json', '--quiet', ...(THREADS ? ['--threads', String(THREADS)] : [])]);
    if (code === 0) folder = { photos: folderCount, seconds: (now() - t) / 1000 };
  }

  await onePass.release?.();
  await wholeLook.release?.();
  const peer = median(cases[0].ms);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`prnet-ts per photo vs FaceMesh, same process: ${photos.length} photos at 640×480 (${faceCounts.reduce((a, b) => a + b, 0)} faces) × ${ROUNDS} interleaved rounds, medians`);
  console.log(`${availableParallelism()} CPUs (${cpu}), network threads ${THREADS ?? 'default'}, Node ${process.version}\n`);
  const rows: [string, string, string, string?][] = cases.map((c) => [c.label, median(c.ms).toFixed(1), (median(c.ms) / peer).toFixed(2), median(c.cpu).toFixed(1)]);
  // The process's first call pays for memory never touched before (docs/model-format.md, "Loading").
  rows.push([`createPrnet() (default model + detector), the process's first (graph ${startupGraph})`, startup[0].toFixed(0), (startup[0] / peer).toFixed(1)]);
  rows.push(['createPrnet(), again (median of 2)', median(startup.slice(1)).toFixed(0), (median(startup.slice(1)) / peer).toFixed(1)]);
  rows.push(['createPrnet(), graph cache off: the graph built (median of 2)', median(startupBuilt).toFixed(0), (median(startupBuilt) / peer).toFixed(1)]);
  rows.push([`export, every file, one face (min ${Math.min(...exportMs).toFixed(1)})`, median(exportMs).toFixed(1), (median(exportMs) / peer).toFixed(2)]);
  if (cliMs !== null) {
    rows.push(['CLI first result (fresh process, JSON), graph cache', cliMs.cached.toFixed(0), (cliMs.cached / peer).toFixed(1)]);
    rows.push(['CLI first result, graph cache off (graph built)', cliMs.built.toFixed(0), (cliMs.built / peer).toFixed(1)]);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  if (folder) {
    // Start-up (createPrnet, measured above) is taken out: the rate is the folder's steady state.
    const rate = folder.photos / (folder.seconds - median(startup.slice(1)) / 1000);
    // The folder repeats the nine photos evenly, so its bound is 1 / the mean per-photo time (photos
    // with several faces take longer: the median of the table above would overstate the bound).
    const perPhoto = cases.find((c) => c.label.startsWith('default, flip'))!.ms;
    const bound = 1000 / (perPhoto.reduce((a, b) => a + b, 0) / perPhoto.length);
    console.log(`many photos: prnet reconstruct <${folder.photos} photos> --formats json in ${folder.seconds.toFixed(1)} s: ${rate.toFixed(2)} photos/s without start-up, ${(100 * rate / bound).toFixed(0)} % of the per-photo bound (${bound.toFixed(2)} photos/s)\n`);
  }
  // CPU ms: the process's CPU time during the call, all threads (a measure of work that the
  // machine's load disturbs less than the wall time).
  console.log(`${'per photo'.padEnd(w0)}  ${'ms'.padStart(7)}  × FaceMesh  CPU ms`);
  console.log(`${'-'.repeat(w0)}  -------  ----------  ------`);
  for (const [a, b, c, d] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(7)}  ${c.padStart(10)}  ${(d ?? '').padStart(6)}`);
  // Per-round ratios show how steady the comparison is under the machine's load.
  const perRound = (c: Case): string => Array.from({ length: ROUNDS }, (_, r) => {
    const slice = (x: Case) => median(x.ms.slice(r * photos.length, (r + 1) * photos.length));
    return (slice(c) / slice(cases[0])).toFixed(2);
  }).join(' / ');
  console.log('\nratio to FaceMesh by round:');
  for (const c of cases.slice(1)) console.log(`  ${c.label.padEnd(w0 - 2)}  ${perRound(c)}`);
} finally {
  await rm(tmp, { recursive: true, force: true });
}

