/** The detector's contract and the pure helpers around it (shared by Node and the browser). */
import type { FaceBox, RgbImage } from '../types.js';
import { InputError, shownValue } from '../errors.js';
import { downscaleToFit, padImage } from './resize.js';
import { BOX_RULES } from '../crop/rules.js';
import { checkBooleans, checkKnownOptions } from '../track/options.js';

/**
 * Detector kinds (docs/detectors.md compares them):
 * - 'blazeface': MediaPipe BlazeFace (256² model) on onnxruntime, its box and 6 keypoints: the
 *   default, shipped with the package, in Node and the browser;
 * - 'blazeface-mesh': @vladmandic/human's BlazeFace, then FaceMesh on tfjs; the box is the bounding
 *   box of the 468 mesh points (the former default; needs @vladmandic/human);
 * - 'ssd-mobilenet': @vladmandic/face-api's SSD-MobileNetV1 (needs @vladmandic/face-api);
 * - 'tiny-face': @vladmandic/face-api's TinyFaceDetector (needs @vladmandic/face-api).
 */
export type DetectorKind = 'blazeface' | 'blazeface-mesh' | 'ssd-mobilenet' | 'tiny-face';

export const DETECTOR_KINDS: readonly DetectorKind[] = ['blazeface', 'blazeface-mesh', 'ssd-mobilenet', 'tiny-face'];

/** The default detector (see docs/detectors.md). */
export const DEFAULT_DETECTOR: DetectorKind = 'blazeface';

export interface DetectorOptions {
  kind?: DetectorKind;
  /** Long side of the downscaled copy the tfjs detectors see (default 640; 'blazeface' samples the image directly). */
  maxSide?: number;
  /** Lowest score kept (default: per detector, see DEFAULT_MIN_SCORE). */
  minScore?: number;
  /** Most faces returned, largest first (default: every face found). */
  maxFaces?: number;
  /** Inference threads, for the detectors that run on onnxruntime (default 1). */
  threads?: number;
  /**
   * When nothing is found, or a face touches the image's edge or fills most of it, look again with
   * a black border around the image (a quarter of its long side): finds and fully boxes faces that
   * fill the frame or are cut by its edges (default true; such an image costs two detector runs).
   * 'blazeface' also looks again when every face found is small and doubtful (a close-up whose
   * face was too large for the first pass), and when nothing is found by either pass, once more
   * with a border of half the long side (three passes for an image without a face).
   */
  retryPadded?: boolean;
  /**
   * 'blazeface' only: how a face at the image's edge is looked at again — 'region' (default), a
   * 128² pass through a window of twice the face's size around it (a quarter of a pass each);
   * 'whole', the whole image inside the border at 256² (the rule before region looks).
   */
  edgeLook?: 'region' | 'whole';
  /**
   * 'blazeface' only: the first pass leaves out the letterbox bands that hold no image (a 4:3
   * photo: 256 × 224 instead of 256², default true).
   */
  trimLetterbox?: boolean;
  /**
   * 'blazeface' only: an image whose long side exceeds 1,536 pixels, and in which no face of 25 %
   * of its short side or more was found, is also looked at in overlapping 1024² tiles, each at the
   * detector's 256² (default true): finds the small faces of a large group photo, at ~5 ms a tile
   * (20 for 12 megapixels); a face found only in a tile must score 0.65 (tileMinScore: lower with a
   * minScore under 0.5).
   */
  tiles?: boolean;
}

export const DEFAULT_MIN_SCORE: Readonly<Record<DetectorKind, number>> = {
  blazeface: 0.5,
  'blazeface-mesh': 0.5,
  'ssd-mobilenet': 0.5,
  'tiny-face': 0.5,
};

