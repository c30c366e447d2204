/** `prnet batch status`: where the queue stands, and why images failed. */
import { openQueue, queueFailure, DEFAULT_QUEUE } from './jobs.js';

export interface BatchStatus {
  done: number;
  failed: number;
  /** Waiting, including retries waiting out their back-off (delayed). */
  waiting: number;
  active: number;
  failures: { path: string; reason: string; attempts: number }[];
}

export async function batchStatus(redis: string, options: { queue?: string; failures?: number } = {}): Promise<BatchStatus> {
  const queue = await openQueue(redis, options.queue ?? DEFAULT_QUEUE);
  try {
    const c = await queue.getJobCounts('completed', 'failed', 'waiting', 'delayed', 'prioritized', 'active');
    const failed = await queue.getFailed(0, (options.failures ?? 100) - 1);
    return {
      done: c.completed ?? 0,
      failed: c.failed ?? 0,
      waiting: (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      failures: failed.map((j) => ({ path: j.data.path, reason: j.failedReason.split('\n')[0], attempts: j.attemptsMade })),
    };
  } catch (e) {
    throw queueFailure(e, redis, 'lost'); // Redis went away after it answered (an internal error, exit 70, before)
  } finally {
    await queue.close().catch(() => undefined);
  }
}

export function formatStatus(s: BatchStatus): string {
  return `done ${s.done} · failed ${s.failed} · waiting ${s.waiting} · active ${s.active}`;
}
