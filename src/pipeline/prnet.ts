/**
 * The pipeline: image → faces. Wires detect → crop → network → uncrop → read-offs, and is the
 * library's main API. Runtime-agnostic: the Node entry (node.ts) and the browser entry give it a
 * session, a detector and the layout.
 */
import { KEYPOINT_FEATURES } from '../crop/keypoint-rule.js';
import { CROP_SIZE, cropFromBox, cropFromUserBox, cropTransform, landmarkRoll, rolledSquareFromLandmarks, uncropEnlarged, uncropPositionMap, wrapAngle, writeCropInput, type CropTransform } from '../crop/index.js';
import { SURE_SCORE, sortFaces, type Detector } from '../detect/detector.js';
import { ORIENT_MIN_CONFIDENCE, ORIENT_MIN_TILT, type Orientation } from '../detect/orientation.js';
import { downscaleToFit } from '../detect/resize.js';
import { boxFromTurned, turnImage, type QuarterTurns } from '../detect/turn.js';
import { DisposedError, InputError, ModelError, shownValue, throwIfAborted } from '../errors.js';
import { detectorKeypointDisagreement, suspectFace } from './quality.js';
import { coarseMask, estimatePose, flipDisagreement, insideShare, MAX_SMOOTH, mergeFlippedMap, prepareSource, readLandmarks, readVertices, smoothPositionMap, type PreparedSource } from '../geometry/index.js';
import type { Layout } from '../layout/index.js';
import type { PrnetSession } from '../runtime/session.js';
import { toRgbImage, type PixelImage } from '../io/pixels.js';
import { chwToHwcFinite, resizeSquare } from '../runtime/resample.js';
import { checkBooleans, checkKnownOptions } from '../track/options.js';
import type { FaceBox, PositionMap, RgbImage } from '../types.js';
import type { Face } from './face.js';

/**
 * A face box given to reconstruct: x, y, width, height (a DOMRect will do) and an optional score
 * (default 1). Its crop follows the rule for boxes of unknown origin (cropFromUserBox), so a
 * detector's keypoints are not used.
 */
export type BoxInput = Pick<FaceBox, 'x' | 'y' | 'width' | 'height'> & { score?: number };

export interface ReconstructOptions {
  /** Face boxes (image pixels) to use instead of running the detector (`Face.box` keeps them, score 1 when not given). */
  boxes?: BoxInput[];
  /** Crops to use directly (e.g. from tracking the previous frame's landmarks). Not with `boxes`. */
  crops?: CropTransform[];
  /** Most faces reconstructed, largest first (default: all found). */
  maxFaces?: number;
  /**
   * Test-time flip: also run the mirrored crop and average (default true; twice the network's
   * cost, markedly more accurate — see geometry/flip.ts). Real-time video turns it off.
   */
  flip?: boolean;
  /**
   * Smoothing of the position map inside the face, σ in UV pixels (default: 1 per 256 pixels of
   * network input, i.e. 1 for the default model and 2 for the light one, whose 128² input gives a
   * coarser map; 0 = the network's raw map). Without flip a smaller model's map is smoothed on its
   * own grid before the upsampling to 256² (the same σ in UV units: 1 pixel of the light model's
   * 128² map), a quarter of the work. Removes the network's pixel-level depth noise, which
   * otherwise folds ~20–30 % of the mesh's triangles against their neighbours, at no measurable
   * cost in landmark accuracy (geometry/smooth.ts, docs/evaluation.md).
   */
  smooth?: number;
  /**
   * Stops the call (AbortedError, the signal's `reason` as its `cause`) at its next step once
   * aborted: before detection, between the detector's looks at the image (a large photo's tiles,
   * ~5 ms each), after it, and after each of the network's chunks of CHUNK_FACES faces. onnxruntime-node runs the network on the calling thread, so the event loop (and an abort
   * or timer meant for this call) waits until the chunk's network has run (~0.1–0.5 s per photo
   * with the default model): keep other work responsive by running calls in worker threads (as
   * `prnet serve` does). An AbortSignal, or anything with an
   * `aborted` flag (the service's workers read one shared with the HTTP thread). A call is not
   * interrupted inside onnxruntime: ending its thread there aborts the whole process.
   */
  signal?: { readonly aborted: boolean };
}

