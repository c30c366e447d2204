/**
 * Face tracking across video frames, as the original PRNet's video demo: the detector runs on the
 * first frame and whenever no face is tracked; otherwise each face is cropped from its landmarks
 * in the previous frame (cropFromLandmarks: centre of their box, side 1.6 × its mean side).
 *
 * The crop is kept temporally consistent (`cropSmoothing`): the square from the previous
 * landmarks is only a target, which the track's crop follows through a soft dead band and a
 * speed-adaptive low-pass (crop-smoother.ts). On a still or slowly moving face the network then
 * sees the face in the same square in every frame, so the landmarks' own jitter does not come back
 * through the crop as jitter of the next frame's input (and output); on motion the crop follows.
 *
 * A track is lost when its new landmarks
 * - leave the frame (fewer than `minInside` of them inside the image),
 * - degenerate (non-finite, or a face smaller than `minFaceSize` pixels or larger than
 *   `maxFaceScale` times the image's long side),
 * - jump implausibly from the previous frame's landmarks that cropped them (centre moved more
 *   than `maxShift` face sizes, or size changed by more than a factor `maxScaleChange`; not checked
 *   on a detector's crop, whose frame differs),
 * - or when the detector, run every `confirmEvery` frames, does not confirm it (no detection's
 *   crop overlaps the track's crop by IoU ≥ `matchIou`). Those runs also start tracks for faces
 *   that entered the frame. Two tracks that converge on one face keep the older.
 * A lost track can be taken up again: for `rejoinFrames` frames the detector runs on every frame,
 * and a detection overlapping the lost track's last crop (IoU ≥ `matchIou`) continues it under
 * its id (a face hidden for a moment by a hand, a flash or a blink-length cut stays one track).
 * A track's loss is final (`TrackPlan.ended`) once that window has passed.
 * Pure: the caller runs the detector and the network; this class only decides.
 */
import { cropFromBox, cropTransform, landmarkRoll, MIN_CROP_ROLL, rolledSquareFromLandmarks, squareFromLandmarks, type BoxKind, type CropSquare, type CropTransform } from '../crop/index.js';
import type { FaceBox } from '../types.js';
import { faceSize, landmarkBounds } from './motion.js';
import { checkCropSmoothing, CropSmoother, DEFAULT_CROP_SMOOTHING, type CropSmoothingOptions } from './crop-smoother.js';
import { checkKnownKeys, optionsObject, shown } from './options.js';

export interface TrackerOptions {
  /** Most faces tracked at once (largest first when detecting). Default 4. */
  maxFaces?: number;
  /** Run the detector every this many frames to confirm tracks and find new faces; 0: never. Default 30. */
  confirmEvery?: number;
  /** Smallest face tracked: landmark box mean side, pixels. Default 16. */
  minFaceSize?: number;
  /** Largest face tracked, in long sides of the image. Default 3. */
  maxFaceScale?: number;
  /** Fraction of the 68 landmarks that must lie inside the image. Default 0.5. */
  minInside?: number;
  /** Largest plausible move of the face centre between frames, in face sizes. Default 0.5. */
  maxShift?: number;
  /** Largest plausible change of the face size between frames (ratio). Default 1.5. */
  maxScaleChange?: number;
  /** IoU of crop squares for a detection to confirm a track, and for two tracks to be one face. Default 0.3. */
  matchIou?: number;
  /** Temporal consistency of the crop (crop-smoother.ts); false: each frame's crop is the previous landmarks' square. Default on. */
  cropSmoothing?: CropSmoothingOptions | false;
  /**
   * Frames after a track is lost during which a detection at its last place (IoU ≥ matchIou)
   * continues it under its id; the detector runs on each of them. 0: a lost track never comes
   * back. Default 15 (half a second at 30 frames per second).
   */
  rejoinFrames?: number;
  /**
   * How a track's crops from landmarks sit on the face. `'landmarks'` (PRNet's rule, the default
   * here): 1.6 × the box of the previous frame's landmarks around its centre. `'detector'`: as the
   * detector's crop sat on the track's first landmarks (its side over theirs and its centre's offset,
   * in the face's frame: cropAnchor), so later crops keep the framing the models were trained on
   * instead of inheriting each frame's landmark error, which the next frame's landmarks inherit from
   * the crop (the light model's crops drifted 2 % larger and 1.4 % lower, its 68-point error on a
   * still face from 5.5 to 6.6 % over eight frames). VideoTracker takes the model's own choice
   * (its file's `track_framing`: the light model's is `'detector'`; docs/video.md, "Framing").
   */
  framing?: TrackFraming;
}

