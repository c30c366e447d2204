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
 * The intra-op threads a session gets for `threads` asked: at most the machine's cores (more only
 * slow onnxruntime down, and 100000 threads exhaust memory); InputError unless a whole number ≥ 1.
 */
export function sessionThreads(threads: number): number {
  return Math.min(checkThreads(threads) as number, availableParallelism());
}

/**
 * Opens an inference session for a model (weights in memory, or a model file path). Create it once
 * and reuse it: building and optimising the graph costs far more than one forward pass.
 * `threads` is capped at the machine's cores.
 */
export async function createSession(model: ModelWeights | string, options: SessionOptions = {}): Promise<PrnetSession> {
  const source = typeof model === 'string' ? model : undefined;
  if (options.threads !== undefined) options = { ...options, threads: sessionThreads(options.threads) };
  const weights = typeof model === 'string' ? await readModelFile(model) : model;
  return createOrtSession(ort as unknown as OrtModule, weights, { ...options, source, extra: NODE_SESSION_EXTRA });
}
