/**
 * Compares the face detectors on the labelled evaluation images in ../shared/eval and measures,
 * for each, the box → crop rule that best matches the original PRNet's 68-landmark crop.
 *
 *   npx tsx scripts/compare-detectors.ts [--runs 20] [--max-side 640] [--kinds a,b]
 *
 * Prints markdown tables (the source of docs/detectors.md):
 * - recall and false positives per set. A ground-truth face is found when a detected box has
 *   IoU ≥ 0.4 with the bounding box of its 68 landmarks, or contains ≥ 75 % of the landmarks while
 *   its mean side is at most 2.5 × the landmark box's (a detector's box is often larger than the
 *   landmark box and shifted to the forehead, which lowers IoU without being wrong). Detections are
 *   matched greedily, best IoU first, one face each; an unmatched detection is a false positive.
 *   Detections on real faces the labels leave out (UNLABELLED_FACES) count as neither.
 *   The portraits (no labels, one face each) count as found when at least one face is returned and
 *   every extra box is a false positive.
 * - median milliseconds per 640×480 image (after warm-up), end to end (copy, tensor, detector).
 * - box → crop: for each matched face, with s = (w + h) / 2 of the detected box: dx, dy = offset of
 *   the landmark crop's centre from the box's centre in units of s; k = landmark crop side / s.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { squareFromLandmarks, type CropSquare } from '../src/crop/index.js';
import { createDetector, iou, type Detector, type DetectorKind } from '../src/detect/index.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { decodeImageFile } from '../src/io/image-node.js';
import type { FaceBox, RgbImage } from '../src/types.js';

export const EVAL_DIR = join(import.meta.dirname, '..', '..', 'shared', 'eval');

export interface LabelledFace {
  /** 68 points, flat x, y (image pixels). */
  points: Float64Array;
  /** The face box dlib's detector gave, when the source lists one (pixel edges: x..x+width). */
  dlibBox?: { x: number; y: number; width: number; height: number };
  /** Yaw in degrees, when known. */
  yaw?: number;
}

/**
 * Real faces that the labels leave out (checked by eye): a detection on one of them is neither a
 * found face nor a false positive. Boxes are rough, in image pixels; a detection counts as on one
 * when its centre lies inside.
 */
export const UNLABELLED_FACES: Record<string, { x: number; y: number; width: number; height: number }[]> = {
  'breakingbad.jpg': [{ x: 600, y: 80, width: 420, height: 460 }], // the man on the left (only the right one is labelled)
  'einstein.jpg': [{ x: 100, y: 580, width: 110, height: 130 }], // the seated man, lower left
  '2008_002079.jpg': [{ x: 260, y: 0, width: 240, height: 120 }], // people in the background
};

export interface EvalImage {
  set: 'aflw2000-3d' | 'ibug68' | 'portraits';
  file: string;
  /** Labelled faces; for portraits, empty (one unlabelled face expected). */
  faces: LabelledFace[];
}

/** The AFLW2000-3D images: pt3d_68's x, y and the yaw from Pose_Para. */
export async function loadAflw(): Promise<EvalImage[]> {
  const dir = join(EVAL_DIR, 'aflw2000-3d');
  const out: EvalImage[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.jpg')).sort()) {
    const gt = await loadAflwGroundTruth(join(dir, name.replace(/\.jpg$/, '.mat')));
    const points = new Float64Array(136);
    for (let k = 0; k < 68; k++) {
      points[2 * k] = gt.pt3d68[3 * k];
      points[2 * k + 1] = gt.pt3d68[3 * k + 1];
    }
    out.push({ set: 'aflw2000-3d', file: join(dir, name), faces: [{ points, yaw: (gt.pose[1] * 180) / Math.PI }] });
  }
  return out;
}

