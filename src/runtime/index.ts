/**
 * Inference sessions (Node entry: onnxruntime-node). Browsers import `./web.js` instead, which
 * exports the same `createSession` over onnxruntime-web.
 */
export { createSession } from './node.js';
export { PrnetSession, CROP_SIZE, checkPrecision, type GraphSource, type InferenceBackend, type SessionOptions } from './session.js';
export { GRAPH_CACHE_ENV, graphCacheDir } from './graph-cache.js';
export { createOrtSession, type OrtModule, type OrtInferenceSession } from './ort.js';
export { resizeSquare, hwcToChw, chwToHwc, chwToHwcFinite } from './resample.js';
