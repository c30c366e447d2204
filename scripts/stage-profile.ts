/**
 * Where the time of one photo goes: the stages of `Prnet.reconstruct` timed one by one (the same
 * calls, in the same order, as src/pipeline/prnet.ts), on the nine 640×480 photos of `npm run
 * bench`, for the default model with and without test-time flip and the light model, interleaved
 * with FaceMesh (human, tfjs-wasm) in the same process, so every total is also a ratio to it.
 *
 * Printed per configuration: the total (median, × FaceMesh), then per stage the mean and its share
 * of the total, and the minimum over the photos and rounds (on a shared, loaded machine the
 * minimum is the closest to a quiet machine's time; the means carry the load), and the process's
 * CPU time per photo (all threads: a measure of the work, less disturbed by the load). Also the detector's
 * passes per photo (a 128² region look per face at the image's edge; a second 256² pass when none is found).
 *
 *   npx tsx scripts/stage-profile.ts [--rounds 3] [--model PATH [--precision int8|fp32]]
 *
 * --model adds a case for another model file (no flip), e.g. the real-time architecture's.
 */
import { loadBenchPhotos } from '../bench/photos.js';
import { parseArgs } from 'node:util';
import { cropFromBox, uncropEnlarged, uncropPositionMap, writeCropInput } from '../src/crop/index.js';
import { createDetector } from '../src/detect/index.js';
import { loadHuman } from '../src/detect/human-node.js';
import { touchesEdge } from '../src/detect/detector.js';
import { MAX_EDGE_LOOKS } from '../src/detect/blazeface-detector.js';
import { coarseMask, estimatePose, mergeFlippedMap, prepareSource, readLandmarks, readVertices, smoothPositionMap, type PreparedSource } from '../src/geometry/index.js';
import { createPrnet } from '../src/pipeline/node.js';
import { defaultSmooth, type Prnet } from '../src/pipeline/prnet.js';
import { chwToHwcFinite, resizeSquare } from '../src/runtime/resample.js';
import type { RgbImage } from '../src/types.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, model: { type: 'string' }, precision: { type: 'string' } } });
const ROUNDS = Number(values.rounds);
const { photos } = await loadBenchPhotos();
const now = (): number => performance.now();
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const human = await loadHuman({ mesh: true });
const facemesh = async (image: RgbImage): Promise<void> => {
  const t = human.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
  try {
    await human.detect(t);
  } finally {
    t.dispose();
  }
};
const def = await createPrnet();
const light = await createPrnet({ model: 'light' });
const extra = values.model ? await createPrnet({ model: values.model, precision: values.precision as 'int8' | 'fp32' | undefined }) : undefined;
const onePass = await createDetector({ retryPadded: false });

const STAGES = ['detect', 'crop', 'network', 'fromNetwork', 'merge', 'smooth', 'uncrop', 'readoff', 'pose'] as const;
type Spans = Record<(typeof STAGES)[number], number>;

/** Scratch arrays per length, as Prnet keeps them. */
const scratchArrays = new Map<number, Float32Array>();
const scratch = (n: number): Float32Array => {
  let a = scratchArrays.get(n);
  if (!a) scratchArrays.set(n, (a = new Float32Array(n)));
  return a;
};
const prepared = new Map<Prnet, PreparedSource | null>();

/** reconstruct(image, { flip }) stage by stage: the calls of src/pipeline/prnet.ts, in its order. */
async function staged(p: Prnet, image: RgbImage, flip: boolean): Promise<Spans> {
  const s = Object.fromEntries(STAGES.map((k) => [k, 0])) as Spans;
  let t = now();
  const items = (await p.detect(image)).map((box) => ({ box, crop: cropFromBox(box, p.detector!.kind) }));
  s.detect = now() - t;
  const n = items.length;
  if (!n) return s;
  const S = p.session.inputSize;
  const plane = S * S;
  const sigma = defaultSmooth(S);
  const onInputGrid = !flip && sigma > 0 && S < 256;
  // The crops straight into the network's input (mirrored after them for the flip).
  t = now();
  const batch = new Float32Array((flip ? 2 : 1) * n * 3 * plane);
  items.forEach((it, i) => writeCropInput(image, it.crop, S, batch, i * 3 * plane, flip ? (n + i) * 3 * plane : -1));
  s.crop = now() - t;
  t = now();
  const y = await p.session.run(batch, flip ? 2 * n : n);
  s.network = now() - t;
  // Back to interleaved maps with the finiteness check (and, for a smaller model, up to 256²
  // unless it is smoothed on its own grid first).
  t = now();
  let maps = Array.from({ length: flip ? 2 * n : n }, (_, i) => {
    const data = chwToHwcFinite(y, S, i * 3 * plane)!;
    return S === 256 || onInputGrid ? { size: S, data } : { size: 256, data: resizeSquare(data, S, 256, 3) };
  });
  s.fromNetwork = now() - t;
  t = now();
  if (flip) maps = items.map((_, i) => mergeFlippedMap(maps[i], maps[i + n], p.layout));
  s.merge = now() - t;
  const smallMask = onInputGrid ? coarseMask(p.layout.faceMask, p.layout.size, S) : null;
  if (!prepared.has(p)) prepared.set(p, prepareSource(p.layout.canonical));
  items.forEach((it, i) => {
    t = now();
    const smoothed = smoothPositionMap(maps[i], smallMask ?? p.layout.faceMask, smallMask ? (sigma * S) / 256 : sigma, scratch(maps[i].data.length));
    s.smooth += now() - t;
    // A map smoothed on the smaller grid is enlarged and uncropped in one pass (counted as uncrop).
    t = now();
    const map = smallMask ? uncropEnlarged(smoothed, it.crop, 256) : uncropPositionMap(smoothed, it.crop);
    s.uncrop += now() - t;
    t = now();
    const vertices = readVertices(map, p.layout);
    readLandmarks(map, p.layout);
    s.readoff += now() - t;
    t = now();
    estimatePose(vertices, p.layout.canonical, prepared.get(p));
    s.pose += now() - t;
  });
  return s;
}

