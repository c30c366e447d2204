/**
 * The video path: a video file → tracked, stabilised faces per frame → files.
 *
 *   probe (ffprobe) → decode (ffmpeg → rgb24 pipe) → VideoTracker (crop from the previous frame,
 *   detector when lost and every `detectEvery` frames, One-Euro with the still-face hold) →
 *   per frame: a JSON line, an overlay frame (ffmpeg ← rgb24 pipe → H.264), the largest face's
 *   decimated shape → at the end an animated GLB.
 *
 * Outputs (in `outDir`, NAME = the video's file name without extension):
 *   NAME.jsonl          one line per decoded frame: {frame, time, detected, faces: [...]}
 *   NAME_overlay.mp4    the video with landmarks, pose box and mesh drawn (H.264)
 *   NAME.glb            the largest tracked face animated at the video's frame rate
 *   NAME_track<ID>.glb  with glbTracks 'all': every other tracked face of at least half a second
 * Every file is written under a temporary name and renamed only when the run completes, so an
 * error or an interruption (AbortSignal; the CLI wires SIGINT to it) leaves no partial output.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { lstat, rm, writeFile } from 'node:fs/promises';
import { mkdirEach } from '../util/mkdir.js';
import { renameGroup, tempInTheWay, tempPath, writeFailure } from '../cli/atomic.js';
import { basename, extname, join } from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { decimateFaceGrid, pickVertices } from '../export/glb-animation.js';
import { TrackAnimation } from '../export/track-animation.js';
import { roundNumber, ROTATION_DECIMALS } from '../export/json.js';
import { firstLine, InputError, OutputError } from '../errors.js';
import { checkKnownKeys } from '../track/options.js';
import { MAX_SMOOTH } from '../geometry/index.js';
import type { Layout } from '../layout/index.js';
import type { Prnet, TestTimeOptions } from '../pipeline/prnet.js';
import { headCentre } from '../pipeline/face.js';
import { wireframeEdges } from '../pipeline/outputs.js';
import { faceStrokes, OverlayLayers, wireframeStep } from '../render/index.js';
import { faceSize, resolveStabilize, VideoTracker, type StabilizerOptions, type TrackedFace, type VideoFrameResult } from '../track/index.js';
import type { RgbImage } from '../types.js';
import { decodeFrames, muxAudio, probeVideo, VideoAbortError, VideoEncoder, type VideoInfo } from './ffmpeg.js';
import { removeStaleTrackGlbs } from './stale-tracks.js';

/** Test-time flip and smoothing (TestTimeOptions) default to the pipeline's, as for photos. */
export interface VideoRunOptions extends TestTimeOptions {
  /** Output folder (created). */
  outDir: string;
  /** File stem of the outputs (default: the input's name without extension). */
  name?: string;
  /** Temporal stabilisation (default on); false: raw per-frame results. */
  stabilize?: boolean | StabilizerOptions;
  /** Most faces tracked (default 4). */
  maxFaces?: number;
  /** Run the detector every this many frames to confirm tracks and find new faces (default 30; 0: only when lost). */
  detectEvery?: number;
  /** Process only the first frames. */
  maxFrames?: number;
  /** Most frames the animated GLB keeps of its track (default MAX_GLB_FRAMES: 10 minutes at 30 frames/s). */
  maxGlbFrames?: number;
  /** Which outputs (default all three). */
  outputs?: { jsonl?: boolean; overlay?: boolean; glb?: boolean };
  /** The overlay video carries the source's sound (its default audio stream, else the first that has sound; default true). */
  audio?: boolean;
  /**
   * Which tracks get an animated GLB: 'largest' (default: NAME.glb, the track with the largest sum
   * of face sizes) or 'all' (also NAME_track<ID>.glb for every other track of at least half a
   * second, each written when its track ends).
   */
  glbTracks?: 'largest' | 'all';
  /**
   * How the animated GLB carries the head's motion: 'node' (default: a NAME_track<ID>_head node keyed with the
   * head's pose, the shape keys holding the face in the head's frame) or 'mesh' (every frame's
   * whole shape in the shape keys, no head node: the files before stop 26).
   */
  glbPose?: 'node' | 'mesh';
  /** UV grid step of the animated GLB's mesh (default 3: ~4,900 vertices; 1: the full mesh). */
  glbStep?: number;
  /** Largest frame (pixels) accepted; default MAX_VIDEO_PIXELS. */
  maxPixels?: number;
  signal?: AbortSignal;
  /** Called once the video is probed, before the first frame. */
  onStart?: (info: VideoInfo) => void;
  /** Called after every frame (progress, measurements). */
  onFrame?: (frame: { index: number; timeMs: number; image: RgbImage; result: VideoFrameResult }, info: VideoInfo) => void;
}

