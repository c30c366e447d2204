/**
 * Checks the ONNX FaceMesh teacher (tools/data/facemesh-onnx.ts) against FaceMesh through
 * @vladmandic/human (tools/data/facemesh.ts) on the same photos:
 * - "same crop": the ONNX model on exactly the square crop human used (black outside the photo,
 *   as human's cropAndResize), so only the runtimes and the sampling differ;
 * - "pipeline": the ONNX labeller as it labels (product's BlazeFace, MediaPipe's rotated crop, two
 *   passes), the face matched to human's largest by centroid.
 * Per photo: the mean 2D distance over the 468 points (px) and that over sqrt(w·h) of the 68-point
 * box (NME); per point: the 95th percentile of all distances (px); z: mean |Δz| after removing
 * the median offset, and the least-squares z scale ONNX / human.
 *
 *   npx tsx scripts/facemesh-onnx-check.ts [--count 300] [--range 0..1|-1..1] [--json out.json]
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImageFile } from '../src/io/image-node.js';
import { detectFaceMesh, pointsBox } from '../tools/data/facemesh.js';
import { loadFaceMeshOnnx } from '../tools/data/facemesh-onnx.js';
import { cropFromLandmarks, runTddfaFull, sharedDir } from '../tools/data/tddfa.js';
import { innerDisagreement } from '../tools/data/label.js';
import { FACEMESH_68, facemesh68 } from '../tools/data/facemesh.js';
import { writeFileAtomic } from '../src/cli/atomic.js';

export interface PointsDiff {
  /** Mean 2D distance over the 468 points, px. */
  meanPx: number;
  /** That over sqrt(w·h) of b's 68-point box. */
  nme: number;
  /** Every point's 2D distance (468). */
  dists: Float64Array;
  /** Mean |Δz| (px) after removing the median offset, and the z scale a / b (least squares, centred). */
  zMeanAbs: number;
  zScale: number;
  /** Mean signed offset a − b in x and y, px. */
  dx: number;
  dy: number;
}

/** Compares two 468 × 3 point sets (photo frame). */
export function diffPoints(a: Float32Array, b: Float32Array): PointsDiff {
  const dists = new Float64Array(468);
  let sum = 0, dx = 0, dy = 0;
  for (let i = 0; i < 468; i++) {
    const ex = a[3 * i] - b[3 * i], ey = a[3 * i + 1] - b[3 * i + 1];
    dists[i] = Math.hypot(ex, ey);
    sum += dists[i]; dx += ex; dy += ey;
  }
  const box = pointsBox(facemesh68(b), 68);
  const dz = Array.from({ length: 468 }, (_, i) => a[3 * i + 2] - b[3 * i + 2]).sort((x, y) => x - y);
  const off = dz[234];
  let zAbs = 0, ma = 0, mb = 0;
  for (let i = 0; i < 468; i++) { zAbs += Math.abs(a[3 * i + 2] - b[3 * i + 2] - off); ma += a[3 * i + 2]; mb += b[3 * i + 2]; }
  ma /= 468; mb /= 468;
  let num = 0, den = 0;
  for (let i = 0; i < 468; i++) { num += (a[3 * i + 2] - ma) * (b[3 * i + 2] - mb); den += (b[3 * i + 2] - mb) ** 2; }
  return { meanPx: sum / 468, nme: sum / 468 / Math.sqrt(Math.max(1e-6, box.width * box.height)), dists, zMeanAbs: zAbs / 468, zScale: den > 0 ? num / den : NaN, dx: dx / 468, dy: dy / 468 };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
}

