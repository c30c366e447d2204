/**
 * `prnet eval aflw2000 <dir>`: 68-point NME (2D, 3D) on AFLW2000-3D, ours and the teachers, in one
 * run; by yaw bucket and as the mean of the bucket means; folded triangles of our meshes.
 * `prnet eval pts <dir>`: 68-point 2D NME on iBUG .pts ground truth (e.g. AFW), the annotated face
 * matched by landmark centroid. A progress bar on stderr; per-image rows with --json.
 */
import { join } from 'node:path';
import { escapeControl, firstLine } from '../../src/errors.js';
import { evaluateAflw2000, type MethodScores } from '../eval/aflw2000.js';
import { createPrnet, producerJson } from '../../src/pipeline/node.js';
import type { Prnet, TestTimeOptions } from '../../src/pipeline/prnet.js';
import { EXIT, TEST_TIME_OPTIONS, UsageError, detectorOption, minScoreOption, parseOptions, precisionOption, testTimeOptions, threadsOption } from '../../src/cli/options.js';
import { Progress } from '../../src/cli/progress.js';
import { exitBySignal, stopOnSignals } from '../../src/cli/signals.js';
import { evaluatePts } from '../eval/pts.js';
import { suspectLine, type RowFailure } from '../eval/nme.js';
import { imagePairs, missingPeers, POSE_RANGE_DEG } from '../eval/aflw2000.js';

