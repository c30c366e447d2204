/** `prnet worker`: runs the distributed batch's jobs (src/batch/worker.ts) until SIGTERM or SIGINT. */
import { firstLine } from '../errors.js';
import { checkRedisUrl, loadBatch } from './batch.js';
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
  const lock = intOption(values['lock-seconds'], 'lock-seconds');
  const concurrency = intOption(values.concurrency, 'concurrency');
  const threads = threadsOption(values.threads);
  const [{ redactUrl }, { startWorker }] = await loadBatch('worker', () => Promise.all([import('../batch/jobs.js'), import('../batch/worker.js')]));
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`prnet worker: ${line}\n`);
  };
  const w = startWorker({
    redis: values.redis,
    queue: values.queue,
    concurrency,
    threads,
    lockMs: lock ? lock * 1000 : undefined,
    onJob: (e) => log(e.ok ? e.message : `failed: ${e.message}`),
    onConnection: log,
  });
  log(`waiting for jobs on ${redactUrl(values.redis)} (pid ${process.pid})`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      log(`${why}: finishing the jobs in progress`);
      w.close().then(
        () => resolve(EXIT.ok),
        (e: unknown) => {
          process.stderr.write(`prnet: ${firstLine(e)}\n`);
          resolve(EXIT.internal);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