export const DEFAULT_TRACKER: Readonly<Required<TrackerOptions>> = Object.freeze({
  maxFaces: 4,
  confirmEvery: 30,
  minFaceSize: 16,
  maxFaceScale: 3,
  minInside: 0.5,
  maxShift: 0.5,
  maxScaleChange: 1.5,
  matchIou: 0.3,
  cropSmoothing: DEFAULT_CROP_SMOOTHING,
  rejoinFrames: 15,
  framing: 'landmarks',
});

/**
 * The tracker's numbers, checked (RangeError naming the option): a NaN or negative one made tracks
 * vanish or the detector never run; a string, an unknown key (`detectEvery` for `confirmEvery`) or
 * crop smoothing options that would fail at the first detection are refused here.
 */
function checkTrackerOptions(o: Readonly<Required<TrackerOptions>>): void {
  checkKnownKeys(o, Object.keys(DEFAULT_TRACKER), 'tracker option', { detectEvery: 'confirmEvery' });
  const check = (ok: boolean, name: string, rule: string, v: unknown): void => {
    if (!ok || (typeof v !== 'number' && name !== 'cropSmoothing')) throw new RangeError(`tracker option ${name} must be ${rule}, got ${shown(v)}`);
  };
  check(Number.isInteger(o.maxFaces) && o.maxFaces >= 1, 'maxFaces', 'a whole number ≥ 1', o.maxFaces);
  check(Number.isInteger(o.confirmEvery) && o.confirmEvery >= 0, 'confirmEvery (detectEvery)', 'a whole number ≥ 0', o.confirmEvery);
  check(o.minFaceSize > 0 && Number.isFinite(o.minFaceSize), 'minFaceSize', 'a finite number > 0', o.minFaceSize);
  check(o.maxFaceScale > 0 && Number.isFinite(o.maxFaceScale), 'maxFaceScale', 'a finite number > 0', o.maxFaceScale);
  check(o.minInside >= 0 && o.minInside <= 1, 'minInside', 'from 0 to 1', o.minInside);
  check(o.maxShift > 0 && Number.isFinite(o.maxShift), 'maxShift', 'a finite number > 0', o.maxShift);
  check(o.maxScaleChange >= 1 && Number.isFinite(o.maxScaleChange), 'maxScaleChange', 'a finite number ≥ 1', o.maxScaleChange);
  check(o.matchIou > 0 && o.matchIou <= 1, 'matchIou', 'in (0, 1]', o.matchIou);
  check(Number.isInteger(o.rejoinFrames) && o.rejoinFrames >= 0, 'rejoinFrames', 'a whole number ≥ 0', o.rejoinFrames);
  if (!(TRACK_FRAMINGS as readonly unknown[]).includes(o.framing)) throw new RangeError(`tracker option framing must be 'landmarks' or 'detector', got ${shown(o.framing)}`);
  if (o.cropSmoothing !== false) {
    if (o.cropSmoothing === null || typeof o.cropSmoothing !== 'object') throw new RangeError(`tracker option cropSmoothing must be an object of crop smoothing options or false, got ${shown(o.cropSmoothing)}`);
    checkCropSmoothing(o.cropSmoothing);
  }
}

/** How a track's crops from landmarks sit on the face (TrackerOptions.framing). */
export type TrackFraming = 'landmarks' | 'detector';
export const TRACK_FRAMINGS: readonly TrackFraming[] = ['landmarks', 'detector'];

export type LostReason = 'left-frame' | 'degenerate' | 'jump' | 'unconfirmed' | 'duplicate' | 'frame-size';

export interface LostTrack {
  id: number;
  reason: LostReason;
}

/** The crops of one frame, one per track, in the order the network should see them. */
export interface TrackPlan {
  crops: CropTransform[];
  /** The track of each crop. */
  ids: number[];
  /**
   * On a frame the detector ran for: the detection each crop's track was confirmed or started by
   * (its keypoints check the reconstruction: Face.keypointDisagreement); null on other frames.
   */
  detections: (FaceBox | null)[];
  /** The detector ran for this frame. */
  detected: boolean;
  /** Tracks dropped while planning (not confirmed by the detector). */
  lost: LostTrack[];
  /** Tracks lost earlier that this frame took up again (their ids are in `ids`). */
  rejoined: number[];
  /** Tracks lost earlier whose loss is now final: `rejoinFrames` passed without them coming back. */
  ended: number[];
}

