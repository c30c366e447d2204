/**
 * How good are 3DDFA_V2's targets, plain and with test-time augmentation? On AFLW2000-3D images
 * (default: the 1,000 dev images), the 68-point NME (2D and 3D, vs pt3d_68, normalised by the
 * ground-truth box) of 3DDFA_V2 with each TTA variant, overall and by yaw bucket, the cost per face,
 * and the fused target's 68 keypoints (groundtruth.ts: FaceMesh + these points) for each variant.
 *
 * The first crop is the labeller's (tools/data/label.ts): FaceMesh (human, tfjs-wasm, 50 px border,
 * largest face) → its 68 points → 3DDFA_V2's landmark crop rule. `--crop blazeface` uses the
 * product's BlazeFace box with 3DDFA_V2's box rule instead (centre + 0.14 × size down, side 1.58 ×
 * the mean of width and height). Every network pass is run once per image; the variants are
 * combinations of those passes (the same functions as tools/data/tddfa-tta.ts).
 *
 * Evaluating teachers on AFLW images is fine; nothing here writes training data.
 *
 * Usage: npx tsx scripts/tddfa-tta-eval.ts [dir] [--limit N] [--every K] [--crop facemesh|blazeface]
 *        [--no-fused] [--no-cache] [--json] [--time ROUNDS (cost per preset only)] [--recrop-scales 0.85,0.9 (extra variants: the default at other re-crop sides)]
 * Progress on stderr; the table (or with --json the summary and per-image rows) on stdout.
 * FaceMesh's points are cached per image in <cache>/tta-eval/ (a rerun skips FaceMesh).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { decodeImageFile } from '../src/io/image-node.js';
import { Progress } from '../src/cli/progress.js';
import type { RgbImage } from '../src/types.js';
import { loadCorrespondence } from '../tools/data/correspondence.js';
import { detectFaceMesh, facemesh68 } from '../tools/data/facemesh.js';
import { createTargetSetup, fitTargets, type TargetSetup } from '../tools/data/groundtruth.js';
import { cacheDir } from '../tools/data/labels-file.js';
import { cropFromLandmarks, runTddfaFull, sharedDir, type CropBox } from '../tools/data/tddfa.js';
import { aggregatePoints, jitterCrop, runTddfaTta, TDDFA_TTA_PRESETS, TTA_JITTERS, TTA_ROTATIONS, type TddfaTtaPreset, type TtaAggregate } from '../tools/data/tddfa-tta.js';
import { listAflwImages } from '../tools/eval/aflw2000.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { nme, summariseNme } from '../tools/eval/nme.js';
import { loadLayoutForScripts } from './build-correspondence.js';

const argv = process.argv.slice(2);
function opt(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
const flag = (name: string) => argv.includes(`--${name}`);
const positional = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--limit', '--every', '--crop', '--recrop-scales', '--time'].includes(argv[i - 1]!)));
const dir = resolve(positional[0] ?? join(sharedDir(), 'eval', 'aflw2000-3d-dev'));
const limit = opt('limit') ? Number(opt('limit')) : Infinity;
const every = opt('every') ? Number(opt('every')) : 1;
const cropKind = opt('crop') ?? 'facemesh';
const json = flag('json');
const fused = !flag('no-fused');
const useCache = !flag('no-cache');
/** Extra re-crop scales to try (side × s of the landmark rule): adds 'recrop-flip-rot ×s' variants. */
const recropScales = (opt('recrop-scales') ?? '').split(',').filter(Boolean).map(Number);
if (!['facemesh', 'blazeface'].includes(cropKind)) throw new Error(`--crop must be facemesh or blazeface, not ${cropKind}`);

/**
 * Pass names: p = the first crop, r = re-cropped from p's points, r2 = re-cropped again from r's;
 * <centre>.j<i> = jitter i (TTA_JITTERS) and <centre>.q<i> = rotation i (TTA_ROTATIONS) around p's
 * or r's crop; a trailing "f" = the same crop on the mirrored image.
 */
