/** `prnet batch status`: where the queue stands, and why images failed. */
import { openQueue, queueFailure, DEFAULT_QUEUE } from './jobs.js';

export interface BatchStatus {
  done: number;
  failed: number;
  /** Waiting, including retries waiting out their back-off (delayed). */
  waiting: number;
  active: number;
  failures: { path: string; reason: string; attempts: number }[];
  /** Whether a job was ever added to the queue (a mistyped --queue's counts are all 0 too). */
  known: boolean;
  /** When it was not: the queues in this database that have had jobs, by name. */
  others?: string[];
}

/** The queues in the database that have had jobs (BullMQ's counter key, bull:<queue>:id, is made by the first job added). */
async function queueNames(client: { scan(cursor: string, options: { MATCH?: string; COUNT?: number }): Promise<[string, string[]]> }): Promise<string[]> {
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, { MATCH: 'bull:*:id', COUNT: 1000 });
    for (const k of keys) names.add(k.slice('bull:'.length, -':id'.length));
    cursor = next;
  } while (cursor !== '0');
  return [...names].sort();
}

export async function batchStatus(redis: string, options: { queue?: string; failures?: number } = {}): Promise<BatchStatus> {
  const queue = await openQueue(redis, options.queue ?? DEFAULT_QUEUE);
  try {
    const c = await queue.getJobCounts('completed', 'failed', 'waiting', 'delayed', 'prioritized', 'active');
    const failed = await queue.getFailed(0, (options.failures ?? 100) - 1);
    const client = await queue.getBackend().client;
    const known = (await client.get(queue.keys.id)) !== null;
    return {
      known,
      others: known ? undefined : await queueNames(client),
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