const pct = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '   –  ' : `${(100 * x).toFixed(2).padStart(5)}%`);

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    json: { type: 'boolean' },
    'gt-box': { type: 'boolean' },
    model: { type: 'string', short: 'm' },
    peers: { type: 'boolean' },
    threads: { type: 'string' },
    detector: { type: 'string' },
    'min-score': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    precision: { type: 'string' },
    orientation: { type: 'boolean' },
    ...TEST_TIME_OPTIONS,
  });
  const [set, dir] = positionals;
  if ((set !== 'aflw2000' && set !== 'pts') || !dir || positionals.length !== 2) {
    throw new UsageError('usage: prnet eval aflw2000|pts <dir> [--json] [--gt-box] [--model m] [--detector kind] [--min-score s] [--precision fp32|int8] [--no-flip] [--smooth σ] [--no-orientation] [--no-peers] [--threads n] [--quiet]');
  }
  const testTime = testTimeOptions(values);
  if (set === 'pts') return runPts(dir, values, testTime);
  const gtBox = Boolean(values['gt-box']);
  if (gtBox && values.detector !== undefined) throw new UsageError('--gt-box crops from the ground truth: --detector does not apply');
  if (gtBox && values['min-score'] !== undefined) throw new UsageError('--gt-box crops from the ground truth: --min-score does not apply');
  const detector = detectorOption(values.detector);
  const minScore = minScoreOption(values['min-score']);
  const precision = precisionOption(values.precision);
  const threads = threadsOption(values.threads);
  // The folder before the model: a wrong folder is said at once, without loading anything.
  const { pairs, unpaired } = await reportUnpaired(dir, '.mat');
  const prnet = await createPrnet({ model: values.model, detector: gtBox ? false : detector, minScore, threads, precision, orientation: values.orientation });
  if (values.peers !== false) notePeersMissing();
  const progress = new Progress(pairs, { label: 'eval', enabled: !values.quiet });
  const stop = interruptible();
  const report = await evaluateAflw2000(prnet, dir, {
    signal: stop.signal,
    gtBox,
    peers: values.peers !== false,
    onImage: (_name, ok) => progress.tick(ok),
    ...testTime,
  });
  await prnet.dispose();
  const model = modelReport(prnet, values.model, testTime);
  const methods: [string, MethodScores][] = [['prnet-ts', report.ours], ...Object.entries(report.peers)];
  if (values.json) {
    const strip = (m: MethodScores) => ({ nme2d: m.nme2d, nme3d: m.nme3d, bucketMean2d: m.bucketMean2d, bucketMean3d: m.bucketMean3d, buckets: m.buckets, pose: m.pose, byYaw2d: m.byYaw2d, byYaw3d: m.byYaw3d, scored: m.scored, failed: m.failed, common: m.common, perImage: m.perImage });
    const out = {
      model,
      dir,
      crop: gtBox ? 'ground-truth landmarks ×1.6' : 'detector',
      detector: gtBox ? null : (prnet.detector?.kind ?? null),
      minScore: gtBox ? null : (minScore ?? null),
      images: report.images,
      total: report.total,
      interrupted: report.interrupted,
      unpaired,
      nme2d: report.ours.nme2d,
      nme3d: report.ours.nme3d,
      byYaw2d: report.ours.byYaw2d,
      byYaw3d: report.ours.byYaw3d,
      bucketMean2d: report.ours.bucketMean2d,
      bucketMean3d: report.ours.bucketMean3d,
      buckets: report.ours.buckets,
      folds: report.ours.folds,
      suspect: report.ours.suspect ?? null,
      pose: report.ours.pose,
      scored: report.ours.scored,
      failed: report.ours.failed,
      common: report.ours.common,
      perImage: report.ours.perImage,
      peers: Object.fromEntries(Object.entries(report.peers).map(([k, v]) => [k, strip(v)])),
      skippedPeers: report.skippedPeers,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return stop.end(reportUnreadable(report.unreadable, report.skippedPeers, [...methodErrors(methods), ...noneScored(report)]));
  }
  const lines: string[] = [];
  lines.push(`AFLW2000-3D, ${report.images} images (${dir}), model ${model.name}, crop: ${gtBox ? 'ground-truth landmarks' : `detector (${prnet.detector?.kind ?? 'none'})`}, network ${prnet.session.precision}, ${testTimeText(prnet, testTime)}; 68-point NME (2D / 3D)`);
  if (report.interrupted) lines.push(interruptedLine(report));
  // Columns: the image name (as wide as the longest), the yaw, then one 2D / 3D cell per method.
  const W = Math.max(14, ...report.ours.perImage.map((s) => s.image.length));
  // The yaw column also holds the buckets' face counts (n=638/595/605 with peers).
  const BUCKETS = ['0-30', '30-60', '60-90'] as const;
  const counts = (b: (typeof BUCKETS)[number]): string => `n=${methods.map(([, m]) => m.byYaw2d[b].count).join('/')}`;
  const S = Math.max(4, ...BUCKETS.map((b) => counts(b).length));
  const row = (first: string, second: string, cells: string[]): string => [first.padEnd(W), second.padStart(S), ...cells.map((c) => c.padEnd(16))].join('  ').trimEnd();
  const cell = (a: number | null | undefined, b: number | null | undefined, mark = ''): string => `${pct(a)} / ${pct(b)}${mark}`;
  lines.push(row('image', 'yaw°', methods.map(([n]) => n)));
  report.ours.perImage.forEach((s, i) => {
    const yaw = Number.isFinite(s.yaw) ? (Math.round((s.yaw * 180) / Math.PI) || 0).toFixed(0) : '–'; // || 0: no "-0"
    lines.push(row(s.image, yaw, methods.map(([, m]) => cell(m.perImage[i].nme2d, m.perImage[i].nme3d))));
  });
  lines.push(row('mean', '', methods.map(([, m]) => cell(m.nme2d, m.nme3d))));
  lines.push(row('  faces scored', '', methods.map(([, m]) => String(m.scored))));
  for (const b of BUCKETS) {
    // (n: each method's faces in the bucket, in the columns' order: its mean is over its own)
    lines.push(row(`yaw ${b}`, counts(b), methods.map(([, m]) => cell(m.byYaw2d[b].count ? m.byYaw2d[b].mean : null, m.byYaw3d[b].count ? m.byYaw3d[b].mean : null))));
  }
  // A bucket mean over fewer than 3 buckets (one empty for that method) is marked *.
  const star = (b: number): string => (b < 3 ? '*' : '');
  lines.push(row('bucket mean', '', methods.map(([, m]) => cell(m.bucketMean2d, m.bucketMean3d, star(m.buckets)))));
  const partial = methods.some(([, m]) => m.buckets < 3 || (methods.length > 1 && m.common.buckets < 3));
  if (methods.length > 1) {
    // Each method's means above are over its own found faces; these compare like with like.
    lines.push(`on the ${report.ours.common.images} every method scored:`);
    lines.push(row('  mean', '', methods.map(([, m]) => cell(m.common.nme2d, m.common.nme3d))));
    for (const b of BUCKETS) {
      const c = report.ours.common.byYaw2d[b].count;
      lines.push(row(`  yaw ${b}`, `n=${c}`, methods.map(([, m]) => cell(c ? m.common.byYaw2d[b].mean : null, c ? m.common.byYaw3d[b].mean : null))));
    }
    lines.push(row('  bucket mean', '', methods.map(([, m]) => cell(m.common.bucketMean2d, m.common.bucketMean3d, star(m.common.buckets)))));
  }
  if (partial) lines.push('* the mean of the non-empty yaw buckets only (a bucket without scored faces)');
  // Head pose against Pose_Para (images with every angle within ±99°), on the images every method scored.
  const poses = methods.map(([, m]) => (methods.length > 1 ? m.common.pose : m.pose));
  const withPose = poses.find((p) => p);
  if (withPose) {
    lines.push(`head pose, mean absolute error in degrees against Pose_Para (${withPose.images} images${methods.length > 1 ? ' every method scored' : ''}, angles within ±${POSE_RANGE_DEG}°):`);
    const deg = (x: number | undefined): string => (x === undefined ? '   –' : `${x.toFixed(2).padStart(5)}°`);
    for (const k of ['yaw', 'pitch', 'roll', 'mean'] as const) lines.push(row(`  ${k}`, '', poses.map((p) => deg(p?.[k]))));
  }
  if (report.ours.folds !== undefined) lines.push(`prnet-ts meshes: ${pct(report.ours.folds).trim()} of the triangles touch a fold sharper than 90° (mean over the images)`);
  if (report.ours.suspect) lines.push(`prnet-ts ${suspectLine(report.ours.suspect)}`);
  lines.push(...failureLines(methods, report.unreadable.length, '.mat'));
  process.stdout.write(lines.join('\n') + '\n');
  return stop.end(reportUnreadable(report.unreadable, report.skippedPeers, [...methodErrors(methods), ...noneScored(report)]));
}

