/**
 * A batch worker lists the output folder (for an earlier attempt's temporaries of the job's image)
 * only for a job started before: listing it for every job cost ~0.1 s a job at 100,000 files. The
 * retried job's sweep itself is tested with a worker SIGKILLed mid-job (test/batch.test.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { submitBatch } from '../src/batch/submit.js';
import { startWorker } from '../src/batch/worker.js';
import { ASTRONAUT } from './helpers/paths.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { TempDirs } from './helpers/tmp.js';

// The folders read whole (readdir) while a job runs.
const listed = vi.hoisted(() => [] as string[]);
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const readdir = ((path: Parameters<typeof fs.readdir>[0], ...rest: unknown[]) => {
    listed.push(String(path));
    return (fs.readdir as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readdir;
  return { ...fs, default: { ...fs, readdir }, readdir };
});

const dirs = new TempDirs('prnet-listing-');
let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
  await dirs.cleanup();
});

describe('a batch worker and its output folder', () => {
  it('a first attempt does not list the folder (a retried one does, for the dead attempt\'s temporaries)', async () => {
    const out = resolve(await dirs.make('out'), 'faces');
    await mkdir(out);
    const s = await submitBatch({ redis: redis.url, queue: 'listing', inputs: [ASTRONAUT], out, model: 'light', formats: ['json'] });
    expect(s.added).toBe(1);
    listed.length = 0; // (the submitter looks at the folder: its record, names taken)
    const done: boolean[] = [];
    const w = startWorker({ redis: redis.url, queue: 'listing', onJob: (e) => done.push(e.ok) });
    try {
      await w.started;
      for (let i = 0; i < 600 && !done.length; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await w.close();
    }
    expect(done).toEqual([true]);
    expect(listed.filter((p) => resolve(p) === out)).toEqual([]);
    expect(existsSync(join(out, 'astronaut_face0.json'))).toBe(true);
  }, 90_000);
});
