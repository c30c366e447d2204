/**
 * Video: the pipeline run frame after frame with tracking (tracker.ts) and temporal
 * stabilisation (stabilizer.ts). Runtime-agnostic: it drives any pipeline with the `Prnet`
 * class's detect/reconstruct API, in Node (measurements, tests) and in the browser's worker.
 *
 *   const video = new VideoTracker(prnet);
 *   for each frame: const { faces } = await video.process(image, timeMs);
 */
import { cropFromBox, type BoxKind } from '../crop/index.js';
import type { Layout } from '../layout/index.js';
import type { Face } from '../pipeline/face.js';
import { detectorKeypointDisagreement, suspectFace } from '../pipeline/quality.js';
import { KEYPOINT_FEATURES } from '../crop/keypoint-rule.js';
import type { ReconstructOptions, ReconstructResult, StageTimings, TestTimeOptions } from '../pipeline/prnet.js';
import { checkImage } from '../pipeline/prnet.js';
import type { FaceBox, RgbImage } from '../types.js';
import { FaceStabilizer, resolveStabilizerOptions, type StabilizerOptions } from './stabilizer.js';
import { FaceTracker, type LostTrack, type TrackerOptions, type TrackFraming } from './tracker.js';
import { TRACK_FRAMING_KEY } from '../model/weights.js';
import { BLANK_CONTRAST, faceContrast } from './contrast.js';
import { checkKnownKeys, optionsObject, shown } from './options.js';

/** What VideoTracker needs of the pipeline (the Prnet class has it). */
export interface FramePipeline {
  readonly layout: Layout;
  readonly detector: { readonly kind: BoxKind } | null;
  /** The model file's metadata: its `track_framing` is the tracker's framing when the caller gives none. */
  readonly modelMetadata?: Readonly<Record<string, string>>;
  detect(image: RgbImage): Promise<FaceBox[]>;
  reconstruct(image: RgbImage, options: ReconstructOptions): Promise<ReconstructResult>;
}

export interface VideoOptions extends TestTimeOptions {
  tracker?: TrackerOptions;
  /** Temporal stabilisation: options, or false for raw per-frame results. Default on. */
  stabilize?: StabilizerOptions | boolean;
  /**
   * Which landmarks crop the next frame (through the tracker's crop smoothing, which keeps a
   * still face's crop the same in every frame): the raw ones (default; the network's inputs, and
   * so the raw results, are then the same with and without stabilisation, which only filters
   * them) or the stabilised ones.
   */
  cropFrom?: 'stabilized' | 'raw';
}

export interface TrackedFace extends Face {
  /** The track this face belongs to (stable across frames while tracked). */
  trackId: number;
  /** The stabiliser holds the face still this frame. */
  still: boolean;
}

export interface VideoFrameResult {
  faces: TrackedFace[];
  /** Milliseconds per stage; `detect` is 0 on tracked frames. */
  timings: StageTimings & { stabilize: number; total: number };
  /** The detector ran for this frame. */
  detected: boolean;
  /** Tracks lost in this frame (a lost track may come back under its id: the tracker's rejoinFrames). */
  lost: LostTrack[];
  /** Tracks lost in this frame or earlier that are gone for good: they will not come back under their ids. */
  ended: number[];
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** The framing a model's file asks of its tracks (`track_framing`; absent: PRNet's, from the landmarks). */
export function modelFraming(pipeline: Pick<FramePipeline, 'modelMetadata'>): TrackFraming {
  return pipeline.modelMetadata?.[TRACK_FRAMING_KEY] === 'detector' ? 'detector' : 'landmarks';
}

/** The stabiliser's options resolved (null: off), checked now rather than at a track's first frame (processVideo checks with it before probing). */
export function resolveStabilize(stabilize: StabilizerOptions | boolean): StabilizerOptions | null {
  // null or 0 turned it on (?? true), 'off' read as an object of options
  if (typeof stabilize !== 'boolean' && (stabilize === null || typeof stabilize !== 'object' || Array.isArray(stabilize))) {
    throw new RangeError(`stabilize must be true, false or an object of stabiliser options, got ${shown(stabilize)}`);
  }
  return stabilize === false ? null : resolveStabilizerOptions(stabilize === true ? {} : stabilize);
}

const VIDEO_OPTIONS = ['tracker', 'stabilize', 'cropFrom', 'flip', 'smooth'] as const;

/**
 * Face.flipDisagreement above which a tracked face is confirmed by the detector on the same frame:
 * over 0.1 most of the default model's faces are failed reconstructions (docs/evaluation.md §0.11),
 * the light model's good faces read up to ~0.07, and a face on a black frame ~0.4.
 */
