/**
 * How good are the fused targets? On the AFLW2000-3D eval images (labels from the labels cache,
 * set `eval`), the 68-point NME (2D and 3D, vs pt3d_68) of (a) 3DDFA_V2's 68, (b) FaceMesh's 68
 * (human's table), (c) the fused target's 68 keypoint pixels; the fit error at the control points;
 * folds; and overlays of a few targets (photo + dense vertices + 68 keypoints) as PNGs.
 *
 * Usage: npx tsx scripts/targets-report.ts [--labels <dir>] [--out <reports dir>] [--lambda 30] [--kw 10] [--radius 20] [--overlays 4]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { loadCorrespondence } from '../tools/data/correspondence.js';
import { createTargetSetup, fitTargets, lossWeights } from '../tools/data/groundtruth.js';
import { cacheDir, labelsDir, readLabels } from '../tools/data/labels-file.js';
import { sharedDir } from '../tools/data/tddfa.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { nme, summariseNme } from '../tools/eval/nme.js';
import { loadLayoutForScripts } from './build-correspondence.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

const pct = (v: number) => (100 * v).toFixed(2);

/** Draws filled squares of `r` px radius at points (x, y) into an RGB buffer. */
function dots(img: Buffer, w: number, h: number, pts: ArrayLike<number>, stride: number, rgb: [number, number, number], r: number): void {
  for (let i = 0; i + 1 < pts.length; i += stride) {
    const cx = Math.round(pts[i] as number), cy = Math.round(pts[i + 1] as number);
    for (let y = cy - r; y <= cy + r; y++) for (let x = cx - r; x <= cx + r; x++) {
      if (x < 0 || y < 0 || x >= w || y >= h) continue;
      const o = 3 * (y * w + x);
      img[o] = rgb[0]; img[o + 1] = rgb[1]; img[o + 2] = rgb[2];
    }
  }
}