export interface VideoRunResult {
  input: string;
  info: VideoInfo;
  /** Frames decoded and processed. */
  frames: number;
  /** Frames with at least one tracked face. */
  framesWithFaces: number;
  /** Frames with a face whose quality signals say it is likely wrong (Face.suspect; the JSONL's `suspect`). */
  suspectFrames: number;
  /** Distinct tracks over the video. */
  tracks: number;
  /** Frames on which the detector ran. */
  detectorFrames: number;
  /** Paths written. */
  files: string[];
  /** Track GLBs an earlier run of this video left in outDir (NAME_track<ID>.glb of tracks this run did not write), removed: their names. */
  removed: string[];
  /** The track animated in the GLB, its frames and the file's size (bytes). */
  glb?: {
    trackId: number; frames: number; bytes: number; vertices: number; truncated: boolean;
    /**
     * The file's frame: `units` ('m': life-size, from the track's median interpupillary distance;
     * 'px' when no scale could be read) per image pixel (`scale`), and the image point at its
     * origin (`origin`: the mean of the frames' bounding-box centres). Image pixels from the file's
     * x right, y up, z towards the viewer: x = ox + x'/s, y = oy − y'/s, z = oz + z'/s.
     */
    units: 'm' | 'px'; scale: number; origin: [number, number, number];
    /** 'node': the head's motion is the NAME_track<ID>_head node's animation (glbPose); 'mesh': in the shape keys. */
    pose: 'node' | 'mesh';
  };
  /** Every animated GLB written, the largest track's (`glb`) first, each with its path (glbTracks 'all': one per track). */
  glbs: (NonNullable<VideoRunResult['glb']> & { file: string })[];
  /** ffmpeg's complaint when the video ended early (e.g. a truncated file) or frames could not be decoded, else ''. */
  decodeError: string;
  /**
   * With decodeError: whether the frames stopped short of the stream's end (a truncated file), as
   * against frames lost on the way (corrupt data) with the later ones decoded at their own times.
   * False when the run stopped at maxFrames, and when the container does not say where the stream
   * ends (a raw .h264 stream: `info.videoEnd` 0), where the two cannot be told apart.
   */
  endedEarly: boolean;
  /** With decodeError at a constant rate and not ended early: about how many frames were not decoded (from the frames' times). */
  framesLost?: number;
  /** The overlay's sound: its codec, whether the source's was copied as it is (else re-encoded to AAC), and the source stream's index. Absent when the overlay is silent. */
  audio?: { codec: string; copied: boolean; index: number };
  /** Why the overlay is silent although the source has sound (ffmpeg could not add it; the overlay is written without), else ''. */
  audioError: string;
  /**
   * Seconds of the overlay's timeline left out where a gap between two frames' times was longer
   * than MAX_FRAME_SHOW_S (a broken timestamp): after it the overlay shows each frame that much
   * before its time, its picture running ahead of its sound. 0 when nothing was cut.
   */
  overlayCutS: number;
  /** The overlay video's constant frame rate (overlayRate): the source's average rate, or for a variable-rate source mostly its base rate, its frames repeated or left out to keep their times. */
  overlayFps?: number;
  /** Wall seconds and frames per second of the frame loop (decode, network, drawing, encoding). */
  seconds: number;
  fps: number;
  /** Total milliseconds per stage over the run: waiting for the decoder, the pipeline stages, the JSON line and GLB shape (outputs), drawing the overlay, waiting for the encoder. */
  timings: { decode: number; detect: number; crop: number; network: number; readoff: number; stabilize: number; outputs: number; overlay: number; encode: number };
}

interface TrackShapes {
  /** The frames kept for the track's GLB. */
  animation: TrackAnimation;
  /** Sum of face sizes over the frames kept: the largest face over time. */
  weight: number;
  /** Frames the track was seen on (kept or not). */
  seen: number;
}

/** An animated GLB as the result describes it. */
type GlbInfo = NonNullable<VideoRunResult['glb']>;

/**
 * The most frames an animated GLB holds (10 minutes at 30 frames/s). Each kept frame costs its
 * vertices in memory until the end (57 KiB at the default grid step; 0.5 MiB at step 1), so an
 * hour-long clip took about 6 GiB per tracked face; the file itself grows ~0.65 MB a second.
 * Later frames of the track are left out of the GLB (the JSONL and overlay have every frame).
 */
export const MAX_GLB_FRAMES = 18_000;

