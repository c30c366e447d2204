/** `prnet batch submit|status`: the distributed batch's front (src/batch). */
import { setTimeout as sleep } from 'node:timers/promises';
import { shownNames } from './inputs.js';

import { BATCH_PACKAGES, loadOptional } from './optional.js';
import { EXIT, TEST_TIME_OPTIONS, UsageError, intOption, parseOptions, testTimeOptions, detectorOption, minScoreOption } from './options.js';
import { parseFormats, parseMeshOptions } from './reconstruct.js';
import { ALL_OUTPUT_FORMATS } from '../pipeline/outputs.js';
import { counted } from './progress.js';
import { didYouMean, nearestWord } from '../util/nearest-name.js';
import { escapeControl, InputError } from '../errors.js';

/** A redis:// or rediss:// URL, or a usage error. */
export function checkRedisUrl(url: string): void {
  if (!/^rediss?:\/\/[^/]/.test(url)) throw new UsageError(`--redis must be a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379), got '${url}'`);
}

/** The --queue name as BullMQ takes it (it keeps its keys as bull:<queue>:…, so no ':'), or a usage error. */
export function queueOption(name: string | undefined): string | undefined {
  if (name !== undefined && name.includes(':')) throw new UsageError(`--queue cannot contain ':' (Redis keys are bull:<queue>:…), got '${name}'`);
  return name;
}

/** A module of src/batch (bullmq, with ioredis as its Redis client). */
export function loadBatch<T>(command: 'batch' | 'worker', load: () => Promise<T>): Promise<T> {
  return loadOptional(command, BATCH_PACKAGES, async () => {
    await import('ioredis'); // bullmq's optional peer: missing, it would fail only when connecting
    return load();
  });
}

export async function runBatch(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'submit') return submit(rest);
  if (sub === 'status') return status(rest);
  throw new UsageError(`batch needs 'submit' or 'status', got '${sub ?? ''}'${sub ? didYouMean(sub, ['submit', 'status']) : ''} (see prnet --help)`);
}

async function submit(args: string[]): Promise<number> {
  const formatFlags = Object.fromEntries(ALL_OUTPUT_FORMATS.map((f) => [f, { type: 'boolean' as const }]));
  const { values, positionals } = parseOptions(args, {
    out: { type: 'string', short: 'o' },
    redis: { type: 'string' },
    queue: { type: 'string' },
    model: { type: 'string', short: 'm' },
    formats: { type: 'string' },
    'max-faces': { type: 'string' },
    'min-score': { type: 'string' },
    'max-pixels': { type: 'string' },
    detector: { type: 'string' },
    tiles: { type: 'boolean' },
    orientation: { type: 'boolean' },
    attempts: { type: 'string' },
    units: { type: 'string' },
    center: { type: 'boolean' },
    'texture-size': { type: 'string' },
    ...TEST_TIME_OPTIONS,
    quiet: { type: 'boolean', short: 'q' },
    ...formatFlags,
  }, true, {
    threads: "each worker's own --threads applies (prnet worker --threads n)",
    precision: "the workers run the model file's precision",
    box: 'a box is for one image (prnet reconstruct --box)',
    crop: 'a crop is for one image (prnet reconstruct --crop)',
    resume: 'a re-submit skips the images already done, remaking those whose files were deleted',
  });
  if (!positionals.length) throw new UsageError('batch submit needs at least one folder, image or .txt list');
  if (!values.out) throw new UsageError('batch submit needs --out <dir>');
  const negated: Record<string, boolean | undefined> = {};
  for (const f of ALL_OUTPUT_FORMATS) negated[f] = (values as Record<string, unknown>)[f] as boolean | undefined;
  const formats = [...parseFormats(values.formats, negated)];
  await checkBatchOut(values.out);
  if (!values.redis) throw new UsageError('batch submit needs --redis <url> (without Redis, use prnet reconstruct)');
  checkRedisUrl(values.redis);
  const queue = queueOption(values.queue);
  const detector = detectorOption(values.detector);
  const maxFaces = intOption(values['max-faces'], 'max-faces');
  const minScore = minScoreOption(values['min-score']);
  // as reconstruct's: a phone's 108-megapixel photo is over the default limit; --no-tiles, --no-orientation
  const maxPixels = intOption(values['max-pixels'], 'max-pixels');
  const tiles = values.tiles === false ? false : undefined;
  const orientation = values.orientation === false ? false : undefined;
  const attempts = intOption(values.attempts, 'attempts');
  const mesh = parseMeshOptions(values);
  const testTime = testTimeOptions(values);
  const { submitBatch } = await loadBatch('batch', () => import('../batch/submit.js'));
  const s = await submitBatch({
    redis: values.redis,
    inputs: positionals,
    out: values.out,
    formats,
    model: values.model,
    maxFaces,
    ...testTime,
    detector,
    minScore,
    tiles,
    orientation,
    maxPixels,
    attempts,
    mesh,
    queue,
  });
  for (const d of s.empty) process.stderr.write(`prnet: ${d}: no image files in this folder\n`);
  // What the folders leave out, as prnet reconstruct says it (files not named as images, sub-folders, images in --out named as outputs that prnet-ts did not write).
  if (!values.quiet) for (const n of s.notes) process.stderr.write(`prnet: ${n}\n`);
  for (const u of [...s.unreadable, ...s.refused]) process.stderr.write(`prnet: ${escapeControl(u)}\n`);
  if (!values.quiet) {
    process.stderr.write(`queued ${s.added} · already queued or done ${s.skipped} · failed ones queued again ${s.retried}` +
      (s.remade ? ` · done ones with deleted files queued again ${s.remade}` : '') +
      (s.unreadable.length ? ` · unreadable ${s.unreadable.length}` : '') +
      (s.refused.length ? ` · not queued (their outputs would replace a photo or a file prnet-ts did not write) ${s.refused.length}` : '') + '\n');
  }
  return s.unreadable.length || s.refused.length || (!s.added && !s.skipped && !s.retried && !s.remade) ? EXIT.failed : EXIT.ok;
}