const cases: { label: string; run: (im: RgbImage) => Promise<Spans | void>; totals: number[]; cpu: number[]; spans: Spans[] }[] = [
  { label: 'FaceMesh (human, tfjs-wasm)', run: facemesh, totals: [], cpu: [], spans: [] },
  { label: 'detector, one pass', run: async (im) => void (await onePass.detect(im)), totals: [], cpu: [], spans: [] },
  { label: 'default, flip', run: (im) => staged(def, im, true), totals: [], cpu: [], spans: [] },
  { label: 'default, no flip', run: (im) => staged(def, im, false), totals: [], cpu: [], spans: [] },
  { label: 'light, no flip', run: (im) => staged(light, im, false), totals: [], cpu: [], spans: [] },
  ...(extra ? [{ label: `${values.model} (${extra.session.precision}), no flip`, run: (im: RgbImage) => staged(extra, im, false), totals: [] as number[], cpu: [] as number[], spans: [] as Spans[] }] : []),
];
for (const im of photos) for (const c of cases) await c.run(im);
for (let r = 0; r < ROUNDS; r++) {
  for (const [pi, im] of photos.entries()) {
    // The order rotates, so that no case always follows the same one.
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + r + pi) % cases.length];
      const cpu = process.cpuUsage();
      const t = now();
      const spans = await c.run(im);
      c.totals.push(now() - t);
      const used = process.cpuUsage(cpu);
      c.cpu.push((used.user + used.system) / 1000);
      if (spans) c.spans.push(spans);
    }
  }
}
const peer = median(cases[0].totals);
console.log(`${photos.length} photos at 640×480 × ${ROUNDS} rounds, order rotated; ms per photo\n`);
for (const c of cases) {
  const total = median(c.totals);
  console.log(`${c.label}: median ${total.toFixed(1)} ms, ${(total / peer).toFixed(2)}× FaceMesh, min ${Math.min(...c.totals).toFixed(1)} ms; CPU time (all threads) median ${median(c.cpu).toFixed(1)} ms`);
  if (!c.spans.length) continue;
  const mean = (k: keyof Spans): number => c.spans.reduce((a, s) => a + s[k], 0) / c.spans.length;
  const sum = STAGES.reduce((a, k) => a + mean(k), 0);
  const shown = STAGES.filter((k) => mean(k) > 0);
  console.log('  stage        ' + shown.map((k) => k.padStart(12)).join(''));
  console.log('  mean ms      ' + shown.map((k) => mean(k).toFixed(2).padStart(12)).join(''));
  console.log('  share        ' + shown.map((k) => `${((100 * mean(k)) / sum).toFixed(0)} %`.padStart(12)).join(''));
  console.log('  min ms       ' + shown.map((k) => Math.min(...c.spans.map((s) => s[k])).toFixed(2).padStart(12)).join(''));
}
const passes = await Promise.all(photos.map(async (im) => {
  const first = await onePass.detect(im);
  if (!first.length) return '2';
  const atEdge = first.filter((b) => touchesEdge(b, im.width, im.height)).length;
  return atEdge > MAX_EDGE_LOOKS ? '2' : atEdge ? `1+${atEdge}r` : '1';
}));
console.log(`\ndetector passes per photo: ${passes.join(' ')} (2: a second 256² pass, nothing found or more than ${MAX_EDGE_LOOKS} faces at the edge; +r: a 128² region look per face at the edge)`);
await Promise.all([def.dispose(), light.dispose(), onePass.release?.()]);
process.exit(0);