/**
 * The largest animated GLB, in bytes: a GLB's length field is 32 bits (4 GiB), and a 2 GiB file is
 * already more than Blender or three.js load comfortably. Each frame costs its morph target (8 bytes
 * a vertex), a share of its segment's own rest shape and normals (a segment per 240 frames) and its
 * keys: 357 kB at grid step 1, where MAX_GLB_FRAMES would make 6.4 GB. The frames kept are capped
 * so that the file stays under it.
 */
export const MAX_GLB_BYTES = 2 ** 31;

/** Bytes one frame adds to an animated GLB of `vertices` vertices, at most (measured: 8.14·n at step 1, 8.19·n at step 3). */
export function glbFrameBytes(vertices: number): number {
  return 8.2 * vertices + 512;
}

/** The most frames a GLB of `vertices` vertices keeps within MAX_GLB_BYTES (and a margin for its fixed part: rest shape, UVs, colours, indices, the JSON). */
export function glbFrameLimit(vertices: number, maxFrames = MAX_GLB_FRAMES): number {
  const fixed = 64 * vertices + (1 << 20);
  return Math.max(1, Math.min(maxFrames, Math.floor((MAX_GLB_BYTES - fixed) / glbFrameBytes(vertices))));
}

/**
 * The longest one frame of a variable-rate video is shown on the overlay, in seconds: a longer gap
 * to the next frame's time (a broken timestamp hours ahead, or a very long still) is cut to this,
 * rather than writing its frame over and over (an hour at 30 frames/s is 108,000 frames), and the
 * overlay is that much shorter (after the cut its picture runs ahead of its sound).
 */
export const MAX_FRAME_SHOW_S = 60;

const now = (): number => performance.now();

/**
 * The run's numeric options, checked before the video is probed or the folder made (RangeError
 * naming the option): maxFaces, maxFrames, glbStep, maxPixels whole numbers ≥ 1, detectEvery ≥ 0,
 * smooth 0 to MAX_SMOOTH.
 */
/** The options processVideo knows (VideoRunOptions' keys): a misspelt one (`maxFrame`) had been ignored, the whole clip processed. */
const RUN_OPTIONS: readonly (keyof VideoRunOptions)[] = ['outDir', 'name', 'stabilize', 'maxFaces', 'detectEvery', 'maxFrames', 'maxGlbFrames', 'outputs', 'audio', 'glbTracks', 'glbPose', 'glbStep', 'maxPixels', 'signal', 'onStart', 'onFrame', 'flip', 'smooth'];

function checkRunOptions(options: VideoRunOptions): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new RangeError('processVideo needs an options object with outDir');
  checkKnownKeys(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)), RUN_OPTIONS, 'processVideo option', { stabilise: 'stabilize' });
  const o0 = options.outputs;
  if (o0 && typeof o0 === 'object') checkKnownKeys(o0, ['jsonl', 'overlay', 'glb'], 'processVideo output');
  const whole = (v: number | undefined, name: string): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new RangeError(`${name} must be a whole number ≥ 1, got ${String(v)}`);
  };
  whole(options.maxFaces, 'maxFaces');
  if (options.detectEvery !== undefined && !(Number.isInteger(options.detectEvery) && options.detectEvery >= 0)) throw new RangeError(`detectEvery must be a whole number ≥ 0, got ${String(options.detectEvery)}`);
  whole(options.maxFrames, 'maxFrames');
  whole(options.glbStep, 'glbStep');
  whole(options.maxGlbFrames, 'maxGlbFrames');
  // Past 32 the grid has a few dozen vertices, and past 100 none (the GLB failed after the whole video).
  if (options.glbStep !== undefined && options.glbStep > MAX_GLB_STEP) throw new RangeError(`glbStep must be at most ${MAX_GLB_STEP}, got ${options.glbStep}`);
  whole(options.maxPixels, 'maxPixels');
  if (options.smooth !== undefined && !(options.smooth >= 0 && options.smooth <= MAX_SMOOTH)) throw new RangeError(`smooth must be a number from 0 to ${MAX_SMOOTH} (UV pixels), got ${String(options.smooth)}`);
  if (typeof options.outDir !== 'string' || !options.outDir) throw new RangeError('outDir must name the output folder');
  // The files' base name: a name with a folder in it would write outside outDir ('../x').
  if (options.name !== undefined && (typeof options.name !== 'string' || !options.name || /[/\\]/.test(options.name) || options.name === '.' || options.name === '..')) {
    throw new RangeError(`name must be a file name without folders, got ${JSON.stringify(options.name)}`);
  }
  const o = options.outputs;
  if (o !== undefined && (o === null || typeof o !== 'object' || Object.values(o).some((v) => v !== undefined && typeof v !== 'boolean'))) {
    throw new RangeError('outputs must be an object of booleans: { jsonl, overlay, glb }');
  }
  if (o && o.jsonl === false && o.overlay === false && o.glb === false) throw new RangeError('outputs: every output is off, nothing would be written');
  if (options.stabilize !== undefined) resolveStabilize(options.stabilize);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new RangeError('signal must be an AbortSignal');
  if (options.audio !== undefined && typeof options.audio !== 'boolean') throw new RangeError(`audio must be true or false, got ${String(options.audio)}`);
  if (options.glbTracks !== undefined && options.glbTracks !== 'largest' && options.glbTracks !== 'all') throw new RangeError(`glbTracks must be 'largest' or 'all', got ${JSON.stringify(options.glbTracks)}`);
  if (options.glbPose !== undefined && options.glbPose !== 'node' && options.glbPose !== 'mesh') throw new RangeError(`glbPose must be 'node' or 'mesh', got ${JSON.stringify(options.glbPose)}`);
}

