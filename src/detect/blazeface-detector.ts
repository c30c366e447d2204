/**
 * The default detector: BlazeFace (blazeface.ts) on onnxruntime, the runtime that also runs the
 * network, in Node (onnxruntime-node) and in the browser (onnxruntime-web). Runtime-agnostic: the
 * caller passes its onnxruntime module and the model's bytes.
 *
 * One pass sees the whole image, letterboxed into the model's square input (BlazeFace frames large
 * faces well, so unlike the tfjs detectors it needs no second look for a face that fills the
 * frame); when a face touches the image's edge, or nothing is found, a second pass sees the image
 * inside a border (a larger window: no copy), which frames faces cut by the edge whole. Every pass reuses
 * one input buffer: no allocation per pixel, none per call beyond the outputs.
 */
import { ModelError } from '../errors.js';
import type { OrtModule } from '../runtime/ort.js';
import type { FaceBox, RgbImage } from '../types.js';
import {
  BLAZEFACE_INPUT,
  blendDetections,
  decodeDetections,
  fillInput,
  fitWindow,
  type BlazeDetection,
  type BlazeFaceVariant,
} from './blazeface.js';
import { PAD_FRACTION, sortFaces, touchesEdge, type Detector } from './detector.js';

export interface BlazeFaceOptions {
  /** Which model the bytes are (default 'back', 256² input). */
  variant?: BlazeFaceVariant;
  /** Lowest score kept (default 0.5). */
  minScore?: number;
  /** Most faces returned, largest first (default: all). */
  maxFaces?: number;
  /** Look again inside a border when a face touches the edge or nothing is found (default true). */
  retryPadded?: boolean;
  /** onnxruntime intra-op threads (default 1; the Node detector asks for 2 where there are two cores). */
  threads?: number;
  /** Extra onnxruntime session options (e.g. the browser's execution providers). */
  extra?: Record<string, unknown>;
}

export const BLAZEFACE_MIN_SCORE = 0.5;

/** Loads BlazeFace from its ONNX bytes into a session of the given onnxruntime module. */
export async function createBlazeFaceDetector(ort: OrtModule, model: Uint8Array, options: BlazeFaceOptions = {}): Promise<Detector> {
  const variant = options.variant ?? 'back';
  const size = BLAZEFACE_INPUT[variant];
  const minScore = options.minScore ?? BLAZEFACE_MIN_SCORE;
  const maxFaces = options.maxFaces ?? Infinity;
  const retryPadded = options.retryPadded ?? true;
  let session: Awaited<ReturnType<OrtModule['InferenceSession']['create']>>;
  try {
    session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      ...options.extra,
    });
  } catch (e) {
    throw new ModelError(`onnxruntime could not load the face detector: ${(e as Error).message}`, undefined, { cause: e });
  }
  const input = new Float32Array(size * size * 3);
  let queue: Promise<unknown> = Promise.resolve();

  /** One pass over a square window of the image (x0, y0: its corner in pixel edges). */
  const pass = async (image: RgbImage, x0: number, y0: number, side: number): Promise<BlazeDetection[]> => {
    const window = fillInput(image, input, size, x0, y0, side);
    const out = await session.run({ 'input:0': new ort.Tensor('float32', input, [1, size, size, 3]) });
    const get = (name: string): Float32Array => {
      const t = out[name];
      if (!t || !(t.data instanceof Float32Array)) throw new ModelError(`the face detector returned no float32 '${name}'`);
      return t.data;
    };
    return blendDetections(decodeDetections([get('Identity:0'), get('Identity_1:0')], [get('Identity_2:0'), get('Identity_3:0')], size, window, minScore));
  };

  const detect = async (image: RgbImage): Promise<FaceBox[]> => {
    const { width, height } = image;
    const fit = fitWindow(width, height);
    let found = await pass(image, fit.x0, fit.y0, fit.side);
    if (retryPadded && (!found.length || found.some((d) => touchesEdge(toBox(d), width, height)))) {
      const side = fit.side * (1 + 2 * PAD_FRACTION);
      const padded = await pass(image, (width - side) / 2, (height - side) / 2, side);
      if (padded.length >= found.length) found = padded;
    }
    return sortFaces(found.map(toBox)).slice(0, maxFaces);
  };

  return {
    kind: 'blazeface',
    // One session, one input buffer: calls are queued.
    detect(image: RgbImage): Promise<FaceBox[]> {
      const run = queue.then(() => detect(image));
      queue = run.catch(() => undefined);
      return run;
    },
    release: () => session.release(),
  };
}

/** A detection as a FaceBox (pixel edges), with its keypoints. */
function toBox(d: BlazeDetection): FaceBox {
  return { x: d.cx - d.width / 2, y: d.cy - d.height / 2, width: d.width, height: d.height, score: d.score, keypoints: d.keypoints };
}