interface Track {
  id: number;
  /** Frames since the track started. */
  age: number;
  /** The landmarks (68 × dims) of the last frame. */
  landmarks: Float32Array | null;
  dims: number;
  /** The crop for the next frame. */
  crop: CropTransform;
  /** The crop comes from a detector's box (not from landmarks). */
  fromDetector: boolean;
  /** The crop's smoother (null: crop smoothing off). */
  smoother: CropSmoother | null;
  /** The crop turns with the face's roll (from MIN_CROP_ROLL on, until the roll is back under half of it). */
  rolled: boolean;
  /** `rolled` before this frame's update (recrop decides again from it, with other landmarks of the same frame). */
  rolledBefore: boolean;
  /** How the detector's crop sat on the track's first landmarks (null: not yet, or framing 'landmarks'). */
  anchor: CropAnchor | null;
}

/** A lost track that a detection may still take up again (rejoinFrames). */
interface LostEntry {
  id: number;
  /** Its last crop. */
  square: CropSquare;
  /** The last frame (plan count) on which it may come back. */
  until: number;
}

export class FaceTracker {
  readonly options: Readonly<Required<TrackerOptions>>;
  private tracks: Track[] = [];
  /** Tracks lost within the last rejoinFrames frames, oldest first. */
  private recent: LostEntry[] = [];
  /** Frames planned so far. */
  private frame = 0;
  private nextId = 1;
  private sinceDetection = 0;
  private planned: { ids: number[]; crops: CropTransform[]; fromDetector: boolean[] } | null = null;

  constructor(options: TrackerOptions = {}) {
    const set = Object.fromEntries(Object.entries(optionsObject(options, 'tracker options')).filter(([, v]) => v !== undefined));
    this.options = Object.freeze({ ...DEFAULT_TRACKER, ...set });
    checkTrackerOptions(this.options);
  }

  /** The ids of the live tracks. */
  get trackIds(): number[] {
    return this.tracks.map((t) => t.id);
  }

  /** Whether the next frame needs the detector: no face is tracked, or a confirmation is due or asked for. */
  needsDetection(): boolean {
    const every = this.options.confirmEvery;
    // Frames 0, N, 2N, …: N − 1 tracked frames after each detection (it was N, so every N + 1).
    return this.tracks.length === 0 || this.confirmSoon || (this.options.rejoinFrames > 0 && this.recent.length > 0) || (every > 0 && this.sinceDetection >= every - 1);
  }

  /** The ids of the lost tracks that may still come back (rejoinFrames). */
  get rejoinableIds(): number[] {
    return this.recent.map((r) => r.id);
  }

  /** Keeps a lost track for rejoinFrames frames; a duplicate's loss is final at once (the older track goes on on its face). */
  private remember(track: Track, reason: LostReason, ended: number[]): void {
    if (reason === 'duplicate') ended.push(track.id);
    else this.recent.push({ id: track.id, square: track.crop.square, until: this.frame + this.options.rejoinFrames });
  }

  /**
   * Asks the detector to confirm the tracks on the next frame (a track that looks wrong, e.g. its
   * face's flip disagreement is high: a face that faded to black or left the picture while the
   * tracker held on to the background). The detector then keeps the tracks it finds and drops the others.
   */
  requestConfirmation(): void {
    if (this.tracks.length) this.confirmSoon = true;
  }

  private confirmSoon = false;

  /**
   * The frame just planned without the detector, planned again with its boxes (before update): a
   * track that looked wrong on this very frame (its face blank or its flip disagreement high) is
   * confirmed or dropped now, not on the next frame. The same frame: lost tracks' windows do not
   * move on. The plan's lost, ended and rejoined are this call's only (add the first plan's).
   */
  replan(detections: readonly FaceBox[], kind: BoxKind = 'blazeface'): TrackPlan {
    if (!this.planned) throw new Error('FaceTracker.replan called without a plan');
    this.frame--;
    return this.plan(detections, kind);
  }