export const CONFIRM_DISAGREEMENT = 0.15;

/**
 * Whether a tracked face looks like no face: its landmarks' region blank (faceContrast under
 * BLANK_CONTRAST) or its flip disagreement over CONFIRM_DISAGREEMENT.
 */
function lookWrong(image: RgbImage, face: Face): boolean {
  return (face.flipDisagreement ?? 0) > CONFIRM_DISAGREEMENT || faceContrast(image, face.landmarks) < BLANK_CONTRAST;
}

export class VideoTracker {
  readonly tracker: FaceTracker;
  private readonly pipeline: FramePipeline;
  private stabilizerOptions: StabilizerOptions | null;
  private readonly stabilizers = new Map<number, FaceStabilizer>();
  private readonly cropFrom: 'stabilized' | 'raw';
  /** Test-time flip and smoothing for the network (default the pipeline's: flip on, the model's σ). */
  private readonly testTime: TestTimeOptions;

  /** Frames are processed one at a time, in call order (overlapping calls wait for the one before). */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly keypointScratch = new Float64Array(KEYPOINT_FEATURES);
  /** The last frame's size: a change (a camera switching resolution) drops the tracks. */
  private frameSize: [number, number] | null = null;

  constructor(pipeline: FramePipeline, options: VideoOptions = {}) {
    options = optionsObject(options, 'video options');
    checkKnownKeys(options, VIDEO_OPTIONS, 'video option', { stabilise: 'stabilize' });
    // Without a detector no track ever starts: every frame would have no face, silently.
    if (!pipeline.detector) throw new RangeError('VideoTracker needs a pipeline with a detector (one made without detector: false)');
    this.pipeline = pipeline;
    // The model says how its tracks' crops sit on the face (TrackerOptions.framing) unless the caller does.
    const tracker = optionsObject(options.tracker, 'tracker options');
    this.tracker = new FaceTracker({ ...tracker, framing: tracker.framing ?? modelFraming(pipeline) });
    if (options.cropFrom !== undefined && options.cropFrom !== 'raw' && options.cropFrom !== 'stabilized') {
      throw new RangeError(`cropFrom must be 'raw' or 'stabilized', got ${shown(options.cropFrom)}`);
    }
    this.cropFrom = options.cropFrom ?? 'raw';
    this.testTime = { flip: options.flip, smooth: options.smooth };
    this.stabilizerOptions = resolveStabilize(options.stabilize === undefined ? true : options.stabilize);
  }

  /** Turns stabilisation on (with options) or off; filters restart. */
  setStabilize(stabilize: StabilizerOptions | boolean): void {
    this.stabilizerOptions = resolveStabilize(stabilize);
    this.stabilizers.clear();
  }

  get stabilizing(): boolean {
    return this.stabilizerOptions !== null;
  }

