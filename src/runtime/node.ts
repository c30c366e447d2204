/** The Node.js binding: onnxruntime-node (native CPU). */
import * as ort from 'onnxruntime-node';
import { readModelFile } from '../model/file-node.js';
import type { ModelWeights } from '../model/weights.js';
import { createOrtSession, type OrtModule } from './ort.js';
import type { PrnetSession, SessionOptions } from './session.js';

/**
 * Opens an inference session for a model (weights in memory, or a model file path). Create it once
 * and reuse it: building and optimising the graph costs far more than one forward pass.
 */
export async function createSession(model: ModelWeights | string, options: SessionOptions = {}): Promise<PrnetSession> {
  const source = typeof model === 'string' ? model : undefined;
  const weights = typeof model === 'string' ? await readModelFile(model) : model;
  return createOrtSession(ort as unknown as OrtModule, weights, { ...options, source });
}
