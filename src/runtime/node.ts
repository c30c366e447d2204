/** The Node.js binding: onnxruntime-node (native CPU). */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { readModelFileLazy } from '../model/file-node.js';
import type { ModelWeights } from '../model/weights.js';
import { graphCacheDir, modelIdentity, readCachedGraph, removeCachedGraph, waitForWrite, writeCachedGraph } from './graph-cache.js';
import { buildNetworkGraph, createOrtSession, openNetworkSession, type OrtModule } from './ort.js';
import { checkThreads, type PrnetSession, type SessionOptions } from './session.js';
import { checkKnownOptions } from '../track/options.js';

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
  checkKnownOptions(options ?? {}, ['threads', 'probe', 'precision'], 'createSession option', { thread: 'threads' });
  options = { ...options, threads: options.threads === undefined ? defaultSessionThreads() : sessionThreads(options.threads) };
  const open = { threads: options.threads, probe: options.probe, extra: NODE_SESSION_EXTRA };
  if (typeof model !== 'string') return createOrtSession(ort as unknown as OrtModule, model, { ...options, extra: NODE_SESSION_EXTRA });
  // A model file's int8 graph comes from the graph cache when an earlier load left it there (graph-cache.ts).
  const cacheDir = graphCacheDir();
  if (cacheDir) {
    const cached = await readCachedGraph(model, options.precision, cacheDir);
    if (cached) {
      const { graph, ...network } = cached;
      try {
        return await openNetworkSession(ort as unknown as OrtModule, graph, { ...network, graph: 'cached' }, { ...open, source: model });
      } catch {
        // (a graph onnxruntime will not open, or whose probe fails: built below, which says why or works)
        await removeCachedGraph(cacheDir, model);
      }
    }
  }
  // (the model file's identity before it is read: a write during the read leaves the entry unused)
  const identity = cacheDir ? await modelIdentity(model) : null;
  const weights = await readModelFileLazy(model);
  const { graph, precision } = buildNetworkGraph(weights, { precision: options.precision, source: model });
  // Written while onnxruntime opens the graph; a failed write only means no cache.
  const caching = cacheDir && identity && precision === 'int8' ? writeCachedGraph(cacheDir, model, identity, graph, weights.metadata) : undefined;
  let session: PrnetSession;
  try {
    session = await openNetworkSession(ort as unknown as OrtModule, graph, { config: weights.config, metadata: weights.metadata, precision, graph: 'built' }, { ...open, source: model });
  } catch (e) {
    if (cacheDir && caching && (await waitForWrite(caching))) await removeCachedGraph(cacheDir, model);
    throw e;
  }
  if (caching) await waitForWrite(caching);
  return session;
}
