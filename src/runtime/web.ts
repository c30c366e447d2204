/**
 * The browser binding: onnxruntime-web (WebAssembly). Imports no Node module. Where the wasm
 * files are served from is onnxruntime-web's own setting (`ort.env.wasm.wasmPaths`).
 */
import * as ort from 'onnxruntime-web';
import { ModelError } from '../errors.js';
import type { GraphOptions } from '../model/resfcn.js';
import { parseModelFile, parseModelFileLazy, type ModelWeights } from '../model/weights.js';
import { createOrtSession, type OrtModule } from './ort.js';
import type { PrnetSession, SessionOptions } from './session.js';

/**
 * The graph options for onnxruntime-web's WebAssembly backend. Its CPU kernels have no blocked
 * (NCHWc) convolutions, which the pixel-block tail (`spaceToDepthTail`) is made for: without it
 * the light model's network runs at 0.96× the time in WebAssembly (same sums; docs/web.md).
 */
export const WEB_WASM_GRAPH: GraphOptions = Object.freeze({ spaceToDepthTail: false });

/**
 * Opens an inference session for a model: weights in memory, a model file's bytes, or a URL to
 * fetch. Create it once and reuse it.
 */
export async function createSession(model: ModelWeights | Uint8Array | string | URL, options: SessionOptions = {}): Promise<PrnetSession> {
  let weights: ModelWeights;
  let source: string | undefined;
  if (model instanceof Uint8Array) {
    source = 'model';
    weights = parseModelFile(model, source);
  } else if (typeof model === 'string' || model instanceof URL) {
    source = String(model);
    let bytes: Uint8Array;
    try {
      const res = await fetch(model);
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw new ModelError(`cannot fetch the model: ${(e as Error).message}`, source, { cause: e });
    }
    weights = parseModelFileLazy(bytes, source); // bytes of our own: the int8 graph reads the halves
  } else {
    weights = model;
  }
  // onnxruntime-web's thread count is a global setting that applies to sessions created after it.
  if (options.threads !== undefined) ort.env.wasm.numThreads = options.threads;
  return createOrtSession(ort as unknown as OrtModule, weights, { source, precision: options.precision, graph: WEB_WASM_GRAPH, extra: { executionProviders: ['wasm'] } });
}
