/**
 * The frames of one tracked face, kept for its animated GLB: the decimated mesh of each frame, its
 * time, the first frame's colours and each frame's scale. `prnet video` keeps one per track; the
 * browser app records one from the camera. Pure (no I/O): `write` returns the file's bytes.
 */
import { sampleColors } from '../geometry/colors.js';
import type { RgbImage } from '../types.js';
import { pickVertices, writeAnimatedGlb, type DecimatedMesh, type FramePose } from './glb-animation.js';
import { boundingBox, mmPerPixel } from './mesh.js';

export interface TrackAnimationOptions {
  /** The GLB's mesh: decimateFaceGrid of the layout (shared by every track). */
  mesh: DecimatedMesh;
  /**
   * The canonical face at the mesh's vertices (pickVertices(layout.canonical, mesh.vertexIds)): the
   * head's pose then animates a node of its own (writeAnimatedGlb's restShape). Omitted: the whole
   * motion is in the shape keys.
   */
  restShape?: Float32Array;
  /** The most frames kept; later ones are left out and `truncated` set. */
  maxFrames: number;
}

/** What the written GLB holds (processVideo's `glb` without the track and the file). */
export interface TrackAnimationInfo {
  frames: number;
  bytes: number;
  vertices: number;
  truncated: boolean;
  /**
   * The file's frame: `units` ('m': life-size, from the track's median interpupillary distance;
   * 'px' when no scale could be read) per image pixel (`scale`), and the image point at its origin
   * (`origin`: the mean of the frames' bounding-box centres).
   */
  units: 'm' | 'px';
  scale: number;
  origin: [number, number, number];
  /** 'node': the head's motion is the NAME_head node's animation; 'mesh': in the shape keys. */
  pose: 'node' | 'mesh';
}

/** Seconds between a frame's end and the next kept frame's time from which the face counts as not seen between them. */
const GAP_S = 1e-3;

export class TrackAnimation {
  readonly frames: Float32Array[] = [];
  /** Each kept frame's time, seconds (increasing). */
  readonly times: number[] = [];
  /** Frames past maxFrames were left out. */
  truncated = false;
  /** When the last kept frame ends (its time + its duration), when its duration was given. */
  private end: number | undefined;
  /** Times between kept frames where the face was not seen (a frame's end before the next one's time). */
  private readonly gaps: [number, number][] = [];
  private colors: Float32Array | undefined;
  private readonly mmPerPx: number[] = [];
  /** Each kept frame's pose, while every frame came with one (else null: the GLB fits its own). */
  private poses: FramePose[] | null;

  constructor(private readonly options: TrackAnimationOptions) {
    if (!(Number.isInteger(options.maxFrames) && options.maxFrames >= 1)) throw new RangeError(`maxFrames must be a whole number ≥ 1, got ${String(options.maxFrames)}`);
    // The poses serve the head node only, which needs the rest shape.
    this.poses = options.restShape ? [] : null;
  }

  get length(): number {
    return this.frames.length;
  }

  /**
   * Keeps a frame of the face: its dense vertices (N×3, image pixels), 68 landmarks and (as the
   * pipeline gives it) pose, at `timeS` seconds; the first frame's colours are read from `image`.
   * With a pose on every frame the GLB's head node follows those poses exactly, else it fits its
   * own. `durationS`, the frame's duration (a video's; a camera's frames have none), makes the GLB
   * hold the last kept frame until it ends. Returns false when the frame is not kept: past
   * maxFrames (then `truncated`), or not later than the last frame kept (a looped or sought source
   * going back).
   */
  add(face: { vertices: Float32Array; landmarks: ArrayLike<number>; pose?: FramePose }, timeS: number, image?: RgbImage, durationS?: number): boolean {
    if (!(face && typeof face === 'object' && face.vertices instanceof Float32Array)) throw new TypeError('add(face, timeS, image?): face must be an object with vertices (Float32Array), landmarks and pose, as the pipeline gives it');
    const { vertices, landmarks, pose } = face;
    if (!Number.isFinite(timeS) || (this.times.length && !(timeS > this.times[this.times.length - 1]))) return false;
    if (this.frames.length >= this.options.maxFrames) {
      this.truncated = true;
      return false;
    }
    const picked = pickVertices(vertices, this.options.mesh.vertexIds);
    if (!this.colors && image) this.colors = sampleColors(image, picked);
    // The previous frame ended (its own duration) well before this one: the face was not seen between.
    if (this.end !== undefined && timeS - this.end > GAP_S && Math.fround(this.end) > Math.fround(this.times[this.times.length - 1])) this.gaps.push([this.end, timeS]);
    this.frames.push(picked);
    this.times.push(timeS);
    this.end = durationS !== undefined && Number.isFinite(durationS) && durationS > 0 ? timeS + durationS : undefined;
    this.mmPerPx.push(mmPerPixel(landmarks));
    if (pose && this.poses) this.poses.push({ rotation: Float64Array.from(pose.rotation), scale: pose.scale, translation: Float64Array.from(pose.translation) });
    else this.poses = null;
    return true;
  }

