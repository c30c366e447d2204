/**
 * Speed of the real-time architecture (`architecture: 'mobile'`, src/model/mobile.ts) against
 * FaceMesh and the bundled light model, in one process, interleaved (a seeded shuffle of the cases
 * per photo and round, bench/shuffle.ts), medians. The mobile networks have RANDOM weights
 * (UNTRAINED: their output is meaningless; only their time is measured), with int8 ranges from a
 * min/max calibration on real face crops (../shared/eval/portraits).
 *
 * Columns: the median wall time and its ratio to FaceMesh's, the minimum (on a loaded machine the
 * closest to a quiet one's), the median CPU time of the process during the call (all threads: the
 * work, less disturbed by load than the wall time) and its ratio to FaceMesh's.
 *
 * Two kinds of row:
 * - per photo (`reconstruct`, no flip, decode excluded): detect + crop + network + read-offs, as
 *   `npm run bench` times it, with the peer (FaceMesh via human, tfjs-wasm) in the same rounds;
 * - network only: one forward pass of one face on onnxruntime-node (the session the pipeline uses).
 *
 *   npx tsx scripts/realtime-bench.ts [--rounds 5] [--threads 2] [--configs 16/128,32/128]
 *        [--no-facemesh] [--network-only] [--json out.json]
 *
 * --configs: width/input pairs of the mobile architecture (every one fp32 and int8).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { timeRounds, type TimedCase } from '../bench/shuffle.js';
import { loadBenchPhotos } from '../bench/photos.js';
import { writeModelFile } from '../src/model/file-node.js';
import { buildResfcnOnnx, multiplyAdds, type ActivationRanges, type GraphOptions, type ResfcnConfig } from '../src/model/resfcn.js';
import { readModelFile } from '../src/model/file-node.js';
import { INT8_RANGES_KEY, int8RangesFromMetadata, randomWeights, type ModelWeights } from '../src/model/weights.js';
import { createPrnet, resolveModel } from '../src/pipeline/node.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import { hwcToChw, resizeSquare } from '../src/runtime/resample.js';
import type { FloatImage, RgbImage } from '../src/types.js';
import { faceCrops, listImages } from './face-crops.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    configs: { type: 'string', default: '16/128,32/128' },
    facemesh: { type: 'boolean', default: true },
    'network-only': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
  allowNegative: true,
});
const ROUNDS = Number(values.rounds);
const THREADS = Number(values.threads);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const configs: ResfcnConfig[] = values.configs.split(',').filter(Boolean).map((c) => {
  const [w, s] = c.split('/').map(Number);
  return { width: w, inputSize: s, outputScale: 281.6, architecture: 'mobile' };
});

/** min/max of every activation the int8 graph quantizes, over the crops and their mirror images. */
async function calibrate(weights: ModelWeights, crops: readonly FloatImage[]): Promise<ActivationRanges> {
  const S = weights.config.inputSize;
  const session = await ort.InferenceSession.create(buildResfcnOnnx(weights.tensors, weights.config, { exposeActivations: true }));
  const names = session.outputNames.filter((n) => n !== 'output');
  const ranges: Record<string, [number, number]> = { input: [0, 1] };
  for (const n of names) ranges[n] = [0, 0];
  const x = new Float32Array(3 * S * S);
  for (const crop of crops) {
    for (const mirror of [false, true]) {
      hwcToChw(S === 256 ? crop.data : resizeSquare(crop.data, 256, S, 3), S, 3, x);
      if (mirror) for (let r = 0; r < 3 * S; r++) x.subarray(r * S, (r + 1) * S).reverse();
      const out = await session.run({ input: new ort.Tensor('float32', x, [1, 3, S, S]) });
      for (const n of names) {
        const d = out[n].data as Float32Array;
        const r = ranges[n];
        for (let i = 0; i < d.length; i++) {
          if (d[i] < r[0]) r[0] = d[i];
          if (d[i] > r[1]) r[1] = d[i];
        }
      }
    }
  }
  await session.release();
  return ranges;
}

interface Case extends TimedCase<RgbImage> {
  label: string;
  kind: 'photo' | 'network';
  macs?: number;
}