/**
 * The overlay's constant rate: the source's average rate; for a variable rate, its base rate (the
 * finest regular rate its frames fall on, as a phone records at 30) when that is at least the
 * average: divided down to at most 60 frames/s where that keeps it at or above the average (120 →
 * 60, 90 → 45), else 60; unknown or below the average, the average. Either way at least 24
 * frames/s: a clip with long pauses has a tiny average (and base), at which most frames would be
 * left out.
 */
export function overlayRate(info: Pick<VideoInfo, 'fps' | 'baseFps' | 'variableRate'>): number {
  if (!info.variableRate) return info.fps;
  const base = info.baseFps ?? 0;
  let rate = info.fps;
  if (base > 0 && base >= info.fps) {
    const divided = base / Math.ceil(base / 60);
    rate = base <= 60 ? base : divided >= Math.min(info.fps, 60) ? divided : 60;
  }
  return Math.max(rate, 24);
}

/** The largest glbStep (UV pixels between the animated GLB's vertices): 40 vertices at 32. */
export const MAX_GLB_STEP = 32;

/** Runs the video path on one file (see the file comment). `prnet` is reused, not disposed. */
export async function processVideo(prnet: Prnet, input: string, options: VideoRunOptions): Promise<VideoRunResult> {
  checkRunOptions(options);
  if (!prnet.detector) throw new RangeError('processVideo needs a pipeline with a detector (one made without detector: false)');
  const info = await probeVideo(input, { maxPixels: options.maxPixels });
  options.onStart?.(info);
  const name = options.name ?? basename(input, extname(input));
  // each output on unless it is false (an `undefined` one is on, as when left out)
  const o = options.outputs ?? {};
  const want = { jsonl: o.jsonl !== false, overlay: o.overlay !== false, glb: o.glb !== false };
  const outDir = options.outDir;
  await mkdirEach(outDir).catch((e: unknown) => { throw outputError(e, outDir); });
  const final = { jsonl: join(outDir, `${name}.jsonl`), overlay: join(outDir, `${name}_overlay.mp4`), glb: join(outDir, `${name}.glb`) };
  // Named as the CLI's atomic writes name theirs (.prnet-<pid>-<tag>-<n>.<name>.tmp, unguessable to
  // others), so that a later run sweeps them up if this process is killed outright.
  const tmp = (path: string): string => tempPath(join(outDir, basename(path)));
  const temps = { jsonl: tmp(final.jsonl), overlay: tmp(final.overlay), glb: tmp(final.glb), withAudio: tmp(final.overlay) };

  const layout = prnet.layout;
  const video = new VideoTracker(prnet, {
    stabilize: options.stabilize ?? true,
    flip: options.flip,
    smooth: options.smooth,
    tracker: { maxFaces: options.maxFaces, confirmEvery: options.detectEvery },
  });
  const glbMesh = want.glb ? decimateFaceGrid(layout.faceIndex, layout.size, options.glbStep ?? 3) : null;
  // The head node's rest shape: the canonical face at the GLB's vertices.
  const restShape = glbMesh && options.glbPose !== 'mesh' ? pickVertices(layout.canonical, glbMesh.vertexIds) : undefined;
  const maxGlbFrames = glbMesh ? glbFrameLimit(glbMesh.vertexIds.length, options.maxGlbFrames ?? MAX_GLB_FRAMES) : 1;
  const allTracks = options.glbTracks === 'all';
  /** The other tracks' GLBs (glbTracks 'all'): written under these temporary names, removed on failure. */
  const trackTemps: string[] = [];
  /** Tracks whose GLB was written when they ended (glbTracks 'all'): their weight, file and description. */
  const early = new Map<number, { weight: number; temp: string; glb: GlbInfo }>();
  // Every GLB of the video spans it (times from its first frame, 0): a face is hidden before its
  // track starts and after it ends. A track's GLB written before the video's end (glbTracks 'all')
  // takes the end the probe expects, and then so do the others, so that they all play in step.
  let clipEndS: number | undefined;
  const expectedEndS = ((): number | undefined => {
    const whole = info.frameCount > 0 && info.fps > 0 ? info.frameCount / info.fps : info.duration;
    const most = options.maxFrames !== undefined && info.fps > 0 ? options.maxFrames / info.fps : Infinity;
    const e = Math.min(whole, most);
    return Number.isFinite(e) && e > 0 ? e : undefined;
  })();
  const writeTrackGlb = async (trackId: number, s: TrackShapes, temp: string, file: string, beforeEnd = false): Promise<GlbInfo> => {
    const { bytes, info } = s.animation.write(`${name}_track${trackId}`, { start: 0, end: beforeEnd || early.size > 0 ? expectedEndS : clipEndS });
    // exclusive, as every temporary file of ours: a file or link already at the name is not written through
    await writeFile(temp, bytes, { flag: 'wx' }).catch((e: unknown) => { throw outputError(e, file); });
    return { trackId, ...info };
  };
  const shapes = new Map<number, TrackShapes>();
  /** Tracks that have ended and still hold their GLB frames (the heaviest so far). */
  const ended = new Set<number>();
  const trackIds = new Set<number>();
  const timings = { decode: 0, detect: 0, crop: 0, network: 0, readoff: 0, stabilize: 0, outputs: 0, overlay: 0, encode: 0 };
  let jsonl: WriteStream | null = null;
  let encoder: VideoEncoder | null = null;
  let frames = 0;
  let framesWithFaces = 0;
  let suspectFrames = 0;
  let detectorFrames = 0;
  const start = now();
  const { frames: decoded, report } = decodeFrames(input, info, { maxFrames: options.maxFrames, signal: options.signal });
  // An abort also stops the encoder: a frame shown for a long gap is written many times, and
  // write() would wait for ffmpeg to take them all.
  const onAbort = (): void => void encoder?.kill().catch(() => undefined);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (want.jsonl) {
      jsonl = createWriteStream(temps.jsonl, { flags: 'wx' });
      // A lasting listener: a write error (a full disk) was an unhandled 'error' event (the CLI
      // died with a stack) or, once the stream had closed, a wait for 'drain' that never ended.
      jsonl.on('error', () => undefined);
      await once(jsonl, 'open').catch((e: unknown) => { throw outputError(e, final.jsonl); });
    }
    // The source's frames are repeated or left out on the overlay's constant rate, so that each
    // shows at its own time (and in step with the sound): a variable rate, a gap where frames could
    // not be decoded, a container that misstates its rate.
    const overlayFps = overlayRate(info);
    if (want.overlay) encoder = new VideoEncoder(temps.overlay, info.width, info.height, { fps: overlayFps, name: final.overlay, overwrite: false });
    const overlay = want.overlay ? new VideoOverlay(info.width, info.height, layout) : null;
    /** Output frames left out of the overlay where a gap between two frames' times was cut short. */
    let cutSlots = 0;
    let waited = now();
    for await (const { index, timeMs, durationMs, image } of decoded) {
      timings.decode += now() - waited;
      if (options.signal?.aborted) throw new VideoAbortError('interrupted', input, { cause: options.signal.reason });
      clipEndS = Math.max(clipEndS ?? 0, (timeMs + durationMs) / 1000);
      const result = await video.process(image, timeMs);
      const tOut = now();
      frames++;
      if (result.detected) detectorFrames++;
      if (result.faces.length) framesWithFaces++;
      if (result.faces.some((f) => f.suspect)) suspectFrames++;
      for (const k of ['detect', 'crop', 'network', 'readoff', 'stabilize'] as const) timings[k] += result.timings[k];
      for (const face of result.faces) trackIds.add(face.trackId);
      if (jsonl) {
        if (jsonl.errored) throw outputError(jsonl.errored, final.jsonl);
        if (!jsonl.write(frameLine(index, timeMs, result, layout))) await drained(jsonl, final.jsonl);
      }
      if (glbMesh) {
        for (const face of result.faces) {
          let s = shapes.get(face.trackId);
          if (s) s.seen++;
          else {
            s = { animation: new TrackAnimation({ mesh: glbMesh, restShape, maxFrames: maxGlbFrames }), weight: 0, seen: 1 };
            shapes.set(face.trackId, s);
          }
          if (s.animation.add(face, timeMs / 1000, image, durationMs / 1000)) s.weight += faceSize(face.landmarks);
        }
        // A track that has ended keeps its weight: once another track weighs more it can never be
        // the one animated, and its frames are let go (they were all kept to the end). With every
        // track animated, an ended track long enough for its own GLB is written at once and its
        // frames let go; a shorter one is kept while it may still be the largest.
        // (a lost track may still come back under its id: ended once that cannot happen)
        for (const id of result.ended) ended.add(id);
        if (allTracks) {
          for (const id of ended) {
            const s = shapes.get(id);
            if (!s || s.seen < minTrackFrames(info)) continue;
            const file = join(outDir, `${name}_track${id}.glb`);
            const temp = tmp(file);
            trackTemps.push(temp);
            early.set(id, { weight: s.weight, temp, glb: await writeTrackGlb(id, s, temp, file, true) });
            shapes.delete(id);
            ended.delete(id);
          }
        }
        if (ended.size) {
          let heaviest = 0;
          for (const s of shapes.values()) heaviest = Math.max(heaviest, s.weight);
          for (const e of early.values()) heaviest = Math.max(heaviest, e.weight);
          for (const id of ended) {
            const s = shapes.get(id);
            if (!s || s.weight < heaviest) {
              shapes.delete(id);
              ended.delete(id);
            }
          }
        }
      }
      timings.outputs += now() - tOut;
      // The output frames this one covers: up to the next frame's time on the overlay's rate, at
      // most MAX_FRAME_SHOW_S (a longer gap is cut short, and the later frames move up by the rest).
      let repeat = 1;
      if (encoder) {
        repeat = Math.max(0, Math.round(((timeMs + durationMs) * overlayFps) / 1000) - cutSlots - encoder.frames);
        const most = Math.ceil(MAX_FRAME_SHOW_S * overlayFps);
        if (repeat > most) {
          cutSlots += repeat - most;
          repeat = most;
        }
      }
      if (encoder && overlay && repeat > 0) {
        let t = now();
        const drawn = overlay.draw(image, result.faces);
        timings.overlay += now() - t;
        t = now();
        await encoder.write(drawn, repeat);
        timings.encode += now() - t;
      }
      options.onFrame?.({ index, timeMs, image, result }, info);
      waited = now();
    }
    if (options.signal?.aborted) throw new VideoAbortError('interrupted', input, { cause: options.signal.reason });
    if (frames === 0) {
      throw new InputError(report.error ? `no frame could be decoded (${report.error})` : 'the video has no frames', input);
    }
    const files: string[] = [];
    const staged: [string, string][] = [];
    if (jsonl) {
      jsonl.end();
      await finished(jsonl).catch((e: unknown) => { throw outputError(e, final.jsonl); });
      jsonl = null;
      staged.push([temps.jsonl, final.jsonl]);
    }
    let audio: VideoRunResult['audio'];
    let audioError = '';
    if (encoder) {
      const t = now();
      await encoder.finish();
      const durationS = encoder.frames / overlayFps;
      encoder = null;
      let overlayFile = temps.overlay;
      if (options.audio !== false && info.audio && durationS > 0) {
        try {
          audio = await muxAudio(temps.overlay, input, info, temps.withAudio, { durationS, startS: report.startMs !== undefined ? report.startMs / 1000 : undefined, signal: options.signal, overwrite: false });
          overlayFile = temps.withAudio;
          await rm(temps.overlay, { force: true });
        } catch (e) {
          // No sound is not lost output: the overlay is kept silent, and the result says why.
          if (options.signal?.aborted) throw new VideoAbortError('interrupted', input, { cause: options.signal.reason });
          if (!(e instanceof OutputError)) throw e;
          audioError = e.message;
          await rm(temps.withAudio, { force: true });
        }
      }
      timings.encode += now() - t;
      staged.push([overlayFile, final.overlay]);
    }
    let glb: VideoRunResult['glb'];
    const glbs: VideoRunResult['glbs'] = [];
    if (glbMesh) {
      // The largest track (in memory or written already) as NAME.glb; with every track, the others
      // of at least half a second, by ID, as NAME_track<ID>.glb.
      let bestId: number | null = null;
      let bestWeight = -Infinity;
      for (const [id, s] of shapes) if (s.weight > bestWeight) [bestId, bestWeight] = [id, s.weight];
      for (const [id, e] of early) if (e.weight > bestWeight) [bestId, bestWeight] = [id, e.weight];
      const ids = bestId === null ? [] : [bestId, ...(allTracks ? [...early.keys(), ...[...shapes].filter(([, t]) => t.seen >= minTrackFrames(info)).map(([id]) => id)].filter((id) => id !== bestId).sort((a, b) => a - b) : [])];
      for (const [k, trackId] of ids.entries()) {
        const file = k === 0 ? final.glb : join(outDir, `${name}_track${trackId}.glb`);
        const done = early.get(trackId);
        let written: GlbInfo;
        if (done) {
          written = done.glb;
          staged.push([done.temp, file]);
        } else {
          const temp = k === 0 ? temps.glb : tmp(file);
          if (k > 0) trackTemps.push(temp);
          written = await writeTrackGlb(trackId, shapes.get(trackId)!, temp, file);
          staged.push([temp, file]);
          shapes.delete(trackId); // written: its frames can go
        }
        if (k === 0) glb = written;
        glbs.push({ ...written, file });
      }
    }
    if (options.signal?.aborted) throw new VideoAbortError('interrupted', input, { cause: options.signal.reason });
    // The outputs go into place together or not at all (as the CLI's photo outputs): a folder in
    // the way of one is found before any is renamed, and a rename that fails anyway takes back
    // the ones before it, so a failed run leaves no part of its outputs.
    for (const [, to] of staged) {
      if ((await lstat(to).catch(() => null))?.isDirectory()) throw outputError(Object.assign(new Error(`EISDIR: ${to}`), { code: 'EISDIR' }), to);
    }
    // (An earlier run's file at a name is put back as it was: a failed rerun had removed its JSONL
    // and overlay with this run's.)
    await renameGroup(staged.map(([tmp, path]) => ({ tmp, path })), (e, to) => outputError(e, to));
    files.push(...staged.map(([, to]) => to));
    // With this run's GLBs in place, an earlier run's track GLBs of tracks it did not find would
    // pass for this run's.
    const removed = want.glb ? await removeStaleTrackGlbs(outDir, name, new Set(files)) : [];
    const seconds = (now() - start) / 1000;
    // Did the frames reach the stream's end (within 3 frames; both from the file's start)? If so,
    // what ffmpeg complained of was frames lost on the way, not a file cut short.
    const frameMs = 1000 / info.fps;
    const lastFromStart = (report.startMs ?? 1000 * (info.videoStart ?? 0)) + (report.lastMs ?? 0);
    // (Not when the run stopped at maxFrames, nor when the stream's end is unknown: a raw stream
    // with a corrupt stretch mid-file, decoded to its end, read as cut short.)
    const capped = options.maxFrames !== undefined && frames >= options.maxFrames;
    const endedEarly = Boolean(report.error) && !capped && (info.videoEnd ?? 0) > 0 && 1000 * (info.videoEnd ?? 0) - lastFromStart > 3 * frameMs;
    // Frames missing between the first decoded and the last (at the stream's rate; frames before
    // the first decoded one count too).
    const lostBefore = Math.max(0, Math.round(((report.startMs ?? 0) - 1000 * (info.videoStart ?? 0)) / frameMs));
    const framesLost = report.error && !endedEarly && !info.variableRate ? Math.max(0, Math.round((report.lastMs ?? 0) / frameMs) + 1 - frames) + lostBefore : undefined;
    return {
      input, info, frames, framesWithFaces, suspectFrames, tracks: trackIds.size, detectorFrames, files, removed, glb, glbs,
      decodeError: report.error, endedEarly, framesLost, audio, audioError, overlayFps: want.overlay ? overlayFps : undefined, overlayCutS: want.overlay ? cutSlots / overlayFps : 0, seconds, fps: frames / seconds, timings,
    };
  } catch (e) {
    // Stop the decoder (the generator's finally kills ffmpeg) and the encoder, drop temporaries.
    await decoded.return(undefined).catch(() => undefined);
    await encoder?.kill().catch(() => undefined);
    if (jsonl) {
      jsonl.destroy();
      // finished, not once('close'): the stream may have closed already (after a write error)
      await finished(jsonl).catch(() => undefined);
    }
    await Promise.all([...Object.values(temps), ...trackTemps].map((p) => rm(p, { force: true }).catch(() => undefined)));
    // The encoder stopped by an abort fails its write: the abort is the cause.
    if (options.signal?.aborted && !(e instanceof VideoAbortError)) throw new VideoAbortError('interrupted', input, { cause: options.signal.reason });
    throw e;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** The fewest frames a track needs for its own GLB with glbTracks 'all': half a second, at least 2. */
function minTrackFrames(info: VideoInfo): number {
  return Math.max(2, Math.round(info.fps / 2));
}

/** Until a stream wants more data; an OutputError when it fails or closes first (checked now too). */
function drained(stream: WriteStream, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (e?: unknown): void => {
      stream.off('drain', onDrain).off('error', done).off('close', onClose);
      if (e === undefined) resolve();
      else reject(outputError(e, path));
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(stream.errored ?? new Error('the file was closed'));
    if (stream.errored || stream.closed || stream.destroyed) return onClose();
    stream.once('drain', onDrain).once('error', done).once('close', onClose);
  });
}