  /**
   * The crops for the next frame. Pass the detector's boxes (and its kind, for the box → crop
   * rule) when it ran for this frame: tracks it does not confirm are dropped, and detections that
   * match no track start new ones (largest first, up to maxFaces).
   */
  plan(detections?: readonly FaceBox[] | null, kind: BoxKind = 'blazeface'): TrackPlan {
    const lost: LostTrack[] = [];
    const rejoined: number[] = [];
    const ended: number[] = this.endedLater.splice(0);
    this.frame++;
    // Lost tracks whose window has passed: their loss is final.
    this.recent = this.recent.filter((r) => {
      if (r.until >= this.frame) return true;
      ended.push(r.id);
      return false;
    });
    const detected = detections !== undefined && detections !== null;
    // The detection that confirmed or started each track on this frame.
    const matched = new Map<number, FaceBox>();
    if (detected) {
      this.sinceDetection = 0;
      this.confirmSoon = false;
      const crops = detections.map((d) => cropFromBox(d, kind));
      const used = new Set<number>();
      const kept: Track[] = [];
      for (const track of this.tracks) {
        const best = bestOverlap(track.crop.square, crops.map((c) => c.square), this.options.matchIou, used);
        if (best < 0) {
          lost.push({ id: track.id, reason: 'unconfirmed' });
          this.remember(track, 'unconfirmed', ended);
        } else {
          used.add(best);
          kept.push(track);
          matched.set(track.id, detections[best]);
        }
      }
      this.tracks = kept;
      crops.forEach((crop, j) => {
        if (used.has(j) || this.tracks.length >= this.options.maxFaces) return;
        // A track lost within rejoinFrames at this place goes on under its id (the best overlap).
        const back = bestOverlap(crop.square, this.recent.map((r) => r.square), this.options.matchIou);
        let id: number;
        if (back >= 0) {
          id = this.recent[back].id;
          this.recent.splice(back, 1);
          rejoined.push(id);
        } else {
          id = this.nextId++;
        }
        matched.set(id, detections[j]);
        this.tracks.push({ id, age: 0, landmarks: null, dims: 3, crop, fromDetector: true, smoother: this.newSmoother(), rolled: Boolean(crop.square.angle), rolledBefore: Boolean(crop.square.angle), anchor: null });
      });
      // In creation order (a track taken up again is older than the live ones after it): two tracks on one face keep the older.
      if (rejoined.length) this.tracks.sort((a, b) => a.id - b.id);
    } else {
      this.sinceDetection++;
    }
    const ids = this.tracks.map((t) => t.id);
    const crops = this.tracks.map((t) => t.crop);
    this.planned = { ids, crops, fromDetector: this.tracks.map((t) => t.fromDetector) };
    return { crops, ids, detections: ids.map((id) => matched.get(id) ?? null), detected, lost, rejoined, ended };
  }

  /** Tracks whose loss became final outside plan() (duplicates, rejoinFrames 0): reported by the next plan(). */
  private endedLater: number[] = [];

  /**
   * Takes the landmarks found in the planned crops (in plan order; 68 × dims each, image pixels)
   * and updates the tracks: each surviving track's next crop comes from its landmarks. Returns the
   * tracks lost in this frame; the others go on. `timeMs`: the frame's time (for the crop
   * smoothing's speed; default: 30 frames per second).
   */
  update(image: { width: number; height: number }, landmarks: readonly ArrayLike<number>[], dims: 2 | 3 = 3, timeMs?: number): LostTrack[] {
    const plan = this.planned;
    if (!plan) throw new Error('FaceTracker.update called without a plan');
    if (landmarks.length !== plan.ids.length) throw new RangeError(`expected landmarks for ${plan.ids.length} crops, got ${landmarks.length}`);
    this.planned = null;
    const lost: LostTrack[] = [];
    const next: Track[] = [];
    plan.ids.forEach((id, i) => {
      const track = this.tracks.find((t) => t.id === id);
      if (!track) return;
      // (a crop placed by the track's anchor is compared as the landmark square it was made from)
      const crop = plan.fromDetector[i] ? null : track.anchor ? anchoredSquare(plan.crops[i].square, inverseAnchor(track.anchor)) : plan.crops[i].square;
      const reason = this.check(image, landmarks[i], dims, crop);
      if (reason) {
        lost.push({ id, reason });
        this.remember(track, reason, this.endedLater);
        return;
      }
      track.landmarks = Float32Array.from(landmarks[i]);
      track.dims = dims;
      track.rolledBefore = track.rolled;
      // The first landmarks, found in the detector's crop, fix how later crops sit on the face.
      const square = this.landmarkSquare(track, track.landmarks, dims);
      if (plan.fromDetector[i] && this.options.framing === 'detector') track.anchor = cropAnchor(plan.crops[i].square, square);
      track.crop = this.nextCrop(track, placed(square, track.anchor), timeMs);
      track.fromDetector = false;
      track.age++;
      next.push(track);
    });
    // Two tracks on one face: keep the older (the list is in creation order).
    const kept: Track[] = [];
    for (const t of next) {
      if (kept.some((k) => squareIou(k.crop.square, t.crop.square) > Math.max(0.5, this.options.matchIou))) {
        lost.push({ id: t.id, reason: 'duplicate' });
        this.remember(t, 'duplicate', this.endedLater);
      } else kept.push(t);
    }
    this.tracks = kept;
    return lost;
  }