export interface Detector {
  /**
   * Which detector this is; its boxes go to `cropFromBox(box, detector.kind)`. A detector of your
   * own names the rule its boxes fit: 'dlib' for a box from the brows to the chin (as `--box` and
   * cropFromUserBox take), or the built-in detector whose boxes its own are like. With 'blazeface',
   * boxes that carry `keypoints` must hold BlazeFace's 6 in its order (FaceBox.keypoints): the crop
   * rule and Face.keypointDisagreement read them so.
   */
  readonly kind: DetectorKind | 'dlib';
  /**
   * Every face found, largest first (those scored below SURE_SCORE after the others); boxes in the
   * image's pixels (pixel-edge coordinates: x..x+width). `signal` (where the detector takes one:
   * BlazeFace) stops a call between its looks at the image (a large photo's tiles) with an
   * AbortedError, and a call still queued behind another before it starts.
   */
  detect(image: RgbImage, options?: { signal?: { readonly aborted: boolean } }): Promise<FaceBox[]>;
  /** Frees the detector's resources (its inference session), where it holds any. */
  release?(): Promise<void>;
}

/**
 * The score from which a detection counts as sure: below it (0.5–0.65 for BlazeFace) half the boxes
 * on web photos are hands, logos or the back of a head, above it nearly all are faces
 * (docs/detectors.md, "Order of the faces").
 */
export const SURE_SCORE = 0.65;

/**
 * Largest face first, the faces scored SURE_SCORE or more before the others (so `maxFaces: 1`
 * keeps a sure face over a larger unsure box; ties: higher score first).
 */
export function sortFaces(faces: FaceBox[]): FaceBox[] {
  const sure = (f: FaceBox): number => (f.score >= SURE_SCORE ? 1 : 0);
  return faces.sort((a, b) => sure(b) - sure(a) || b.width * b.height - a.width * a.height || b.score - a.score);
}

type Rect = Pick<FaceBox, 'x' | 'y' | 'width' | 'height'>;

/** The area two boxes share. */
function intersection(a: Rect, b: Rect): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  return ix * iy;
}

