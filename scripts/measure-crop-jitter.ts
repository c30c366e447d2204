/**
 * How the runtime's crop (BlazeFace box → `squareFromBox(box, 'blazeface')`, what `reconstruct`
 * uses) varies around the crop the training targets define (the PRNet rule on the target's 68
 * points: centre of their box, side 1.6 × its mean side), on photos of ../shared/faces (UTKFace
 * chips, misc, whole web photos). Never AFLW: the training augmentation is derived from this.
 *
 *   npx tsx scripts/measure-crop-jitter.ts [--per-set 150] [--out training/crop_jitter.json]
 *
 * The 68 points are 3DDFA_V2's (the teacher that makes the targets' keypoints), run as its own
 * two-step policy: first on the crop of the detector's box (3DDFA_V2's box rule: centre 0.14 × the
 * box's mean side below the box's centre, side 1.58 × it), then on its landmark crop (√2 × the
 * larger side of the points' box). Every face the detector finds is used when its eye distance
 * (BlazeFace keypoints) is ≥ 30 px; a face whose two crops disagree by more than half a side (a
 * false detection or a 3DDFA failure) is dropped and counted.
 *
 * Per face, in the augmentation's terms (training/augment.py: side' = side / scale, centre' =
 * centre + shift · side'):
 *   scale = target side / runtime side, shift = (runtime centre − target centre) / runtime side.
 * Both crops are axis-aligned, so there is no rotation between them (the face's own roll is in
 * the photo either way). The table (one row per face: scale, shift x, shift y) is what augment.py
 * samples with `jitter='runtime'`.
 */
import { readdir } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { squareFromBox, squareFromLandmarks } from '../src/crop/rules.js';
import { createDetector } from '../src/detect/index.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { cropFromLandmarks, runTddfa, sharedDir } from '../tools/data/tddfa.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const perSet = Number(arg('per-set', '150'));
const outPath = arg('out', join(import.meta.dirname, '..', 'training', 'crop_jitter.json'));
const minEye = Number(arg('min-eye', '30'));

function quantiles(v: number[], qs: number[]): number[] {
  const s = [...v].sort((a, b) => a - b);
  return qs.map((q) => s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]);
}

async function main(): Promise<void> {
  const faces = join(sharedDir(), 'faces');
  const detector = await createDetector();
  const rows: { set: string; file: string; scale: number; sx: number; sy: number; eye: number }[] = [];
  const dropped: Record<string, number> = {};
  const t0 = performance.now();
  for (const set of ['utkface', 'misc', 'webfaces']) {
    const all = (await readdir(join(faces, set))).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
    const step = Math.max(1, Math.floor(all.length / perSet));
    const files = all.filter((_, i) => i % step === 0).slice(0, perSet);
    for (const file of files) {
      let image;
      try {
        image = await decodeImageFile(join(faces, set, file));
      } catch {
        dropped['undecodable'] = (dropped['undecodable'] ?? 0) + 1;
        continue;
      }
      const boxes = await detector.detect(image);
      if (!boxes.length) dropped['no face'] = (dropped['no face'] ?? 0) + 1;
      for (const box of boxes) {
        const kp = box.keypoints;
        const eye = kp ? Math.hypot(kp[2] - kp[0], kp[3] - kp[1]) : (box.width + box.height) / 4;
        if (eye < minEye) {
          dropped['eye distance < min'] = (dropped['eye distance < min'] ?? 0) + 1;
          continue;
        }
        const size = (box.width + box.height) / 2;
        const first = await runTddfa(image, { cx: box.x + box.width / 2, cy: box.y + box.height / 2 + 0.14 * size, side: 1.58 * size });
        const pts = await runTddfa(image, cropFromLandmarks(first));
        const target = squareFromLandmarks(pts, 3);
        const rt = squareFromBox(box, 'blazeface');
        const off = Math.hypot(rt.cx - target.cx, rt.cy - target.cy);
        if (off > 0.5 * target.side || rt.side / target.side > 2 || rt.side / target.side < 0.5) {
          dropped['crops disagree'] = (dropped['crops disagree'] ?? 0) + 1;
          continue;
        }
        rows.push({ set, file, scale: target.side / rt.side, sx: (rt.cx - target.cx) / rt.side, sy: (rt.cy - target.cy) / rt.side, eye });
      }
    }
    console.error(`${set}: ${rows.filter((r) => r.set === set).length} faces from ${files.length} photos (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const qs = [0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98];
  const stat = (name: 'scale' | 'sx' | 'sy', sel = rows) => {
    const v = sel.map((r) => r[name]);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, v.length - 1));
    return { mean: +mean.toFixed(4), sd: +sd.toFixed(4), quantiles: Object.fromEntries(quantiles(v, qs).map((x, i) => [String(qs[i]), +x.toFixed(4)])) };
  };
  const bySet = Object.fromEntries(['utkface', 'misc', 'webfaces'].map((s) => {
    const sel = rows.filter((r) => r.set === s);
    return [s, { count: sel.length, scale: stat('scale', sel), shiftX: stat('sx', sel), shiftY: stat('sy', sel) }];
  }));
  const out = {
    what: 'runtime crop (BlazeFace box and keypoints, src/crop/rules.ts squareFromBox blazeface) around the PRNet crop of 3DDFA_V2\'s 68 points, on ../shared/faces (no AFLW); '
      + 'per face: scale = target side / runtime side, shiftX/Y = (runtime centre - target centre) / runtime side (augment.py: side / scale, centre + shift * side)',
    command: 'npx tsx scripts/measure-crop-jitter.ts --per-set ' + perSet,
    count: rows.length,
    dropped,
    all: { scale: stat('scale'), shiftX: stat('sx'), shiftY: stat('sy') },
    bySet,
    columns: ['scale', 'shiftX', 'shiftY'],
    rows: rows.map((r) => [+r.scale.toFixed(4), +r.sx.toFixed(4), +r.sy.toFixed(4)]),
  };
  writeFileSync(outPath, JSON.stringify(out, (k, v) => v, 0).replace(/\],\[/g, '],\n['));
  console.log(JSON.stringify({ count: out.count, dropped, all: out.all, bySet }, null, 1));
  console.error(`wrote ${outPath} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  await detector.release?.();
}

await main();