  /**
   * Moves a live track's next crop to other landmarks of the same frame (e.g. the stabilised
   * ones, so that a still face is cropped alike in every frame).
   */
  recrop(id: number, landmarks: ArrayLike<number>, dims: 2 | 3 = 3, timeMs?: number): void {
    const track = this.tracks.find((t) => t.id === id);
    if (!track) return;
    track.landmarks = Float32Array.from(landmarks);
    track.dims = dims;
    track.smoother?.undo();
    track.rolled = track.rolledBefore;
    track.crop = this.nextCrop(track, placed(this.landmarkSquare(track, track.landmarks, dims), track.anchor), timeMs);
    track.fromDetector = false;
  }

  private newSmoother(): CropSmoother | null {
    const o = this.options.cropSmoothing;
    return o === false ? null : new CropSmoother(o);
  }

  /**
   * The crop square of a track's landmarks: upright, or turned with the face once its roll reaches
   * MIN_CROP_ROLL (as a detected face's crop is), until the roll is back under half of that (a roll
   * near the threshold does not switch the crop back and forth).
   */
  private landmarkSquare(track: Track, landmarks: Float32Array, dims: number): CropSquare {
    const roll = landmarkRoll(landmarks, dims);
    const size = roll === null ? 0 : Math.abs(roll);
    track.rolled = roll !== null && (size >= MIN_CROP_ROLL || (track.rolled && size >= MIN_CROP_ROLL / 2));
    return track.rolled ? rolledSquareFromLandmarks(landmarks, dims, roll!) : squareFromLandmarks(landmarks, dims);
  }

  /** The track's next crop for a target crop (through its smoother, when on). */
  private nextCrop(track: Track, target: CropSquare, timeMs: number | undefined): CropTransform {
    return cropTransform(track.smoother ? track.smoother.update(target, timeMs) : target);
  }

  /**
   * Drops every track, and the lost ones that could have come back (the next frame runs the
   * detector; new faces get new ids). Returns the ids whose loss is now final: the live tracks,
   * those that could have come back, and those not yet reported as ended.
   */
  reset(): number[] {
    const ended = [...this.endedLater, ...this.recent.map((r) => r.id), ...this.tracks.map((t) => t.id)];
    this.endedLater = [];
    this.recent = [];
    this.tracks = [];
    this.planned = null;
    this.sinceDetection = 0;
    return ended;
  }

  private check(image: { width: number; height: number }, lm: ArrayLike<number>, dims: number, crop: CropSquare | null): LostReason | null {
    const o = this.options;
    // Not whole points: not landmarks (the crop from them would refuse them).
    if (lm.length % dims !== 0) return 'degenerate';
    const n = lm.length / dims;
    let inside = 0;
    for (let i = 0; i < n; i++) {
      const x = lm[i * dims], y = lm[i * dims + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) return 'degenerate';
      if (x >= 0 && y >= 0 && x <= image.width - 1 && y <= image.height - 1) inside++;
    }
    const size = faceSize(lm, dims);
    if (!(size >= o.minFaceSize) || size > o.maxFaceScale * Math.max(image.width, image.height)) return 'degenerate';
    if (inside < o.minInside * n) return 'left-frame';
    if (!crop) return null;
    // The crop was 1.6 × the previous face size around its centre (or a detector's equivalent).
    const prevSize = crop.side / 1.6;
    const [l, t, r, b] = landmarkBounds(lm, dims);
    const shift = Math.hypot((l + r) / 2 - crop.cx, (t + b) / 2 - crop.cy) / prevSize;
    const ratio = size / prevSize;
    if (shift > o.maxShift || ratio > o.maxScaleChange || ratio < 1 / o.maxScaleChange) return 'jump';
    return null;
  }
}