/** The test-time options of a reconstruction (flip and smoothing), as every front end passes them on. */
export type TestTimeOptions = Pick<ReconstructOptions, 'flip' | 'smooth'>;

/** The default smoothing of position maps, σ in UV pixels for a network input of `inputSize`. */
export function defaultSmooth(inputSize: number): number {
  return 256 / inputSize;
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

/**
 * Faces per network run: a photo's faces go through the network this many at a time (with the
 * flip, twice as many images), which bounds onnxruntime's working memory whatever the face count.
 */
export const CHUNK_FACES = 4;
/** Network input arrays kept for reuse: a full chunk's and a last, partial one's. */
const MAX_POOLED = 2;
/** The largest network input kept for reuse, in floats: a chunk with the flip at 256² (6 MiB). */
const MAX_POOLED_FLOATS = 2 * CHUNK_FACES * 3 * 256 * 256;

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** A face to reconstruct: its box and crop, and the detector's crop where the orientation network turned it. */
interface FaceItem {
  box: FaceBox;
  crop: CropTransform;
  detectorCrop?: CropTransform;
}

/**
 * A turned crop's face, read again by the orientation network, must be upright within this
 * (radians) for the turn to stand.
 */
const ORIENT_UPRIGHT = (25 * Math.PI) / 180;
/**
 * A turned crop's reconstruction must put the face's roll (landmarkRoll) within this (radians) of
 * the crop's angle, else the face is reconstructed in the detector's crop: on the faces turned right
 * (sideways and upside-down close-ups) 0–16°, on the AFLW2000-3D profiles misread 21–43°.
 */
const ORIENT_AGREE = (20 * Math.PI) / 180;

/** Long side of the copy detectTurned looks at (a face lying sideways in a photo is a large one). */
export const TURNED_MAX_SIDE = 1024;

/**
 * The turned looks run where no box scores this much (the detectors' default cut): a lowered
 * `minScore`'s weaker boxes (the astronaut upside down: one at 0.48, reconstructed wrong) do not
 * stop them.
 */
const TURNED_UNLESS_SCORE = 0.5;

export class Prnet {
  /**
   * `ownsDetector` (default true): dispose() releases the detector too; false for a detector the
   * caller made and may share (the browser entry's `detector: { detect }`).
   */
  constructor(
    readonly session: PrnetSession,
    readonly layout: Layout,
    readonly detector: Detector | null,
    private readonly ownsDetector = true,
    /**
     * The face-orientation network (detect/orientation.ts), which turns a detected face's crop with
     * a face lying sideways or upside down in it; null: the detector's crops as they are. Released by dispose().
     */
    readonly orientation: Orientation | null = null,
  ) {}

  /**
   * The model file's metadata: its model card (`name`, `description`, `source`, `license`, `init`)
   * and config keys, e.g. to show a model's licence beside its results.
   */
  get modelMetadata(): Readonly<Record<string, string>> {
    return this.session.metadata;
  }

  /** Calls in flight: dispose() waits for them. */
  private readonly active = new Set<Promise<unknown>>();
  private disposed = false;

  /** Runs a call of this pipeline, refused after dispose() and waited for by it. */
  private track<T>(run: () => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(new DisposedError('this pipeline was disposed: create another with createPrnet'));
    const p = run();
    const settled = p.then(() => undefined, () => undefined);
    this.active.add(settled);
    void settled.then(() => this.active.delete(settled));
    return p;
  }

  /**
   * The crops turned by their faces' tilts where the orientation network reads more than
   * ORIENT_MIN_TILT and, read again in the turned crop, the face upright within ORIENT_UPRIGHT (a
   * misreading of a profile seldom agrees with itself), both readings with ORIENT_MIN_CONFIDENCE;
   * the detector's crop kept beside a turned one.
   */
  private async turnUpright(image: RgbImage, items: FaceItem[], orientation: Orientation): Promise<FaceItem[]> {
    const first = await orientation.read(image, items.map((it) => it.crop.square));
    const turned = items.map((it, i): FaceItem => {
      const tilt = first.tilt[i];
      if (!(Math.abs(tilt) > ORIENT_MIN_TILT && first.confidence[i] >= ORIENT_MIN_CONFIDENCE)) return it;
      const s = it.crop.square;
      return { box: it.box, crop: cropTransform({ cx: s.cx, cy: s.cy, side: s.side, angle: wrapAngle((s.angle ?? 0) + tilt) }, it.crop.size), detectorCrop: it.crop };
    });
    const candidates = turned.filter((it) => it.detectorCrop);
    if (!candidates.length) return turned;
    const again = await orientation.read(image, candidates.map((it) => it.crop.square));
    let k = 0;
    return turned.map((it, i) => {
      if (!it.detectorCrop) return it;
      const upright = Math.abs(again.tilt[k]) < ORIENT_UPRIGHT && again.confidence[k] >= ORIENT_MIN_CONFIDENCE;
      k++;
      return upright ? it : items[i];
    });
  }

  /**
   * Where the detector finds no face in a photo: the faces it is sure of (SURE_SCORE) in the photo
   * turned by 90°, 270° and 180° (a copy of long side TURNED_MAX_SIDE at most), from the turn whose
   * best face scores highest, boxed and keypointed in the photo's frame (the keypoints then turn
   * the crop; the orientation step checks it). A phone photo turned without its EXIF tag: BlazeFace
   * misses a few percent of faces lying sideways or upside down that it finds upright.
   */
  private async detectTurned(image: RgbImage, signal?: { readonly aborted: boolean }): Promise<FaceBox[]> {
    const { image: small, scaleX, scaleY } = downscaleToFit(image, TURNED_MAX_SIDE);
    let best: FaceBox[] = [];
    for (const q of [1, 3, 2] as QuarterTurns[]) {
      throwIfAborted(signal, 'reconstruct');
      const turned = turnImage(small, q);
      const all = await this.detector!.detect(turned, signal ? { signal } : undefined);
      checkDetections(all, this.detector!.kind, turned);
      const found = all.filter((b) => b.score >= SURE_SCORE);
      if (found.length && (!best.length || Math.max(...found.map((b) => b.score)) > Math.max(...best.map((b) => b.score)))) {
        best = found.map((b) => boxFromTurned(b, q, small.width, small.height, scaleX, scaleY));
      }
    }
    return sortFaces(best);
  }

  /** Every face the detector finds (largest first). */
  async detect(input: RgbImage | PixelImage): Promise<FaceBox[]> {
    return this.track(() => this.detectNow(input));
  }

  private async detectNow(input: RgbImage | PixelImage, signal?: { readonly aborted: boolean }): Promise<FaceBox[]> {
    const image = checkImage(input);
    if (!this.detector) throw new InputError('no detector was loaded: pass face boxes');
    const boxes = await this.detector.detect(image, signal ? { signal } : undefined);
    checkDetections(boxes, this.detector.kind, image);
    return boxes;
  }

  /**
   * Reconstructs every face of an image (or those of the given boxes / crops). Faces are run
   * through the network CHUNK_FACES at a time (bounded memory for any number of faces). An image without faces gives an empty list. The image may
   * be RGB, RGBA (e.g. a canvas's ImageData) or grey bytes (see io/pixels.ts).
   */
  async reconstruct(input: RgbImage | PixelImage, options: ReconstructOptions = {}): Promise<ReconstructResult> {
    return this.track(() => this.reconstructNow(input, options));
  }

  private async reconstructNow(input: RgbImage | PixelImage, options: ReconstructOptions | null): Promise<ReconstructResult> {
    const image = checkImage(input);
    options ??= {};
    if (typeof options !== 'object' || Array.isArray(options)) throw new InputError(`reconstruct options must be an object, got ${Array.isArray(options) ? 'an array' : typeof options}`);
    const signal = options.signal;
    if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean')) throw new InputError('signal must be an AbortSignal (or an object with an aborted flag)');
    const stopIfAborted = (): void => throwIfAborted(signal, 'reconstruct');
    stopIfAborted();
    // (a misspelt `maxFace` was ignored, every face returned)
    checkKnownOptions(options, RECONSTRUCT_OPTIONS, 'reconstruct option');
    if (options.boxes !== undefined && options.crops !== undefined) throw new InputError('give boxes or crops, not both (crops are used as they are; boxes are cropped by the box rule)');
    checkBooleans(options, ['flip']);
    if (options.smooth !== undefined && typeof options.smooth !== 'number') throw new InputError(`smooth must be a number from 0 to ${MAX_SMOOTH} (UV pixels), got ${shownValue(options.smooth)}`);
    if (options.maxFaces !== undefined && !(Number.isInteger(options.maxFaces) && options.maxFaces >= 0)) throw new InputError(`maxFaces must be a whole number ≥ 0, got ${shownValue(options.maxFaces)}`);
    const sigma = options.smooth ?? defaultSmooth(this.session.config.inputSize);
    if (!(sigma >= 0 && sigma <= MAX_SMOOTH)) throw new InputError(`smooth must be a number from 0 to ${MAX_SMOOTH} (UV pixels), got ${String(options.smooth)}`);
    const timings: StageTimings = { detect: 0, crop: 0, network: 0, readoff: 0 };
    const t = now();
    let items: FaceItem[];
    let turnedLook = false;
    if (options.crops !== undefined && !Array.isArray(options.crops)) throw new InputError('crops must be an array of crop transforms');
    if (options.boxes !== undefined && !Array.isArray(options.boxes)) throw new InputError('boxes must be an array of { x, y, width, height }');
    if (options.crops) {
      // Array.from, not map: a hole in the array (new Array(2), [, crop]) is checked, not skipped.
      items = Array.from(options.crops, (crop, i) => {
        checkCrop(crop, i, image);
        return { box: squareBox(crop), crop };
      });
    } else if (options.boxes) {
      items = Array.from(options.boxes, (box, i) => {
        checkBox(box, i, image);
        // The fields by name: a DOMRect's are getters, which a spread does not copy.
        return { box: { x: box.x, y: box.y, width: box.width, height: box.height, score: box.score ?? 1 }, crop: cropFromUserBox(box.x, box.y, box.width, box.height) };
      });
    } else {
      let boxes = await this.detectNow(image, signal);
      // A photo turned without its EXIF tag: looked at turned (with the orientation step, which
      // turns the crops of faces lying sideways or upside down; video and tracking have neither)
      // where no box reaches the default cut (a lowered --min-score's weak boxes do not stop it,
      // and give way to what the turned looks find).
      if (this.orientation && options.maxFaces !== 0 && !boxes.some((b) => b.score >= TURNED_UNLESS_SCORE)) {
        const turnedBoxes = await this.detectTurned(image, signal);
        if (turnedBoxes.length) {
          boxes = turnedBoxes;
          turnedLook = true;
        }
      }
      const kind = this.detector!.kind;
      items = boxes.map((box) => ({ box, crop: cropFromBox(box, kind) }));
    }
    // (the turned looks' faces are cut after their suspect ones are dropped, below)
    if (options.maxFaces !== undefined && !turnedLook) items = items.slice(0, Math.max(0, options.maxFaces));
    // A detected face lying sideways or upside down in its crop: the crop turned with it.
    if (!options.crops && !options.boxes && this.orientation && items.length) items = await this.turnUpright(image, items, this.orientation);
    timings.detect = now() - t;
    stopIfAborted();

    const flip = options.flip ?? true;
    // A smaller model without flip is smoothed on its own grid, before the upsampling to the 256²
    // layout (σ in its pixels: a quarter of the work for the light model); the flip's merge needs
    // the layout's grid, so flipped maps are smoothed there.
    const S = this.session.config.inputSize;
    const onInputGrid = !flip && sigma > 0 && S < CROP_SIZE;

    // Faces go through the network CHUNK_FACES at a time: onnxruntime's working memory grows with
    // the batch (~55 MB per face with the flip at 256²), so a crowd photo (or a hostile grid of
    // faces) would take gigabytes in one batch; each chunk's maps are read off before the next.
    const n = items.length;
    const plane = S * S;
    const faces: Face[] = [];
    for (let first = 0; first < n; first += CHUNK_FACES) {
      const chunk = items.slice(first, first + CHUNK_FACES);
      faces.push(...(await this.runChunk(image, chunk, first, { S, plane, flip, sigma, onInputGrid }, timings)));
      // onnxruntime-node runs the network on the event loop's thread: an abort during it is seen here.
      stopIfAborted();
    }
    // A crop the orientation network turned is kept when the reconstruction agrees: its landmarks'
    // roll within ORIENT_AGREE of the turned crop's angle (the face upright in it). Otherwise (a
    // profile the network misread and read upright again after the turn: 8 of the 995 AFLW2000-3D
    // dev faces, all but one caught here — image00158, a collapsed 79° profile, keeps its turn and
    // reads better) the face is reconstructed again in the detector's own crop.
    // When it does, the face is reconstructed once more in the crop of those landmarks (turned by
    // their roll, as a video frame's crop from the previous one's): the box rule's crop centre
    // assumes an upright face, so a sideways face sat off the middle of its turned crop (landmarks
    // 7 % of the face's size from where the upright photo puts them, median over 18 sideways
    // close-ups; 2.9 % after this pass, 1.5 % between two crops of an upright face).
    const turned = new Set<number>();
    for (const [i, it] of items.entries()) {
      if (!it.detectorCrop) continue;
      const roll = landmarkRoll(faces[i].landmarks);
      const agrees = roll !== null && Math.abs(wrapAngle(roll - (it.crop.square.angle ?? 0))) <= ORIENT_AGREE;
      const crop = agrees ? cropTransform(rolledSquareFromLandmarks(faces[i].landmarks, 3, roll), it.crop.size) : it.detectorCrop;
      if (agrees) turned.add(i);
      [faces[i]] = await this.runChunk(image, [{ box: it.box, crop }], i, { S, plane, flip, sigma, onInputGrid }, timings);
      stopIfAborted();
    }
    // BlazeFace's keypoints against the reconstruction's (Face.keypointDisagreement), where they can
    // be trusted: for a detected face whose keypoints the crop rule can use (keypointFeatures: 6
    // points near the box, not left behind by a moved box), which turn its crop by KEYPOINT_UPRIGHT
    // or less, and not turned by the orientation step. BlazeFace keeps to an upright face's order:
    // on a face lying sideways it misplaces them (in scripts/robustness.ts's 200 dev photos turned
    // a quarter, 49 faces read right were over 0.12, their crops turned by 46–84°). (Not the
    // landmarks' roll: a failed reconstruction's roll can be anything; 6 such failures went unflagged.)
    if (!options.crops && !options.boxes && this.detector?.kind === 'blazeface') {
      for (const [i, it] of items.entries()) {
        if (turned.has(i)) continue;
        // (a turned look's keypoints were found with the face upright: trusted at any crop angle)
        const d = detectorKeypointDisagreement(faces[i].landmarks, it.box, faces[i].crop.square.angle ?? 0, this.keypointScratch, turnedLook);
        if (d !== undefined) faces[i].keypointDisagreement = d;
      }
    }
    for (const face of faces) {
      const suspect = suspectFace(face);
      if (suspect !== undefined) face.suspect = suspect;
    }
    if (turnedLook) {
      // A face that only a turned look found is kept unless its reconstruction doubts it: the
      // turned looks' false faces in strips of web photos without a face were all suspect, and so
      // was the one wrong face of 14 they found in turned photos (and 2 right ones; docs/detectors.md,
      // "Turned looks"); then maxFaces.
      const kept = faces.filter((f) => f.suspect !== true).slice(0, options.maxFaces ?? Infinity);
      kept.forEach((f, i) => (f.index = i));
      return { faces: kept, timings };
    }
    return { faces, timings };
  }

  /**
   * The network and the read-offs for a few faces (`first` is the first one's index in the result):
   * the crops go straight into the network's NCHW input (mirrored copies after them for the flip):
   * the values of warpCrop → mirrorImage → resizeSquare → hwcToChw, without those arrays.
   */
  private async runChunk(
    image: RgbImage,
    items: { box: FaceBox; crop: CropTransform }[],
    first: number,
    o: { S: number; plane: number; flip: boolean; sigma: number; onInputGrid: boolean },
    timings: StageTimings,
  ): Promise<Face[]> {
    const { S, plane, flip, sigma, onInputGrid } = o;
    let t = now();
    const n = items.length;
    // The input array is reused between calls (taken from a small pool for the time of the run, so
    // concurrent calls never share one).
    const length = (flip ? 2 : 1) * n * 3 * plane;
    const pooled = this.inputs.findIndex((a) => a.length === length);
    const batch = pooled >= 0 ? this.inputs.splice(pooled, 1)[0] : new Float32Array(length);
    items.forEach((it, i) => writeCropInput(image, it.crop, S, batch, i * 3 * plane, flip ? (n + i) * 3 * plane : -1));
    timings.crop += now() - t;

    t = now();
    let maps: PositionMap[] = [];
    let output: Float32Array;
    try {
      output = await this.session.run(batch, flip ? 2 * n : n);
    } finally {
      // At most MAX_POOLED arrays are kept, the latest, none larger than MAX_POOLED_FLOATS. (A
      // runtime that transferred the array to a worker leaves it detached, of length 0: not kept.)
      if (batch.length === length && length > 0 && length <= MAX_POOLED_FLOATS) {
        this.inputs.push(batch);
        if (this.inputs.length > MAX_POOLED) this.inputs.shift();
      }
    }
    // The interleaved maps are read within this synchronous stretch only (smoothed, merged or
    // upsampled into other arrays): scratch arrays, one per map. The scratch arrays are shared by
    // all calls on this pipeline: from here until the chunk's faces are built there must be no
    // `await`, or concurrent calls would mix their maps.
    for (let i = 0; i < (flip ? 2 * n : n); i++) {
      const data = chwToHwcFinite(output, S, i * 3 * plane, this.scratch(3 * plane, `map${i}`));
      if (!data) throw new ModelError('the network output non-finite values (NaN or infinity) for this image: the model is broken');
      maps.push(S === CROP_SIZE || onInputGrid ? { size: S, data } : { size: CROP_SIZE, data: resizeSquare(data, S, CROP_SIZE, 3) });
    }
    // Merged maps go only to smoothing (or, unsmoothed, to the uncropping): scratch arrays.
    const disagreement = flip ? items.map((_, i) => flipDisagreement(maps[i], maps[i + n], this.layout)) : null;
    if (flip) maps = items.map((_, i) => mergeFlippedMap(maps[i], maps[i + n], this.layout, this.scratch(maps[i].data.length, `merged${i}`)));
    timings.network += now() - t;

    t = now();
    // The smoothed map goes only to the uncropping (a new map): it is written into a scratch array.
    // A map smoothed on the network's smaller grid is enlarged to the layout's and uncropped in one pass.
    const uncropped = (map: PositionMap, crop: CropTransform): PositionMap => {
      if (!onInputGrid) return uncropPositionMap(smoothPositionMap(map, this.layout.faceMask, sigma, this.scratch(map.data.length, 'smooth')), crop);
      const small = smoothPositionMap(map, this.faceMaskAt(S), (sigma * S) / CROP_SIZE, this.scratch(map.data.length, 'smooth'));
      return uncropEnlarged(small, crop, CROP_SIZE);
    };
    const faces = items.map((it, i): Face => {
      const positionMap = uncropped(maps[i], it.crop);
      const vertices = readVertices(positionMap, this.layout);
      return {
        index: first + i,
        box: it.box,
        crop: it.crop,
        positionMap,
        landmarks: readLandmarks(positionMap, this.layout),
        vertices,
        pose: poseOf(vertices, this.layout.canonical, this.canonicalPrepared()),
        ...(disagreement ? { flipDisagreement: disagreement[i] } : {}),
        inImage: insideShare(vertices, image.width, image.height),
      };
    });
    timings.readoff += now() - t;
    return faces;
  }

  private readonly masks = new Map<number, Uint8Array>();
  private readonly keypointScratch = new Float64Array(KEYPOINT_FEATURES);
  private prepared: PreparedSource | null | undefined;

  /** The layout's canonical face prepared for the pose fits (once per pipeline). */
  private canonicalPrepared(): PreparedSource | null {
    if (this.prepared === undefined) this.prepared = prepareSource(this.layout.canonical);
    return this.prepared;
  }
  private readonly scratchArrays = new Map<string, Float32Array>();
  /** Network input arrays free for the next call (the latest MAX_POOLED). */
  private readonly inputs: Float32Array[] = [];

  /**
   * A scratch array of n floats for one use (`slot`), reused between calls: for arrays that are
   * filled and read within one synchronous stretch of a call and never returned.
   */
  private scratch(n: number, slot: string): Float32Array {
    const key = `${slot}:${n}`;
    let a = this.scratchArrays.get(key);
    if (!a) this.scratchArrays.set(key, (a = new Float32Array(n)));
    return a;
  }

  /**
   * The layout's face mask on a coarser size² grid (a pixel is face when any layout pixel it
   * covers is), for smoothing a smaller model's map on its own grid.
   */
  private faceMaskAt(size: number): Uint8Array {
    let m = this.masks.get(size);
    if (!m) this.masks.set(size, (m = coarseMask(this.layout.faceMask, this.layout.size, size)));
    return m;
  }

  /**
   * Frees the inference sessions (the network's, and the detector's if it made it) and the arrays kept for reuse,
   * once the calls already made have finished; later calls are refused (DisposedError). Safe to call twice.
   */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      this.disposed = true;
      await Promise.all(this.active);
      this.inputs.length = 0;
      this.scratchArrays.clear();
      await Promise.all([this.session.release(), this.ownsDetector ? this.detector?.release?.() : undefined, this.orientation?.release()]);
    })();
    return this.disposing;
  }

  private disposing: Promise<void> | undefined;
}

