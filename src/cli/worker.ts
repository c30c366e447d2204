/** `prnet worker`: runs the distributed batch's jobs (src/batch/worker.ts) until SIGTERM or SIGINT. */
import { firstLine } from '../errors.js';
import { exitBySignal } from './signals.js';
import { checkRedisUrl, loadBatch, queueOption } from './batch.js';
import { EXIT, UsageError, intOption, parseOptions, threadsOption } from './options.js';

export async function runWorker(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    redis: { type: 'string' },
    queue: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    threads: { type: 'string' },
    'lock-seconds': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  }, false);
  if (!values.redis) throw new UsageError('worker needs --redis <url>');
  checkRedisUrl(values.redis);
  const redisUrl = values.redis;
  const queue = queueOption(values.queue);
  const lock = intOption(values['lock-seconds'], 'lock-seconds');
  const concurrency = intOption(values.concurrency, 'concurrency');
  const threads = threadsOption(values.threads);
  const [{ redactUrl }, { startWorker }] = await loadBatch('worker', () => Promise.all([import('../batch/jobs.js'), import('../batch/worker.js')]));
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`prnet worker: ${line}\n`);
  };
  const w = startWorker({
    redis: redisUrl,
    queue,
    concurrency,
    threads,
    lockMs: lock ? lock * 1000 : undefined,
    onJob: (e) => log(e.ok ? e.message : `failed: ${e.message}`),
    onConnection: log,
    onWarning: (m) => log(`warning: ${m}`),
  });
  return new Promise<number>((resolve) => {
    let stopping = false;
    // Redis is not in the database the URL names, or refuses the worker (a password, an ACL):
    // one line, exit 1 (before, a refusal was retried for ever).
    const fail = (e: unknown): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`prnet: ${firstLine(e)}\n`);
      w.close(true).then(() => resolve(EXIT.failed), () => resolve(EXIT.failed));
    };
    w.started.then(() => {
      if (!stopping) log(`waiting for jobs on ${redactUrl(redisUrl)} (pid ${process.pid})`);
    }, fail);
    w.refused.catch(fail);
    const stop = (why: NodeJS.Signals) => {
      if (stopping) {
        // A second signal: stop now; the jobs in progress go back to the queue when their locks lapse.
        log(`${why} again: stopping without waiting for the jobs in progress`);
        exitBySignal(why);
      }
      stopping = true;
      const busy = w.inProgress();
      log(busy ? `${why}: finishing the ${busy === 1 ? 'job' : `${busy} jobs`} in progress (send it again to stop at once)` : `${why}: stopping (no job in progress)`);
      w.close().then(
        () => resolve(EXIT.ok),
        (e: unknown) => {
          process.stderr.write(`prnet: ${firstLine(e)}\n`);
          resolve(EXIT.internal);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