const jit = (c: string) => TTA_JITTERS.map((_, i) => `${c}.j${i}`);
const rot = (c: string) => TTA_ROTATIONS.map((_, i) => `${c}.q${i}`);
const withF = (names: string[]) => names.flatMap((n) => [n, `${n}f`]);
interface Variant { name: string; passes: string[]; aggregate: TtaAggregate; needs: string[] }
const V = (name: string, passes: string[], aggregate: TtaAggregate = 'mean'): Variant => ({
  name, passes, aggregate,
  // Passes run only to place a crop (not combined) still cost time.
  needs: passes.some((p) => p.startsWith('r2')) ? ['p', 'r'] : passes.some((p) => p.startsWith('r')) ? ['p'] : [],
});
const VARIANTS: Variant[] = [
  V('plain', ['p']),
  V('flip', withF(['p'])),
  V('recrop', ['r']),
  V('recrop2', ['r2']),
  V('recrop-flip', withF(['r'])),
  V('recrop2-flip', withF(['r2'])),
  V('plain+recrop-flip', withF(['p', 'r'])),
  V('flip-jitter', withF(['p', ...jit('p')])),
  V('flip-rot', withF(['p', ...rot('p')])),
  V('flip-jitter-rot', withF(['p', ...jit('p'), ...rot('p')])),
  V('recrop-jitter', ['r', ...jit('r')]),
  V('recrop-scales-flip', withF(['r', 'r.j4', 'r.j5'])),
  V('recrop-flip-rot', withF(['r', ...rot('r')])),
  V('recrop-flip-jitter', withF(['r', ...jit('r')])),
  V('recrop-flip-jitter median', withF(['r', ...jit('r')]), 'median'),
  V('recrop-flip-jitter trimmed', withF(['r', ...jit('r')]), 'trimmed'),
  V('recrop-flip-jitter-rot', withF(['r', ...jit('r'), ...rot('r')])),
  V('recrop-flip-jitter-rot median', withF(['r', ...jit('r'), ...rot('r')]), 'median'),
  V('all (p and r centres)', withF(['p', ...jit('p'), ...rot('p'), 'r', ...jit('r'), ...rot('r')])),
  ...recropScales.map((sc) => V(`recrop-flip-rot ×${sc}`, withF([`r${sc}`, ...rot(`r${sc}`)]))),
];

interface Row { image: string; yaw: number; ms: Record<string, number>; nme: Record<string, [number, number, number, number] | null>; passNme2d?: Record<string, number>; error?: string }

/** 3DDFA_V2's crop from a detector box (its parse_roi_box_from_bbox). */
function cropFromDetectorBox(b: { x: number; y: number; width: number; height: number }): CropBox {
  const size = (b.width + b.height) / 2;
  return { cx: b.x + b.width / 2, cy: b.y + b.height / 2 + 0.14 * size, side: 1.58 * size };
}

const cacheFile = join(cacheDir(), 'tta-eval', 'facemesh-pad50.jsonl');
function readCache(): Map<string, Float32Array | null> {
  const m = new Map<string, Float32Array | null>();
  if (!useCache || !existsSync(cacheFile)) return m;
  for (const line of readFileSync(cacheFile, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      const r = JSON.parse(line) as { image: string; points: string | null };
      m.set(r.image, r.points ? new Float32Array(Buffer.from(r.points, 'base64').buffer.slice(0)) : null);
    } catch { /* a torn last line */ }
  }
  return m;
}

/**
 * --time R: the cost of runTddfaTta per preset (the labeller's call, input sampling included), on
 * the selected images' ground-truth landmark crops, presets interleaved in a shuffled order per
 * image and round, R rounds; prints the median CPU and wall ms per face of each preset and their
 * ratios to plain (CPU time is the figure to trust on a shared machine).
 */
