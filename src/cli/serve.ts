/** `prnet serve`: the HTTP service (src/serve), until SIGTERM or SIGINT. */
import { availableParallelism } from 'node:os';
import { firstLine } from '../errors.js';
import { MAX_IMAGE_BYTES } from '../io/limits.js';
import { exitBySignal } from './signals.js';
import { counted } from './progress.js';
import { loadOptional, SERVE_PACKAGES } from './optional.js';
import { EXIT, UsageError, intOption, parseOptions, threadsOption, detectorOption, minScoreOption } from './options.js';

/** `default,light,mine=/models/mine.safetensors` → { default: 'default', light: 'light', mine: '/models/…' } */
export function parseModels(list: string): Record<string, string> {
  const models: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const [name, model] = eq > 0 ? [item.slice(0, eq), item.slice(eq + 1)] : [item, item];
    if (!/^[\w.-]+$/.test(name) || !model) throw new UsageError(`--models: '${item}' is not a name or name=file`);
    if (name === '__proto__') throw new UsageError(`--models: '__proto__' cannot be a model's name`);
    if (Object.hasOwn(models, name)) throw new UsageError(`--models: the name '${name}' is given twice`);
    models[name] = model;
  }
  if (!Object.keys(models).length) throw new UsageError('--models needs at least one model');
  return models;
}

/** The longest --timeout, seconds. */
export const MAX_TIMEOUT_S = 86_400;

export async function runServe(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    host: { type: 'string' },
    port: { type: 'string', short: 'p' },
    workers: { type: 'string', short: 'w' },
    models: { type: 'string' },
    detector: { type: 'string' },
    'min-score': { type: 'string' },
    threads: { type: 'string' },
    'max-body-mb': { type: 'string' },
    'max-queue': { type: 'string' },
    timeout: { type: 'string' },
    'min-upload-kib': { type: 'string' },
    'max-pixels': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  }, false);
  const host = values.host ?? '127.0.0.1';
  const port = intOption(values.port, 'port', 0) ?? 8080;
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const bodyMb = intOption(values['max-body-mb'], 'max-body-mb');
  // A body is held in memory whole, and no image over MAX_IMAGE_BYTES is decoded anyway.
  if (bodyMb !== undefined && bodyMb * 2 ** 20 > MAX_IMAGE_BYTES) throw new UsageError(`--max-body-mb must be at most ${MAX_IMAGE_BYTES / 2 ** 20} (the largest image file read), got '${values['max-body-mb']}'`);
  const timeout = intOption(values.timeout, 'timeout');
  // A day at most: Node's timers hold 24.8 days, and a longer one fires at once (every request a 504).
  if (timeout !== undefined && timeout > MAX_TIMEOUT_S) throw new UsageError(`--timeout must be at most ${MAX_TIMEOUT_S} seconds (a day), got '${values.timeout}'`);
  // KiB/s; 0 turns the check off (a buffering proxy in front, or clients on very slow links).
  const minUploadKib = intOption(values['min-upload-kib'], 'min-upload-kib', 0);
  // Bounds a worker's memory for one image (its decoded pixels and the pipeline's copies of them).
  const maxPixels = intOption(values['max-pixels'], 'max-pixels');
  const models = values.models ? parseModels(values.models) : undefined;
  // The model files are read before the port is taken: a mistyped name or a missing or broken file
  // is one line and exit 3 at once (the service listened, then ended when its workers could not load it).
  if (models) {
    const { checkedModel } = await import('../pipeline/node.js');
    for (const model of Object.values(models)) await checkedModel(model);
  }
  const workers = intOption(values.workers, 'workers');
  // Each worker thread loads every model: more workers than cores only queue on the cores and multiply the memory.
  if (workers !== undefined && workers > availableParallelism()) throw new UsageError(`--workers must be between 1 and ${availableParallelism()} (the cores of this machine), got '${values.workers}'`);
  const threads = threadsOption(values.threads);
  const maxQueue = intOption(values['max-queue'], 'max-queue');
  const detector = detectorOption(values.detector);
  const minScore = minScoreOption(values['min-score']);
  const { createServer, DEFAULT_BODY_LIMIT } = await loadOptional('serve', SERVE_PACKAGES, () => import('../serve/server.js'));
  // A port that is taken (or an address that is not this machine's) is said before the workers
  // start: ending them while they load their models aborted the process (SIGABRT).
  if (port !== 0) await checkListen(host, port);
  // A SIGTERM or SIGINT from here on stops the service cleanly, even while it starts: Node's
  // default (ending the process) ended the workers inside onnxruntime, which aborted it.
  let signalled: 'SIGTERM' | 'SIGINT' | undefined;
  let onSignal = (why: 'SIGTERM' | 'SIGINT'): void => {
    signalled ??= why;
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  const server = await createServer({
    workers,
    models,
    detector,
    minScore,
    threads,
    bodyLimit: bodyMb ? bodyMb * 1024 * 1024 : DEFAULT_BODY_LIMIT,
    maxQueue,
    timeoutMs: timeout ? timeout * 1000 : undefined,
    minUploadRate: minUploadKib === undefined ? undefined : minUploadKib * 1024,
    maxPixels,
    onOverrun: (ms, where) => log(where === 'ended'
      ? `a task ran ${ms / 1000} s past its deadline: its worker was ended and is being replaced`
      : `a task is still in the pipeline ${ms / 1000} s past its deadline: it stops at its next step (a worker is not ended inside onnxruntime)`),
  });
  function log(line: string): void {
    if (!values.quiet) process.stderr.write(`prnet serve: ${line}\n`);
  }
  let address: string;
  try {
    address = await server.app.listen({ host, port });
  } catch (e) {
    // close(), not destroy(): it lets the workers finish loading first (see above); when even
    // that fails, the process ends by its exit code with the workers' threads
    await server.close().catch(() => undefined);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    throw new UsageError(`cannot listen on ${host}:${port} (${(e as Error).message})`);
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log(`${why}: stopping (finishing ${counted(server.inFlight(), 'request')} in flight)`);
      const clean = await server.close().then(() => true, (e: unknown) => {
        log(`while stopping: ${(e as Error).message}`);
        return false;
      });
      // Workers that would not stop keep the process alive: it then ends by the signal it got.
      if (!clean) {
        if (why === 'SIGTERM' || why === 'SIGINT') exitBySignal(why);
        process.exit(code);
      }
      log('stopped');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(code);
    };
    onSignal = (why) => void stop(why, EXIT.ok);
    // Said once the signals are handled: a supervisor that sends SIGTERM on seeing it gets a clean stop.
    // (Fastify gives one address of a wildcard host, 127.0.0.1: it is bound on every interface)
    const every = host === '0.0.0.0' || host === '::' ? ` (bound to ${host}: every interface)` : '';
    log(`listening on ${address}${every} with ${server.pool.workers} worker${server.pool.workers === 1 ? '' : 's'}`);
    if (signalled) onSignal(signalled);
    server.ready.then(
      () => {
        if (!stopping) log('ready (models loaded)'); // (not after "SIGTERM: stopping")
      },
      (e: unknown) => {
        // A SIGTERM while the models load ends the workers, which fails the load: not an error then.
        if (stopping) return;
        process.stderr.write(`prnet: cannot load the models: ${firstLine(e)}\n`);
        void stop('model load failed', EXIT.model);
      },
    );
  });
}

/** UsageError when `host`:`port` cannot be listened on (taken, or not this machine's address). */
async function checkListen(host: string, port: number): Promise<void> {
  const { createServer } = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: Error) => reject(new UsageError(`cannot listen on ${host}:${port} (${e.message})`)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