/** The options reconstruct knows (ReconstructOptions' keys). */
const RECONSTRUCT_OPTIONS: readonly (keyof ReconstructOptions)[] = ['boxes', 'crops', 'maxFaces', 'flip', 'smooth', 'signal'];


/** The image as RGB bytes (RGBA and grey converted), or an InputError saying what it is not. */
export function checkImage(image: RgbImage | PixelImage): RgbImage {
  if (typeof image === 'string') throw new InputError(`not an RGB image but a string (${JSON.stringify(String(image).slice(0, 80))}): reconstruct takes decoded pixels (in Node: decodeImageFile(path), or reconstructFile)`);
  if (ArrayBuffer.isView(image)) throw new InputError('not an RGB image but bare bytes: reconstruct takes { width, height, data } (an encoded file\'s bytes: decodeImageBuffer(bytes) in Node)');
  if (!image || !(image.width > 0) || !(image.height > 0)) throw new InputError('not an RGB image: expected width × height × 3 bytes');
  return toRgbImage(image);
}

/**
 * A user's face box: finite, at least 1 pixel wide and high, at most 4 × the image's long side,
 * and overlapping the image (a box wholly outside it would give a face made of padding).
 */
function checkBox(box: BoxInput, i: number, image: RgbImage): void {
  checkFaceBox(box, `box ${i}`, image, false);
}