async function timePresets(items: { image: string; mat: string }[], rounds: number): Promise<void> {
  const names = Object.keys(TDDFA_TTA_PRESETS) as TddfaTtaPreset[];
  const images = await Promise.all(items.map(async (it) => ({ image: await decodeImageFile(it.image), gt: await loadAflwGroundTruth(it.mat) })));
  const ms: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  await runTddfaTta(images[0]!.image, cropFromLandmarks(Float32Array.from(images[0]!.gt.pt3d68), 68), 'plain'); // load the session
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let r = 0; r < rounds; r++) {
    for (const { image, gt } of images) {
      const crop = cropFromLandmarks(Float32Array.from(gt.pt3d68), 68);
      const order = [...names].sort(() => rand() - 0.5);
      for (const n of order) {
        const t = performance.now();
        const c = process.cpuUsage();
        await runTddfaTta(image, crop, n);
        const dc = process.cpuUsage(c);
        ms[n]!.push(performance.now() - t);
        cpu[n]!.push((dc.user + dc.system) / 1000);
      }
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const base = median(ms.plain!), baseCpu = median(cpu.plain!);
  // CPU time (all threads of this process) is robust to a loaded machine; wall time is not.
  console.log(`runTddfaTta per face, ${images.length} images × ${rounds} rounds, presets interleaved; medians (× plain):`);
  for (const n of names) {
    console.log(`  ${n.padEnd(24)} ${String(ttaPasses(n)).padStart(2)} passes  CPU ${median(cpu[n]!).toFixed(2)} ms (${(median(cpu[n]!) / baseCpu).toFixed(2)}×)  wall ${median(ms[n]!).toFixed(2)} ms (${(median(ms[n]!) / base).toFixed(2)}×)`);
  }
}

function ttaPasses(n: TddfaTtaPreset): number {
  const o = TDDFA_TTA_PRESETS[n];
  return o.recrop + (1 + o.jitter.length) * (o.flip ? 2 : 1);
}

async function main(): Promise<void> {
  const all = await listAflwImages(dir);
  const items = all.filter((_, i) => i % every === 0).slice(0, limit);
  if (opt('time')) return timePresets(items, Number(opt('time')));
  const cache = readCache();
  if (useCache) mkdirSync(join(cacheDir(), 'tta-eval'), { recursive: true });
  let setup: TargetSetup | undefined;
  if (fused) {
    const layout = await loadLayoutForScripts(sharedDir());
    setup = createTargetSetup(layout, await loadCorrespondence());
  }
  let detector: { detect(i: RgbImage): Promise<{ x: number; y: number; width: number; height: number }[]> } | undefined;
  if (cropKind === 'blazeface') {
    const { createDetector } = await import('../src/detect/index.js');
    detector = await createDetector({ kind: 'blazeface', maxFaces: 1, threads: 1 });
  }
  const progress = new Progress(items.length, { label: 'tta-eval', unit: 'images' });
  const rows: Row[] = [];
  for (const item of items) {
    const name = basename(item.image).replace(/\.jpg$/i, '');
    const gt = await loadAflwGroundTruth(item.mat);
    const image = await decodeImageFile(item.image);
    const row: Row = { image: name, yaw: gt.pose[1]!, ms: {}, nme: {} };
    rows.push(row);
    let fm: Float32Array | null | undefined = cache.get(name);
    if (fm === undefined && (fused || cropKind === 'facemesh')) {
      const faces = await detectFaceMesh(image);
      fm = faces[0]?.points ?? null;
      if (useCache) appendFileSync(cacheFile, JSON.stringify({ image: name, points: fm ? Buffer.from(fm.buffer, fm.byteOffset, fm.byteLength).toString('base64') : null }) + '\n');
    }
    let crop0: CropBox | undefined;
    if (cropKind === 'facemesh') crop0 = fm ? cropFromLandmarks(facemesh68(fm), 68) : undefined;
    else {
      const box = (await detector!.detect(image))[0];
      crop0 = box ? cropFromDetectorBox(box) : undefined;
    }
    if (!crop0) {
      row.error = 'no face found';
      for (const v of VARIANTS) row.nme[v.name] = null;
      progress.tick(false);
      continue;
    }
    const pts: Record<string, Float32Array> = {};
    const pass = async (key: string, crop: CropBox, mirror: boolean): Promise<Float32Array> => {
      const t = performance.now();
      const r = await runTddfaFull(image, crop, { mirror });
      row.ms[key] = performance.now() - t;
      pts[key] = r.points;
      return r.points;
    };
    const both = async (key: string, crop: CropBox): Promise<Float32Array> => {
      const p = await pass(key, crop, false);
      await pass(`${key}f`, crop, true);
      return p;
    };
    const p0 = await both('p', crop0);
    const c1 = cropFromLandmarks(p0, 68);
    const r = await both('r', c1);
    await both('r2', cropFromLandmarks(r, 68));
    for (const sc of recropScales) {
      const c = cropFromLandmarks(p0, 68, sc);
      await both(`r${sc}`, c);
      for (let i = 0; i < TTA_ROTATIONS.length; i++) await both(`r${sc}.q${i}`, jitterCrop(c, TTA_ROTATIONS[i]!));
    }
    for (const [c, crop] of [['p', crop0], ['r', c1]] as const) {
      for (let i = 0; i < TTA_JITTERS.length; i++) await both(`${c}.j${i}`, jitterCrop(crop, TTA_JITTERS[i]!));
      for (let i = 0; i < TTA_ROTATIONS.length; i++) await both(`${c}.q${i}`, jitterCrop(crop, TTA_ROTATIONS[i]!));
    }
    row.passNme2d = Object.fromEntries(Object.entries(pts).map(([k, p]) => [k, nme(p, gt.pt3d68, 2)]));
    for (const v of VARIANTS) {
      const p = v.passes.length === 1 ? pts[v.passes[0]!]! : aggregatePoints(v.passes.map((k) => pts[k]!), v.aggregate);
      const e: [number, number, number, number] = [nme(p, gt.pt3d68, 2), nme(p, gt.pt3d68, 3), NaN, NaN];
      if (setup && fm) {
        const kp = fitTargets({ facemesh: fm, tddfa: p }, setup, { evaluate: 'none' }).keypoints;
        e[2] = nme(kp, gt.pt3d68, 2);
        e[3] = nme(kp, gt.pt3d68, 3);
      }
      row.nme[v.name] = e;
    }
    progress.tick(true);
  }

  const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(2) : '–');
  const ok = rows.filter((r) => !r.error);
  const yaws = ok.map((r) => r.yaw);
  const passMs = (k: string) => ok.reduce((a, r) => a + (r.ms[k] ?? 0), 0) / Math.max(1, ok.length);
  const summary = VARIANTS.map((v) => {
    const col = (j: number) => ok.map((r) => r.nme[v.name]![j]!);
    const s2 = summariseNme(col(0), yaws), s3 = summariseNme(col(1), yaws);
    const f2 = summariseNme(col(2), yaws), f3 = summariseNme(col(3), yaws);
    const plain2 = ok.map((r) => r.nme.plain![0]);
    const better = col(0).filter((x, i) => x < plain2[i]!).length;
    // Paired difference against plain (2D): mean and its standard error.
    const d = col(0).map((x, i) => x - plain2[i]!);
    const dm = d.reduce((a, x) => a + x, 0) / Math.max(1, d.length);
    const dse = Math.sqrt(d.reduce((a, x) => a + (x - dm) ** 2, 0) / Math.max(1, d.length - 1) / Math.max(1, d.length));
    const calls = new Set([...v.passes, ...v.needs]);
    return {
      variant: v.name, aggregate: v.aggregate, passes: calls.size,
      msPerFace: [...calls].reduce((a, k) => a + passMs(k), 0),
      nme2d: s2.mean, nme3d: s3.mean, bucketMean2d: s2.balanced, bucketMean3d: s3.balanced,
      byYaw2d: Object.fromEntries(Object.entries(s2.byYaw).map(([b, x]) => [b, x.mean])),
      byYaw3d: Object.fromEntries(Object.entries(s3.byYaw).map(([b, x]) => [b, x.mean])),
      fused2d: f2.mean, fused3d: f3.mean, fusedBucketMean2d: f2.balanced,
      betterThanPlain2d: ok.length ? better / ok.length : NaN,
      vsPlain2d: { mean: dm, se: dse },
    };
  });
  const counts = summariseNme(ok.map(() => 0), yaws).byYaw;
  // Each single pass: mean 2D NME and ms.
  const passes = Object.fromEntries(Object.keys(ok[0]?.passNme2d ?? {}).map((k) => [k, {
    nme2d: ok.reduce((a, r) => a + r.passNme2d![k]!, 0) / ok.length, ms: passMs(k),
  }]));
  const head = { dir, images: items.length, scored: ok.length, failed: rows.length - ok.length, crop: cropKind, buckets: Object.fromEntries(Object.entries(counts).map(([b, x]) => [b, x.count])) };
  if (json) {
    process.stdout.write(JSON.stringify({ ...head, summary, passes, perImage: rows }) + '\n');
    return;
  }
  console.log(`${items.length} images of ${dir} (${ok.length} scored, ${head.failed} without a face); crop: ${cropKind}; yaw buckets ${Object.values(head.buckets).join(' / ')}`);
  console.log('68-point NME %, vs pt3d_68, normalised by the ground-truth box; "fused": the target\'s 68 keypoints (FaceMesh + these points, λ 30)');
  console.table(summary.map((s) => ({
    variant: s.variant, passes: s.passes, 'ms/face': s.msPerFace.toFixed(1),
    '2D': pct(s.nme2d), '3D': pct(s.nme3d),
    '2D 0-30': pct(s.byYaw2d['0-30']!), '2D 30-60': pct(s.byYaw2d['30-60']!), '2D 60-90': pct(s.byYaw2d['60-90']!),
    '2D bucket mean': pct(s.bucketMean2d), '3D bucket mean': pct(s.bucketMean3d),
    'fused 2D': pct(s.fused2d), 'fused 3D': pct(s.fused3d),
    '2D − plain (± s.e.)': `${pct(s.vsPlain2d.mean)} ± ${pct(s.vsPlain2d.se)}`,
    '2D < plain': `${Math.round(100 * s.betterThanPlain2d)} %`,
  })));
  console.log('single passes, 2D NME % (p: first crop, r: re-crop, .j0–3 shifts ±5 %, .j4/.j5 scale 0.9/1.1, .q0/.q1 ∓10°, f: mirrored):');
  console.log(Object.entries(passes).map(([k, v]) => `${k} ${pct(v.nme2d)}`).join(', '));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
