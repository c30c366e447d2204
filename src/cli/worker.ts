/** `prnet worker`: runs the distributed batch's jobs (src/batch/worker.ts) until SIGTERM or SIGINT. */
import { redactUrl } from '../batch/jobs.js';
import { startWorker } from '../batch/worker.js';
import { checkRedisUrl } from './batch.js';
import { EXIT, UsageError, intOption, parseOptions } from './main.js';

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
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`prnet worker: ${line}\n`);
  };
  const w = startWorker({
    redis: values.redis,
    queue: values.queue,
    concurrency: intOption(values.concurrency, 'concurrency'),
    threads: intOption(values.threads, 'threads'),
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
          process.stderr.write(`prnet: ${(e as Error).message.split('\n')[0]}\n`);
          resolve(EXIT.internal);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
