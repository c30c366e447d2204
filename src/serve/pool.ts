/**
 * The inference thread pool: piscina, one worker per core by default, each with its own sessions.
 * Works from the compiled package (dist/serve/worker.js) and from source under tsx or vitest
 * (src/serve/worker.ts, loaded through worker-tsx.mjs).
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { DetectorKind } from '../detect/index.js';
import type { TaskResult, WorkerTask } from './task.js';
import type { WorkerConfig } from './worker.js';

export interface PoolOptions {
  /** Worker threads (default: the cores). */
  workers?: number;
  /** Model names → bundled name or file, loaded by every worker. */
  models: Record<string, string>;
  detector?: DetectorKind;
  /** The detector's lowest score kept (createPrnet's minScore). */
  minScore?: number;
  /** Network threads per worker (default: the cores shared among the workers). */
  threads?: number;
  /** Told about a worker that failed outside a task. */
  onError?: (e: Error) => void;
}

export interface InferencePool {
  readonly workers: number;
  run(task: WorkerTask, signal?: AbortSignal): Promise<TaskResult>;
  /** Tasks waiting for a worker. */
  readonly queueSize: number;
  /** Resolves when every worker has loaded its models; rejects when one cannot. */
  ready(): Promise<void>;
  /** Skips the queued tasks, waits for the running ones (at most CLOSE_TIMEOUT_MS), then ends the workers. */
  close(): Promise<void>;
  /** Ends the workers at once (a worker inside onnxruntime aborts the process: prefer close). */
  destroy(): Promise<void>;
}

/** How long close() waits for the running tasks before ending their workers anyway. */
export const CLOSE_TIMEOUT_MS = 10_000;

export function workerFile(): URL {
  const fromSource = import.meta.url.endsWith('.ts');
  return new URL(fromSource ? './worker-tsx.mjs' : './worker.js', import.meta.url);
}

export function createPool(options: PoolOptions): InferencePool {
  const cores = availableParallelism();
  const workers = Math.max(1, options.workers ?? cores);
  const threads = options.threads ?? Math.max(1, Math.floor(cores / workers));
  const workerData: WorkerConfig = { models: options.models, threads, detector: options.detector, minScore: options.minScore };
  const piscina = new Piscina({
    filename: workerFile().href,
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
    maxQueue: Number.POSITIVE_INFINITY, // bounded by the server, which answers 503 first
    workerData,
    closeTimeout: CLOSE_TIMEOUT_MS,
  });
  // A worker that fails outside a task (its models do not load) is reported on the pool's
  // 'error' event: it fails readiness (an unhandled 'error' event would end the process).
  let failStart: (e: Error) => void = () => undefined;
  const startFailed = new Promise<never>((_, reject) => (failStart = reject));
  startFailed.catch(() => undefined);
  piscina.on('error', (e: Error) => {
    failStart(e);
    options.onError?.(e);
  });
  let readyPromise: Promise<void> | undefined;
  return {
    workers,
    get queueSize() {
      return piscina.queueSize;
    },
    run: (task, signal) => piscina.run(task, { signal }) as Promise<TaskResult>,
    ready() {
      // One task per worker at a time: `workers` pings reach every worker once its models loaded.
      const pings = Promise.all(Array.from({ length: workers }, () => piscina.run({ kind: 'ping' } satisfies WorkerTask)));
      readyPromise ??= Promise.race([pings, startFailed]).then(() => undefined);
      return readyPromise;
    },
    close: () => piscina.close({ force: true }),
    destroy: () => piscina.destroy(),
  };
}
