/** The Node.js binding: onnxruntime-node (native CPU). */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { readModelFile } from '../model/file-node.js';
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
 * The network's intra-op threads when none are asked for: the cores, at most NODE_MAX_DEFAULT_THREADS.
 * onnxruntime-node's own default ran the network on fewer threads than the machine has (on these 2
 * cores: default model without flip 60 ms per photo, 47 ms with 2 threads; with flip 1.52× FaceMesh's
 * time instead of 2.19× in `npm run bench`). Measured on 2 cores only: the cap keeps a many-core
 * machine from paying thread hand-offs on a 256² network; ask for more with `threads`.
 */
export const NODE_MAX_DEFAULT_THREADS = 4;

/** The network session's threads when `threads` is not given (see NODE_MAX_DEFAULT_THREADS). */
export function defaultSessionThreads(): number {
  return Math.min(availableParallelism(), NODE_MAX_DEFAULT_THREADS);
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
  const weights = typeof model === 'string' ? await readModelFile(model) : model;
  return createOrtSession(ort as unknown as OrtModule, weights, { ...options, source, extra: NODE_SESSION_EXTRA });
}