/** The iBUG photos: dlib's XML (several faces each, with dlib's boxes) and the .pts files (one face each). */
export async function loadIbug(): Promise<EvalImage[]> {
  const dir = join(EVAL_DIR, 'ibug68');
  const out: EvalImage[] = [];
  const xml = await readFile(join(dir, 'training_with_face_landmarks.xml'), 'latin1');
  for (const m of xml.matchAll(/<image file='([^']+)'[^>]*>([\s\S]*?)<\/image>/g)) {
    const faces: LabelledFace[] = [];
    for (const b of m[2].matchAll(/<box top='(-?\d+)' left='(-?\d+)' width='(\d+)' height='(\d+)'>([\s\S]*?)<\/box>/g)) {
      const points = new Float64Array(136);
      for (const p of b[5].matchAll(/<part name='(\d+)' x='(-?\d+)' y='(-?\d+)'\/>/g)) {
        const k = Number(p[1]);
        points[2 * k] = Number(p[2]);
        points[2 * k + 1] = Number(p[3]);
      }
      faces.push({ points, dlibBox: { x: Number(b[2]), y: Number(b[1]), width: Number(b[3]), height: Number(b[4]) } });
    }
    out.push({ set: 'ibug68', file: join(dir, m[1]), faces });
  }
  const names = await readdir(dir);
  for (const pts of names.filter((n) => n.endsWith('.pts')).sort()) {
    const base = pts.replace(/\.pts$/, '');
    const image = names.find((n) => n !== pts && n.startsWith(base + '.'));
    if (!image) continue;
    const text = await readFile(join(dir, pts), 'utf8');
    const body = text.slice(text.indexOf('{') + 1, text.indexOf('}'));
    const nums = body.trim().split(/\s+/).map(Number);
    if (nums.length !== 136) throw new Error(`${pts}: ${nums.length / 2} points, expected 68`);
    // .pts files count pixels from 1 (menpo / iBUG convention).
    out.push({ set: 'ibug68', file: join(dir, image), faces: [{ points: Float64Array.from(nums, (v) => v - 1) }] });
  }
  return out;
}

/** A face of Caltech WebFaces' ground truth: eyes, nose and mouth centre (image pixels). */
export interface WebFace {
  leftEye: [number, number];
  rightEye: [number, number];
  mouth: [number, number];
}

/** ../shared/eval/webfaces-detect: photos with small faces, 4 points per face. */
export async function loadWebfaces(): Promise<{ file: string; faces: WebFace[] }[]> {
  const dir = join(EVAL_DIR, 'webfaces-detect');
  const byFile = new Map<string, WebFace[]>();
  for (const line of (await readFile(join(dir, 'ground-truth.txt'), 'utf8')).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9) continue;
    const v = f.slice(1, 9).map(Number);
    const list = byFile.get(f[0]) ?? [];
    list.push({ leftEye: [v[0], v[1]], rightEye: [v[2], v[3]], mouth: [v[6], v[7]] });
    byFile.set(f[0], list);
  }
  return [...byFile].sort(([a], [b]) => a.localeCompare(b)).map(([name, faces]) => ({ file: join(dir, name), faces }));
}

/** A WebFaces face is found when one box holds both its eyes and its mouth. */
export function webFaceFound(face: WebFace, dets: FaceBox[]): boolean {
  const inside = (d: FaceBox, [x, y]: [number, number]) => x >= d.x && x <= d.x + d.width && y >= d.y && y <= d.y + d.height;
  return dets.some((d) => inside(d, face.leftEye) && inside(d, face.rightEye) && inside(d, face.mouth));
}

const eyeDistance = (f: WebFace): number => Math.hypot(f.leftEye[0] - f.rightEye[0], f.leftEye[1] - f.rightEye[1]);

/** The unlabelled portraits (one face each). */
export async function loadPortraits(): Promise<EvalImage[]> {
  const dir = join(EVAL_DIR, 'portraits');
  return (await readdir(dir))
    .filter((n) => /\.(jpe?g|png)$/i.test(n))
    .sort()
    .map((n) => ({ set: 'portraits' as const, file: join(dir, n), faces: [] }));
}

/** Bounding box of 68 flat points, pixel edges (centres ± 0.5). */
export function landmarkBox(points: ArrayLike<number>): { x: number; y: number; width: number; height: number } {
  let l = Infinity, t = Infinity, r = -Infinity, b = -Infinity;
  for (let i = 0; i < points.length; i += 2) {
    l = Math.min(l, points[i]); r = Math.max(r, points[i]);
    t = Math.min(t, points[i + 1]); b = Math.max(b, points[i + 1]);
  }
  return { x: l - 0.5, y: t - 0.5, width: r - l + 1, height: b - t + 1 };
}

