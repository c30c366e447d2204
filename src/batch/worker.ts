/**
 * `prnet worker`: takes reconstruct jobs from the queue and writes each image's files as `prnet
 * reconstruct` does (src/cli/reconstruct.ts: all files of an image appear together or not at all).
 *
 * Exactly once per image: the file names are fixed by the job, so a retried job (after its worker
 * died, its lock expired and BullMQ moved it back as stalled) replaces the same files, and first
 * removes the temporary files the dead attempt left.
 */
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { firstLine, InputError } from '../errors.js';
import { reconstructToFiles, recordedOptions } from '../cli/reconstruct.js';
import { DONE_RECORD, DoneRecord, DoneRecordReader, fileIdentity, keepsRecord } from '../cli/resume.js';
import { fileIdentities, realOrResolved, writeFailure } from '../cli/atomic.js';
import { counted } from '../cli/progress.js';
import { pixelLimitHint } from '../cli/options.js';
import { escapeRegExp, outputSuffixPattern, pngOutputPattern } from '../pipeline/output-names.js';
import { outputStem, recordClaims, UNOWNED_OUTPUT, unownedOutputsOf } from '../cli/inputs.js';
import { createPrnet, producerJson } from '../pipeline/node.js';
import type { Prnet } from '../pipeline/prnet.js';
import { checkDatabase, connection, DEFAULT_QUEUE, jobDataProblem, queueFailure, type ReconstructJobData, type ReconstructJobResult } from './jobs.js';

export interface WorkerOptions {
  redis: string;
  /** Jobs run at once by this process (default 1; they share one inference session). */
  concurrency?: number;
  /** Network threads (default: the cores on a machine of up to 4, else onnxruntime's choice; runtime/node.ts). */
  threads?: number;
  queue?: string;
  /**
   * How long a job's lock lasts without renewal, ms (default 30 s): a worker that dies holds its
   * job this long before another one takes it over.
   */
  lockMs?: number;
  /** Called for each finished or failed job. */
  onJob?: (event: { ok: boolean; data: ReconstructJobData; message: string }) => void;
  /** Called when the connection to Redis fails or comes back. */
  onConnection?: (message: string) => void;
  /** Called when a job's files are in place but its line in the folder's record could not be written. */
  onWarning?: (message: string) => void;
}

const OUR_SUFFIXES = outputSuffixPattern();

/**
 * Redis's refusals that trying again would meet again: no or a wrong password, an ACL user without
 * the rights (Redis before 6 said "invalid password"). A worker stops on them; on the others (the
 * connection refused or lost, a Redis loading, out of memory, read-only while a replica is
 * promoted) it waits and retries.
 */
const REFUSAL = /^(?:NOAUTH|WRONGPASS|NOPERM)\b|^ERR invalid password/;

/**
 * Removes the temporary files of earlier attempts at this image's outputs (the CLI's atomic
 * writer names them `.prnet-<pid>-<tag>-<n>.<name>.tmp`). By name, not by pid: the attempt that left
 * them may have run on another machine.
 */
export async function removeStaleTemps(outDir: string, stem: string): Promise<number> {
  const re = new RegExp(`^\\.prnet-\\d+-(?:[0-9a-f]{12}-)?\\d+\\.${escapeRegExp(stem)}${OUR_SUFFIXES}\\.tmp$`);
  let names: string[];
  try {
    names = await readdir(outDir);
  } catch {
    return 0;
  }
  const stale = names.filter((n) => re.test(n));
  await Promise.all(stale.map((n) => rm(join(outDir, n), { force: true })));
  return stale.length;
}

export interface BatchWorker {
  worker: Worker<ReconstructJobData, ReconstructJobResult>;
  /** Waits for the jobs in progress, then disconnects. */
  close(force?: boolean): Promise<void>;
  /**
   * Settles once the worker has checked its connection and started taking jobs (it waits while Redis
   * cannot be reached); rejects with a QueueError, taking no job, when Redis is not in the database
   * the URL names or refuses the worker (as `refused`; the worker is closed then).
   */
  started: Promise<void>;
  /**
   * Rejects with a QueueError when Redis refuses the worker, before or after it started (no or a
   * wrong password, a user without the rights: Redis answers so to every retry); the worker is
   * closed then, without waiting for its jobs (which could not report their results). Never resolves.
   */
  refused: Promise<never>;
  /** The jobs this worker is running now. */
  inProgress(): number;
}

/** Output folders whose records a worker keeps read (the least recently used goes past this). */
const RECORDS_KEPT = 16;