/**
 * One line on stderr per file of the folder left out of the evaluation (an image without its
 * ground truth, a ground-truth file without its image): a user's annotations must not vanish
 * from the means unnoticed. Returns their names (for --json) and the number of pairs (the
 * progress bar's total).
 */
async function reportUnpaired(dir: string, ext: string): Promise<{ pairs: number; unpaired: string[] }> {
  const { pairs, unpaired, takenBy } = await imagePairs(dir, ext);
  for (const n of unpaired.slice(0, MAX_UNPAIRED_LINES)) {
    const first = takenBy.get(n);
    const why = first !== undefined ? `its ${ext} ground truth is ${escapeControl(first)}'s: one image per ground truth`
      : n.toLowerCase().endsWith(ext) ? 'no image of that name beside it' : `no ${ext} ground truth of that name beside it`;
    process.stderr.write(`prnet: ${escapeControl(join(dir, n))}: left out of the evaluation (${why})\n`);
  }
  if (unpaired.length > MAX_UNPAIRED_LINES) process.stderr.write(`prnet: ${escapeControl(dir)}: ${unpaired.length - MAX_UNPAIRED_LINES} more files left out of the evaluation (--json lists them all)\n`);
  return { pairs: pairs.length, unpaired };
}

/** Files left out of an evaluation named one per line, up to this many (the rest counted). */
const MAX_UNPAIRED_LINES = 20;

/** Said before a run's first image (and again at its end): a peer's column that will be missing. */
function notePeersMissing(): void {
  for (const p of missingPeers()) process.stderr.write(`prnet: peer not scored: ${escapeControl(p)} (the run goes on without it)\n`);
}

/**
 * One line on stderr per pair that could not be read and per method that failed on images (exit 1
 * when there were any; the rest is scored), and per peer that could not be run (a note: the run
 * itself is complete).
 */