/** Matches detections to labelled faces (rule in the header); returns det index per face (−1: missed). */
export function matchFaces(faces: LabelledFace[], dets: FaceBox[]): number[] {
  const pairs: { f: number; d: number; q: number }[] = [];
  faces.forEach((face, f) => {
    const g = landmarkBox(face.points);
    const gs = (g.width + g.height) / 2;
    dets.forEach((d, di) => {
      const o = iou(g, d);
      let inside = 0;
      for (let i = 0; i < face.points.length; i += 2) {
        const x = face.points[i], y = face.points[i + 1];
        if (x >= d.x && x <= d.x + d.width && y >= d.y && y <= d.y + d.height) inside++;
      }
      const contains = inside >= 0.75 * (face.points.length / 2) && (d.width + d.height) / 2 <= 2.5 * gs;
      if (o >= 0.4 || contains) pairs.push({ f, d: di, q: o + (contains ? 1 : 0) });
    });
  });
  pairs.sort((a, b) => b.q - a.q);
  const faceDet = faces.map(() => -1);
  const used = new Set<number>();
  for (const p of pairs) {
    if (faceDet[p.f] >= 0 || used.has(p.d)) continue;
    faceDet[p.f] = p.d;
    used.add(p.d);
  }
  return faceDet;
}

/** Offsets of the landmark crop from a box: dx, dy in units of s = (w + h) / 2, and k = side / s. */
export function boxToCrop(box: { x: number; y: number; width: number; height: number }, gt: CropSquare): { dx: number; dy: number; k: number } {
  const s = (box.width + box.height) / 2;
  return { dx: (gt.cx - (box.x + box.width / 2)) / s, dy: (gt.cy - (box.y + box.height / 2)) / s, k: gt.side / s };
}

function quantile(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
}
const median = (v: number[]) => quantile(v, 0.5);

/** Crop quality of a rule: centre error / landmark crop side, and |side ratio − 1|. */
function cropErrors(samples: { box: FaceBox; gt: CropSquare }[], rule: { dx: number; dy: number; k: number }) {
  const centre: number[] = [];
  const side: number[] = [];
  for (const { box, gt } of samples) {
    const s = (box.width + box.height) / 2;
    const cx = box.x + box.width / 2 + rule.dx * s;
    const cy = box.y + box.height / 2 + rule.dy * s;
    centre.push(Math.hypot(cx - gt.cx, cy - gt.cy) / gt.side);
    side.push(Math.abs((rule.k * s) / gt.side - 1));
  }
  return { centre: median(centre), centreMax: Math.max(...centre), side: median(side), sideMax: Math.max(...side) };
}

