/**
 * Pipeline benchmark (`npm run bench`): milliseconds per stage — decode, detect, crop, network,
 * read-off, export — for one 640×480 photo, the median of several runs after warm-ups, for the
 * bundled default model (a random-weight resfcn256 when it is not there yet: same graph, same
 * cost) and the light variant (width 8, input 128), plus the time to create a session.
 *
 *   npm run bench -- [--runs 7] [--warmup 2] [--threads n] [--image path]
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createDetector } from '../src/detect/index.js';
import { decodeImageBuffer, encodePng } from '../src/io/image-node.js';
import { loadLayout } from '../src/layout/node.js';
import { RESFCN256, randomWeights, writeModelFile, type ResfcnConfig } from '../src/model/index.js';
import { BUNDLED_MODELS } from '../src/pipeline/node.js';
import { buildOutputs, OUTPUT_FORMATS } from '../src/pipeline/outputs.js';
import { Prnet } from '../src/pipeline/prnet.js';
import { createSession } from '../src/runtime/node.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '2' },
    threads: { type: 'string' },
    image: { type: 'string', default: resolve(import.meta.dirname, '../../shared/eval/aflw2000-3d/image00050.jpg') },
  },
});
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const THREADS = values.threads === undefined ? undefined : Number(values.threads);
const SESSION_RUNS = 3;
const LIGHT: ResfcnConfig = { width: 8, inputSize: 128, outputScale: RESFCN256.outputScale };

const now = (): number => performance.now();
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const STAGES = ['decode', 'detect', 'crop', 'network', 'readoff', 'export', 'total'] as const;
type Stage = (typeof STAGES)[number];

interface Row {
  label: string;
  session: number;
  faces: number;
  stages: Record<Stage, number>;
}

const tmp = await mkdtemp(join(tmpdir(), 'prnet-bench-'));
try {
  // The photo, resized in memory to 640×480 and kept as JPEG bytes: decoding is part of the measurement.
  const jpeg = await sharp(await readFile(values.image)).resize(640, 480, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
  const layout = await loadLayout();
  let t = now();
  const detector = await createDetector();
  const detectorLoad = now() - t;

  const models: { label: string; path: string }[] = [];
  for (const [name, config] of [['default', RESFCN256], ['light', LIGHT]] as const) {
    const bundled = BUNDLED_MODELS[name];
    if (existsSync(bundled)) {
      models.push({ label: `${name} (bundled)`, path: bundled });
    } else {
      const path = join(tmp, `${name}.safetensors`);
      await writeModelFile(path, randomWeights(config, 1), { dtype: 'F16' });
      models.push({ label: `${name} (random w${config.width}/${config.inputSize}, not bundled yet)`, path });
    }
  }

  const rows: Row[] = [];
  for (const m of models) {
    // Session creation: read + validate the file, emit the graph, let onnxruntime optimise it.
    const sessionTimes: number[] = [];
    for (let i = 0; i < SESSION_RUNS; i++) {
      t = now();
      const s = await createSession(m.path, { threads: THREADS });
      sessionTimes.push(now() - t);
      await s.release();
    }
    const session = await createSession(m.path, { threads: THREADS });
    const prnet = new Prnet(session, layout, detector);
    const samples: Record<Stage, number[]> = Object.fromEntries(STAGES.map((s) => [s, []])) as unknown as Record<Stage, number[]>;
    let faces = 0;
    for (let run = 0; run < WARMUP + RUNS; run++) {
      const t0 = now();
      const image = await decodeImageBuffer(jpeg, 'bench.jpg');
      const decode = now() - t0;
      const result = await prnet.reconstruct(image);
      t = now();
      await buildOutputs('bench', image, result.faces, layout, new Set(OUTPUT_FORMATS), encodePng);
      const exp = now() - t;
      const total = now() - t0;
      faces = result.faces.length;
      if (run < WARMUP) continue;
      const { detect, crop, network, readoff } = result.timings;
      const one: Record<Stage, number> = { decode, detect, crop, network, readoff, export: exp, total };
      for (const s of STAGES) samples[s].push(one[s]);
    }
    await prnet.dispose();
    rows.push({
      label: m.label,
      session: median(sessionTimes),
      faces,
      stages: Object.fromEntries(STAGES.map((s) => [s, median(samples[s])])) as Record<Stage, number>,
    });
  }

  const cpu = `${availableParallelism()} CPUs, threads ${THREADS ?? 'default'}`;
  console.log(`prnet-ts pipeline: one 640×480 photo (${values.image.replace(/^.*\//, '')}), median of ${RUNS} runs after ${WARMUP} warm-ups; ${cpu}; Node ${process.version}`);
  console.log(`detector (blazeface-mesh) load: ${detectorLoad.toFixed(0)} ms; session creation: median of ${SESSION_RUNS}`);
  console.log('export = every output file built in memory (JSON, OBJ, textured OBJ + PNG, PLY, GLB, depth and overlay PNGs)\n');
  const headers = ['model', 'faces', 'session', ...STAGES.map((s) => (s === 'readoff' ? 'read-off' : s))];
  const table = rows.map((r) => [r.label, String(r.faces), r.session.toFixed(0), ...STAGES.map((s) => r.stages[s].toFixed(1))]);
  const widths = headers.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(headers) + '   (ms)');
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
} finally {
  await rm(tmp, { recursive: true, force: true });
}