function outputError(e: unknown, path: string): OutputError {
  if (e instanceof OutputError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  // (only a temporary file is created exclusively: something was put at its name)
  if (code === 'EEXIST') return new OutputError(`cannot write (${tempInTheWay(String((e as NodeJS.ErrnoException).path ?? ''))})`, path, { cause: e });
  // the photo path's words for the causes it knows (a folder in the way, a full disk…), else the code
  const said = writeFailure(e);
  const known = code !== undefined && said !== firstLine(e);
  return new OutputError(`cannot write (${known ? said : (code ?? (e instanceof Error ? e.message : String(e)))})`, path, { cause: e });
}

/** A number as JSON keeps it (NaN and infinities as null, as JSON.stringify writes them). */
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** One frame's JSON line (numbers rounded to 3 decimals; the rotation to 6, as the photo JSON's; the quality signals as they are). */
export function frameLine(index: number, timeMs: number, result: VideoFrameResult, layout: Pick<Layout, 'canonical'>): string {
  const r = (x: number): number | null => roundNumber(x);
  const r6 = (x: number): number | null => roundNumber(x, ROTATION_DECIMALS);
  const faces = result.faces.map((f) => {
    const lm = f.landmarks;
    const l2: (number | null)[][] = [];
    const l3: (number | null)[][] = [];
    for (let i = 0; i < lm.length / 3; i++) {
      l2.push([r(lm[3 * i]), r(lm[3 * i + 1])]);
      l3.push([r(lm[3 * i]), r(lm[3 * i + 1]), r(lm[3 * i + 2])]);
    }
    const p = f.pose;
    return {
      track: f.trackId,
      still: f.still,
      box: { x: r(f.box.x), y: r(f.box.y), width: r(f.box.width), height: r(f.box.height), score: r(f.box.score) },
      landmarks: { '2d': l2, '3d': l3 },
      pose: {
        yaw: r(p.yaw), pitch: r(p.pitch), roll: r(p.roll),
        rotation: Array.from(p.rotation, r6), scale: r(p.scale), translation: Array.from(p.translation, r),
        center: headCentre(p, layout).map(r),
      },
      // The signals unrounded (as the photo JSON's): rounded, 0.1004 read 0.1 beside "suspect": true.
      ...(f.flipDisagreement !== undefined ? { flipDisagreement: finite(f.flipDisagreement) } : {}),
      ...(f.keypointDisagreement !== undefined ? { keypointDisagreement: finite(f.keypointDisagreement) } : {}),
      ...(f.suspect !== undefined ? { suspect: f.suspect } : {}),
      inImage: r(f.inImage),
    };
  });
  return JSON.stringify({ frame: index, time: r(timeMs / 1000), detected: result.detected, faces }) + '\n';
}

