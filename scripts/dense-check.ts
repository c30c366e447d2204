/**
 * Dense check (docs/evaluation.md): on the held-out photos of the training pack (never trained
 * on), the mean distance between the pipeline's dense vertices and the fused teacher target, 2D
 * and 3D, in pixels and as a fraction of the face size, plus the 68-point NME against the
 * target's keypoints — for each model, with the product's detector (as is: no padding), with the
 * detector on the photo inside the labeller's 50 px black border, and with the target's own crop.
 * Test-time flip on (the product's default).
 *
 * Held-out list: <pack>/names.txt + flags.u8 when the pack exists (default .train/pack), else the
 * pack's hash rule over the labels cache (~/.cache/prnet-ts/labels/{utkface,misc}).
 *
 * Usage: npx tsx scripts/dense-check.ts [--limit 200] [--models default,light] [--crops detector,detector-pad,target]
 *          [--pack .train/pack | --no-pack] [--no-flip] [--json] [--shared ../shared] [--threads N]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCorrespondence } from '../tools/data/correspondence.js';
import { sharedDir } from '../tools/data/tddfa.js';
import { cacheDir } from '../tools/data/labels-file.js';
import { heldOutPhotos, runDenseCheck, type DenseCropMode, type DenseModel, type DenseSummary } from '../tools/eval/dense.js';
import { createPrnet } from '../src/pipeline/node.js';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));

const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '–');
const px = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');

/** The summary table (one row per model and crop mode). */
export function formatTable(summaries: DenseSummary[]): string {
  const head = ['model', 'crop', 'scored', 'no face', 'NME>10%', 'dense 2D px', 'dense 2D', 'dense 3D px', 'dense 3D', '3D covered', 'median 3D', 'NME 2D', 'NME 3D', 'median NME 2D'];
  const rows = summaries.map((s) => [
    s.model, s.crop, String(s.scored), String(s.noFace), String(s.failures),
    px(s.dense2d), pct(s.dense2dRel), px(s.dense3d), pct(s.dense3dRel), pct(s.dense3dCoveredRel), pct(s.medianDense3dRel),
    pct(s.nme2d), pct(s.nme3d), pct(s.medianNme2d),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      limit: { type: 'string', default: '200' },
      models: { type: 'string', default: 'default,light' },
      crops: { type: 'string', default: 'detector,detector-pad,target' },
      pack: { type: 'string', default: resolve(REPO, '.train/pack') },
      'no-pack': { type: 'boolean' },
      'no-flip': { type: 'boolean' },
      json: { type: 'boolean' },
      shared: { type: 'string' },
      threads: { type: 'string' },
    },
    strict: true,
  });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit: a positive integer, not ${values.limit}`);
  const crops = values.crops.split(',').filter(Boolean) as DenseCropMode[];
  for (const c of crops) if (c !== 'detector' && c !== 'detector-pad' && c !== 'target') throw new Error(`--crops: detector, detector-pad or target, not ${c}`);
  const shared = resolve(values.shared ?? sharedDir());
  const log = (m: string) => process.stderr.write(m + '\n');

  const packDir = values['no-pack'] ? undefined : resolve(values.pack);
  const held = heldOutPhotos({ packDir: packDir && existsSync(packDir) ? packDir : undefined });
  if (held.photos.length === 0) {
    log(`dense check: no held-out photos with labels (is the labels cache ${join(cacheDir(), 'labels')} there? PRNET_CACHE names another)`);
    return 1;
  }
  const photos = held.photos.slice(0, limit);
  log(`held out: ${held.photos.length} labelled photos (${held.source === 'pack' ? `pack ${packDir}` : 'hash rule over the labels cache'})` +
    `${held.unlabelled.length ? `, ${held.unlabelled.length} without labels` : ''}` +
    `${held.faceByFace.length ? `, ${held.faceByFace.length} face-by-face samples (webfaces) not scored: the check scores a photo's largest face` : ''}; checking ${photos.length}`);

  const threads = values.threads ? Number(values.threads) : undefined;
  const models: DenseModel[] = [];
  for (const name of values.models.split(',').filter(Boolean)) {
    models.push({ name, prnet: await createPrnet({ model: name, detector: crops.some((c) => c !== 'target') ? undefined : false, threads }) });
  }
  const correspondence = await loadCorrespondence();
  const t0 = performance.now();
  const report = await runDenseCheck({
    shared, models, photos, crops, correspondence, flip: !values['no-flip'],
    onPhoto: values.json ? undefined : (i, f) => { if (i % 20 === 0) log(`  ${i} / ${photos.length}  ${f}`); },
  });
  const seconds = (performance.now() - t0) / 1000;
  for (const m of models) await m.prnet.dispose();

  if (values.json) {
    process.stdout.write(JSON.stringify({
      heldOut: { source: held.source, available: held.photos.length, checked: photos.length, unlabelled: held.unlabelled.length },
      flip: !values['no-flip'],
      summaries: report.summaries,
      timings: { ...report.timings, seconds },
      results: report.results,
    }, null, 1) + '\n');
    return 0;
  }
  const lines = [
    `Dense check: ${photos.length} held-out photos (${held.source === 'pack' ? 'from the pack' : 'by the hash rule'}), test-time flip ${values['no-flip'] ? 'off' : 'on'};` +
      ' distances vs the fused teacher target; % = / sqrt(w·h) of the target\'s 68-point box',
    formatTable(report.summaries),
    '',
    'by set (dense 3D / NME 2D): ' + report.summaries.map((s) => `${s.model}/${s.crop}: ` +
      Object.entries(s.bySet).map(([k, v]) => `${k} n=${v.scored} ${pct(v.dense3dRel)} / ${pct(v.nme2d)}`).join(', ')).join('; '),
    `time: ${seconds.toFixed(0)} s; per photo: target ${report.timings.targetMs.toFixed(0)} ms, ` +
      Object.entries(report.timings.pipelineMs).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', '),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => { process.exitCode = code; }, (e: unknown) => {
    process.stderr.write(`dense check: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
