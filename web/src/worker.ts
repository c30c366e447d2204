/**
 * The inference worker: the whole pipeline (detector, network, read-offs, tracking and
 * stabilisation, output files) runs here, so the page stays responsive. Requests are answered in
 * order, one reply each (protocol.ts).
 */
import {
  TrackAnimation,
  VideoTracker,
  buildOutputs,
  createPrnet,
  decimateFaceGrid,
  encodePng,
  faceSize,
  pickVertices,
  type BrowserPrnet,
  type Face,
  type OutputFormat,
  type RgbImage,
} from '../../src/browser.js';
import { MAX_RECORD_SECONDS, type ExportRequest, type FaceMessage, type FrameRequest, type InitRequest, type RecordRequest, type ResultReply, type WorkerReply, type WorkerRequest } from './protocol.js';

interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

let prnet: BrowserPrnet | null = null;
let video: VideoTracker | null = null;
/** The test-time flip the current VideoTracker runs with. */
let videoFlip = false;
/**
 * The latest results, newest last, by their frame's sequence number: the page keeps two frames in
 * flight, so the one it shows is often not the newest here; a download names the one shown.
 */
const recent: { seq: number; image: RgbImage; faces: Face[] }[] = [];
const RECENT = 3;

const EXPORTS: Record<ExportRequest['kind'], OutputFormat[]> = { obj: ['textured'], glb: ['glb'], json: ['json'] };

/** A recording in progress (RecordRequest): the frames kept, the track followed, the first frame's time (ms). */
let recording: { animation: TrackAnimation; trackId: number | null; t0: number | null; stopped?: 'limit' | 'loop' } | null = null;
/** The recorded GLB's grid step (as `prnet video`'s default: ~4,900 vertices). */
const RECORD_STEP = 3;

function startRecording(): void {
  if (!prnet) throw new Error('the worker is not initialised');
  const mesh = decimateFaceGrid(prnet.layout.faceIndex, prnet.layout.size, RECORD_STEP);
  const restShape = pickVertices(prnet.layout.canonical, mesh.vertexIds);
  // 120 frames/s at most over the time limit; the time limit ends it first at camera rates.
  recording = { animation: new TrackAnimation({ mesh, restShape, maxFrames: 120 * MAX_RECORD_SECONDS }), trackId: null, t0: null };
}

/**
 * Keeps this frame's recorded face (its track, else the largest face present); the recording's
 * state for the reply. Keys at a video file's own times (mediaTime: where the clip is), else at the
 * camera frames' times from the first recorded one.
 */
function recordFrame(faces: (Face & { trackId?: number })[], req: FrameRequest, image: RgbImage): NonNullable<ResultReply['recording']> {
  const r = recording!;
  const media = req.mediaTime !== undefined && Number.isFinite(req.mediaTime);
  const timeMs = media ? req.mediaTime! : req.time;
  let face = faces.find((f) => f.trackId === r.trackId);
  if (!face && faces.length) face = faces.reduce((a, b) => (faceSize(b.landmarks) > faceSize(a.landmarks) ? b : a));
  const { times } = r.animation;
  if (face && !r.stopped) {
    r.t0 ??= media ? 0 : timeMs;
    const t = (timeMs - r.t0) / 1000;
    if (times.length && t - times[0] > MAX_RECORD_SECONDS) r.stopped = 'limit';
    else if (r.animation.add(face, t, image)) r.trackId = face.trackId ?? null;
    // Not kept: past the frame limit, or not later than the last frame (a video gone back: its
    // loop or a seek ends the recording; a repeated time is skipped).
    else if (r.animation.truncated) r.stopped = 'limit';
    else if (media && t < times[times.length - 1]) r.stopped = 'loop';
  } else if (!face && r.t0 !== null && !r.stopped) {
    // No face on this frame: the last one kept ends here, and the GLB hides the face until the next.
    r.animation.absent((timeMs - r.t0) / 1000);
  }
  const n = times.length;
  const seconds = n ? times[n - 1] - times[0] : 0;
  return { frames: n, seconds, ...(r.stopped ? { stopped: r.stopped } : {}) };
}

function record(req: RecordRequest): [WorkerReply, Transferable[]] {
  if (req.action === 'start') startRecording();
  else if (req.action === 'stop' && recording?.animation.length) {
    const animation = recording.animation;
    recording = null; // also when writing fails: the frames are not kept on in the background
    const { bytes } = animation.write(req.stem ?? 'recording');
    return [{ type: 'files', files: [{ name: `${req.stem ?? 'recording'}.glb`, data: bytes }] }, [bytes.buffer as ArrayBuffer]];
  } else recording = null;
  return [{ type: 'files', files: [] }, []];
}