/** Intersection over union of two boxes. */
export function iou(a: Rect, b: Rect): number {
  const inter = intersection(a, b);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** The share of the smaller of two boxes that lies inside the other. */
export function overlapOfSmaller(a: Rect, b: Rect): number {
  const smaller = Math.min(a.width * a.height, b.width * b.height);
  return smaller > 0 ? intersection(a, b) / smaller : 0;
}

/**
 * Whether a detection suggests looking again with a border around the image: the face touches the
 * image's edge or fills most of it. Detectors (BlazeFace in particular) then often box part of the
 * face only; with a border they see the whole face.
 */
export function fillsFrame(face: Pick<FaceBox, 'x' | 'y' | 'width' | 'height'>, width: number, height: number): boolean {
  return touchesEdge(face, width, height) || Math.max(face.width, face.height) > 0.6 * Math.min(width, height);
}

/** Whether a box reaches within 2 % of the image's edge (the face may be cut by it). */
export function touchesEdge(face: Pick<FaceBox, 'x' | 'y' | 'width' | 'height'>, width: number, height: number): boolean {
  const m = 0.02 * Math.min(width, height);
  return face.x < m || face.y < m || face.x + face.width > width - m || face.y + face.height > height - m;
}

/** Border added on each side, as a fraction of the long side, for the second look. */
export const PAD_FRACTION = 0.25;

/**
 * Runs a raw detector (boxes in the pixels of the image it is given) the way every detector of the
 * project runs: on a copy downscaled to `maxSide`, looking again inside a black border when
 * nothing was found or a face touches the edge or fills the frame (keeping that answer when it
 * finds at least as many faces), boxes mapped back to the original pixels, largest first.
 */
export async function detectScaled(
  run: (image: RgbImage) => Promise<FaceBox[]>,
  image: RgbImage,
  options: { maxSide: number; maxFaces: number; retryPadded: boolean },
): Promise<FaceBox[]> {
  const small = downscaleToFit(image, options.maxSide);
  const { width: w, height: h } = small.image;
  let faces = await run(small.image);
  let pad = 0;
  if (options.retryPadded && (!faces.length || faces.some((f) => fillsFrame(f, w, h)))) {
    const p = Math.round(PAD_FRACTION * Math.max(w, h));
    const padded = await run(padImage(small.image, p));
    if (padded.length >= faces.length) {
      faces = padded;
      pad = p;
    }
  }
  const boxes = faces.map((f) => ({
    x: (f.x - pad) * small.scaleX,
    y: (f.y - pad) * small.scaleY,
    width: f.width * small.scaleX,
    height: f.height * small.scaleY,
    score: f.score,
  }));
  return sortFaces(boxes).slice(0, options.maxFaces);
}

/**
 * Checks a Detector of the caller's (the `detector` option of createPrnet, Node and browser): a
 * `detect` function and a `kind` naming the crop rule its boxes get (InputError otherwise; without a
 * kind, reconstruct failed later with a TypeError).
 */
export function checkCustomDetector(d: object, name = 'detector'): asserts d is Detector {
  if (typeof (d as { detect?: unknown }).detect !== 'function') throw new InputError(`${name}.detect must be a function`);
  const kind = (d as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !Object.hasOwn(BOX_RULES, kind)) {
    throw new InputError(`${name}.kind must name the crop rule its boxes get: 'dlib' (a box from the brows to the chin) or ${DETECTOR_KINDS.map((k) => `'${k}'`).join(', ')} (boxes like that detector's); got ${shownValue(kind)}`);
  }
}

/**
 * The lowest minScore taken (createPrnet, createDetector, the browser entry, the CLI's
 * --min-score): at 0 every cluster of BlazeFace's anchors is a face (362 boxes on a portrait).
 */
export const MIN_SCORE_FLOOR = 0.1;

/** A minScore option checked: undefined or a number from MIN_SCORE_FLOOR to 1 (InputError naming `name` otherwise). */
export function checkMinScore(value: unknown, name = 'minScore'): void {
  if (value !== undefined && !(typeof value === 'number' && value >= MIN_SCORE_FLOOR && value <= 1)) throw new InputError(`${name} must be a number from ${MIN_SCORE_FLOOR} to 1, got ${shownValue(value)}`);
}

/** DetectorOptions' keys. */
const DETECTOR_OPTIONS: readonly (keyof DetectorOptions)[] = ['kind', 'maxSide', 'minScore', 'maxFaces', 'threads', 'retryPadded', 'edgeLook', 'trimLetterbox', 'tiles'];

/**
 * DetectorOptions checked (InputError naming the option): `maxFaces` -1 dropped the last face, a
 * `minScore` of -1 or 2 or a string found nothing, a `threads` of 1.5 read as a model that would
 * not load, a misspelt key was dropped. Unknown `kind`s are the caller's to check (each platform
 * has its own list).
 */
export function checkDetectorOptions(options: DetectorOptions | null | undefined): DetectorOptions {
  if (options === null || options === undefined) return {};
  if (typeof options !== 'object') throw new InputError(`detector options must be an object, got ${typeof options}`);
  // A misspelt option (maxDetections: createPrnet's name) was dropped without a word.
  checkKnownOptions(options, DETECTOR_OPTIONS, 'detector option', { maxDetections: 'maxFaces' });
  const { maxFaces, minScore, threads, maxSide, retryPadded, trimLetterbox, edgeLook, tiles } = options;
  const whole = (v: unknown, name: string): void => {
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 1)) throw new InputError(`${name} must be a whole number ≥ 1, got ${shownValue(v)}`);
  };
  if (maxFaces !== Infinity) whole(maxFaces, 'maxFaces');
  whole(threads, 'threads');
  whole(maxSide, 'maxSide');
  checkMinScore(minScore);
  checkBooleans({ retryPadded, trimLetterbox, tiles }, ['retryPadded', 'trimLetterbox', 'tiles']);
  if (edgeLook !== undefined && edgeLook !== 'region' && edgeLook !== 'whole') throw new InputError(`edgeLook must be 'region' or 'whole', got ${shownValue(edgeLook)}`);
  return options;
}