async function status(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    redis: { type: 'string' },
    queue: { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  }, false);
  if (!values.redis) throw new UsageError('batch status needs --redis <url>');
  checkRedisUrl(values.redis);
  const queue = queueOption(values.queue);
  const timeout = intOption(values.timeout, 'timeout');
  if (timeout !== undefined && !values.wait) throw new UsageError('--timeout is how long --wait waits: give it with --wait');
  const until = timeout ? Date.now() + timeout * 1000 : Number.POSITIVE_INFINITY;
  const { batchStatus, formatStatus } = await loadBatch('batch', () => import('../batch/status.js'));
  const { redactUrl, DEFAULT_QUEUE } = await import('../batch/jobs.js');
  let s = await batchStatus(values.redis, { queue });
  // A queue no job was ever added to (a mistyped --queue): its counts, all 0, would read as a batch done.
  if (!s.known) {
    const name = queue ?? DEFAULT_QUEUE;
    const others = s.others ?? [];
    const near = nearestWord(name, others);
    const hint = near ? `did you mean '${near}'?` : others.length ? `queues there with jobs: ${shownNames(others)}` : 'no queue there has had one';
    throw new InputError(`queue '${name}' at ${redactUrl(values.redis)} has never had a job (${hint})`);
  }
  // --wait: until nothing is waiting or running (a line every few seconds on stderr).
  while (values.wait && s.waiting + s.active > 0 && Date.now() < until) {
    process.stderr.write(`${formatStatus(s)}\n`);
    await sleep(Math.min(2000, until - Date.now()));
    s = await batchStatus(values.redis, { queue });
  }
  process.stdout.write(`${formatStatus(s)}\n`);
  for (const f of s.failures) {
    // (a line each, whatever the name: the worker's reason names the path escaped)
    const path = escapeControl(f.path), said = escapeControl(f.reason);
    const reason = said.startsWith(`${path}: `) ? said.slice(path.length + 2) : said;
    process.stdout.write(`failed: ${path}: ${reason} (${counted(f.attempts, 'attempt')})\n`);
  }
  if (s.failed > s.failures.length) process.stdout.write(`failed: ${counted(s.failed - s.failures.length, 'more image')} not listed (${s.failures.length} are)\n`);
  if (values.wait && s.waiting + s.active > 0) {
    process.stderr.write(`prnet: --wait timed out after ${timeout} s with jobs still to do: ${formatStatus(s)}\n`);
    return EXIT.timedOut;
  }
  return s.failed ? EXIT.failed : EXIT.ok;
}

/**
 * --out as the workers will see it, where this machine can tell: a file, or a path through one, is
 * a usage error here (its jobs failed at every worker after --attempts tries). A folder that does
 * not exist yet is fine: the workers make it (they may share a file system this machine has not).
 */
async function checkBatchOut(out: string): Promise<void> {
  const { stat } = await import('node:fs/promises');
  const info = await stat(out).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOTDIR') throw new UsageError(`--out ${out}: a part of the path is a file, not a folder`);
    return null;
  });
  if (info && !info.isDirectory()) throw new UsageError(`--out ${out} is a file, not a folder`);
}
