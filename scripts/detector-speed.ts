/**
 * The default detector's time per photo on the benchmarks' nine 640×480 photos, three ways in one
 * process, interleaved: the whole call (a 128² region look at faces on the edge), the whole call
 * with `edgeLook: 'whole'` (a second 256² pass instead, the rule before region looks), one pass
 * alone (256 × 224 for these 4:3 photos), and one pass over the full 256² square
 * (`trimLetterbox: false`). Printed per case: the mean over the photos of each photo's minimum over the rounds
 * (wall and CPU; on a loaded machine the minimum is the closest to a quiet machine's time, and at
 * one thread it hardly moves with the load), then each photo's minimum.
 *
 *   npx tsx scripts/detector-speed.ts [--threads 1] [--rounds 15]
 *   npx tsx scripts/detector-speed.ts --threads 1,2    # the whole call at each thread count, interleaved
 */
import { parseArgs } from 'node:util';
import { loadBenchPhotos, BENCH_PHOTOS } from '../bench/photos.js';
import { timeRounds, type TimedCase } from '../bench/shuffle.js';
import { createDetector, type Detector } from '../src/detect/index.js';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '1' }, rounds: { type: 'string', default: '15' } } });
// A list (--threads 1,2) compares the whole call at each count, interleaved in one process.
const counts = values.threads.split(',').map(Number);
const threads = counts[0];
const rounds = Number(values.rounds);
const { photos } = await loadBenchPhotos();
const cases: [string, Detector][] = counts.length > 1
  ? await Promise.all(counts.map(async (t): Promise<[string, Detector]> => [`whole call, ${t} thread${t === 1 ? '' : 's'}`, await createDetector({ threads: t })]))
  : [
    ['whole call (region looks)', await createDetector({ threads })],
    ["whole call, edgeLook 'whole'", await createDetector({ threads, edgeLook: 'whole' })],
    ['one pass', await createDetector({ threads, retryPadded: false })],
    ['one pass, full 256² square', await createDetector({ threads, retryPadded: false, trimLetterbox: false })],
  ];
const timed: TimedCase<(typeof photos)[number]>[] = cases.map(([, d]) => ({ run: (photo) => d.detect(photo), ms: [], cpu: [] }));
await timeRounds(timed, photos, rounds);
// Each photo's minimum over the rounds (call r × photos + p is photo p's in round r).
const perPhotoMin = (xs: number[]): number[] => photos.map((_, p) => Math.min(...xs.filter((_, k) => k % photos.length === p)));
const wall = timed.map((c) => perPhotoMin(c.ms));
const cpu = timed.map((c) => perPhotoMin(c.cpu));
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`detector per 640×480 photo, ${counts.join(' / ')} thread(s), ${rounds} rounds: mean over the photos of each photo's minimum\n`);
for (const [k, [label]] of cases.entries()) {
  console.log(`${label.padEnd(30)} wall ${mean(wall[k]).toFixed(2)} ms (${(mean(wall[k]) / mean(wall[0])).toFixed(2)}×)  CPU ${mean(cpu[k]).toFixed(2)} ms`);
}
console.log('\nper photo, wall ms (minimum):');
for (const [p, name] of BENCH_PHOTOS.entries()) console.log(`  ${name.padEnd(28)} ${cases.map((_, k) => wall[k][p].toFixed(1).padStart(6)).join(' ')}`);
for (const [, d] of cases) await d.release?.();