  /**
   * The faces of the frame at `timeMs` (milliseconds, increasing; default: the clock now). Calls
   * that overlap (a render loop that does not wait) run one after the other, in call order. A frame
   * of another size than the last drops every track (the detector runs on it).
   */
  process(image: RgbImage, timeMs?: number): Promise<VideoFrameResult> {
    const time = timeMs === undefined ? now() : timeMs;
    if (typeof time !== 'number' || !Number.isFinite(time)) return Promise.reject(new RangeError(`the frame time must be a finite number of milliseconds, got ${shown(time)}`));
    const run = this.queue.then(() => this.processNow(image, time));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async processNow(input: RgbImage, timeMs: number): Promise<VideoFrameResult> {
    const start = now();
    // Checked before anything changes: a frame refused for its bytes leaves the tracks as they were.
    const image = checkImage(input);
    const resized: LostTrack[] = [];
    let endedByResize: number[] = [];
    if (this.frameSize && (image.width !== this.frameSize[0] || image.height !== this.frameSize[1])) {
      for (const id of this.tracker.trackIds) resized.push({ id, reason: 'frame-size' });
      endedByResize = this.resetNow();
    }
    this.frameSize = [image.width, image.height];
    let detections: FaceBox[] | null = null;
    let detectMs = 0;
    if (this.tracker.needsDetection() && this.pipeline.detector) {
      detections = await this.pipeline.detect(image);
      detectMs = now() - start;
    }
    const kind = this.pipeline.detector?.kind;
    let plan = this.tracker.plan(detections, kind);
    const reconstructPlan = (crops: typeof plan.crops): Promise<Pick<ReconstructResult, 'faces' | 'timings'>> =>
      crops.length ? this.pipeline.reconstruct(image, { crops, ...this.testTime }) : Promise.resolve({ faces: [] as Face[], timings: { detect: 0, crop: 0, network: 0, readoff: 0 } });
    let { faces, timings } = await reconstructPlan(plan.crops);
    // A tracked face that looks like no face any more — its region blank (the picture went black)
    // or, with test-time flip, its mirrored crop disagreeing (the face left and the crop holds
    // background) — is confirmed by the detector on this very frame: the tracks it does not find
    // are dropped here, so no made-up face is reported (or keyed into a GLB) for the frame.
    if (!plan.detected && this.pipeline.detector && faces.some((f) => lookWrong(image, f))) {
      const t = now();
      const found = await this.pipeline.detect(image);
      detectMs += now() - t;
      const first = plan;
      const again = this.tracker.replan(found, kind);
      plan = { ...again, lost: [...first.lost, ...again.lost], ended: [...first.ended, ...again.ended], rejoined: [...first.rejoined, ...again.rejoined] };
      // The tracks the detector kept have the crops they had: their faces stand. A new track
      // (a face the detector found that none followed) needs the network again.
      const at = plan.ids.map((id) => first.ids.indexOf(id));
      if (at.every((k) => k >= 0)) faces = at.map((k) => faces[k]);
      else {
        const before = timings;
        ({ faces, timings } = await reconstructPlan(plan.crops));
        // the frame's stages, both passes
        timings = { ...timings, crop: timings.crop + before.crop, network: timings.network + before.network, readoff: timings.readoff + before.readoff };
      }
    }
    // On a frame the detector ran for, BlazeFace's keypoints check each face its detection confirmed
    // or started (Face.keypointDisagreement, as for a photo; the pipeline gives none for crops), in
    // the frame of the detection's own crop, as for a photo: a track's crop turns with the last
    // frame's landmarks, whose roll a failed reconstruction can put anywhere.
    // The box is the square the network saw; on a frame the detector ran for, its score is that of
    // the detection which confirmed or started the track (the crops' boxes say 1: no detection scored them).
    if (plan.detected) {
      faces.forEach((face, i) => {
        const box = plan.detections[i];
        if (box) face.box.score = box.score;
      });
    }
    if (plan.detected && this.pipeline.detector?.kind === 'blazeface') {
      faces.forEach((face, i) => {
        const box = plan.detections[i];
        const d = box ? detectorKeypointDisagreement(face.landmarks, box, cropFromBox(box, 'blazeface').square.angle ?? 0, this.keypointScratch) : undefined;
        if (d === undefined) return;
        face.keypointDisagreement = d;
        face.suspect = suspectFace(face);
      });
    }
    const lostNow = this.tracker.update(image, faces.map((f) => f.landmarks), 3, timeMs);
    const lost = [...resized, ...plan.lost, ...lostNow];
    for (const l of lost) this.stabilizers.delete(l.id);

    const t0 = now();
    const gone = new Set(lost.map((l) => l.id));
    const out: TrackedFace[] = [];
    faces.forEach((face, i) => {
      const trackId = plan.ids[i];
      if (gone.has(trackId)) return;
      if (!this.stabilizerOptions) {
        out.push({ ...face, index: out.length, trackId, still: false });
        return;
      }
      let s = this.stabilizers.get(trackId);
      if (!s) {
        s = new FaceStabilizer(this.pipeline.layout, this.stabilizerOptions);
        this.stabilizers.set(trackId, s);
      }
      const r = s.stabilize(face, timeMs);
      if (this.cropFrom === 'stabilized') this.tracker.recrop(trackId, r.face.landmarks, 3, timeMs);
      out.push({ ...r.face, index: out.length, trackId, still: r.still });
    });
    const stabilize = now() - t0;
    return {
      faces: out,
      timings: { ...timings, detect: detectMs, stabilize, total: now() - start },
      detected: plan.detected,
      lost,
      ended: [...this.endedByReset.splice(0), ...endedByResize, ...plan.ended],
    };
  }

  /**
   * Forgets every track and filter (the next frame runs the detector). In turn with process():
   * a frame in flight finishes first (resetting under it failed it with an internal error).
   */
  reset(): void {
    this.queue = this.queue.then(() => {
      this.endedByReset.push(...this.resetNow());
    });
  }

  /** Tracks ended by reset(), reported in the next frame's `ended`. */
  private endedByReset: number[] = [];

  /** Forgets every track and filter; returns the ids that end with it. */
  private resetNow(): number[] {
    const ended = this.tracker.reset();
    this.stabilizers.clear();
    this.frameSize = null;
    return ended;
  }
}
