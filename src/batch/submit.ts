/** `prnet batch submit`: one job per image, skipping images already done with the same options. */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { inputAt } from '../cli/atomic.js';
import { DEFAULT_DETECTOR } from '../detect/detector.js';
import { InputError } from '../errors.js';
import { statRegularFile } from '../io/image-node.js';
import { expandInputs, outputStem, recordClaims, uniqueStems, UNOWNED_ADVICE, UNOWNED_WHY, type RecordClaims } from '../cli/inputs.js';
import { outputSuffixPattern, pngOutputPattern } from '../pipeline/output-names.js';
import { checkedModel } from '../pipeline/node.js';
import { jobId, openQueue, queueFailure, DEFAULT_QUEUE, type ReconstructJobData, type ReconstructJobResult } from './jobs.js';

export interface SubmitOptions {
  redis: string;
  /** Folders, image files, or .txt lists of image paths (one a line, relative to the list). */
  inputs: string[];
  out: string;
  formats: ReconstructJobData['formats'];
  model?: string;
  maxFaces?: number;
  flip?: ReconstructJobData['flip'];
  smooth?: ReconstructJobData['smooth'];
  detector?: ReconstructJobData['detector'];
  minScore?: ReconstructJobData['minScore'];
  mesh?: ReconstructJobData['mesh'];
  tiles?: ReconstructJobData['tiles'];
  orientation?: ReconstructJobData['orientation'];
  maxPixels?: ReconstructJobData['maxPixels'];
  /** Tries per image before it is failed (default 3). */
  attempts?: number;
  queue?: string;
}

export interface SubmitSummary {
  /** New jobs. */
  added: number;
  /** Jobs that already exist (done, waiting or running). */
  skipped: number;
  /** Failed jobs queued again. */
  retried: number;
  /** Finished jobs queued again because a file they wrote is no longer in the output folder. */
  remade: number;
  /** Inputs that could not be read (not queued), as one-line messages. */
  unreadable: string[];
  /** Photos not queued because their outputs would replace another photo of the submission, or an image in --out named as their output that prnet-ts did not write (InputList.unowned), as one-line messages. */
  refused: string[];
  /** Folders without images. */
  empty: string[];
  /** Images in --out named as outputs that prnet-ts did not write (InputList.unowned): left out as inputs, and kept. */
  unowned: string[];
  /** What the folders leave out, as `prnet reconstruct` says it (InputList.notes: files not named as images, sub-folders, the images of `unowned` in a folder given). */
  notes: string[];
}

/** Expands folders and `.txt` lists into image paths (a folder's own outputs in `outDir` are not inputs). */
export async function expandBatchInputs(args: string[], outDir?: string): Promise<{ files: string[]; empty: string[]; unreadable: string[]; unowned: string[]; notes: string[] }> {
  const files: string[] = [];
  const empty: string[] = [];
  const unreadable: string[] = [];
  const unowned: string[] = [];
  const notes: string[] = [];
  for (const arg of args) {
    if (extname(arg).toLowerCase() === '.txt' && (await stat(arg).catch(() => null))?.isFile()) {
      const base = dirname(resolve(arg));
      for (const line of (await readFile(arg, 'utf8')).split(/\r?\n/)) {
        const p = line.trim();
        if (!p || p.startsWith('#')) continue;
        const path = resolve(base, p);
        // A folder named in a list is expanded as on the command line; a list in a list is not read.
        if (extname(path).toLowerCase() === '.txt') {
          unreadable.push(`${path}: a list inside a list is not read (give it on the command line)`);
        } else if ((await stat(path).catch(() => null))?.isDirectory()) {
          const r = await expandInputs([path], { outDir });
          files.push(...r.files.map((f) => resolve(f)));
          empty.push(...r.empty);
          unreadable.push(...r.unreadable);
          unowned.push(...r.unowned.map((f) => resolve(f)));
          notes.push(...r.notes);
        } else files.push(path);
      }
      continue;
    }
    const r = await expandInputs([arg], { outDir });
    files.push(...r.files.map((f) => resolve(f)));
    empty.push(...r.empty);
    unreadable.push(...r.unreadable);
    unowned.push(...r.unowned.map((f) => resolve(f)));
    notes.push(...r.notes);
  }
  // An image named twice (a list and its folder, `a.jpg` and `./a.jpg`) is one job.
  return { files: [...new Set(files)], empty, unreadable, unowned: [...new Set(unowned)], notes };
}

/**
 * Each image's output stem, the same in every submission to this output folder: the first image
 * path to take a stem (name, or name-2, -3, … as uniqueStems gives) keeps it, recorded in Redis
 * (two hashes beside the queue: stem → path, path → stem, written with HSETNX so that concurrent
 * submissions cannot both take one). Without this a later submission of part of the images named
 * them by that part alone: re-submitting dirB/p.jpg gave it 'p', over dirA/p.jpg's files.
 *
 * The output folder's record (.prnet-done.jsonl, which `prnet reconstruct` keeps, and the workers
 * add to where it is kept) goes first where this machine can read it (`claims`): a stem it gives to
 * another photo whose files are still as written is never taken, not even one Redis holds for
 * this path (`prnet reconstruct a/x.jpg b/x.jpg` wrote x and x-2; b/x.jpg submitted alone was
 * named x and its job wrote over a/x.jpg's files), and one it gives to this very photo is this
 * path's, whichever path Redis held it for. `superseded[i]`: the stem Redis held for the path
 * before, when the record gave it to another photo since.
 */