const tmp = await mkdtemp(join(tmpdir(), 'prnet-rt-bench-'));
try {
  const { photos } = await loadBenchPhotos();
  const crops = (await faceCrops(await listImages('../shared/eval/portraits'), 8)).map((c) => c.crop);
  const cases: Case[] = [];
  const disposers: (() => Promise<unknown>)[] = [];
  const sessionOptions: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: THREADS, interOpNumThreads: 1 };

  /** A network-only case: one forward pass of one crop. */
  const networkCase = async (label: string, weights: ModelWeights, graph: GraphOptions): Promise<void> => {
    const S = weights.config.inputSize;
    const session = await ort.InferenceSession.create(buildResfcnOnnx(weights.tensors, weights.config, graph), sessionOptions);
    disposers.push(() => session.release());
    const x = new Float32Array(3 * S * S);
    hwcToChw(S === 256 ? crops[0].data : resizeSquare(crops[0].data, 256, S, 3), S, 3, x);
    cases.push({ label, kind: 'network', run: () => session.run({ input: new ort.Tensor('float32', x, [1, 3, S, S]) }), ms: [], cpu: [], macs: multiplyAdds(weights.config) });
  };
  const photoCase = async (label: string, model: string, precision: 'fp32' | 'int8', macs: number): Promise<void> => {
    const p: Prnet = await createPrnet({ model, threads: THREADS, precision });
    disposers.push(() => p.dispose());
    cases.push({ label, kind: 'photo', run: (image) => p.reconstruct(image, { flip: false }), ms: [], cpu: [], macs });
  };

  if (values.facemesh && !values['network-only']) {
    const { loadHuman } = await import('../src/detect/human-node.js');
    const human = await loadHuman({ mesh: true });
    cases.push({
      label: 'FaceMesh (human, tfjs-wasm)', kind: 'photo', ms: [], cpu: [],
      run: async (image) => {
        const t = human.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
        try {
          return (await human.detect(t)).face.length;
        } finally {
          t.dispose();
        }
      },
    });
  }
  const lightPath = resolveModel('light') as string;
  const light = await readModelFile(lightPath);
  const lightRanges = int8RangesFromMetadata(light.metadata, lightPath);
  if (!values['network-only']) {
    const det = await createPrnet({ threads: THREADS, model: 'light' });
    disposers.push(() => det.dispose());
    cases.push({ label: 'detector (blazeface), whole call', kind: 'photo', run: (image) => det.detect(image), ms: [], cpu: [] });
    await photoCase('light (resfcn w8/128), fp32', 'light', 'fp32', multiplyAdds(light.config));
    if (lightRanges) await photoCase('light (resfcn w8/128), int8', 'light', 'int8', multiplyAdds(light.config));
  }
  await networkCase('light (resfcn w8/128), fp32', light, {});
  if (lightRanges) await networkCase('light (resfcn w8/128), int8', light, { precision: 'int8', ranges: lightRanges });

  for (const config of configs) {
    const weights = randomWeights(config, 1, { description: 'random weights (untrained), for timing only' });
    const ranges = await calibrate(weights, crops);
    weights.metadata[INT8_RANGES_KEY] = JSON.stringify(ranges);
    const path = join(tmp, `mobile-w${config.width}-s${config.inputSize}.safetensors`);
    await writeModelFile(path, weights, { dtype: 'F32' });
    const tag = `mobile w${config.width}/${config.inputSize} UNTRAINED`;
    for (const precision of ['fp32', 'int8'] as const) {
      if (!values['network-only']) await photoCase(`${tag}, ${precision}`, path, precision, multiplyAdds(config));
      await networkCase(`${tag}, ${precision}`, weights, precision === 'int8' ? { precision, ranges } : {});
    }
  }

  await timeRounds(cases, photos, ROUNDS);
  for (const d of disposers) await d();

  const peerCase = cases.find((c) => c.label.startsWith('FaceMesh'));
  const peer = peerCase ? median(peerCase.ms) : NaN;
  const peerCpu = peerCase ? median(peerCase.cpu) : NaN;
  console.log(`${photos.length} photos × ${ROUNDS} interleaved rounds, ${THREADS} threads, medians; mobile rows have RANDOM (untrained) weights`);
  const w0 = Math.max(...cases.map((c) => c.label.length)) + 2;
  const rows: Record<string, unknown>[] = [];
  for (const kind of ['photo', 'network'] as const) {
    const list = cases.filter((c) => c.kind === kind);
    if (!list.length) continue;
    console.log(`\n${(kind === 'photo' ? 'per photo (reconstruct, no flip)' : 'network only (one face, batch 1)').padEnd(w0)}  ${'ms'.padStart(7)}  × FaceMesh  ${'min'.padStart(6)}  CPU ms  CPU × FM  G MACs`);
    for (const c of list) {
      const ms = median(c.ms);
      const cpu = median(c.cpu);
      const min = Math.min(...c.ms);
      rows.push({ kind, label: c.label, ms, ratio: ms / peer, min, cpu, cpuRatio: cpu / peerCpu, macs: c.macs ?? null });
      console.log(`${c.label.padEnd(w0)}  ${ms.toFixed(2).padStart(7)}  ${(ms / peer).toFixed(3).padStart(10)}  ${min.toFixed(2).padStart(6)}  ${cpu.toFixed(1).padStart(6)}  ${(cpu / peerCpu).toFixed(3).padStart(8)}  ${c.macs ? (c.macs / 1e9).toFixed(3).padStart(6) : ''}`);
    }
  }
  if (values.json) await writeFile(values.json, JSON.stringify({ rounds: ROUNDS, threads: THREADS, rows }, null, 1) + '\n');
} finally {
  await rm(tmp, { recursive: true, force: true });
}
