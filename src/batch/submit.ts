/** `prnet batch submit`: one job per image, skipping images already done with the same options. */
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { expandInputs, uniqueStems } from '../cli/inputs.js';
import { BUNDLED_MODELS, resolveModel } from '../pipeline/node.js';
import { jobId, openQueue, DEFAULT_QUEUE, type ReconstructJobData } from './jobs.js';

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
  mesh?: ReconstructJobData['mesh'];
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
  /** Inputs that could not be read (not queued), as one-line messages. */
  unreadable: string[];
  /** Folders without images. */
  empty: string[];
}

/** Expands folders and `.txt` lists into image paths (a folder's own outputs in `outDir` are not inputs). */
export async function expandBatchInputs(args: string[], outDir?: string): Promise<{ files: string[]; empty: string[]; unreadable: string[] }> {
  const files: string[] = [];
  const empty: string[] = [];
  const unreadable: string[] = [];
  for (const arg of args) {
    if (extname(arg).toLowerCase() === '.txt' && (await stat(arg).catch(() => null))?.isFile()) {
      const base = dirname(resolve(arg));
      for (const line of (await readFile(arg, 'utf8')).split(/\r?\n/)) {
        const p = line.trim();
        if (p && !p.startsWith('#')) files.push(resolve(base, p));
      }
      continue;
    }
    const r = await expandInputs([arg], { outDir });
    files.push(...r.files.map((f) => resolve(f)));
    empty.push(...r.empty);
    unreadable.push(...r.unreadable);
  }
  return { files, empty, unreadable };
}

export async function submitBatch(options: SubmitOptions): Promise<SubmitSummary> {
  const { files, empty, unreadable } = await expandBatchInputs(options.inputs, options.out);
  const stems = uniqueStems(files);
  const model = options.model ?? 'default';
  // A model file is passed on as an absolute path; bundled names stay names (each worker has them).
  const modelRef = model in BUNDLED_MODELS ? model : resolve(String(resolveModel(model)));
  const out = resolve(options.out);
  const summary: SubmitSummary = { added: 0, skipped: 0, retried: 0, unreadable, empty };
  const queue = await openQueue(options.redis, options.queue ?? DEFAULT_QUEUE);
  try {
    const jobs = [];
    for (let i = 0; i < files.length; i++) {
      let content: Buffer;
      try {
        content = await readFile(files[i]);
      } catch (e) {
        summary.unreadable.push(`${files[i]}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        continue;
      }
      const data: ReconstructJobData = { path: files[i], out, stem: stems[i], formats: options.formats, model: modelRef, maxFaces: options.maxFaces, flip: options.flip, smooth: options.smooth, detector: options.detector, mesh: options.mesh };
      const id = jobId(content, data);
      const existing = await queue.getJob(id);
      if (existing) {
        if ((await existing.getState()) === 'failed') {
          await existing.retry('failed');
          summary.retried++;
        } else summary.skipped++;
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
  } finally {
    await queue.close();
  }
  return summary;
}