  /**
   * Says that the face was not seen at `timeS` (a live camera's frame without it: its frames have
   * no duration to end the last kept one): the last kept frame ends there, so a later frame opens
   * a gap in which the GLB hides the face, as a video's frame durations do. Ignored before the
   * first frame, at or before the last kept one, and after the last frame's own end.
   */
  absent(timeS: number): void {
    const last = this.times[this.times.length - 1];
    if (last === undefined || !Number.isFinite(timeS) || !(timeS > last)) return;
    if (this.end === undefined || timeS < this.end) this.end = timeS;
  }

  /**
   * The file's frame, as the photo GLB's: metres (glTF's unit) from the median millimetres per
   * pixel, so the face is life-size, and the origin at the mean of the frames' bounding-box centres,
   * so it moves about the origin where viewers look.
   */
  frame(): { units: 'm' | 'px'; scale: number; origin: [number, number, number] } {
    const origin: [number, number, number] = [0, 0, 0];
    const box = new Float64Array(6);
    for (const v of this.frames) {
      box.set([Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity]);
      boundingBox(v, box);
      for (let d = 0; d < 3; d++) origin[d] += (box[d] + box[3 + d]) / 2 / this.frames.length;
    }
    const mm = this.mmPerPx.filter((x) => Number.isFinite(x) && x > 0 && x < 1e6).sort((a, b) => a - b);
    // No readable eyes in any frame (not seen with a trained model): pixels.
    if (!mm.length) return { units: 'px', scale: 1, origin };
    return { units: 'm', scale: mm[mm.length >> 1] / 1000, origin };
  }

  /**
   * The animated GLB of the frames kept (RangeError when there are none). `clip`: the span of the
   * video the track belongs to, seconds; the face is hidden in it outside the times it was seen
   * (writeAnimatedGlb's clipStart and clipEnd; a bound past the track's own frames is moved to them).
   */
  write(name: string, clip: { start?: number; end?: number } = {}): { bytes: Uint8Array; info: TrackAnimationInfo } {
    if (!this.frames.length) throw new RangeError('no frames were kept: nothing to animate');
    const { mesh, restShape } = this.options;
    const frame = this.frame();
    const first = this.times[0];
    const last = this.end ?? this.times[this.times.length - 1];
    const clipStart = clip.start !== undefined && Number.isFinite(clip.start) ? Math.max(0, Math.min(clip.start, first)) : undefined;
    const clipEnd = clip.end !== undefined && Number.isFinite(clip.end) ? Math.max(clip.end, last) : undefined;
    const bytes = writeAnimatedGlb({ frames: this.frames, times: this.times, end: this.end, gaps: this.gaps, clipStart, clipEnd, triangles: mesh.triangles, colors: this.colors }, { ...frame, name, restShape, poses: this.poses ?? undefined });
    return {
      bytes,
      info: { frames: this.frames.length, bytes: bytes.byteLength, vertices: mesh.vertexIds.length, truncated: this.truncated, pose: restShape ? 'node' : 'mesh', ...frame },
    };
  }
}
