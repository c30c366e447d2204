/**
 * Detectors in Node. The default, 'blazeface', is BlazeFace on onnxruntime-node from the model file
 * the package ships (assets/detector). The others are kept for comparison and need packages that
 * are not installed with prnet-ts (@vladmandic/human for 'blazeface-mesh', @vladmandic/face-api for
 * 'ssd-mobilenet' and 'tiny-face', each with tfjs: OPTIONAL_PACKAGES; development dependencies); they are loaded only when asked for,
 * see a downscaled copy of the image (long side ≤ 640 by default) and return boxes in the original
 * image's pixels.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { firstLine, InputError, ModelError } from '../errors.js';
import type { OrtModule } from '../runtime/ort.js';
import { NODE_SESSION_EXTRA } from '../runtime/node.js';
import type { FaceBox, RgbImage } from '../types.js';
import { createBlazeFaceDetector } from './blazeface-detector.js';
import { createOrientation, type Orientation } from './orientation.js';
import {
  checkDetectorOptions,
  DEFAULT_DETECTOR,
  DEFAULT_MIN_SCORE,
  DETECTOR_KINDS,
  detectScaled,
  type Detector,
  type DetectorOptions,
} from './detector.js';
import { DETECT_MAX_SIDE } from './resize.js';

/** The BlazeFace model the package ships (256² input; see assets/README.md for its source). */
export const BLAZEFACE_MODEL = fileURLToPath(new URL('../../assets/detector/blazeface-back-256.onnx', import.meta.url));

/** TinyFaceDetector's input side (a multiple of 32); 416 is the package's default. */
const TINY_INPUT_SIZE = 416;

/** tfjs, which every comparison detector runs on (WebAssembly backend). */
const TFJS_PACKAGES = ['@tensorflow/tfjs-core@^4.22.0', '@tensorflow/tfjs-converter@^4.22.0', '@tensorflow/tfjs-backend-wasm@^4.22.0'];
/**
 * The npm packages each comparison detector needs, as `npm install` takes them: the ranges of
 * package.json's devDependencies, which the project develops with (a test keeps them equal).
 */
export const OPTIONAL_PACKAGES: Readonly<Record<'blazeface-mesh' | 'ssd-mobilenet' | 'tiny-face', readonly string[]>> = {
  'blazeface-mesh': ['@vladmandic/human@^3.3.6', ...TFJS_PACKAGES],
  'ssd-mobilenet': ['@vladmandic/face-api@^1.7.15', ...TFJS_PACKAGES],
  'tiny-face': ['@vladmandic/face-api@^1.7.15', ...TFJS_PACKAGES],
};

/**
 * A loaded detector. Throws ModelError when its model files or packages cannot be loaded (for the
 * comparison detectors, naming the package to install).
 */
export async function createDetector(options: DetectorOptions = {}): Promise<Detector> {
  options = checkDetectorOptions(options);
  const kind = options.kind ?? DEFAULT_DETECTOR;
  if (!DETECTOR_KINDS.includes(kind)) throw new InputError(`unknown detector '${String(kind)}' (known: ${DETECTOR_KINDS.join(', ')})`);
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE[kind];
  const maxFaces = options.maxFaces ?? Infinity;
  const retryPadded = options.retryPadded ?? true;
  if (kind === 'blazeface') {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(BLAZEFACE_MODEL));
    } catch (e) {
      throw new ModelError(`cannot read the face detector's model: ${(e as Error).message}`, BLAZEFACE_MODEL, { cause: e });
    }
    // One intra-op thread: BlazeFace's small convolutions gain nothing from a second one, which
    // only adds a barrier per node (on this 2-core machine a call took 6.9 ms at one thread against
    // 10.0 at two, quiet, and 7.0 / 7.8 beside a busy process: docs/detectors.md, "Threads").
    const threads = options.threads ?? 1;
    return createBlazeFaceDetector(ort as unknown as OrtModule, bytes, { minScore, maxFaces, retryPadded, edgeLook: options.edgeLook, trimLetterbox: options.trimLetterbox, tiles: options.tiles, threads, extra: NODE_SESSION_EXTRA });
  }
  const maxSide = options.maxSide ?? DETECT_MAX_SIDE;
  let run: (image: RgbImage) => Promise<FaceBox[]>;
  try {
    run = kind === 'blazeface-mesh' ? await humanRunner(minScore, maxFaces) : await faceApiRunner(kind, minScore, maxFaces);
  } catch (e) {
    const message = (e as Error).message;
    const missing = (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' || /cannot find/i.test(message);
    // The whole set, not only the package that failed first: with human alone installed, tfjs's
    // WebAssembly backend is what is missing next.
    throw new ModelError(
      missing
        ? `the ${kind} detector needs packages that are not installed (${firstLine(e).replace(/ imported from .*$/, '')}): npm install ${OPTIONAL_PACKAGES[kind].join(' ')}; the default detector 'blazeface' needs nothing more`
        : `cannot load the ${kind} detector: ${message}`,
      undefined,
      { cause: e },
    );
  }
  return {
    kind,
    detect: (image: RgbImage): Promise<FaceBox[]> => detectScaled(run, image, { maxSide, maxFaces, retryPadded }),
  };
}

async function faceApiRunner(net: 'ssd-mobilenet' | 'tiny-face', minScore: number, maxFaces: number) {
  const { loadFaceApi } = await import('./faceapi-node.js');
  const api = await loadFaceApi(net);
  const options = net === 'ssd-mobilenet'
    ? new api.SsdMobilenetv1Options({ minConfidence: minScore, maxResults: Number.isFinite(maxFaces) ? maxFaces : 100 })
    : new api.TinyFaceDetectorOptions({ inputSize: TINY_INPUT_SIZE, scoreThreshold: minScore });
  return async (image: RgbImage): Promise<FaceBox[]> => {
    const t = api.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
    try {
      const found = await api.detectAllFaces(t, options);
      return found.map((d) => ({ x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height, score: d.score }));
    } finally {
      t.dispose();
    }
  };
}

async function humanRunner(minScore: number, maxFaces: number) {
  const [{ humanBoxes }, { loadHuman }] = await Promise.all([import('./human-common.js'), import('./human-node.js')]);
  // Human filters at its own threshold (0.3 by default); the score threshold is applied here so
  // that one loaded instance serves every threshold.
  const run = humanBoxes(await loadHuman({ mesh: true, maxFaces: Number.isFinite(maxFaces) ? maxFaces : 100 }), true, minScore);
  return async (image: RgbImage): Promise<FaceBox[]> => (await run(image)).slice(0, maxFaces);
}

/** The face-orientation network the package ships (training/orient.py; assets/README.md). */
export const ORIENTATION_MODEL = fileURLToPath(new URL('../../assets/detector/orientation.safetensors', import.meta.url));

/** Loads the shipped face-orientation network (ModelError when its file cannot be read or is not one). */
export async function createOrientationNode(threads = 1): Promise<Orientation> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(ORIENTATION_MODEL));
  } catch (e) {
    throw new ModelError(`cannot read the face-orientation model (createPrnet({ orientation: false }) or --no-orientation go without it): ${(e as Error).message}`, ORIENTATION_MODEL, { cause: e });
  }
  return createOrientation(ort as unknown as OrtModule, bytes, { threads, extra: NODE_SESSION_EXTRA }, ORIENTATION_MODEL);
}
