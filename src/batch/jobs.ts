/**
 * Distributed batch reconstruction on BullMQ (Redis): the job's data, its id, the queue's name and
 * how to connect. One job = one image; its outputs are the files `prnet reconstruct` writes.
 */
import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { Queue, type ConnectionOptions } from 'bullmq';
import type { DetectorKind } from '../detect/index.js';
import { firstLine, PrnetError } from '../errors.js';
import type { OutputFormat, OutputOptions } from '../pipeline/outputs.js';

export const DEFAULT_QUEUE = 'prnet-reconstruct';

export interface ReconstructJobData {
  /** The image, an absolute path (as reachable from the workers). */
  path: string;
  /** The output folder, absolute. */
  out: string;
  /** Output file stem (unique among the images of a submission). */
  stem: string;
  formats: OutputFormat[];
  /** Bundled model name or model file. */
  model: string;
  maxFaces?: number;
  /** false: no test-time flip (reconstruct's --no-flip); absent: the default (on). */
  flip?: boolean;
  /** Smoothing σ in UV pixels (reconstruct's --smooth); absent: the model's default. */
  smooth?: number;
  detector?: DetectorKind;
  /** The detector's lowest score kept, 0 to 1 (reconstruct's --min-score); absent: the detector's default. */
  minScore?: number;
  /** Mesh units, centring and texture size (reconstruct's --units, --center, --texture-size). */
  mesh?: OutputOptions;
  /** false: no tile looks at large photos (reconstruct's --no-tiles); absent: the default (on). */
  tiles?: boolean;
  /** false: faces lying sideways are not turned upright (reconstruct's --no-orientation); absent: the default. */
  orientation?: boolean;
  /**
   * The largest image read, in pixels (reconstruct's --max-pixels); absent: the decoder's default
   * (100 megapixels). It changes no output, so it is not in the job id: a job failed over the
   * limit and submitted again with a higher one is queued again with it.
   */
  maxPixels?: number;
  /**
   * true: the worker starts the output folder's record (.prnet-done.jsonl) where there is none, as
   * `prnet reconstruct` of several images does (a submission of more than one image); absent: it
   * adds its line only to a record the folder keeps, as a one-image run. Not in the job id.
   */
  record?: boolean;
}

/**
 * Why a job's data cannot be run as it is (null when it can): the worker takes it from Redis,
 * where anyone who can write may have put it. Paths must be absolute, and the stem a file name:
 * a stem of '../x' wrote outside the job's folder.
 */
export function jobDataProblem(d: unknown): string | null {
  if (typeof d !== 'object' || d === null) return 'job data is not an object';
  const j = d as Partial<Record<keyof ReconstructJobData, unknown>>;
  for (const k of ['path', 'out', 'stem', 'model'] as const) if (typeof j[k] !== 'string' || j[k] === '' || (j[k] as string).includes('\0')) return `job data: ${k} must be a non-empty string`;
  if (!isAbsolute(j.path as string) || !isAbsolute(j.out as string)) return 'job data: path and out must be absolute';
  // (a stem is always followed by a suffix, '_face0.json': '..' or 'a\\b' name files in the folder)
  const stem = j.stem as string;
  if (stem.includes('/')) return `job data: stem must be a file name, got ${JSON.stringify(stem)}`;
  if (!Array.isArray(j.formats) || j.formats.some((f) => typeof f !== 'string')) return 'job data: formats must be a list of names';
  for (const k of ['tiles', 'orientation'] as const) if (j[k] !== undefined && typeof j[k] !== 'boolean') return `job data: ${k} must be true or false`;
  if (j.maxPixels !== undefined && !(Number.isSafeInteger(j.maxPixels) && (j.maxPixels as number) > 0)) return 'job data: maxPixels must be a whole number ≥ 1';
  if (j.record !== undefined && typeof j.record !== 'boolean') return 'job data: record must be true or false';
  return null;
}

export interface ReconstructJobResult {
  faces: number;
  files: string[];
}

/** Redis could not be reached, or answered an error. */
export class QueueError extends PrnetError {
  static override readonly errorName: string = 'QueueError';
}

/** Redis could not be reached, or went away mid-command (exit 69, EX_UNAVAILABLE: try again later), not a refusal of what was asked. */
export class QueueUnavailableError extends QueueError {
  static override readonly errorName: string = 'QueueUnavailableError';
}

/**
 * A failure to talk to Redis as the command's error: the connection refused, reset, timed out,
 * lost or not resolved, or a Redis that is loading, busy or out of clients, is a
 * QueueUnavailableError (exit 69: the same command later may work); a wrong or missing password,
 * or another error reply (out of memory, read-only), a QueueError (exit 1: it is refused as
 * asked). Anything else (a PrnetError, a bug) passes as it is.
 */