function reportUnreadable(lines: string[], skippedPeers: string[], errors: string[] = []): number {
  for (const l of lines) process.stderr.write(`prnet: ${escapeControl(l)}\n`);
  for (const e of errors) process.stderr.write(`prnet: ${escapeControl(e)}\n`);
  for (const p of skippedPeers) process.stderr.write(`prnet: peer not scored: ${escapeControl(p)}\n`);
  return lines.length || errors.length ? EXIT.failed : EXIT.ok;
}

type Rows = { perImage: readonly { image: string; failure?: RowFailure; error?: string }[] };

/**
 * Per method that failed on images (rows whose `failure` is `error`: its model could not run, an
 * exception), one line: how many, and the first image with its message. Such rows were counted
 * as faces not found (exit 0, the message only in --json), so a peer whose model file was broken
 * read as a peer that found no face.
 */
function methodErrors(methods: readonly (readonly [string, Rows])[]): string[] {
  const out: string[] = [];
  for (const [n, m] of methods) {
    const rows = m.perImage.filter((r) => r.failure === 'error');
    if (rows.length) out.push(`${n} failed on ${rows.length} image(s), not scored (first: ${rows[0].image}: ${firstLine(rows[0].error ?? 'error')})`);
  }
  return out;
}

/**
 * A run in which prnet-ts scored none of the images it read (no annotated face found near its
 * ground truth in any: a --min-score too high, the wrong folder's annotations): one line, exit 1. It
 * printed a report of empty means and exited 0.
 */
function noneScored(report: { images: number; ours: { scored: number } }): string[] {
  return report.images > 0 && report.ours.scored === 0 ? [`prnet-ts scored none of the ${report.images} image(s): no annotated face found near its ground truth in any (the report lists each image's reason)`] : [];
}

/** The text report's lines on the rows without a score: faces not found or not near, methods that failed, pairs not read. */
function failureLines(methods: readonly (readonly [string, Rows])[], unread: number, ext: string): string[] {
  const lines: string[] = [];
  for (const [n, m] of methods) {
    const missed = m.perImage.filter((r) => r.failure === 'no-face' || r.failure === 'not-near').length;
    const failed = m.perImage.filter((r) => r.failure === 'error').length;
    if (missed) lines.push(`${n}: ${missed} image(s) without the annotated face (none found, or none near it)`);
    if (failed) lines.push(`${n}: ${failed} image(s) not scored: the method failed on them (stderr says why)`);
  }
  if (unread) lines.push(`${unread} image(s) not scored: the image or its ${ext} could not be read`);
  return lines;
}

/** The text report's note on a run stopped by a signal. */
function interruptedLine(r: { images: number; total: number }): string {
  return `INTERRUPTED after ${r.images} of ${r.total} images: every number below is over those ${r.images} only`;
}

/**
 * Ctrl-C (SIGINT) or SIGTERM during the images: the image under way is finished, the report of
 * the images done is printed (marked interrupted; --json: `interrupted`, `images` of `total`),
 * then the process ends by the signal (130 / 143). A second signal ends it at once. (Node's
 * default ended the run with nothing printed: minutes of a 1,000-image run lost.)
 */
function interruptible(): { signal: AbortSignal; end(code: number): Promise<number> } {
  const stop = stopOnSignals({ first: (s) => `prnet: ${s}: the image under way is finished, then the report of the images done is printed (${s} again to stop at once)` });
  return {
    signal: stop.signal,
    async end(code: number): Promise<number> {
      stop.dispose();
      const received = stop.received;
      if (!received) return code;
      // The report reaches its reader before the process ends by the signal.
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      return exitBySignal(received);
    },
  };
}

/** The flip and σ a run used, defaults filled in. */
function usedTestTime(prnet: Prnet, t: TestTimeOptions): { flip: boolean; smooth: number } {
  const { flip, smooth } = producerJson(prnet, undefined, t); // the defaults the JSON of reconstruct names
  return { flip, smooth };
}

