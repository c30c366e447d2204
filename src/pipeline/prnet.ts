/**
 * The pipeline: image → faces. Wires detect → crop → network → uncrop → read-offs, and is the
 * library's main API. Runtime-agnostic: the Node entry (node.ts) and the browser entry give it a
 * session, a detector and the layout.
 */
import { cropFromBox, cropFromUserBox, uncropPositionMap, warpCrop, type CropTransform } from '../crop/index.js';
import type { Detector } from '../detect/detector.js';
import { InputError } from '../errors.js';
import { estimatePose, mergeFlippedMap, mirrorImage, readLandmarks, readVertices } from '../geometry/index.js';
import type { Layout } from '../layout/index.js';
import type { PrnetSession } from '../runtime/session.js';
import { toRgbImage, type PixelImage } from '../io/pixels.js';
import type { FaceBox, FloatImage, RgbImage } from '../types.js';
import type { Face } from './face.js';

export interface ReconstructOptions {
  /** Face boxes (image pixels) to use instead of running the detector. */
  boxes?: FaceBox[];
  /** Crops to use directly (e.g. from tracking the previous frame's landmarks). */
  crops?: CropTransform[];
  /** Most faces reconstructed, largest first (default: all found). */
  maxFaces?: number;
  /**
   * Test-time flip: also run the mirrored crop and average (default true; twice the network's
   * cost, markedly more accurate — see geometry/flip.ts). Real-time video turns it off.
   */
  flip?: boolean;
}

/** Milliseconds spent in each stage of one reconstruct call. */
export interface StageTimings {
  detect: number;
  crop: number;
  network: number;
  readoff: number;
}

export interface ReconstructResult {
  faces: Face[];
  timings: StageTimings;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export class Prnet {
  constructor(
    readonly session: PrnetSession,
    readonly layout: Layout,
    readonly detector: Detector | null,
  ) {}

  /** Every face the detector finds (largest first). */
  async detect(input: RgbImage | PixelImage): Promise<FaceBox[]> {
    const image = checkImage(input);
    if (!this.detector) throw new InputError('no detector was loaded: pass face boxes');
    return this.detector.detect(image);
  }

  /**
   * Reconstructs every face of an image (or those of the given boxes / crops). Faces are run
   * through the network in one batch. An image without faces gives an empty list. The image may
   * be RGB, RGBA (e.g. a canvas's ImageData) or grey bytes (see io/pixels.ts).
   */
  async reconstruct(input: RgbImage | PixelImage, options: ReconstructOptions = {}): Promise<ReconstructResult> {
    const image = checkImage(input);
    const timings: StageTimings = { detect: 0, crop: 0, network: 0, readoff: 0 };
    let t = now();
    let items: { box: FaceBox; crop: CropTransform }[];
    if (options.crops) {
      items = options.crops.map((crop) => ({ box: squareBox(crop), crop }));
    } else if (options.boxes) {
      items = options.boxes.map((box) => ({ box, crop: cropFromUserBox(box.x, box.y, box.width, box.height) }));
    } else {
      const boxes = await this.detect(image);
      const kind = this.detector!.kind;
      items = boxes.map((box) => ({ box, crop: cropFromBox(box, kind) }));
    }
    if (options.maxFaces !== undefined) items = items.slice(0, Math.max(0, options.maxFaces));
    timings.detect = now() - t;

    t = now();
    const crops: FloatImage[] = items.map((it) => warpCrop(image, it.crop));
    timings.crop = now() - t;

    t = now();
    const flip = options.flip ?? true;
    let maps = crops.length ? await this.session.predictBatch(flip ? [...crops, ...crops.map(mirrorImage)] : crops) : [];
    if (flip) maps = crops.map((_, i) => mergeFlippedMap(maps[i], maps[i + crops.length], this.layout));
    timings.network = now() - t;

    t = now();
    const faces = items.map((it, index): Face => {
      const positionMap = uncropPositionMap(maps[index], it.crop);
      const vertices = readVertices(positionMap, this.layout);
      return {
        index,
        box: it.box,
        crop: it.crop,
        positionMap,
        landmarks: readLandmarks(positionMap, this.layout),
        vertices,
        pose: estimatePose(vertices, this.layout.canonical),
      };
    });
    timings.readoff = now() - t;
    return { faces, timings };
  }

  /** Frees the inference session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}

function checkImage(image: RgbImage | PixelImage): RgbImage {
  if (!image || !(image.width > 0) || !(image.height > 0)) throw new InputError('not an RGB image: expected width × height × 3 bytes');
  return toRgbImage(image);
}

function squareBox(crop: CropTransform): FaceBox {
  const { cx, cy, side } = crop.square;
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side, score: 1 };
}
