/**
 * The default detector's boxes over the photo sets of ../shared, written to a JSON file, so that
 * two versions of the detector can be compared box by box (run it in each checkout), and per set a
 * count of the photos without a face.
 *
 *   npx tsx scripts/detector-boxes.ts --out tmp/boxes-after.json [--sets utkface,aflw]
 *   npx tsx scripts/detector-boxes.ts --diff tmp/boxes-before.json tmp/boxes-after.json
 *
 * Sets (every n-th photo by name): aflw (eval/aflw2000-3d-dev, all), utkface (faces/utkface, every
 * 10th: 200² chips, a face filling each), misc (faces/misc, every 2nd), webfaces (faces/webfaces,
 * every 4th), webfaces-detect, afw (eval/afw68), ibug (eval/ibug68), portraits (eval/portraits).
 * For the utkface chips it lists those without a face and those whose largest box is under 0.35 of
 * the chip: a detail of the face (a spectacle lens) boxed instead of the face.
 * docs/detectors.md, "Close-ups".
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDetector } from '../src/detect/index.js';
import { decodeImageFile } from '../src/io/image-node.js';

const SHARED = join(import.meta.dirname, '..', '..', 'shared');
const SETS: Record<string, [string, number]> = {
  aflw: ['eval/aflw2000-3d-dev', 1],
  utkface: ['faces/utkface', 10],
  misc: ['faces/misc', 2],
  webfaces: ['faces/webfaces', 4],
  'webfaces-detect': ['eval/webfaces-detect', 1],
  afw: ['eval/afw68', 1],
  ibug: ['eval/ibug68', 1],
  portraits: ['eval/portraits', 1],
};

const { values, positionals } = parseArgs({
  options: { out: { type: 'string' }, sets: { type: 'string' }, diff: { type: 'boolean' } },
  allowPositionals: true,
});

if (values.diff) {
  if (positionals.length !== 2) throw new Error('--diff takes two files: before.json after.json');
  const [a, b] = positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, string[]>);
  let changed = 0;
  for (const key of Object.keys(a)) {
    if (JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    changed++;
    console.log(`${key}\n  before ${JSON.stringify(a[key])}\n  after  ${JSON.stringify(b[key] ?? null)}`);
  }
  console.log(`${changed} of ${Object.keys(a).length} photos' boxes changed (box: x,y,width,height,score)`);
} else {
  if (!values.out) throw new Error('--out <file.json> (or --diff before.json after.json)');
  const names = values.sets ? values.sets.split(',') : Object.keys(SETS);
  for (const n of names) if (!SETS[n]) throw new Error(`unknown set '${n}' (known: ${Object.keys(SETS).join(', ')})`);
  const detector = await createDetector();
  const out: Record<string, string[]> = {};
  for (const name of names) {
    const [rel, step] = SETS[name];
    const dir = join(SHARED, rel);
    const files = readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().filter((_, i) => i % step === 0);
    const none: string[] = [];
    const small: string[] = [];
    for (const f of files) {
      const image = await decodeImageFile(join(dir, f));
      const boxes = await detector.detect(image);
      out[`${rel}/${f}`] = boxes.map((b) => [b.x, b.y, b.width, b.height].map((v) => v.toFixed(1)).join(',') + ',' + b.score.toFixed(3));
      if (!boxes.length) none.push(f);
      else if (Math.max(...boxes.map((b) => b.width)) < 0.35 * Math.min(image.width, image.height)) small.push(f);
    }
    const chips = name === 'utkface';
    const list = (names: string[]): string => (names.length ? ` (${names.join(', ')})` : '');
    console.log(`${name}: ${files.length} photos, ${none.length} without a face${chips ? `${list(none)}, ${small.length} whose largest box is under 0.35 of the chip${list(small)}` : ''}`);
  }
  await detector.release?.();
  writeFileSync(values.out, JSON.stringify(out, null, 0));
}
