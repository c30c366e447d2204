/**
 * Detectors in Node: the tfjs-based packages on the WebAssembly backend, loaded once per process
 * from their own model files. Every detector sees a downscaled copy of the image (long side ≤ 640
 * by default) and returns boxes in the original image's pixels.
 */
import { ModelError } from '../errors.js';
import type { FaceBox, RgbImage } from '../types.js';
import {
  DEFAULT_DETECTOR,
  DEFAULT_MIN_SCORE,
  detectScaled,
  type Detector,
  type DetectorKind,
  type DetectorOptions,
} from './detector.js';
import { loadFaceApi } from './faceapi-node.js';
import { humanBoxes } from './human-common.js';
import { loadHuman } from './human-node.js';
import { DETECT_MAX_SIDE } from './resize.js';

const KINDS: readonly DetectorKind[] = ['blazeface', 'blazeface-mesh', 'ssd-mobilenet', 'tiny-face'];

/** TinyFaceDetector's input side (a multiple of 32); 416 is the package's default. */
const TINY_INPUT_SIZE = 416;


/**
 * A loaded detector (models are loaded on the first call and shared by every detector of the
 * process). Throws ModelError when the packages or their model files cannot be loaded.
 */
export async function createDetector(options: DetectorOptions = {}): Promise<Detector> {
  const kind = options.kind ?? DEFAULT_DETECTOR;
  if (!KINDS.includes(kind)) throw new ModelError(`unknown detector '${String(kind)}' (known: ${KINDS.join(', ')})`);
  const maxSide = options.maxSide ?? DETECT_MAX_SIDE;
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE[kind];
  const maxFaces = options.maxFaces ?? 20;
  const retryPadded = options.retryPadded ?? true;
  let run: (image: RgbImage) => Promise<FaceBox[]>;
  try {
    run = kind === 'ssd-mobilenet' || kind === 'tiny-face'
      ? await faceApiRunner(kind, minScore, maxFaces)
      : await humanRunner(kind === 'blazeface-mesh', minScore, maxFaces);
  } catch (e) {
    throw new ModelError(`cannot load the ${kind} detector: ${(e as Error).message}`, undefined, { cause: e });
  }
  return {
    kind,
    detect: (image: RgbImage): Promise<FaceBox[]> => detectScaled(run, image, { maxSide, maxFaces, retryPadded }),
  };
}

async function faceApiRunner(net: 'ssd-mobilenet' | 'tiny-face', minScore: number, maxFaces: number) {
  const api = await loadFaceApi(net);
  const options = net === 'ssd-mobilenet'
    ? new api.SsdMobilenetv1Options({ minConfidence: minScore, maxResults: maxFaces })
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

async function humanRunner(mesh: boolean, minScore: number, maxFaces: number) {
  // Human filters at its own threshold (0.3 by default); the score threshold is applied here so
  // that one loaded instance serves every threshold.
  const run = humanBoxes(await loadHuman({ mesh }), mesh, minScore);
  return async (image: RgbImage): Promise<FaceBox[]> => (await run(image)).slice(0, maxFaces);
}
