/**
 * Inference sessions (Node entry: onnxruntime-node). Browsers import `./web.js` instead, which
 * exports the same `createSession` over onnxruntime-web.
 */
export { createSession } from './node.js';
export { PrnetSession, CROP_SIZE, checkPrecision, type InferenceBackend, type SessionOptions } from './session.js';
export { createOrtSession, type OrtModule, type OrtInferenceSession } from './ort.js';
export { resizeSquare, hwcToChw, chwToHwc, chwToHwcFinite } from './resample.js';