/** The model and test-time options as --json reports them. */
function modelReport(prnet: Prnet, name: string | undefined, t: TestTimeOptions) {
  return { ...prnet.session.config, name: name ?? 'default', precision: prnet.session.precision, ...usedTestTime(prnet, t), orientation: prnet.orientation !== null };
}

function testTimeText(prnet: Prnet, t: TestTimeOptions): string {
  const used = usedTestTime(prnet, t);
  return `flip ${used.flip ? 'on' : 'off'}, smoothing σ ${used.smooth}${prnet.orientation ? '' : ', no orientation network'}`;
}

/** `prnet eval pts <dir>`. */
async function runPts(
  dir: string,
  values: { json?: boolean; model?: string; peers?: boolean; threads?: string; quiet?: boolean; detector?: string; 'min-score'?: string; precision?: string; orientation?: boolean; 'gt-box'?: boolean },
  testTime: TestTimeOptions,
): Promise<number> {
  if (values['gt-box']) throw new UsageError('--gt-box applies to aflw2000 only');
  const detector = detectorOption(values.detector);
  const minScore = minScoreOption(values['min-score']);
  const threads = threadsOption(values.threads);
  const precision = precisionOption(values.precision);
  const { pairs, unpaired } = await reportUnpaired(dir, '.pts');
  const prnet = await createPrnet({ model: values.model, detector, minScore, threads, precision, orientation: values.orientation });
  if (values.peers !== false) notePeersMissing();
  const progress = new Progress(pairs, { label: 'eval', enabled: !values.quiet });
  const stop = interruptible();
  const report = await evaluatePts(prnet, dir, { signal: stop.signal, peers: values.peers !== false, onImage: (_name, ok) => progress.tick(ok), ...testTime });
  await prnet.dispose();
  const methods = [['prnet-ts', report.ours], ...Object.entries(report.peers)] as const;
  if (values.json) {
    // The shape of `eval aflw2000 --json`: our scores at the top, each peer's under `peers`.
    process.stdout.write(JSON.stringify({ model: modelReport(prnet, values.model, testTime), dir, crop: 'detector', detector: prnet.detector?.kind ?? null, minScore: minScore ?? null, images: report.images, total: report.total, interrupted: report.interrupted, unpaired,
      ...report.ours, suspect: report.ours.suspect ?? null, peers: report.peers, skippedPeers: report.skippedPeers }, null, 2) + '\n');
    return stop.end(reportUnreadable(report.unreadable, report.skippedPeers, [...methodErrors(methods), ...noneScored(report)]));
  }
  const lines = [`${report.images} images with .pts ground truth (${dir}), model ${values.model ?? 'default'}, detector ${prnet.detector?.kind ?? 'none'}, ${testTimeText(prnet, testTime)}; 68-point 2D NME, normalised by the landmark box`];
  if (report.interrupted) lines.push(interruptedLine(report));
  const W = Math.max(22, ...report.ours.perImage.map((s) => s.image.length), `mean on the ${report.ours.common.images} all scored`.length);
  const row = (first: string, cells: string[]): string => [first.padEnd(W), ...cells.map((c) => c.padStart(9))].join('  ');
  lines.push(row('image', methods.map(([n]) => n)));
  report.ours.perImage.forEach((s, i) => lines.push(row(s.image, methods.map(([, m]) => pct(m.perImage[i].nme2d)))));
  lines.push(row('mean', methods.map(([, m]) => pct(m.nme2d))));
  lines.push(row('median', methods.map(([, m]) => pct(m.median2d))));
  lines.push(row('  faces scored', methods.map(([, m]) => String(m.scored))));
  if (methods.length > 1) lines.push(row(`mean on the ${report.ours.common.images} all scored`, methods.map(([, m]) => pct(m.common.nme2d))));
  if (report.ours.suspect) lines.push(`prnet-ts ${suspectLine(report.ours.suspect)}`);
  lines.push(...failureLines(methods, report.unreadable.length, '.pts'));
  process.stdout.write(lines.join('\n') + '\n');
  return stop.end(reportUnreadable(report.unreadable, report.skippedPeers, [...methodErrors(methods), ...noneScored(report)]));
}
