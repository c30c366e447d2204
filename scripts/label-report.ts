/**
 * Reports on the labels cache: per set photos, labelled faces, faces per photo, drops by reason,
 * the FaceMesh teacher, mean milliseconds per photo; and for faces/webfaces the recall against its
 * ground truth (faces/webfaces/ground-truth.txt: eyes, nose, mouth per face): a ground-truth face
 * with eye distance ≥ --min-eye px counts as labelled when a labelled face's 68-point box holds
 * both its eyes and its mouth.
 *
 *   npx tsx scripts/label-report.ts [--sets utkface,misc,webfaces] [--min-eye 30]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { facemesh68, pointsBox } from '../tools/data/facemesh.js';
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
  const byFile = new Map<string, { x0: number; y0: number; x1: number; y1: number }[]>();
  for (const r of ls.records) {
    const b = pointsBox(facemesh68(r.facemesh), 68);
    const name = r.file.split('/').pop()!;
    const list = byFile.get(name) ?? [];
    const m = 0.1 * Math.max(b.width, b.height);
    list.push({ x0: b.x - m, y0: b.y - m, x1: b.x + b.width + m, y1: b.y + b.height + m });
    byFile.set(name, list);
  }
  let gt = 0, found = 0, small = 0, smallFound = 0;
  for (const line of readFileSync(gtPath, 'utf8').split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p.length < 9) continue;
    const [lx, ly, rx, ry, , , mx, my] = p.slice(1, 9).map(Number) as number[];
    const eye = Math.hypot(rx! - lx!, ry! - ly!);
    const inside = (byFile.get(p[0]!) ?? []).some((b) => [[lx!, ly!], [rx!, ry!], [mx!, my!]].every(([x, y]) => x! >= b.x0 && x! <= b.x1 && y! >= b.y0 && y! <= b.y1));
    if (eye >= minEye) { gt++; if (inside) found++; } else { small++; if (inside) smallFound++; }
  }
  console.log(`webfaces vs ground truth: ${found} / ${gt} faces with eyes ≥ ${minEye} px apart labelled (${(100 * found / Math.max(1, gt)).toFixed(1)} %); labelled faces ${ls.records.length} (${ls.records.length - found - smallFound} not in the ground truth, ${smallFound} of the ${small} ground-truth faces whose eyes are < ${minEye} px apart)`);
}