/**
 * A detector's result, checked as `boxes` are (a detector of the caller's own, createPrnet({
 * detector }), gave faces at 10⁷ px or 2·10⁹ px wide as they came, and a NaN or empty box, or no
 * array, failed with a RangeError or TypeError): an array of boxes with finite x, y, width, height
 * and score, each overlapping the image and at most 4 × its long side, and keypoints, where given,
 * finite x, y pairs (BlazeFace's 6 for kind 'blazeface'). InputError naming the box.
 */
function checkDetections(boxes: unknown, kind: string, image: RgbImage): asserts boxes is FaceBox[] {
  if (!Array.isArray(boxes)) throw new InputError(`the detector must return an array of face boxes, got ${shownValue(boxes)}`);
  for (let i = 0; i < boxes.length; i++) {
    const box = boxes[i] as FaceBox;
    checkFaceBox(box, `the detector's box ${i}`, image, true);
    if (box.keypoints !== undefined) {
      const k = box.keypoints as ArrayLike<unknown>;
      const ok = k !== null && typeof k === 'object' && typeof k.length === 'number' && k.length % 2 === 0 && (kind !== 'blazeface' || k.length === 12) && Array.prototype.every.call(k, (v: unknown) => typeof v === 'number' && Number.isFinite(v));
      if (!ok) throw new InputError(`the detector's box ${i} has keypoints that are not ${kind === 'blazeface' ? "BlazeFace's 6 points (12 finite numbers, x, y each)" : 'finite x, y pairs'}`);
    }
  }
}