async function init(req: InitRequest): Promise<WorkerReply> {
  const t0 = performance.now();
  const url = (path: string): string => new URL(path, req.base).href;
  const wasmOnly = req.backends.every((b) => b === 'wasm');
  const build = req.ortBuild ?? (wasmOnly ? 'plain' : 'jsep');
  const suffix = build === 'plain' ? '' : '.jsep';
  prnet = await createPrnet({
    modelUrl: url(`models/prnet-${req.model}.safetensors`),
    layoutUrl: url('layout.safetensors'),
    wasmPaths: { mjs: url(`ort/ort-wasm-simd-threaded${suffix}.mjs`), wasm: url(`ort/ort-wasm-simd-threaded${suffix}.wasm`) },
    backends: req.backends,
    threads: req.threads,
    precision: req.precision,
    detector: { modelUrl: url('detector/blazeface-back-256.onnx') },
    // A photo's face lying sideways or upside down is turned upright (the camera's frames are
    // cropped by the tracker, which follows the face's roll from frame to frame).
    orientation: { modelUrl: url('detector/orientation.safetensors') },
  });
  video = new VideoTracker(prnet, { flip: videoFlip });
  const { config } = prnet.session;
  return {
    type: 'ready',
    backend: prnet.backend,
    threads: prnet.threads,
    crossOriginIsolated: self.crossOriginIsolated,
    model: req.model,
    precision: prnet.session.precision,
    ortBuild: build,
    modelName: prnet.modelMetadata.name ?? req.model,
    width: config.width,
    inputSize: config.inputSize,
    loadMs: performance.now() - t0,
    triangles: prnet.layout.triangles,
    vertexCount: prnet.layout.vertexCount,
    layoutSize: prnet.layout.size,
    faceIndex: prnet.layout.faceIndex,
  };
}

async function frame(req: FrameRequest): Promise<[WorkerReply, Transferable[]]> {
  if (!prnet || !video) throw new Error('the worker is not initialised');
  const t0 = performance.now();
  const data = new Uint8Array(req.rgb);
  if (data.length !== req.width * req.height * 3) throw new Error(`expected ${req.width}×${req.height}×3 RGB bytes, got ${data.length}`);
  const image: RgbImage = { width: req.width, height: req.height, data };
  let faces: (Face & { trackId?: number; still?: boolean })[];
  let timings;
  let detected = true;
  if (req.mode === 'still') {
    video.reset();
    const r = await prnet.reconstruct(image, { maxFaces: req.maxFaces, flip: req.flip });
    faces = r.faces;
    timings = { ...r.timings, stabilize: 0 };
  } else {
    if (video.stabilizing !== req.stabilize) video.setStabilize(req.stabilize);
    if (video.tracker.options.maxFaces !== req.maxFaces || videoFlip !== req.flip) {
      videoFlip = req.flip;
      // A new tracker numbers its tracks from 1 again: the recording takes up the largest face.
      if (recording) recording.trackId = null;
      video = new VideoTracker(prnet, { tracker: { maxFaces: req.maxFaces }, stabilize: req.stabilize, flip: req.flip });
    }
    const r = await video.process(image, req.time);
    faces = r.faces;
    timings = r.timings;
    detected = r.detected;
  }
  const recordingState = recording && req.mode === 'video' ? recordFrame(faces, req, image) : undefined;
  recent.push({ seq: req.seq, image, faces });
  if (recent.length > RECENT) recent.shift();
  const transfer: Transferable[] = [];
  const messages: FaceMessage[] = faces.map((f, i) => {
    const landmarks = f.landmarks.slice();
    const vertices = f.vertices.slice();
    transfer.push(landmarks.buffer, vertices.buffer);
    return {
      trackId: f.trackId ?? i + 1,
      box: { x: f.box.x, y: f.box.y, width: f.box.width, height: f.box.height },
      landmarks,
      vertices,
      yaw: f.pose.yaw,
      pitch: f.pose.pitch,
      roll: f.pose.roll,
      rotation: Array.from(f.pose.rotation),
      scale: f.pose.scale,
      translation: [...f.pose.translation],
      still: f.still ?? false,
      ...(f.flipDisagreement !== undefined ? { flipDisagreement: f.flipDisagreement } : {}),
      ...(f.keypointDisagreement !== undefined ? { keypointDisagreement: f.keypointDisagreement } : {}),
      ...(f.suspect !== undefined ? { suspect: f.suspect } : {}),
    };
  });
  const total = performance.now() - t0;
  return [{ type: 'result', faces: messages, timings: { detect: timings.detect, crop: timings.crop, network: timings.network, readoff: timings.readoff, stabilize: timings.stabilize, total }, detected, ...(recordingState ? { recording: recordingState } : {}) }, transfer];
}

async function exportFiles(req: ExportRequest): Promise<WorkerReply> {
  // The frame the page shows (by its sequence number): none when no longer held (never another
  // frame under its name); the newest when the page names none.
  const last = req.seq === undefined ? recent.at(-1) : recent.find((r) => r.seq === req.seq);
  if (!prnet || !last || !last.faces.length) return { type: 'files', files: [] };
  const formats = new Set<OutputFormat>(EXPORTS[req.kind]);
  const faces = last.faces.map((f, index) => ({ ...f, index }));
  const files = await buildOutputs(req.stem, last.image, faces, prnet.layout, formats, encodePng);
  return { type: 'files', files };
}

let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  const req = e.data;
  queue = queue.then(async () => {
    try {
      if (req.type === 'init') scope.postMessage(await init(req));
      else if (req.type === 'frame') {
        const [reply, transfer] = await frame(req);
        scope.postMessage(reply, transfer);
      } else if (req.type === 'export') scope.postMessage(await exportFiles(req));
      else if (req.type === 'record') {
        const [reply, transfer] = record(req);
        scope.postMessage(reply, transfer);
      }
      else {
        video?.reset();
        recording = null;
        scope.postMessage({ type: 'files', files: [] });
      }
    } catch (err) {
      scope.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  });
};