/**
 * Where a detector's crop sat on the square of the landmarks found in it: its side over theirs, and
 * its centre's offset from theirs in their sides, in the landmark square's own (turned) frame.
 */
export interface CropAnchor {
  scale: number;
  dx: number;
  dy: number;
}

/** The most an anchor corrects: a side ratio beyond 1 ± 20 %, an offset beyond 0.2 of the side is the first reconstruction's error, not the face's framing. */
const ANCHOR_SCALE = 1.2;
const ANCHOR_OFFSET = 0.2;

/** The anchor of a detector's crop square on the landmark square of the face found in it (clamped: ANCHOR_SCALE, ANCHOR_OFFSET). */
export function cropAnchor(detector: CropSquare, landmarks: CropSquare): CropAnchor {
  const a = landmarks.angle ?? 0;
  const c = Math.cos(a), s = Math.sin(a);
  const ex = (detector.cx - landmarks.cx) / landmarks.side, ey = (detector.cy - landmarks.cy) / landmarks.side;
  // Not finite (a degenerate square): no correction.
  const clamp = (v: number, lo: number, hi: number, none: number): number => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : none);
  return {
    scale: clamp(detector.side / landmarks.side, 1 / ANCHOR_SCALE, ANCHOR_SCALE, 1),
    dx: clamp(c * ex + s * ey, -ANCHOR_OFFSET, ANCHOR_OFFSET, 0),
    dy: clamp(-s * ex + c * ey, -ANCHOR_OFFSET, ANCHOR_OFFSET, 0),
  };
}

/** A landmark square placed as its anchor says: side × scale, centre moved by (dx, dy) of its side in its own frame. */
export function anchoredSquare(square: CropSquare, anchor: CropAnchor): CropSquare {
  const a = square.angle ?? 0;
  const c = Math.cos(a), s = Math.sin(a);
  const out: CropSquare = {
    cx: square.cx + square.side * (c * anchor.dx - s * anchor.dy),
    cy: square.cy + square.side * (s * anchor.dx + c * anchor.dy),
    side: square.side * anchor.scale,
  };
  if (square.angle !== undefined) out.angle = square.angle;
  return out;
}

/** A landmark square placed by a track's anchor (framing 'detector'), or as it is (none). */
function placed(square: CropSquare, anchor: CropAnchor | null): CropSquare {
  return anchor ? anchoredSquare(square, anchor) : square;
}

/** The anchor that undoes `anchor`: anchoredSquare(anchoredSquare(s, a), inverseAnchor(a)) is s. */
export function inverseAnchor(anchor: CropAnchor): CropAnchor {
  return { scale: 1 / anchor.scale, dx: -anchor.dx / anchor.scale, dy: -anchor.dy / anchor.scale };
}

/** The index of the square overlapping `target` most, by IoU ≥ `minIou` (−1: none), leaving out the indices in `skip`. */
function bestOverlap(target: CropSquare, squares: readonly CropSquare[], minIou: number, skip?: ReadonlySet<number>): number {
  let best = -1;
  let bestIou = minIou;
  squares.forEach((s, j) => {
    if (skip?.has(j)) return;
    const v = squareIou(target, s);
    if (v >= bestIou) {
      bestIou = v;
      best = j;
    }
  });
  return best;
}

/** Intersection over union of two crop squares. */
export function squareIou(a: CropSquare, b: CropSquare): number {
  const ix = Math.max(0, Math.min(a.cx + a.side / 2, b.cx + b.side / 2) - Math.max(a.cx - a.side / 2, b.cx - b.side / 2));
  const iy = Math.max(0, Math.min(a.cy + a.side / 2, b.cy + b.side / 2) - Math.max(a.cy - a.side / 2, b.cy - b.side / 2));
  const inter = ix * iy;
  const union = a.side * a.side + b.side * b.side - inter;
  return union > 0 ? inter / union : 0;
}