/** A box (a user's, `name` "box i", or a detector's): finite numbers, a score (required for a detector's), and checkRegion's rules. */
function checkFaceBox(box: Partial<FaceBox> | null | undefined, name: string, image: RgbImage, scoreRequired: boolean): void {
  const b = box && typeof box === 'object' ? box : null;
  const nums = b ? [b.x, b.y, b.width, b.height, ...(scoreRequired ? [b.score] : [])] : [];
  const shown = nums.map((v) => (typeof v === 'number' ? +v.toPrecision(6) : String(v))).join(',');
  if (!b || !nums.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new InputError(`${name} must have finite x, y, width${scoreRequired ? ', height and score' : ' and height'}, got ${b ? shown : scoreRequired ? shownValue(box) : String(box)}`);
  }
  checkRegion(`${name} (${shown})`, b.x!, b.y!, b.width!, b.height!, 4, 'wide and high', image);
  if (b.score !== undefined && !(typeof b.score === 'number' && Number.isFinite(b.score))) throw new InputError(`${name}'s score must be a finite number, got ${shownValue(b.score)}`);
}

/**
 * A box or crop square (image pixels): 1 pixel to `factor` × the image's long side, and
 * overlapping the image (one wholly outside would give a face made of padding); InputError naming it.
 */
function checkRegion(name: string, x: number, y: number, width: number, height: number, factor: number, sides: string, image: RgbImage): void {
  const limit = factor * Math.max(image.width, image.height);
  if (width < 1 || height < 1 || width > limit || height > limit) {
    throw new InputError(`${name} must be between 1 and ${limit} pixels ${sides} for a ${image.width}×${image.height} image`);
  }
  if (x >= image.width || y >= image.height || x + width <= 0 || y + height <= 0) {
    throw new InputError(`${name} lies outside the ${image.width}×${image.height} image`);
  }
}

