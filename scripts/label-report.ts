/**
 * Reports on the labels cache: per set photos, labelled faces, faces per photo, drops by reason,
 * the FaceMesh teacher, mean milliseconds per photo; and for faces/webfaces the recall against its
 * ground truth (faces/webfaces/ground-truth.txt: eyes, nose, mouth per face): a ground-truth face
 * with eye distance ≥ --min-eye px counts as labelled when a labelled face's 68-point box holds
 * both its eyes and its mouth. `--why`: for the ground-truth faces not labelled, the drop reasons
 * of their photo, and FaceMesh's eye distance (eye-corner midpoints, what the labeller's
 * small-face rule reads) against the ground truth's on the labelled faces, by |yaw|.
 *
 *   npx tsx scripts/label-report.ts [--sets utkface,misc,webfaces] [--min-eye 30] [--why]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { facemesh68, pointsBox } from '../tools/data/facemesh.js';
import { eyeDistance468 } from '../tools/data/facemesh-onnx.js';
import { loadLayoutForScripts } from './build-correspondence.js';
import { canonicalKeypoints, faceStats } from './pack-training.js';
import { labelCounts, labelsDir, readLabels } from '../tools/data/labels-file.js';
import { sharedDir } from '../tools/data/tddfa.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sets = arg('sets', 'eval,utkface,misc,webfaces').split(',');
const minEye = Number(arg('min-eye', '30'));
const shared = sharedDir();
for (const set of sets) {
  const dir = labelsDir(set);
  if (!existsSync(dir)) { console.log(`${set}: no labels at ${dir}`); continue; }
  const ls = readLabels(dir);
  const c = labelCounts(ls.entries);
  const ms = new Map<string, number>();
  for (const e of ls.entries) if (e.ms) ms.set(e.file, Math.max(ms.get(e.file) ?? 0, e.ms[2]));
  const meanMs = [...ms.values()].reduce((a, b) => a + b, 0) / Math.max(1, ms.size);
  console.log(`${set}: ${c.photos} photos, ${ls.records.length} labelled faces; faces per photo ${JSON.stringify(c.facesPerPhoto)}; dropped ${JSON.stringify(c.drops)}; teacher ${JSON.stringify(c.teachers)}; ${meanMs.toFixed(1)} ms per photo (wall, in its worker)`);
  if (set !== 'webfaces') continue;
  const gtPath = join(shared, 'faces', 'webfaces', 'ground-truth.txt');
  const byFile = new Map<string, { x0: number; y0: number; x1: number; y1: number; eye: number; yaw: number }[]>();
  const why = process.argv.includes('--why');
  const kc = why ? canonicalKeypoints(await loadLayoutForScripts(shared)) : undefined;
  for (const r of ls.records) {
    const b = pointsBox(facemesh68(r.facemesh), 68);
    const name = r.file.split('/').pop()!;
    const list = byFile.get(name) ?? [];
    const m = 0.1 * Math.max(b.width, b.height);
    list.push({ x0: b.x - m, y0: b.y - m, x1: b.x + b.width + m, y1: b.y + b.height + m, eye: eyeDistance468(r.facemesh), yaw: kc ? faceStats(r.tddfa, kc).yaw : NaN });
    byFile.set(name, list);
  }
  let gt = 0, found = 0, small = 0, smallFound = 0;
  const ratios: { r: number; yaw: number }[] = [];
  const missed: { eye: number; reasons: string[] }[] = [];
  const drops = new Map<string, string[]>();
  for (const e of ls.entries) if (!e.ok) drops.set(e.file.split('/').pop()!, [...(drops.get(e.file.split('/').pop()!) ?? []), `${e.reason}${e.detail ? ` (${e.detail})` : ''}`]);
  for (const line of readFileSync(gtPath, 'utf8').split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p.length < 9) continue;
    const [lx, ly, rx, ry, , , mx, my] = p.slice(1, 9).map(Number) as number[];
    const eye = Math.hypot(rx! - lx!, ry! - ly!);
    const hit = (byFile.get(p[0]!) ?? []).find((b) => [[lx!, ly!], [rx!, ry!], [mx!, my!]].every(([x, y]) => x! >= b.x0 && x! <= b.x1 && y! >= b.y0 && y! <= b.y1));
    const inside = hit !== undefined;
    if (eye >= minEye) { gt++; if (inside) found++; } else { small++; if (inside) smallFound++; }
    if (eye >= minEye && hit) ratios.push({ r: hit.eye / eye, yaw: Math.abs(hit.yaw) });
    if (eye >= minEye && !hit) missed.push({ eye, reasons: drops.get(p[0]!) ?? [] });
  }
  if (why) {
    const q = (xs: number[], f: number) => { const t = [...xs].sort((a, b) => a - b); return t.length ? t[Math.floor(f * (t.length - 1))]! : NaN; };
    const byReason: Record<string, number> = {};
    for (const m of missed) {
      const k = m.reasons.length ? [...new Set(m.reasons.map((r) => r.replace(/ \(.*$/, '')))].join('+') : 'no drop in its photo (not found by FaceMesh, or found elsewhere)';
      byReason[k] = (byReason[k] ?? 0) + 1;
    }
    const fmSmall = missed.filter((m) => m.reasons.length === 1 && m.reasons[0]!.startsWith('small-face')).map((m) => Number(/([\d.]+) px/.exec(m.reasons[0]!)?.[1]));
    console.log(`webfaces, ground-truth faces with eyes ≥ ${minEye} px not labelled: ${missed.length}, by their photo's drops ${JSON.stringify(byReason)}; ` +
      `their ground-truth eye distance < ${minEye + 5} px: ${missed.filter((m) => m.eye < minEye + 5).length}`);
    console.log(`  photos with one small-face drop only: ${fmSmall.length}, FaceMesh eye distance ≥ ${minEye - 1} / ${minEye - 2} / ${minEye - 3} px: ` +
      `${fmSmall.filter((e) => e >= minEye - 1).length} / ${fmSmall.filter((e) => e >= minEye - 2).length} / ${fmSmall.filter((e) => e >= minEye - 3).length} (min ${Math.min(...fmSmall).toFixed(1)})`);
    const band = (lo: number, hi: number) => ratios.filter((x) => x.yaw >= lo && x.yaw < hi).map((x) => x.r);
    console.log(`  FaceMesh / ground-truth eye distance on the ${ratios.length} labelled faces: p5 / p50 / p95 ${[0.05, 0.5, 0.95].map((f) => q(ratios.map((x) => x.r), f).toFixed(3)).join(' / ')}; ` +
      `median by |yaw| 0–15 / 15–30 / ≥ 30°: ${[[0, 15], [15, 30], [30, 180]].map(([a, b]) => `${q(band(a!, b!), 0.5).toFixed(3)} (${band(a!, b!).length})`).join(' / ')}`);
  }
  console.log(`webfaces vs ground truth: ${found} / ${gt} faces with eyes ≥ ${minEye} px apart labelled (${(100 * found / Math.max(1, gt)).toFixed(1)} %); labelled faces ${ls.records.length} (${ls.records.length - found - smallFound} not in the ground truth, ${smallFound} of the ${small} ground-truth faces whose eyes are < ${minEye} px apart)`);
}