export function queueFailure(e: unknown, url: string, what = 'cannot reach', connecting = false): unknown {
  if (e instanceof PrnetError || !(e instanceof Error)) return e;
  const text = firstLine(e);
  const code = String((e as { code?: unknown }).code ?? '');
  const gone = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|ENOTFOUND|EAI_AGAIN|MaxRetriesPerRequest|Connection is closed|Stream isn't writeable|max number of clients/.test(`${e.name} ${code} ${text}`)
    || /^(LOADING|BUSY|MASTERDOWN)\b/.test(text);
  if (gone) return new QueueUnavailableError(`${what} Redis at ${redactUrl(url)} (${text})`);
  if (e.name === 'ReplyError' || /WRONGPASS|NOAUTH/.test(text)) return new QueueError(`Redis at ${redactUrl(url)} refused: ${text}`);
  // While connecting, whatever kept Redis from answering is its not being reachable.
  return connecting ? new QueueUnavailableError(`${what} Redis at ${redactUrl(url)} (${text})`) : e;
}

/**
 * The job id: the image's content hash and every option that changes the outputs (folder, stem,
 * formats, model, face limit, detector and its score threshold, mesh options, flip, smoothing, tiles and orientation when given: absent keys
 * leave the ids of jobs without them as before; not the pixel limit, which changes no output).
 * Re-submitting the same images with the same options gives the same ids, which BullMQ does not add twice.
 */
export function jobId(content: Uint8Array, data: ReconstructJobData): string {
  const { path: _path, maxPixels: _maxPixels, record: _record, ...options } = data;
  const h = createHash('sha256').update(content).update('\0').update(JSON.stringify({ ...options, formats: [...options.formats].sort() }));
  return `img-${h.digest('hex').slice(0, 40)}`;
}

/**
 * Connection options for a redis:// or rediss:// URL. `persistent` connections (workers) retry
 * for ever, so that a restarted Redis is picked up again; the others (submit, status) give up
 * after a few tries with an error.
 */
export function connection(url: string, persistent: boolean): ConnectionOptions {
  if (!/^rediss?:\/\//.test(url)) throw new QueueError(`--redis must be a redis:// or rediss:// URL, got '${url}'`);
  return persistent
    ? { url, maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(n * 200, 2000) }
    : { url, maxRetriesPerRequest: 2, retryStrategy: (n: number) => (n > 3 ? null : 200), connectTimeout: 3000 };
}

/** Opens the queue and checks that Redis answers. */
export async function openQueue(url: string, name = DEFAULT_QUEUE): Promise<Queue<ReconstructJobData, ReconstructJobResult>> {
  const queue = new Queue<ReconstructJobData, ReconstructJobResult>(name, { connection: connection(url, false) });
  queue.on('error', () => undefined); // reported by the command that fails
  try {
    await queue.waitUntilReady();
  } catch (e) {
    await queue.close().catch(() => undefined);
    throw queueFailure(e, url, 'cannot reach', true);
  }
  try {
    await checkDatabase(url, await queue.getBackend().client);
  } catch (e) {
    await queue.close().catch(() => undefined);
    throw e;
  }
  return queue;
}

/**
 * A QueueError when a connected client is not in the database the URL names. A database the
 * server does not have (redis://host/99): ioredis reports the failed SELECT as an event and goes on
 * in database 0, where jobs would then land, or be taken, without a word.
 */
export async function checkDatabase(url: string, connected: unknown): Promise<void> {
  const wanted = Number(/^rediss?:\/\/[^/]*\/(\d+)/.exec(url)?.[1] ?? 0);
  if (wanted === 0) return;
  // (ioredis's client, under BullMQ's adapter type: `call` sends any command)
  const client = connected as { call?: (...args: string[]) => Promise<unknown> } | null;
  if (typeof client?.call !== 'function') return;
  const info = String(await client.call('CLIENT', 'INFO').catch(() => ''));
  const selected = /\bdb=(\d+)/.exec(info)?.[1];
  if (selected !== undefined) {
    if (Number(selected) !== wanted) throw new QueueError(`Redis at ${redactUrl(url)} has no database ${wanted} (it is using ${selected}: see its 'databases' setting)`);
    return;
  }
  // No CLIENT INFO (Redis before 6.2, or a user whose ACL leaves it out): select the database again.
  const refused = await client.call('SELECT', String(wanted)).then(() => '', (e: unknown) => firstLine(e));
  if (/DB index|out of range|invalid DB/i.test(refused)) throw new QueueError(`Redis at ${redactUrl(url)} has no database ${wanted} (${refused}: see its 'databases' setting)`);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