async function main(): Promise<void> {
  const count = Number(arg('count', '300'));
  const range = arg('range', '0..1') as '0..1' | '-1..1';
  const shared = sharedDir();
  // An even mix of the three photo sets, every k-th file.
  const pick = (dir: string, n: number) => {
    const all = readdirSync(join(shared, dir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
    const step = Math.max(1, Math.floor(all.length / n));
    return all.filter((_, i) => i % step === 0).slice(0, n).map((f) => join(shared, dir, f));
  };
  const per = Math.ceil(count / 3);
  const files = [...pick('faces/utkface', per), ...pick('faces/misc', per), ...pick('faces/webfaces', per)].slice(0, count);
  const fm = await loadFaceMeshOnnx({ inputRange: range, passes: Number(arg('passes', '3')) });
  const rows: { file: string; same: PointsDiff; pipe?: PointsDiff; tdHuman: number; tdOnnx?: number }[] = [];
  // Disagreement with the other teacher (3DDFA_V2 on the crop from each FaceMesh's 68 points), as the labeller computes it.
  const vsTddfa = async (image: Awaited<ReturnType<typeof decodeImageFile>>, pts: Float32Array) => {
    const fm68 = facemesh68(pts);
    const { points } = await runTddfaFull(image, cropFromLandmarks(fm68, 68, 1), { shared });
    return innerDisagreement(points, fm68);
  };
  let noHuman = 0, noOnnx = 0;
  const t0 = performance.now();
  for (const file of files) {
    const image = await decodeImageFile(file);
    const human = (await detectFaceMesh(image, { pad: 50, minScore: 0.5 }))[0];
    if (!human) { noHuman++; continue; }
    const roi = { cx: human.box.x + human.box.width / 2, cy: human.box.y + human.box.height / 2, side: human.cropSide, angle: 0 };
    const same = await fm.meshOnRoi(image, roi, 'black');
    // human's mesh points are in pixel edges truncated (+0.5·sign in facemesh.ts); the ONNX points are pixel centres.
    const mine = await fm.detect(image);
    const hb = pointsBox(human.points);
    const hc = [hb.x + hb.width / 2, hb.y + hb.height / 2];
    let best: Float32Array | undefined, bestD = Infinity;
    for (const f of mine) {
      const b = pointsBox(f.points);
      const d = Math.hypot(b.x + b.width / 2 - hc[0]!, b.y + b.height / 2 - hc[1]!);
      if (d < bestD && d < 0.3 * Math.max(hb.width, hb.height)) { bestD = d; best = f.points; }
    }
    if (!best) noOnnx++;
    rows.push({ file: file.slice(shared.length + 1), same: diffPoints(same.points, human.points), pipe: best ? diffPoints(best, human.points) : undefined, tdHuman: await vsTddfa(image, human.points), tdOnnx: best ? await vsTddfa(image, best) : undefined });
  }
  const s = (k: 'same' | 'pipe') => {
    const rs = rows.map((r) => r[k]).filter((x): x is PointsDiff => !!x);
    const all: number[] = [];
    for (const r of rs) all.push(...r.dists);
    const mean = (f: (d: PointsDiff) => number) => rs.reduce((a, d) => a + f(d), 0) / rs.length;
    return {
      faces: rs.length,
      meanPx: mean((d) => d.meanPx), p95PointPx: pct(all, 0.95), medianPhotoPx: pct(rs.map((d) => d.meanPx), 0.5), p95PhotoPx: pct(rs.map((d) => d.meanPx), 0.95),
      nmePct: 100 * mean((d) => d.nme), p95NmePct: 100 * pct(rs.map((d) => d.nme), 0.95), worstNmePct: 100 * Math.max(...rs.map((d) => d.nme)),
      dxPx: mean((d) => d.dx), dyPx: mean((d) => d.dy), zMeanAbsPx: mean((d) => d.zMeanAbs), zScaleMedian: pct(rs.map((d) => d.zScale), 0.5),
    };
  };
  const both = rows.filter((r) => r.tdOnnx !== undefined);
  const tddfa = {
    photos: both.length,
    meanPct: { human: 100 * both.reduce((a, r) => a + r.tdHuman, 0) / both.length, onnx: 100 * both.reduce((a, r) => a + r.tdOnnx!, 0) / both.length },
    medianPct: { human: 100 * pct(both.map((r) => r.tdHuman), 0.5), onnx: 100 * pct(both.map((r) => r.tdOnnx!), 0.5) },
    over15Pct: { human: both.filter((r) => r.tdHuman > 0.15).length, onnx: both.filter((r) => r.tdOnnx! > 0.15).length },
    onnxCloser: both.filter((r) => r.tdOnnx! < r.tdHuman).length,
  };
  const inner = FACEMESH_68.length; // for the record: the 68-point subset is what NME is normalised by
  const out = { photos: files.length, range, noHuman, noOnnxMatch: noOnnx, normaliser: `sqrt(w·h) of human's ${inner}-point box`, sameCrop: s('same'), pipeline: s('pipe'), vs3ddfa: tddfa, seconds: (performance.now() - t0) / 1000 };
  console.log(JSON.stringify(out, null, 1));
  const worst = rows.filter((r) => r.pipe).sort((a, b) => b.pipe!.nme - a.pipe!.nme).slice(0, 8).map((r) => `${r.file} ${(100 * r.pipe!.nme).toFixed(1)} % (3DDFA_V2 vs human ${(100 * r.tdHuman).toFixed(1)} %, vs ONNX ${(100 * r.tdOnnx!).toFixed(1)} %)`);
  console.log('worst pipeline photos:', worst.join(', '));
  const json = arg('json', '');
  if (json) await writeFileAtomic(json, JSON.stringify({ ...out, rows: rows.map((r) => ({ file: r.file, same: r.same.nme, pipe: r.pipe?.nme ?? null })) }));
}

if (process.argv[1]?.endsWith('facemesh-onnx-check.ts')) main().catch((e: unknown) => { console.error(e); process.exit(1); });