async function claimStems(queue: Awaited<ReturnType<typeof openQueue>>, queueName: string, out: string, files: string[], claims: RecordClaims): Promise<{ stems: string[]; superseded: (string | undefined)[] }> {
  const redis = await queue.getBackend().client;
  const tag = createHash('sha256').update(out).digest('hex').slice(0, 16);
  const byStem = `bull:${queueName}:prnet-stems:${tag}`;
  const byPath = `bull:${queueName}:prnet-paths:${tag}`;
  const wanted = uniqueStems(files, undefined, claims.othersAt); // this submission's own names first (x-2.jpg keeps x-2)
  const wantedBy = new Map(wanted.map((w, j) => [w, j])); // unique, so one index each
  const taken = new Set<string>();
  const result: string[] = [];
  const superseded: (string | undefined)[] = [];
  for (const [i, path] of files.entries()) {
    const had = await redis.hget(byPath, path);
    if (had !== null && claims.othersAt(i, had)) superseded[i] = had;
    else if (had !== null && (await redis.hget(byStem, had)) === path) {
      result.push(had);
      taken.add(had);
      continue;
    }
    // This submission's name for it first, then name-2, -3, … past the stems other paths hold.
    const base = outputStem(path);
    let stem = wanted[i];
    for (let n = 2; ; n++) {
      const wantedByOther = (wantedBy.get(stem) ?? i) !== i;
      if (!taken.has(stem) && !wantedByOther && !claims.othersAt(i, stem)) {
        if (claims.mineAt(i, stem)) {
          await redis.hset(byStem, { [stem]: path });
          break;
        }
        if (Number(await redis.runCommand('hsetnx', [byStem, stem, path])) === 1 || (await redis.hget(byStem, stem)) === path) break;
      }
      stem = `${base}-${n}`;
    }
    await redis.hset(byPath, { [path]: stem });
    result.push(stem);
    taken.add(stem);
  }
  return { stems: result, superseded };
}

/**
 * Whether a finished job's output folder lacks a file it wrote (its result's `files`; a result
 * without that list counts as whole). Asked only where this machine sees the output folder
 * (`outVisible`): a submitter that does not mount it leaves the jobs done.
 */
async function lostOutputs(out: string, result: ReconstructJobResult | undefined): Promise<boolean> {
  if (!result || !Array.isArray(result.files)) return false;
  const present = await Promise.all(result.files.map((name) => (typeof name !== 'string' ? true : stat(join(out, name)).then((st) => st.isFile(), () => false))));
  return present.includes(false);
}