/** Binary PPM (P6, 8-bit), which this build of sharp does not read. */
async function decodePpm(file: string): Promise<RgbImage> {
  const buf = await readFile(file);
  const head = buf.subarray(0, 64).toString('latin1').replace(/#[^\n]*\n/g, '');
  const m = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(head);
  if (!m || m[3] !== '255') throw new Error(`${file}: not an 8-bit binary PPM`);
  const width = Number(m[1]);
  const height = Number(m[2]);
  const data = new Uint8Array(buf.subarray(buf.length - width * height * 3));
  return { width, height, data };
}

async function fit640x480(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(file).removeAlpha().resize(640, 480, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

const pct = (a: number, b: number) => `${a}/${b} (${((100 * a) / Math.max(1, b)).toFixed(0)} %)`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, def: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
  const runs = Number(arg('--runs', '20'));
  const maxSide = Number(arg('--max-side', '640'));
  const kinds = arg('--kinds', 'blazeface,blazeface-mesh,ssd-mobilenet,tiny-face').split(',') as DetectorKind[];
  const minEye = Number(arg('--min-eye', '15'));
  const webfaces = args.includes('--no-webfaces') ? [] : await loadWebfaces();
  const verbose = args.includes('--verbose');

  const sets = [...(await loadAflw()), ...(await loadIbug()), ...(await loadPortraits())];
  const images = await Promise.all(sets.map((s) => (s.file.endsWith('.ppm') ? decodePpm(s.file) : decodeImageFile(s.file))));
  const timing = await Promise.all(['aflw2000-3d/image00050.jpg', 'ibug68/2008_001322.jpg', 'portraits/astronaut.png', 'ibug68/einstein.jpg', 'portraits/bjork.jpg']
    .map((f) => fit640x480(join(EVAL_DIR, f))));

  const recallRows: string[] = [];
  const webRows: string[] = [];
  const ruleRows: string[] = [];
  const aflwRows: string[] = [];
  // dlib's own boxes (from the XML) under the original's rule, as a reference for the rule fit.
  const dlibSamples: { box: FaceBox; gt: CropSquare }[] = [];
  for (const s of sets) for (const f of s.faces) if (f.dlibBox) dlibSamples.push({ box: { ...f.dlibBox, score: 1 }, gt: squareFromLandmarks(f.points) });

  for (const kind of kinds) {
    const detector: Detector = await createDetector({ kind, maxSide });
    const per = new Map<string, { found: number; total: number; fp: number; images: number }>();
    const samples: { box: FaceBox; gt: CropSquare }[] = [];
    const aflwFound: string[] = [];
    for (let i = 0; i < sets.length; i++) {
      const s = sets[i];
      const dets = await detector.detect(images[i]);
      const row = per.get(s.set) ?? { found: 0, total: 0, fp: 0, images: 0 };
      row.images++;
      if (s.set === 'portraits') {
        row.total++;
        if (dets.length) row.found++;
        row.fp += Math.max(0, dets.length - 1);
      } else {
        const m = matchFaces(s.faces, dets);
        row.total += s.faces.length;
        row.found += m.filter((d) => d >= 0).length;
        const extra = UNLABELLED_FACES[s.file.split('/').pop()!] ?? [];
        const fps = dets.filter((d, di) => !m.includes(di) && !extra.some((u) => {
          const cx = d.x + d.width / 2, cy = d.y + d.height / 2;
          return cx >= u.x && cx <= u.x + u.width && cy >= u.y && cy <= u.y + u.height;
        }));
        row.fp += fps.length;
        if (verbose) {
          for (const f of fps) console.error(`  ${kind} false positive in ${s.file.split('/').pop()}: ${f.x.toFixed(0)},${f.y.toFixed(0)} ${f.width.toFixed(0)}×${f.height.toFixed(0)} ${f.score.toFixed(2)}`);
          m.forEach((d, f) => { if (d < 0) console.error(`  ${kind} missed in ${s.file.split('/').pop()}: face ${f} at ${JSON.stringify(landmarkBox(s.faces[f].points), (_k, v) => typeof v === 'number' ? Math.round(v) : v)}`); });
        }
        m.forEach((d, f) => { if (d >= 0) samples.push({ box: dets[d], gt: squareFromLandmarks(s.faces[f].points) }); });
        if (s.set === 'aflw2000-3d') aflwFound.push(m[0] >= 0 ? 'found' : 'missed');
      }
      per.set(s.set, row);
      if (verbose) console.error(kind, s.file.split('/').slice(-2).join('/'), dets.map((d) => `${d.x.toFixed(0)},${d.y.toFixed(0)} ${d.width.toFixed(0)}×${d.height.toFixed(0)} ${d.score.toFixed(2)}`).join(' | '));
    }
    // Small faces: WebFaces photos, faces with an eye distance ≥ minEye.
    if (webfaces.length) {
      let found = 0;
      let total = 0;
      let small = 0;
      let smallFound = 0;
      for (const w of webfaces) {
        const dets = await detector.detect(await decodeImageFile(w.file));
        for (const f of w.faces) {
          const ok = webFaceFound(f, dets);
          if (eyeDistance(f) >= minEye) {
            total++;
            if (ok) found++;
            else if (verbose) console.error(`  ${kind} missed in ${w.file.split('/').pop()}: eyes ${f.leftEye.map(Math.round)} ${f.rightEye.map(Math.round)} (eye distance ${eyeDistance(f).toFixed(0)} px)`);
          } else {
            small++;
            if (ok) smallFound++;
          }
        }
      }
      webRows.push(`| ${kind} | ${pct(found, total)} | ${pct(smallFound, small)} |`);
    }
    // Timing: warm-up, then `runs` timed calls cycling over the 640×480 images.
    for (const img of timing) await detector.detect(img);
    const ms: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await detector.detect(timing[r % timing.length]);
      ms.push(performance.now() - t0);
    }
    const all = [...per.values()].reduce((a, b) => ({ found: a.found + b.found, total: a.total + b.total, fp: a.fp + b.fp, images: 0 }), { found: 0, total: 0, fp: 0, images: 0 });
    const cell = (k: string) => { const r = per.get(k)!; return `${pct(r.found, r.total)} · ${r.fp}`; };
    recallRows.push(`| ${kind} | ${cell('aflw2000-3d')} | ${cell('ibug68')} | ${cell('portraits')} | ${pct(all.found, all.total)} · ${all.fp} | ${median(ms).toFixed(0)} |`);
    aflwRows.push(`| ${kind} | ${aflwFound.join(' | ')} |`);

    const dx = samples.map((p) => boxToCrop(p.box, p.gt).dx);
    const dy = samples.map((p) => boxToCrop(p.box, p.gt).dy);
    const k = samples.map((p) => boxToCrop(p.box, p.gt).k);
    const rule = { dx: median(dx), dy: median(dy), k: median(k) };
    const e = cropErrors(samples, rule);
    const naive = cropErrors(samples, { dx: 0, dy: 0, k: 1.6 });
    const f3 = (v: number) => v.toFixed(3);
    ruleRows.push(`| ${kind} | ${samples.length} | ${f3(rule.dx)} (${f3(quantile(dx, 0.25))}…${f3(quantile(dx, 0.75))}) | ${f3(rule.dy)} (${f3(quantile(dy, 0.25))}…${f3(quantile(dy, 0.75))}) | ${f3(rule.k)} (${f3(quantile(k, 0.25))}…${f3(quantile(k, 0.75))}) | ${(100 * e.centre).toFixed(1)} / ${(100 * e.centreMax).toFixed(1)} | ${(100 * e.side).toFixed(1)} / ${(100 * e.sideMax).toFixed(1)} | ${(100 * naive.centre).toFixed(1)} / ${(100 * naive.side).toFixed(1)} |`);
  }
  {
    const dx = dlibSamples.map((p) => boxToCrop(p.box, p.gt).dx);
    const dy = dlibSamples.map((p) => boxToCrop(p.box, p.gt).dy);
    const k = dlibSamples.map((p) => boxToCrop(p.box, p.gt).k);
    const e = cropErrors(dlibSamples, { dx: 0, dy: 0.14, k: 1.58 });
    const f3 = (v: number) => v.toFixed(3);
    ruleRows.push(`| dlib (XML boxes; error columns: the original's 0, 0.14, 1.58) | ${dlibSamples.length} | ${f3(median(dx))} (${f3(quantile(dx, 0.25))}…${f3(quantile(dx, 0.75))}) | ${f3(median(dy))} (${f3(quantile(dy, 0.25))}…${f3(quantile(dy, 0.75))}) | ${f3(median(k))} (${f3(quantile(k, 0.25))}…${f3(quantile(k, 0.75))}) | ${(100 * e.centre).toFixed(1)} / ${(100 * e.centreMax).toFixed(1)} | ${(100 * e.side).toFixed(1)} / ${(100 * e.sideMax).toFixed(1)} | – |`);
  }

  const aflwHead = sets.filter((s) => s.set === 'aflw2000-3d').map((s) => `${s.file.split('/').pop()!.replace('.jpg', '')} (yaw ${s.faces[0].yaw!.toFixed(0)}°)`);
  console.log(`Detection on a copy with long side ≤ ${maxSide}; timing: median of ${runs} calls on 640×480 images after warm-up.\n`);
  console.log('| detector | AFLW2000-3D found · FP | iBUG found · FP | portraits ≥1 face · extra | all found · FP | ms / 640×480 |');
  console.log('|---|---|---|---|---|---|');
  console.log(recallRows.join('\n'));
  if (webRows.length) {
    console.log(`\nSmall faces (../shared/eval/webfaces-detect, ${webfaces.length} photos): a face is found when one box holds both eyes and the mouth.\n`);
    console.log(`| detector | eye distance ≥ ${minEye} px | smaller faces |`);
    console.log('|---|---|---|');
    console.log(webRows.join('\n'));
  }
  console.log(`\n| detector | ${aflwHead.join(' | ')} |`);
  console.log(`|---|${aflwHead.map(() => '---').join('|')}|`);
  console.log(aflwRows.join('\n'));
  console.log('\nBox → 68-landmark crop (medians, interquartile range in brackets); errors: median / max over matched faces, in % of the landmark crop side.\n');
  console.log('| boxes | faces | dx | dy | k | centre error with fit | side error with fit | centre / side error with 0, 0, 1.6 |');
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(ruleRows.join('\n'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
