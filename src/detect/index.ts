/**
 * The detect module: face boxes from an image. `createDetector` loads the Node detectors; the
 * contract and helpers (detector.ts, resize.ts) are pure and shared with the browser.
 */
export { DEFAULT_DETECTOR, DEFAULT_MIN_SCORE, DETECTOR_KINDS, PAD_FRACTION, SURE_SCORE, detectScaled, fillsFrame, iou, sortFaces, touchesEdge } from './detector.js';
export type { Detector, DetectorKind, DetectorOptions } from './detector.js';
export { DETECT_MAX_SIDE, downscaleToFit, padImage, resizeArea } from './resize.js';
export { createDetector } from './create-node.js';