export async function submitBatch(options: SubmitOptions): Promise<SubmitSummary> {
  const { files, empty, unreadable, unowned, notes } = await expandBatchInputs(options.inputs, options.out);
  const model = options.model ?? 'default';
  // A model file is passed on as an absolute path, bundled names as names; a file that is missing
  // or not a model fails here, once, not in every worker's every attempt.
  const modelRef = await checkedModel(model);
  const out = resolve(options.out);
  const summary: SubmitSummary = { added: 0, skipped: 0, retried: 0, remade: 0, unreadable, refused: [], empty, unowned, notes };
  const queueName = options.queue ?? DEFAULT_QUEUE;
  const queue = await openQueue(options.redis, queueName);
  try {
    // What the output folder's record says, where this machine can read it (none where it cannot).
    const claims = await recordClaims(out, files);
    const { stems, superseded } = await claimStems(queue, queueName, out, files, claims);
    // The output folder as this machine sees it: where it is not a folder here, or an empty one
    // (not mounted: a share's mount point is an empty folder; not made yet), a done job's files
    // cannot be checked, and it stays done.
    const listed = await readdir(out).catch(() => null);
    const outVisible = listed !== null && listed.length > 0;
    // A photo of this submission named as another's PNG output in --out (y_mesh.png beside y.jpg,
    // the folder its own output folder): that other's job would write over it. Not queued.
    const inputOf = inputAt(files);
    // The same for an image in --out named as a photo's output that prnet-ts did not write
    // (InputList.unowned: no mark, not in the folder's record), asked only of a photo whose job
    // would run: a finished job's own earlier outputs are not refused.
    const unownedOf = inputAt(unowned);
    // Those the job would write, and any face's texture or mask: the worker removes an earlier
    // run's files of faces beyond the count it finds (removeFacesBeyond), whatever its formats.
    const unownedClash = async (i: number): Promise<string | null> => {
      const pattern = pngOutputPattern(stems[i], options.formats);
      const stem = stems[i].toLowerCase();
      const touched = (n: string): boolean => (pattern?.test(n) ?? false) || /^_face\d+_/i.test(n.slice(stem.length));
      for (const name of (byStem.get(stem) ?? []).filter(touched)) {
        if ((await unownedOf(join(out, name))) !== null) {
          return `${files[i]}: not queued: its output ${join(out, name)} exists and ${UNOWNED_WHY}: kept, in case it is a photo; ${UNOWNED_ADVICE}`;
        }
      }
      return null;
    };
    // --out's files named as some stem's PNG output, by that stem (lower case: a case-folding file
    // system's names), so that each photo looks at its own only.
    const byStem = new Map<string, string[]>();
    const ending = new RegExp(`${outputSuffixPattern(true)}$`, 'i');
    for (const name of listed ?? []) {
      const m = ending.exec(name);
      if (!m) continue;
      const stem = name.slice(0, m.index).toLowerCase();
      const names = byStem.get(stem);
      if (names) names.push(name);
      else byStem.set(stem, [name]);
    }
    const jobs = [];
    for (let i = 0; i < files.length; i++) {
      const pattern = pngOutputPattern(stems[i], options.formats);
      let clash: string | null = null;
      for (const name of pattern ? (byStem.get(stems[i].toLowerCase()) ?? []).filter((n) => pattern.test(n)) : []) {
        const hit = await inputOf(join(out, name));
        if (hit !== null) {
          clash = `${files[i]}: not queued: its output ${join(out, name)} would replace the photo ${hit} of this submission; rename it or choose another --out`;
          break;
        }
      }
      if (clash) {
        summary.refused.push(clash);
        continue;
      }
      let content: Buffer;
      try {
        // (a FIFO named like a photo would block the read for ever: refused as prnet reconstruct does)
        await statRegularFile(files[i], 'an image');
        content = await readFile(files[i]);
      } catch (e) {
        summary.unreadable.push(e instanceof InputError ? e.message : `${files[i]}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        continue;
      }
      const data: ReconstructJobData = { path: files[i], out, stem: stems[i], formats: options.formats, model: modelRef, maxFaces: options.maxFaces, flip: options.flip, smooth: options.smooth,
        // (the default detector named is the same job as none named: its id, and the options the worker records)
        detector: options.detector === DEFAULT_DETECTOR ? undefined : options.detector, minScore: options.minScore, mesh: options.mesh, tiles: options.tiles, orientation: options.orientation, maxPixels: options.maxPixels,
        // several images: the workers start the folder's record, as `prnet reconstruct` of several does
        ...(files.length > 1 ? { record: true } : {}) };
      const id = jobId(content, data);
      // The path's job under the stem the record gave to another photo since: not run (its worker
      // would refuse it; a failed one would stay failed in `batch status`): this one replaces it.
      const before = superseded[i];
      if (before !== undefined) {
        const old = await queue.getJob(jobId(content, { ...data, stem: before }));
        // (one a worker took meanwhile is locked: that worker refuses it)
        if (old && ['failed', 'waiting', 'delayed', 'prioritized'].includes(await old.getState())) await old.remove().catch(() => undefined);
      }
      const existing = await queue.getJob(id);
      if (existing) {
        const state = await existing.getState();
        // Another submitter may have queued the job again a moment ago (BullMQ: "not in the …
        // state", code -3): then it is queued, as asked, and counted as such; other errors go up.
        const retried = async (from: 'failed' | 'completed'): Promise<boolean> => {
          // This submission's pixel limit, which the id leaves out (an image failed over the limit is submitted again with a higher one).
          if (existing.data.maxPixels !== data.maxPixels || existing.data.record !== data.record) await existing.updateData({ ...existing.data, maxPixels: data.maxPixels, record: data.record });
          return existing.retry(from, { resetAttemptsMade: true, resetAttemptsStarted: true }).then(() => true, (e: unknown) => {
            if ((e as { code?: unknown }).code === -3 || /is not in the \w+ state/.test(String((e as Error)?.message))) return false;
            throw e;
          });
        };
        const again = state === 'failed' ? 'failed' : state === 'completed' && outVisible && (await lostOutputs(out, existing.returnvalue)) ? 'completed' : null;
        const theirs = again ? await unownedClash(i) : null;
        if (theirs) summary.refused.push(theirs);
        else if (again === 'failed') {
          // A fresh set of tries, with their back-off (not one more try after the last).
          if (await retried('failed')) summary.retried++;
          else summary.skipped++;
        } else if (again === 'completed') {
          // Done, but a file it wrote was deleted since: made again (the worker rewrites them all).
          if (await retried('completed')) summary.remade++;
          else summary.skipped++;
        } else summary.skipped++;
        continue;
      }
      const theirs = await unownedClash(i);
      if (theirs) {
        summary.refused.push(theirs);
        continue;
      }
      jobs.push({ name: 'reconstruct', data, opts: { jobId: id } });
    }
    const attempts = options.attempts ?? 3;
    for (let i = 0; i < jobs.length; i += 500) {
      await queue.addBulk(jobs.slice(i, i + 500).map((j) => ({
        ...j,
        opts: { ...j.opts, attempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
      })));
    }
    summary.added = jobs.length;
  } catch (e) {
    throw queueFailure(e, options.redis, 'lost'); // Redis went away after it answered (exit 70 before)
  } finally {
    await queue.close().catch(() => undefined);
  }
  return summary;
}
