/**
 * This tree's `reconstruct` against an earlier tree's, in one process, interleaved call by call on
 * the nine 640×480 photos of `npm run bench` (bench/photos.ts): the outputs are compared (position
 * map, landmarks, vertices, pose, boxes: the largest difference, 0 when bit for bit the same), then
 * each configuration is timed (median wall and CPU ms per photo, and the median of the per-call
 * ratio after ÷ before, which the machine's load disturbs least). With --stages, also the
 * JavaScript stages per face (crop → network input, output → map, smoothing, enlarging and
 * uncropping, pose, the detector's block-averaged windows), earlier tree's functions against this
 * tree's (the earlier tree must have main's functions of 0ded757: warpCrop, mirrorImage, hwcToChw…).
 * With --detector, also the default detector of both trees on every photo of ../shared/eval's sets
 * (AFLW2000-3D and its 1,000-image dev set, iBUG, AFW, portraits, WebFaces): boxes, scores and
 * keypoints compared.
 *
 * The earlier tree is unpacked inside this repository, so that it finds node_modules and, through a
 * link, the assets:
 *
 *   mkdir -p tmp/before && git archive 0ded757 src | tar -x -C tmp/before && ln -s ../../assets tmp/before/assets
 *   npx tsx scripts/reconstruct-compare.ts --before tmp/before [--rounds 5] [--cases default-noflip,light-noflip,default-flip,light-flip] [--stages] [--detector]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadBenchPhotos } from '../bench/photos.js';
import { timeRounds, type TimedCase } from '../bench/shuffle.js';
import * as N from '../src/crop/index.js';
import * as ND from '../src/detect/blazeface.js';
import * as NG from '../src/geometry/index.js';
import * as NP from '../src/pipeline/node.js';
import * as NR from '../src/runtime/resample.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import type { RgbImage } from '../src/types.js';

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    cases: { type: 'string', default: 'default-noflip,light-noflip,default-flip,light-flip' },
    stages: { type: 'boolean', default: false },
    detector: { type: 'boolean', default: false },
  },
});
if (!values.before) throw new Error('--before DIR (an earlier tree with src/ and a link to assets/) is required');
const before = resolve(values.before);
if (!existsSync(join(before, 'src', 'pipeline', 'node.ts'))) throw new Error(`${before} has no src/pipeline/node.ts`);
if (!existsSync(join(before, 'assets'))) throw new Error(`${before}/assets is missing: ln -s ../../assets ${values.before}/assets`);
const load = <T>(rel: string): Promise<T> => import(pathToFileURL(join(before, 'src', rel)).href) as Promise<T>;
const OP = await load<typeof NP>('pipeline/node.ts');
const ROUNDS = Number(values.rounds);
const { photos } = await loadBenchPhotos();
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? (Object.is(a[i], b[i]) ? m : Infinity) : d;
  }
  return m;
};

console.log(`reconstruct, ${before} (before) against this tree (after): ${photos.length} photos at 640×480 × ${ROUNDS} interleaved rounds\n`);
for (const name of values.cases!.split(',')) {
  const [model, f] = name.split('-');
  const flip = f === 'flip';
  const options = model === 'default' ? {} : { model };
  const pa: Prnet = await OP.createPrnet(options);
  const pb: Prnet = await NP.createPrnet(options);
  let worst = 0;
  let counts = 0;
  for (const image of photos) {
    const [ra, rb] = [await pa.reconstruct(image, { flip }), await pb.reconstruct(image, { flip })];
    if (ra.faces.length !== rb.faces.length) counts++;
    for (let i = 0; i < Math.min(ra.faces.length, rb.faces.length); i++) {
      const [a, b] = [ra.faces[i], rb.faces[i]];
      worst = Math.max(worst, maxDiff(a.positionMap.data, b.positionMap.data), maxDiff(a.landmarks, b.landmarks), maxDiff(a.vertices, b.vertices),
        maxDiff(a.pose.matrix, b.pose.matrix), maxDiff([a.pose.yaw, a.pose.pitch, a.pose.roll], [b.pose.yaw, b.pose.pitch, b.pose.roll]),
        maxDiff([a.box.x, a.box.y, a.box.width, a.box.height, a.box.score], [b.box.x, b.box.y, b.box.width, b.box.height, b.box.score]));
    }
  }
  const cases: TimedCase<RgbImage>[] = [pa, pb].map((p) => ({ run: (image: RgbImage) => p.reconstruct(image, { flip }), ms: [], cpu: [] }));
  await timeRounds(cases, photos, ROUNDS);
  const ratio = median(cases[0].ms.map((x, i) => cases[1].ms[i] / x));
  console.log(`${name}: outputs ${worst === 0 && !counts ? 'bit for bit the same' : `differ (largest ${worst}, face counts differ on ${counts} photos)`}`);
  for (const [k, c] of cases.entries()) console.log(`  ${k ? 'after ' : 'before'}  median ${median(c.ms).toFixed(1)} ms, CPU ${median(c.cpu).toFixed(1)} ms`);
  console.log(`  after ÷ before, median over the calls: ${ratio.toFixed(3)}`);
  await Promise.all([pa.dispose(), pb.dispose()]);
}

if (values.stages) {
  const O = await load<typeof N>('crop/index.ts');
  const OG = await load<typeof NG>('geometry/index.ts');
  const OR = await load<typeof NR>('runtime/resample.ts');
  const OD = await load<typeof ND>('detect/blazeface.ts');
  const p = await NP.createPrnet({ model: 'light' });
  const L = p.layout;
  const faces: { image: RgbImage; crop: N.CropTransform }[] = [];
  for (const image of photos) for (const box of await p.detect(image)) faces.push({ image, crop: N.cropFromBox(box, 'blazeface') });
  // Stand-ins for the network's output (the stages' cost does not depend on the values).
  let seed = 1;
  const random = (n: number): Float32Array => new Float32Array(n).map(() => 100 + 50 * ((seed = (seed * 16807) % 2147483647) / 2147483647));
  const out256 = random(3 * 256 * 256);
  const map256 = { size: 256, data: NR.chwToHwc(out256, 256, 3, 0) };
  const map128 = { size: 128, data: NR.chwToHwc(random(3 * 128 * 128), 128, 3, 0) };
  const mask128 = NG.coarseMask(L.faceMask, 256, 128);
  const vertices = NG.readVertices(N.uncropPositionMap(map256, faces[0].crop), L);
  const prepared = NG.prepareSource(L.canonical);
  const [s256, s128, b256, b128, d256] = [3 * 65536, 3 * 16384, 6 * 65536, 6 * 16384, 3 * 65536].map((n) => new Float32Array(n));
  const each = (f: (face: (typeof faces)[number]) => unknown) => () => faces.forEach(f);
  const stages: [string, () => unknown, () => unknown][] = [
    ['crop → network input, 256², no flip', each((f) => OR.hwcToChw(O.warpCrop(f.image, f.crop).data, 256, 3, b256, 0)), each((f) => N.writeCropInput(f.image, f.crop, 256, b256, 0))],
    ['crop → network input, 256², flip (crop and mirror)', each((f) => {
      const c = O.warpCrop(f.image, f.crop);
      OR.hwcToChw(c.data, 256, 3, b256, 0);
      OR.hwcToChw(OG.mirrorImage(c).data, 256, 3, b256, 3 * 65536);
    }), each((f) => N.writeCropInput(f.image, f.crop, 256, b256, 0, 3 * 65536))],
    ['crop → network input, 128² (light), no flip', each((f) => OR.hwcToChw(OR.resizeSquare(O.warpCrop(f.image, f.crop).data, 256, 128, 3), 128, 3, b128, 0)), each((f) => N.writeCropInput(f.image, f.crop, 128, b128, 0))],
    ['network output → map + finiteness check, 256²', each(() => {
      const m = OR.chwToHwc(out256, 256, 3, 0);
      for (let i = 0; i < m.length; i++) if (!Number.isFinite(m[i])) throw new Error('not finite');
    }), each(() => NR.chwToHwcFinite(out256, 256, 0, d256))],
    ['smoothing 256², σ 1', each(() => OG.smoothPositionMap(map256, L.faceMask, 1)), each(() => NG.smoothPositionMap(map256, L.faceMask, 1, s256))],
    ['uncrop 256²', each((f) => O.uncropPositionMap(map256, f.crop)), each((f) => N.uncropPositionMap(map256, f.crop))],
    ['light: smoothing 128², enlarging to 256², uncrop', each((f) => O.uncropPositionMap({ size: 256, data: OR.resizeSquare(OG.smoothPositionMap(map128, mask128, 1).data, 128, 256, 3) }, f.crop)),
      each((f) => N.uncropEnlarged(NG.smoothPositionMap(map128, mask128, 1, s128), f.crop, 256))],
    ['pose', each(() => OG.estimatePose(vertices, L.canonical)), each(() => NG.estimatePose(vertices, L.canonical, prepared))],
    ['detector: padded 256² window, einstein (per call)', () => OD.fillInput(photos[5], b256, 256, -160, -240, 960), () => ND.fillInput(photos[5], b256, 256, -160, -240, 960)],
    ['detector: 128² region look, bjork (per call)', () => OD.fillInput(photos[7], b128, 128, -150, -230, 931), () => ND.fillInput(photos[7], b128, 128, -150, -230, 931)],
  ];
  const reps = 6 * ROUNDS;
  console.log(`\nJavaScript stages, ${faces.length} faces of the ${photos.length} photos: ms per face (detector rows: per call), median of ${reps} interleaved repetitions\n`);
  console.log('| stage | before | after | after ÷ before |\n|---|---|---|---|');
  for (const [label, a, b] of stages) {
    const per = label.includes('per call') ? 1 : faces.length;
    for (let i = 0; i < 3; i++) {
      a();
      b();
    }
    const [ta, tb]: number[][] = [[], []];
    for (let r = 0; r < reps; r++) {
      let t = performance.now();
      a();
      ta.push((performance.now() - t) / per);
      t = performance.now();
      b();
      tb.push((performance.now() - t) / per);
    }
    console.log(`| ${label} | ${median(ta).toFixed(2)} | ${median(tb).toFixed(2)} | ${(median(tb) / median(ta)).toFixed(2)} |`);
  }
  await p.dispose();
}

if (values.detector) {
  const OD = await load<typeof import('../src/detect/index.js')>('detect/index.ts');
  const { createDetector } = await import('../src/detect/index.js');
  const { decodeImageFile } = await import('../src/io/image-node.js');
  const { readdir } = await import('node:fs/promises');
  const [a, b] = [await OD.createDetector(), await createDetector()];
  const root = join(import.meta.dirname, '..', '..', 'shared', 'eval');
  const files: string[] = [];
  for (const set of ['aflw2000-3d', 'aflw2000-3d-dev', 'ibug68', 'afw68', 'portraits', 'webfaces-detect']) {
    if (!existsSync(join(root, set))) continue;
    for (const f of await readdir(join(root, set))) if (/\.(jpe?g|png)$/i.test(f)) files.push(join(root, set, f));
  }
  let differ = 0;
  let faces = 0;
  for (const file of files) {
    const image = await decodeImageFile(file);
    const [x, y] = [await a.detect(image), await b.detect(image)];
    faces += y.length;
    const flat = (boxes: typeof x) => boxes.flatMap((f) => [f.x, f.y, f.width, f.height, f.score, ...(f.keypoints ?? [])]);
    if (maxDiff(flat(x), flat(y)) !== 0) {
      differ++;
      console.log(`  detections differ: ${file}`);
    }
  }
  console.log(`\ndetector: ${files.length} photos, ${faces} faces; detections differ on ${differ}`);
  await Promise.all([a.release?.(), b.release?.()]);
}
process.exit(0);