/** A caller's crop transform: the shape cropTransform() makes, with finite numbers. */
function checkCrop(crop: CropTransform, i: number, image: RgbImage): void {
  const c = crop as Partial<CropTransform> | null;
  const finite = (a: unknown, n: number): boolean => Array.isArray(a) && a.length === n && a.every((v) => typeof v === 'number' && Number.isFinite(v));
  const sq = c?.square;
  if (!c || c.size !== CROP_SIZE || !finite(c.forward, 6) || !finite(c.inverse, 6) || !(typeof c.scale === 'number' && c.scale > 0 && Number.isFinite(c.scale)) ||
    !sq || !(sq.side > 0) || !finite([sq.cx, sq.cy, sq.side, sq.angle ?? 0], 4)) {
    throw new InputError(`crop ${i} is not a ${CROP_SIZE}-pixel crop transform with finite numbers (make it with cropTransform or cropFromLandmarks)`);
  }
  // Its square at most 8 × the image's long side (boxes: 4; a tracked face may be 3 long sides,
  // its crop 1.6 × that) and overlapping the image, and its transforms the ones its square gives.
  const shown = `centre ${+sq.cx.toPrecision(6)}, ${+sq.cy.toPrecision(6)}, side ${+sq.side.toPrecision(6)}`;
  const box = squareBox(crop);
  checkRegion(`crop ${i} (${shown})`, box.x, box.y, box.width, box.height, 8, 'on a side', image);
  const ref = cropTransform(sq, CROP_SIZE);
  const close = (a: readonly number[], b: readonly number[]): boolean => a.every((v, k) => Math.abs(v - b[k]) <= 1e-6 * Math.max(1, Math.abs(b[k])));
  if (!close(c.forward!, ref.forward) || !close(c.inverse!, ref.inverse) || !close([c.scale!], [ref.scale])) {
    throw new InputError(`crop ${i}'s forward, inverse and scale are not the ones its square gives (make it with cropTransform or cropFromLandmarks)`);
  }
}

/** The head pose; a map whose points are unusable (all equal, not finite) is the model's fault. */
function poseOf(vertices: Float32Array, canonical: Parameters<typeof estimatePose>[1], prepared: PreparedSource | null): ReturnType<typeof estimatePose> {
  try {
    return estimatePose(vertices, canonical, prepared);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new ModelError(`the network output a degenerate position map (${e.message.replace(/^fitSimilarity: /, '')}): the model is broken`, undefined, { cause: e });
  }
}

/** A crop's square as a box: its extent in the image (a turned square's is larger than its side). */
function squareBox(crop: CropTransform): FaceBox {
  const { cx, cy, side } = crop.square;
  const a = crop.square.angle ?? 0;
  const extent = side * (Math.abs(Math.cos(a)) + Math.abs(Math.sin(a)));
  return { x: cx - extent / 2, y: cy - extent / 2, width: extent, height: extent, score: 1 };
}