async function main(): Promise<void> {
  const dir = resolve(arg('labels', labelsDir('eval')));
  const outDir = resolve(arg('out', join(cacheDir(), 'reports')));
  const lambda = Number(arg('lambda', '30'));
  const kw = Number(arg('kw', '10'));
  const radius = Number(arg('radius', '20'));
  const overlays = Number(arg('overlays', '4'));
  const shared = sharedDir();
  mkdirSync(outDir, { recursive: true });

  const layout = await loadLayoutForScripts(shared);
  const corr = await loadCorrespondence();
  const setup = createTargetSetup(layout, corr, { lambda, keypointWeight: kw, dropRadius: radius });
  const P = setup.controls.length / 3;
  console.log(`controls: ${setup.facemeshIndex.length} FaceMesh + 68 keypoints = ${P}; λ ${lambda}, keypoint weight ${kw}, drop radius ${radius} px`);
  const lw = lossWeights(layout, corr.coverage);
  console.log(`loss weights (pixels per class): ${JSON.stringify(lw.counts)}`);

  const labels = readLabels(dir).records.filter((r) => r.file.includes('aflw2000-3d/'));
  if (labels.length === 0) throw new Error(`no AFLW2000-3D labels in ${dir}`);
  const rows: Record<string, number | string>[] = [];
  const sets: Record<string, { d2: number[]; d3: number[] }> = { tddfa: { d2: [], d3: [] }, facemesh: { d2: [], d3: [] }, fused: { d2: [], d3: [] } };
  const yaws: number[] = [];
  let shown = 0;
  for (const rec of labels) {
    const name = rec.file.split('/').pop()!.replace(/\.jpg$/, '');
    const gt = await loadAflwGroundTruth(join(shared, 'eval', 'aflw2000-3d', `${name}.mat`));
    const yaw = gt.pose[1]!;
    yaws.push(yaw);
    const fm68 = new Float64Array(68 * 3);
    for (let k = 0; k < 68; k++) for (let d = 0; d < 3; d++) fm68[3 * k + d] = rec.facemesh[3 * corr.table68[k]! + d]!;
    const t0 = performance.now();
    const fit = fitTargets(rec, setup);
    const ms = performance.now() - t0;
    const cands: Record<string, ArrayLike<number>> = { tddfa: rec.tddfa, facemesh: fm68, fused: fit.keypoints };
    const row: Record<string, number | string> = { image: name, yaw: +(yaw * 180 / Math.PI).toFixed(1) };
    for (const [k, pts] of Object.entries(cands)) {
      const a = nme(pts, gt.pt3d68, 2), b = nme(pts, gt.pt3d68, 3);
      sets[k]!.d2.push(a); sets[k]!.d3.push(b);
      row[`${k} 2D`] = pct(a); row[`${k} 3D`] = pct(b);
    }
    row.folds = fit.foldedTriangles;
    row['kpt res px'] = fit.controlResidual.keypoints.toFixed(2);
    row['fm res px'] = fit.controlResidual.facemesh.toFixed(2);
    row['zScale'] = fit.zScale.toFixed(2);
    row.ms = Math.round(ms);
    rows.push(row);

    if (shown < overlays && fit.map) {
      shown++;
      // 2× upscaled photo; dense vertices (every 6th map row and column) shaded by depth
      // (dark blue far → cyan near); ground truth green, the target's 68 keypoints red.
      const Z = 2;
      const src = await sharp(join(shared, rec.file)).removeAlpha().metadata();
      const W = (src.width ?? 0) * Z, H = (src.height ?? 0) * Z;
      const img = Buffer.from(await sharp(join(shared, rec.file)).removeAlpha().resize(W, H).raw().toBuffer());
      let zmax = 0;
      for (let i = 2; i < fit.map.length; i += 3) zmax = Math.max(zmax, fit.map[i]!);
      for (let i = 0; i < layout.faceIndex.length; i++) {
        const p = layout.faceIndex[i]!;
        if ((p % 256) % 6 !== 0 || Math.floor(p / 256) % 6 !== 0) continue;
        const z = fit.map[3 * i + 2]! / Math.max(zmax, 1);
        dots(img, W, H, [(fit.map[3 * i]! + 0.5) * Z, (fit.map[3 * i + 1]! + 0.5) * Z], 2, [0, Math.round(60 + 195 * z), Math.round(120 + 135 * z)], 1);
      }
      const up = (pts: ArrayLike<number>) => Array.from(pts, (v, i) => (i % 3 === 2 ? v : (v + 0.5) * Z));
      dots(img, W, H, up(gt.pt3d68), 3, [0, 255, 0], 3);
      dots(img, W, H, up(fit.keypoints), 3, [255, 0, 0], 2);
      const png = join(outDir, `target-${name}.png`);
      await sharp(img, { raw: { width: W, height: H, channels: 3 } }).png().toFile(png);
      console.log(`overlay: ${png}`);
    }
  }
  console.table(rows);
  const summary: Record<string, unknown> = { count: labels.length, lambda, keypointWeight: kw, dropRadius: radius, controls: P };
  for (const [k, v] of Object.entries(sets)) {
    const s2 = summariseNme(v.d2, yaws), s3 = summariseNme(v.d3, yaws);
    summary[k] = { nme2d: pct(s2.mean), nme3d: pct(s3.mean), byYaw2d: Object.fromEntries(Object.entries(s2.byYaw).map(([b, x]) => [b, x.count ? `${pct(x.mean)} (${x.count})` : '-'])) };
    console.log(`${k.padEnd(9)} NME 2D ${pct(s2.mean)} %  3D ${pct(s3.mean)} %  by yaw 2D ${Object.values(s2.byYaw).map((x) => (x.count ? pct(x.mean) : '-')).join(' / ')}`);
  }
  const folds = rows.map((r) => Number(r.folds));
  summary.foldsMeanPercent = (100 * folds.reduce((a, b) => a + b, 0) / folds.length / (layout.triangles.length / 3)).toFixed(3);
  console.log(`folded triangles: mean ${summary.foldsMeanPercent} % of ${layout.triangles.length / 3}`);
  writeFileSync(join(outDir, 'targets-report.json'), JSON.stringify({ summary, rows }, null, 1));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