export function startWorker(options: WorkerOptions): BatchWorker {
  const prnets = new Map<string, Promise<Prnet>>();
  // Each folder's record, read once and then only what was appended (a job reads it: see runJob).
  const records = new Map<string, DoneRecordReader>();
  const recordOf = (out: string): DoneRecordReader => {
    const key = resolve(out);
    const r = records.get(key) ?? new DoneRecordReader(key);
    records.delete(key);
    records.set(key, r);
    if (records.size > RECORDS_KEPT) records.delete(records.keys().next().value as string);
    return r;
  };
  const pipeline = (data: ReconstructJobData): Promise<Prnet> => {
    const key = `${data.model}\0${data.detector ?? ''}\0${data.minScore ?? ''}\0${data.tiles ?? ''}\0${data.orientation ?? ''}`;
    let p = prnets.get(key);
    if (!p) {
      p = createPrnet({ model: data.model, detector: data.detector, minScore: data.minScore, tiles: data.tiles, orientation: data.orientation, threads: options.threads });
      p.catch(() => prnets.delete(key)); // a model that failed to load is tried again by the next job
      prnets.set(key, p);
    }
    return p;
  };

  let running = 0;
  const processJob = async (job: Job<ReconstructJobData, ReconstructJobResult>): Promise<ReconstructJobResult> => {
    running++;
    try {
      return await runJob(job);
    } finally {
      running--;
    }
  };
  const runJob = async (job: Job<ReconstructJobData, ReconstructJobResult>): Promise<ReconstructJobResult> => {
    const d = job.data;
    const problem = jobDataProblem(d);
    if (problem) throw new UnrecoverableError(`${typeof d?.path === 'string' ? `${d.path}: ` : ''}${problem}`);
    const prnet = await pipeline(d);
    // The folder's record gives the job's stem to another photo whose files there are still as it
    // wrote them (a `prnet reconstruct` of a/x.jpg and b/x.jpg wrote x and x-2; b/x.jpg queued by a
    // submitter that could not see the folder, or before that run, is named x): they are not
    // written over, as `prnet reconstruct` would not. Not retried: the name stays another's until
    // a submitter that sees the folder names the photo anew.
    const record = recordOf(d.out);
    const claims = await recordClaims(d.out, [d.path], new Set([outputStem(d.path), d.stem]), record);
    const owner = claims.othersAt(0, d.stem) ? claims.owner(d.stem) : undefined;
    if (owner !== undefined) {
      throw new UnrecoverableError(`${d.path}: not written: ${join(d.out, DONE_RECORD)} gives its output name '${d.stem}' to another photo (${owner}), whose files are still there as written; submit it again where ${d.out} can be seen (batch submit then names it after that record)`);
    }
    // Only a job started before (its worker died in it: a failed attempt removes its own) can have
    // an earlier attempt's temporaries; listing the folder for every job cost ~0.1 s a job in a
    // folder of 100,000 files (as long as a light-model job itself).
    if (job.attemptsStarted > 1 || job.attemptsMade > 0) await removeStaleTemps(d.out, d.stem);
    // The photo's folder is its output folder: an image there named as its output that prnet-ts
    // did not write (no mark, not in the record: a photo of the user's) is neither replaced nor
    // removed, as `prnet reconstruct` does (batch submit checked at queueing; this is the check at
    // the time of writing).
    const unowned = (await realOrResolved(dirname(d.path))) === (await realOrResolved(d.out)) ? await unownedOutputsOf(d.out, d.stem, record) : [];
    const written = pngOutputPattern(d.stem, d.formats);
    const clash = written ? unowned.find((f) => written.test(basename(f))) : undefined;
    if (clash) throw new UnrecoverableError(`${d.path}: ${clash}: ${UNOWNED_OUTPUT}`);
    // A job adds its line to the folder's record as `prnet reconstruct` does: where the folder keeps
    // one (a one-image run), or starting it (a job of a submission of several images: `record`)
    // (the input's identity taken before it is read).
    const id = d.record === true || keepsRecord(d.out) ? await fileIdentity(d.path) : undefined;
    try {
      const { faces, outputs } = await reconstructToFiles(prnet, d.path, d.stem, d.out, { maxPixels: d.maxPixels, maxFaces: d.maxFaces, flip: d.flip, smooth: d.smooth, formats: new Set(d.formats), mesh: { ...d.mesh, producer: producerJson(prnet, d.model, { flip: d.flip, smooth: d.smooth }) }, inputs: fileIdentities([d.path, ...unowned]) });
      if (id) {
        // (the mesh options as the job's files were made: a job without them, the defaults)
        const mesh = { units: d.mesh?.units ?? 'mm', center: d.mesh?.center ?? true, textureSize: d.mesh?.textureSize ?? prnet.layout.size };
        const recorded = async (): Promise<void> => {
          const run = await recordedOptions(prnet, { model: d.model, detector: d.detector, tiles: d.tiles, minScore: d.minScore, maxFaces: d.maxFaces, flip: d.flip, smooth: d.smooth, formats: d.formats, mesh });
          await new DoneRecord(d.out).add({ input: id.path, size: id.size, mtimeMs: id.mtimeMs, stem: d.stem, options: run, faces }, outputs);
        };
        // The files are in place whatever happens here: a line that cannot be written is said, and the job is done.
        await recorded().catch((e: unknown) => options.onWarning?.(`${d.path}: cannot record the finished image in ${join(d.out, DONE_RECORD)} (${writeFailure(e)})`));
      }
      return { faces, files: outputs };
    } catch (e) {
      // A bad image stays bad: fail it at once. Anything else (an output that cannot be written, a
      // model that did not load, a crash) is tried again up to the job's attempts.
      if (e instanceof InputError) throw new UnrecoverableError(e.message + pixelLimitHint(e, d.maxPixels));
      throw e;
    }
  };

  const lockDuration = options.lockMs ?? 30_000;
  const worker = new Worker<ReconstructJobData, ReconstructJobResult>(options.queue ?? DEFAULT_QUEUE, processJob, {
    connection: connection(options.redis, true),
    concurrency: options.concurrency ?? 1,
    lockDuration,
    stalledInterval: Math.max(1000, Math.min(30_000, lockDuration)),
    maxStalledCount: 3,
    // started below, once its connection is known to be in the database the URL names
    autorun: false,
  });
  let down = false;
  // A worker has two connections (commands, and the blocking wait for jobs): Redis is back when
  // both are ready again. Their events can come in any order (an error can be reported after both
  // are ready again, under load), so while down their state is looked at every half second.
  let clients: { status: string }[] = [];
  const backend = worker.getBackend();
  void Promise.all([backend.client, backend.blockingClient ?? backend.client]).then((c) => { clients = c; }, () => undefined);
  let poll: NodeJS.Timeout | null = null;
  // Back: said when the connections are ready again (an idle worker too), or at the latest when a
  // job finishes either way (before, only a completed job said it, so a failed one left the flag
  // set and the next outage unreported).
  const back = (): void => {
    if (down) options.onConnection?.('Redis: connected again');
    down = false;
    if (poll) clearInterval(poll);
    poll = null;
  };
  let refuse: (e: unknown) => void = () => undefined;
  const refused = new Promise<never>((_, reject) => {
    refuse = reject;
  });
  refused.catch(() => worker.close(true).catch(() => undefined));
  worker.on('error', (e) => {
    // a failed SELECT: `started` says it (the connection goes on, in database 0)
    if (/DB index is out of range/.test(String(e))) return;
    // Refused (a password, an ACL): every retry would be refused alike.
    if (REFUSAL.test(firstLine(e))) {
      refuse(queueFailure(e, options.redis));
      return;
    }
    if (!down) options.onConnection?.(`Redis: ${firstLine(e)} (retrying)`);
    down = true;
    poll ??= setInterval(() => {
      if (clients.length && clients.every((c) => c.status === 'ready')) back();
    }, 500).unref();
  });
  worker.on('completed', (job, result) => {
    back();
    options.onJob?.({ ok: true, data: job.data, message: `${job.data.path}: ${counted(result.faces, 'face')}, ${counted(result.files.length, 'file')}` });
  });
  worker.on('failed', (job, err) => {
    if (job) back();
    if (job) options.onJob?.({ ok: false, data: job.data, message: `${firstLine(err)} (attempt ${job.attemptsMade})` });
  });
  let closing = false;
  const started = Promise.race([refused, (async () => {
    // (a client that cannot connect is the worker's to report and retry; one that is refused, `refused`'s)
    await checkDatabase(options.redis, await backend.client.catch(() => null));
    if (closing) return;
    worker.run().catch((e: unknown) => worker.emit('error', e as Error));
  })()]);
  started.catch(() => worker.close(true).catch(() => undefined));
  return {
    worker,
    started,
    refused,
    inProgress: () => running,
    async close(force = false) {
      closing = true;
      if (poll) clearInterval(poll);
      // While Redis is unreachable a graceful close never ends (it waits for the connections), and
      // the jobs in progress could not report their results anyway: they are left to Redis, which
      // hands them out again when their locks lapse. `force` also stops without waiting for them.
      await worker.close(force || down);
      await Promise.all([...prnets.values()].map((p) => p.then((x) => x.dispose(), () => undefined)));
    },
  };
}
