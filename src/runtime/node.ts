/** The Node.js binding: onnxruntime-node (native CPU). */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { readModelFileLazy } from '../model/file-node.js';
import type { ModelWeights } from '../model/weights.js';
import { createOrtSession, type OrtModule } from './ort.js';
import { checkThreads, type PrnetSession, type SessionOptions } from './session.js';

/**
 * onnxruntime-node's intra-op threads sleep between runs instead of spinning: the detector's
 * session, the network's and the JavaScript stages take turns on the same cores, and spinning
 * threads held them (default model without flip 1.96× → 1.61× FaceMesh's time in `npm run bench`).
 */
export const NODE_SESSION_EXTRA = { extra: { session: { intra_op: { allow_spinning: '0' } } } };

/**
 * On a machine of at most this many cores the network's intra-op threads default to the cores:
 * onnxruntime-node's own default (the physical cores it detects) started one thread on this
 * project's 2-core virtual machine, so the default model ran on one core of two (with flip 2.42 →
 * 1.66× FaceMesh's time in alternating `npm run bench` runs: docs/speed.md). On larger machines,
 * which were not measured, onnxruntime's own choice stands; ask for a number with `threads`.
 */
export const NODE_MAX_DEFAULT_THREADS = 4;

/**
 * The network session's threads when `threads` is not given: the cores on a machine of up to
 * NODE_MAX_DEFAULT_THREADS cores, else undefined (onnxruntime's own default).
 */
export function defaultSessionThreads(): number | undefined {
  const cores = availableParallelism();
  return cores <= NODE_MAX_DEFAULT_THREADS ? cores : undefined;
}

/**
 * The intra-op threads a session gets for `threads` asked: at most the machine's cores (more only
 * slow onnxruntime down, and 100000 threads exhaust memory); InputError unless a whole number ≥ 1.
 */
export function sessionThreads(threads: number): number {
  return Math.min(checkThreads(threads) as number, availableParallelism());
}

/**
 * Opens an inference session for a model (weights in memory, or a model file path). Create it once
 * and reuse it: building and optimising the graph costs far more than one forward pass.
 * `threads` is capped at the machine's cores (default: defaultSessionThreads()).
 */
export async function createSession(model: ModelWeights | string, options: SessionOptions = {}): Promise<PrnetSession> {
  const source = typeof model === 'string' ? model : undefined;
  options = { ...options, threads: options.threads === undefined ? defaultSessionThreads() : sessionThreads(options.threads) };
  const weights = typeof model === 'string' ? await readModelFileLazy(model) : model;
  return createOrtSession(ort as unknown as OrtModule, weights, { ...options, source, extra: NODE_SESSION_EXTRA });
}