/** The mesh style of the overlay video. */
const OVERLAY_STYLE = { mesh: { alpha: 0.35 } } as const;

/**
 * The overlay frames of a video: each face's mesh wireframe (one grid line every ~6 image
 * pixels, as the photo overlays), pose box and 68 landmarks, painted into reusable layers
 * (render/overlay.ts: OverlayLayers) and blended into a copy of the frame once.
 */
export class VideoOverlay {
  private readonly layers: OverlayLayers;

  constructor(width: number, height: number, private readonly layout: Layout) {
    this.layers = new OverlayLayers(width, height, OVERLAY_STYLE);
  }

  /** A copy of the frame with the faces drawn. */
  draw(image: RgbImage, faces: readonly TrackedFace[]): RgbImage {
    const layers = this.layers;
    for (const face of faces) {
      const side = face.crop.square.side;
      const strokes = faceStrokes(image, side);
      layers.mesh(face.vertices, wireframeEdges(this.layout, wireframeStep(side, this.layout.size, strokes.mesh, 6)), 3, strokes.mesh);
      layers.poseBox(face.pose.rotation, face.pose.scale, face.pose.translation, { landmarks: face.landmarks, dims: 3 }, strokes.box);
      layers.landmarks(face.landmarks, 3, { radius: strokes.radius, thickness: strokes.lines });
    }
    return layers.composite({ width: image.width, height: image.height, data: new Uint8Array(image.data) });
  }
}

/** The frame with each face's mesh wireframe, pose box and landmarks drawn (one frame; VideoOverlay for a stream). */
export function drawOverlay(image: RgbImage, faces: readonly TrackedFace[], layout: Layout): RgbImage {
  return new VideoOverlay(image.width, image.height, layout).draw(image, faces);
}
