/**
 * The app's page: picks the runtime, feeds frames from the chosen source to the worker one at a
 * time, and shows each result (frame + overlays, 3D view, numbers) when it arrives, so overlays
 * always match the frame they were computed on.
 */
import { saveFiles } from './downloads.js';
import { Engine } from './engine.js';
import { drawOverlays, gridEdges, type OverlayOptions } from './overlay.js';
import type { FaceMessage, FrameTimings, ModelName, ReadyReply, ResultReply } from './protocol.js';
import { chooseRuntime, parseThreads } from './runtime-choice.js';
import { FrameGrabber, openCamera, openFile, type FrameSource } from './sources.js';
import { Stats } from './stats.js';
import { FaceViewer } from './viewer.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};

const params = new URLSearchParams(location.search);
const base = new URL('./', document.baseURI).href;
/** Texel step of the mesh wireframe overlay (1 = every grid edge). */
const MESH_STEP = Math.max(1, Number(params.get('meshStep')) || 3);

const ui = {
  status: $('status'),
  runtime: $('runtime'),
  camera: $<HTMLButtonElement>('camera'),
  file: $<HTMLInputElement>('file'),
  stop: $<HTMLButtonElement>('stop'),
  model: $<HTMLSelectElement>('model'),
  maxFaces: $<HTMLSelectElement>('max-faces'),
  stage: $('stage'),
  hint: $('hint'),
  input: $<HTMLCanvasElement>('input'),
  overlay: $<HTMLCanvasElement>('overlay'),
  landmarks: $<HTMLInputElement>('show-landmarks'),
  pose: $<HTMLInputElement>('show-pose'),
  mesh: $<HTMLInputElement>('show-mesh'),
  stabilize: $<HTMLInputElement>('stabilize'),
  flip: $<HTMLInputElement>('flip'),
  show3d: $<HTMLInputElement>('show-3d'),
  view3d: $('view3d'),
  fit: $<HTMLButtonElement>('fit'),
  dlObj: $<HTMLButtonElement>('dl-obj'),
  dlGlb: $<HTMLButtonElement>('dl-glb'),
  dlJson: $<HTMLButtonElement>('dl-json'),
  rec: $<HTMLButtonElement>('rec'),
  fps: $('fps'),
  stages: $('stages'),
  poses: $('poses'),
};

const inputCtx = ui.input.getContext('2d') as CanvasRenderingContext2D;
const overlayCtx = ui.overlay.getContext('2d') as CanvasRenderingContext2D;
const grabber = new FrameGrabber();
const stats = new Stats();

let engine: Engine | null = null;
let ready: ReadyReply | null = null;
let edges: Uint32Array = new Uint32Array(0);
let viewer: FaceViewer | null = null;
let source: FrameSource | null = null;
/** The last source opened: after Stop its faces stay, and their downloads are named after it. */
let lastSourceName: string | null = null;
/** The recording's save in progress (saveRecording waits for it rather than starting another or returning at once). */
let savingRecording: Promise<void> | null = null;
let loopToken = 0;
/** Bumped by each source opened and by Stop: an open that finishes after a newer one (or a Stop) is closed. */
let sourceGeneration = 0;
/** Bumped by each model start: a load that finishes after a newer one is discarded. */
let engineGeneration = 0;
/** The engine whose model is loading, if any (terminated when a newer start begins). */
let loading: Engine | null = null;
let faces: FaceMessage[] = [];
/** A recording of the face's motion is running in the worker (Record … Save recording). */
let recordingOn = false;
/** The name of the source being recorded (the file's stem). */
let recordedName = 'camera';
/** A start or save of the recording is on its way to the worker. */
let recordBusy = false;
/** The sequence number (FrameRequest.seq) of the frame whose faces are shown: downloads export that frame. */
let shownSeq: number | undefined;
let frameSeq = 0;
let lastViewerUpdate = -Infinity;
/** Pipelining of live frames (run()); `?pipeline=0` turns it off, to measure what it gains. */
const PIPELINE = params.get('pipeline') !== '0';
/** Least time between 3D view updates when WebGL is software-rendered. */
const SOFTWARE_VIEW_INTERVAL_MS = 500;

/**
 * What the page exposes for automated checks and measurements (window.prnetApp): the timings of
 * recent frames (with each face's flip disagreement, present only where the mirrored crop ran), and
 * the current faces' boxes and landmarks (68 × x, y, z).
 */
const probe = {
  timings: [] as (FrameTimings & { display: number; grab: number; roundTrip: number; at: number; flipDisagreement: (number | null)[] })[],
  faces: (): { x: number; y: number; width: number; height: number; still: boolean; landmarks: number[]; keypointDisagreement?: number; suspect?: boolean }[] =>
    faces.map((f) => ({ ...f.box, still: f.still, landmarks: Array.from(f.landmarks), keypointDisagreement: f.keypointDisagreement, suspect: f.suspect })),
  canvasSize: (): [number, number] => [ui.input.width, ui.input.height],
  view: () => viewer?.framing() ?? null,
};
(window as unknown as { prnetApp: typeof probe }).prnetApp = probe;

/** How long a lost recording is said beside the statuses that follow. */
const LOST_NOTICE_MS = 20_000;
/** The last recording that could not be saved, said until `until` (performance.now()). */
let lostRecording: { text: string; until: number } | null = null;

type StatusKind = '' | 'warn' | 'error';

function setStatus(text: string, kind: StatusKind = ''): void {
  // A recording lost while a model change or a new source went on is said beside what follows for
  // a while (its status was overwritten at once by "Loading the model…", then "Running").
  if (lostRecording && performance.now() < lostRecording.until && kind !== 'error' && text !== lostRecording.text) {
    text = `${text} — ${lostRecording.text}`;
    kind = 'warn';
  }
  ui.status.textContent = text;
  ui.status.className = `status ${kind}`;
}

/** The graver of two statuses' kinds (an error over a warning over none). */
function graver(a: StatusKind, b: StatusKind): StatusKind {
  return a === 'error' || b === 'error' ? 'error' : a === 'warn' || b === 'warn' ? 'warn' : '';
}

/**
 * A photo's result and the notices of things that changed nothing (a link or text dropped, a
 * camera refused or missing, a file that could not be opened, a download that could not be saved)
 * meet in the status: what is said later is said after what came first, so none hides another.
 * Notices said while a photo is reconstructed or a source is being opened are kept, each once, in
 * the order said, and said together (joined by " — ") until what they wait for comes: the photo's
 * result, said before them (it replaced them: the drop seemed to do nothing), why the source could
 * not open, said after them, or the first status of the source opened (`noticesFor`). A photo's
 * result that comes while another source is being opened waits with them for that source to fail
 * to open ("Opening…" stays; the refusal was then said alone, the photo's result never). Until this
 * change a notice replaced the one kept before it: a drop then a camera refused while a photo was
 * reconstructed said the result with the refusal alone.
 */
type Notice = { text: string; kind: StatusKind };
let notices: Notice[] = [];
/** The photo being reconstructed: its run (`loopToken`), until its result is said. */
let photoRun: number | null = null;
/** The source being opened: its `sourceGeneration`, until it opens or fails to. */
let opening: number | null = null;
/**
 * The source that opened while notices were kept for its opening: they are said after its first
 * status (run()), `Running (camera) — Cannot open what was dropped: …`, which stays until the next
 * status, as a notice does. ("Running (camera)" replaced them at once.)
 */
let noticesFor: FrameSource | null = null;
let heldResult: { text: string; kind: StatusKind; run: number } | null = null;

/** A photo is being reconstructed or a source opened: notices are kept for what comes of it. */
function awaited(): boolean {
  return photoRun === loopToken || opening === sourceGeneration || (noticesFor !== null && noticesFor === source);
}

/** Says `text` (or nothing) and then the notices kept, in the gravest of their kinds. */
function sayWithNotices(text: string | null, kind: StatusKind): void {
  const parts = [...(text === null ? [] : [text]), ...notices.map((n) => n.text)];
  setStatus(parts.join(' — '), notices.reduce((k, n) => graver(k, n.kind), kind));
}

/**
 * Says a notice after those kept (a notice said before is not said twice), and keeps them all while
 * something they wait for is under way. `openingFailed`: it says why the source being opened did
 * not open, and is said after a photo's result that came meanwhile.
 */
function notify(text: string, kind: StatusKind, openingFailed = false): void {
  if (!awaited()) notices = []; // (kept for what no longer comes: a photo left by a model change or an error)
  if (!notices.some((n) => n.text === text)) notices.push({ text, kind });
  if (openingFailed) opening = null;
  if (openingFailed && heldResult?.run === loopToken) {
    sayWithNotices(heldResult.text, heldResult.kind);
    heldResult = null;
  } else sayWithNotices(null, '');
  if (!awaited()) notices = [];
}

/**
 * Says a photo's result (of run `run`): with the notices said while it was reconstructed, or, while
 * another source is being opened, later, with them and why that one could not open.
 */
function sayResult(text: string, kind: StatusKind, run: number): void {
  photoRun = null;
  if (opening === sourceGeneration) heldResult = { text, kind, run };
  else {
    sayWithNotices(text, kind);
    notices = [];
  }
}

function setState(state: 'loading' | 'ready' | 'running' | 'error'): void {
  document.body.dataset.state = state;
}

/** (Re)starts the worker with the chosen model; processing resumes on the current source. */
async function startEngine(selected: 'auto' | ModelName): Promise<void> {
  loopToken++;
  // A newer start (the model changed again while this one loaded) wins: this one stops at its next await.
  const generation = ++engineGeneration;
  // A recording is saved before its worker goes (no lost output), one being saved too.
  if (recordingOn || savingRecording) await saveRecording();
  if (generation !== engineGeneration) return;
  engine?.terminate();
  engine = null;
  ready = null;
  startError = null;
  updateRecordButton(); // nothing to record into while the model loads
  // The old worker held the faces the downloads export: nothing to save until the new one has a result.
  clearFaces();
  ui.runtime.textContent = 'Loading the model…'; // the previous model's line no longer holds
  setState('loading');
  setStatus('Loading the model…');
  const choice = await chooseRuntime(base, params, selected);
  if (generation !== engineGeneration) return;
  // The light model runs on one thread on WebAssembly (also where WebGPU is tried first and the
  // WebAssembly fallback is what runs): on 2 cores it was as fast as on two when the machine was
  // otherwise idle, and 1.8× as fast when other work shared the cores (docs/web.md).
  // (a bad value failed every start alike, and the status said to choose a model to try again)
  const threads = parseThreads(params.get('threads')) ?? (choice.model === 'light' ? 1 : undefined);
  // The model file's precision unless `?precision=` says otherwise: int8 for the default model,
  // fp32 for the light one (a mobile network: onnxruntime-web's WebAssembly runs its depthwise
  // convolutions slower at int8 than in float; docs/web.md).
  const precisionParam = params.get('precision');
  const precision = precisionParam === 'int8' || precisionParam === 'fp32' ? precisionParam : undefined;
  const ortParam = params.get('ort');
  const ortBuild = ortParam === 'jsep' || ortParam === 'plain' ? ortParam : undefined;
  const next = new Engine();
  loading?.terminate(); // an older start still loading: its model is no longer wanted
  loading = next;
  let started: Awaited<ReturnType<Engine['init']>>;
  try {
    started = await next.init({ base, model: choice.model, backends: choice.backends, threads, precision, ortBuild });
  } catch (e) {
    next.terminate(); // its worker and onnxruntime's threads, not left running per failed try
    if (loading === next) loading = null;
    if (generation !== engineGeneration) return; // replaced: its failure is not the page's state
    throw e;
  }
  if (loading === next) loading = null;
  if (generation !== engineGeneration) {
    next.terminate(); // a later start replaced this one while it loaded
    return;
  }
  ready = started;
  // Test-time flip doubles the network's time: on by default where WebGPU runs it, off for
  // real-time WebAssembly, unless the URL or the user chose.
  if (!flipChosen) ui.flip.checked = ready.backend === 'webgpu';
  engine = next;
  updateRecordButton();
  edges = gridEdges(ready.faceIndex, ready.layoutSize, MESH_STEP);
  const wasm = ready.backend === 'wasm'
    ? ` · ${ready.threads} thread${ready.threads === 1 ? '' : 's'}${ready.crossOriginIsolated ? '' : ' (page not cross-origin isolated: single-threaded)'}`
    : '';
  ui.runtime.textContent = `${ready.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly'}${wasm} · model “${ready.model}” (${ready.modelName}, width ${ready.width}, input ${ready.inputSize}², ${ready.precision}) · onnxruntime-web ${ready.ortBuild === 'plain' ? 'WebAssembly' : 'JSEP'} build · ${choice.reason} · loaded in ${(ready.loadMs / 1000).toFixed(1)} s`;
  if (ready.modelName.startsWith('random')) setStatus('Ready — development stand-in model (random weights): results are meaningless', 'warn');
  else setStatus('Ready');
  setState('ready');
  stats.reset();
  if (source) void run();
}

/**
 * Opens a source and processes it in place of the current one. The current source stays (shown,
 * processed, its faces to download) until the new one is open: a camera refused or missing, or a
 * file that cannot be read, leaves it as it was, and the status says why (the photo on screen was
 * cleared before the camera was asked for, and a refusal left the app empty).
 */
async function useSource(open: () => Promise<FrameSource>): Promise<void> {
  // The model did not load: a source would open (a camera lit) with nothing to process it.
  if (startError) return showStartError();
  const token = ++sourceGeneration;
  let opened: FrameSource;
  try {
    setStatus('Opening…');
    opening = token;
    opened = await open();
  } catch (e) {
    if (token !== sourceGeneration) return;
    notify(`Cannot open the source: ${(e as Error).message}${cameraHint(e)}`, 'error', true);
    return;
  }
  // Another source was chosen or Stop pressed while this one opened (a camera permission prompt
  // can take long): this one is closed, not left running (a camera would stay lit).
  if (token !== sourceGeneration) {
    opened.stop();
    return;
  }
  opening = null;
  // The model failed to load while this source opened (a camera permission prompt is slow).
  if (startError) {
    opened.stop();
    return showStartError();
  }
  loopToken++; // the old source's frames are no longer sent or shown
  source?.stop();
  source = opened;
  noticesFor = notices.length ? opened : null;
  lastSourceName = opened.name;
  // A camera that goes by itself (unplugged, permission revoked, taken by another app) stops as Stop
  // does, and says so: its dead stream was processed on, the status still "Running (camera)". (A
  // source being opened meanwhile goes on opening: a phone may end one camera stream as it opens another.)
  opened.onEnded?.(() => {
    if (source === opened) stopped(`The camera stopped (unplugged, or taken by another app)${recordingOn ? ' — the recording can still be saved' : ''}: choose Camera to open it again`, 'error', false);
  });
  clearFaces(); // the old source's faces: neither shown nor saved under the new source's name
  ui.hint.hidden = true;
  ui.stop.disabled = !source.live;
  viewer?.refit();
  // The old source's recording is saved before the worker forgets it.
  if (recordingOn || savingRecording) await saveRecording();
  await engine?.reset();
  if (engine) void run();
  else setStatus('Loading the model…'); // run() starts when it is ready
}

/**
 * The current source closed (a camera turned off); its frames no longer processed or awaited, and,
 * unless `pendingToo` is false, a source being opened is closed once open.
 */
function stopSource(pendingToo = true): void {
  loopToken++;
  if (pendingToo) sourceGeneration++;
  source?.stop();
  source = null;
  if (!awaited()) notices = []; // (what they waited for is not coming)
  ui.stop.disabled = true;
}

/** FPS, stage times and poses back to none. */
function clearStats(): void {
  stats.reset();
  stats.render(ui.fps, ui.stages, ui.poses, faces);
}

/** No faces shown: overlays cleared, downloads disabled until the next result. */
function clearFaces(): void {
  faces = [];
  shownSeq = undefined;
  clearStats(); // the numbers shown were the old frames' (FPS, stages, poses)
  viewer?.clear();
  drawOverlays(overlayCtx, faces, edges, overlayOptions());
  document.body.dataset.faces = '0';
  for (const b of [ui.dlObj, ui.dlGlb, ui.dlJson]) b.disabled = true;
}

/** A frame sent to the worker: its pixels stay in `canvas` until it is shown. */
interface Job {
  result: Promise<ResultReply>;
  canvas: HTMLCanvasElement;
  width: number;
  height: number;
  grabMs: number;
  sentAt: number;
  seq: number;
  /** A frame of a live source (camera, video), not a photo. */
  live: boolean;
  /** Read smaller than the source (a live frame over 1280 px, a photo over its budget). */
  reduced: boolean;
}

/**
 * Processes the current source: every frame of a live one, or the photo once. Live sources are
 * pipelined two deep: the next frame is grabbed and sent before the current result is shown, so
 * the worker starts on it as soon as it is done with this one and never waits for the page
 * (display, grab, transfer). A result is shown with the frame it was computed on.
 */
async function run(): Promise<void> {
  const token = ++loopToken;
  const src = source;
  if (!src || !engine) return;
  setState('running');
  // A photo run again (the Faces choice changed) is a new measurement: its FPS is not the time
  // between the two runs, nor are its stage times averaged with the earlier run's.
  if (!src.live) stats.reset();
  // The notices kept for the run before are said with its result only; those kept for this source
  // while it opened are said after its first status (and, for a photo, its result), and those kept
  // for a source being opened wait on.
  const carried = noticesFor === src;
  noticesFor = null;
  if (!carried && opening !== sourceGeneration) notices = [];
  photoRun = src.live ? null : token;
  sayWithNotices(src.live ? `Running (${src.kind})` : 'Reconstructing…', '');
  if (!awaited()) notices = [];
  updateRecordButton();
  let pending: Job | null = null;
  while (token === loopToken) {
    const waiting = src.element instanceof HTMLVideoElement && (src.element.paused || src.element.readyState < 2);
    try {
      if (waiting) {
        // A paused video: show the frame still in flight, then wait.
        if (pending) await show(pending, token);
        pending = null;
        await sleep(50);
        continue;
      }
      const next = send(src);
      if (pending) await show(pending, token);
      pending = null;
      if (!src.live || !PIPELINE) await show(next, token);
      else pending = next;
      if (!src.live) {
        // A photo read smaller than it is (over the grabber's budget): what the numbers are in.
        const reduced = next.reduced ? ` (the photo was reduced to ${next.width}×${next.height} for the browser: the downloads' coordinates are in that size)` : '';
        if (token === loopToken) {
          // Faces whose quality signals say the reconstruction is likely wrong (Face.suspect): said, in amber.
          const suspect = faces.filter((f) => f.suspect).length;
          const doubt = suspect ? `; ${faces.length === 1 ? 'it' : `${suspect} of them`} may be wrong (the reconstruction's own checks disagree)` : '';
          // (a source chosen meanwhile has the status: "Opening…", then this result with why it could not open)
          sayResult(`${faces.length ? `${faces.length} face${faces.length === 1 ? '' : 's'} found` : 'No face found'}${doubt}${reduced}`, suspect ? 'warn' : '', token);
          setState('ready'); // a photo is done (it stayed "running")
        }
        return;
      }
    } catch (e) {
      if (token !== loopToken) return;
      photoRun = null; // (no result is coming)
      setStatus(`Error: ${(e as Error).message}`, 'error');
      setState('error');
      return;
    }
    // Let the page paint (and take input) between frames; the worker is busy with the frame sent.
    await new Promise((r) => requestAnimationFrame(r));
  }
  // Left by a new source, engine or stop: the result in flight is not shown.
  pending?.result.catch(() => undefined);
}

function send(src: FrameSource): Job {
  if (!engine) throw new Error('no engine');
  const tg = performance.now();
  const { pixels, canvas, reduced } = grabber.grab(src);
  const grabMs = performance.now() - tg;
  const sentAt = performance.now();
  const seq = ++frameSeq;
  const result = engine.frame(pixels, {
    seq,
    time: sentAt,
    ...(src.kind === 'video' ? { mediaTime: (src.element as HTMLVideoElement).currentTime * 1000 } : {}),
    mode: src.live ? 'video' : 'still',
    stabilize: ui.stabilize.checked,
    flip: src.live ? ui.flip.checked : true,
    maxFaces: Number(ui.maxFaces.value),
  });
  result.catch(() => undefined);
  return { result, canvas, width: pixels.width, height: pixels.height, grabMs, sentAt, seq, live: src.live, reduced };
}

async function show(job: Job, token: number): Promise<void> {
  const result = await job.result;
  if (token !== loopToken) return;
  const roundTrip = performance.now() - job.sentAt;
  const { width, height } = job;
  const t0 = performance.now();
  for (const c of [ui.input, ui.overlay]) {
    if (c.width !== width || c.height !== height) {
      c.width = width;
      c.height = height;
    }
  }
  inputCtx.drawImage(job.canvas, 0, 0);
  faces = result.faces;
  shownSeq = job.seq;
  drawOverlays(overlayCtx, faces, edges, overlayOptions());
  // A photo's result is always drawn (the software view's rate limit is for live frames: a photo
  // opened within it of the previous one kept that one's faces in the view).
  if (ui.show3d.checked) updateViewer(width, height, !job.live);
  const display = performance.now() - t0;
  stats.record(result.timings, display);
  const flipDisagreement = faces.map((f) => f.flipDisagreement ?? null);
  probe.timings.push({ ...result.timings, display, grab: job.grabMs, roundTrip, at: performance.now(), flipDisagreement });
  if (probe.timings.length > 500) probe.timings.shift();
  stats.render(ui.fps, ui.stages, ui.poses, faces);
  for (const b of [ui.dlObj, ui.dlGlb, ui.dlJson]) b.disabled = faces.length === 0;
  if (recordingOn && result.recording) {
    const { frames, seconds, stopped } = result.recording;
    setRecordLabel('■', `Save recording (${seconds.toFixed(1)} s${stopped === 'limit' ? ', full' : stopped === 'loop' ? ', to the video\'s end' : ''})`);
    document.body.dataset.recordedFrames = String(frames);
  }
  Object.assign(document.body.dataset, { frames: String(stats.frames), faces: String(faces.length), fps: stats.fps.toFixed(2) });
}

/**
 * Updates the 3D view with the current faces. Where WebGL is drawn by the CPU (no GPU), drawing a
 * textured mesh costs as much as the network: the view is then updated at most twice a second.
 */
function updateViewer(width: number, height: number, always = false): void {
  const v = ensureViewer();
  if (!v) return;
  const now = performance.now();
  if (v.software && !always && now - lastViewerUpdate < SOFTWARE_VIEW_INTERVAL_MS) return;
  lastViewerUpdate = now;
  v.update(faces, width, height);
}

/**
 * Why the 3D view could not be made (WebGL missing), or null. It is said in the view's place while
 * the "3D view" box is ticked, and taken out of the page with the view when it is not (the failure
 * unticked the box, the message staying; a tick on was undone at once).
 */
let viewerError: string | null = null;

/** The 3D view, created when first shown (WebGL can be missing, or slow without a GPU); tried once. */
function ensureViewer(): FaceViewer | null {
  if (viewer || viewerError !== null || !ready) return viewer;
  try {
    viewer = new FaceViewer(ui.view3d, ready.triangles, ready.vertexCount, ui.input);
    if (viewer.software) ui.runtime.textContent += ' · 3D view: software WebGL, updated twice a second';
  } catch (e) {
    viewerError = `No 3D view: ${(e as Error).message}`;
    ui.view3d.textContent = viewerError;
    ui.fit.disabled = true; // (nothing to reset)
  }
  return viewer;
}

function overlayOptions(): OverlayOptions {
  return { landmarks: ui.landmarks.checked, pose: ui.pose.checked, mesh: ui.mesh.checked };
}

async function download(kind: 'obj' | 'glb' | 'json'): Promise<void> {
  if (!engine || !faces.length) return;
  // (after Stop the faces shown are still the last source's: its name, not "frame")
  const stem = source?.name ?? lastSourceName ?? 'frame';
  try {
    const { files } = await engine.exportFiles(kind, stem, shownSeq);
    await saveFiles(files, `${stem}_${kind}.zip`);
  } catch (e) {
    // (was an unhandled rejection: the click did nothing, silently; said while a photo is
    // reconstructed again, its result replaced it at once)
    notify(`Cannot save the ${kind.toUpperCase()}: ${(e as Error).message}`, 'error');
  }
}

/** How to allow the camera, for a refusal of it (NotAllowedError: "Permission denied" alone said nothing of what to do). */
function cameraHint(e: unknown): string {
  const name = (e as { name?: string }).name;
  if (name === 'NotAllowedError') return ' — allow the camera for this page (the camera icon in the address bar, or the site settings), then choose Camera again';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return ' — no camera was found: connect one, or open a photo or video file';
  if (name === 'NotReadableError') return ' — the camera is in use by another application';
  return '';
}

/**
 * Record: enabled for a running camera or video, or while a recording waits to be saved; disabled
 * while a start or save is on its way (it waits behind the frames in flight: a second click would
 * start twice or save an empty recording).
 */
function updateRecordButton(): void {
  ui.rec.disabled = recordBusy || !(recordingOn || (engine && source?.live));
}

/** The Record button's text: a glyph screen readers skip, then the words. */
function setRecordLabel(glyph: '●' | '■', text: string): void {
  const mark = document.createElement('span');
  mark.setAttribute('aria-hidden', 'true');
  mark.textContent = `${glyph} `;
  ui.rec.replaceChildren(mark, text);
}

/** The recording is over (saved or dropped): the button back to Record, an optional status. */
function endRecording(status?: string, kind: 'warn' | 'error' = 'warn'): void {
  recordingOn = false;
  setRecordLabel('●', 'Record');
  delete document.body.dataset.recording;
  delete document.body.dataset.recordedFrames;
  if (status) setStatus(status, kind);
  updateRecordButton();
}

async function toggleRecording(): Promise<void> {
  if (!engine || recordBusy) return;
  if (recordingOn) return saveRecording();
  recordBusy = true;
  updateRecordButton();
  try {
    await engine.record('start');
    recordingOn = true;
    lostRecording = null; // (a new recording: the lost one is not said any more)
    recordedName = source?.name ?? 'camera';
    setRecordLabel('■', 'Save recording');
    document.body.dataset.recording = '1';
    document.body.dataset.recordedFrames = '0';
  } catch (e) {
    setStatus(`Cannot record: ${(e as Error).message}`, 'error');
  } finally {
    recordBusy = false;
    updateRecordButton();
  }
}

/** How long a save may take before the worker is taken for lost (a 60 s recording is written in about a second). */
const SAVE_TIMEOUT_MS = 30_000;

/**
 * Ends the recording and downloads its GLB (`<source>_recording.glb`), named after the source
 * recorded. Never throws: a failed or hung save (a crashed worker) ends the recording with a
 * status saying it was lost, so a model change or a new source can go on.
 */
function saveRecording(): Promise<void> {
  // A save on its way is waited for (a model change right after "Save recording" ended the worker
  // holding it, and the recording was lost with a status overwritten at once).
  if (savingRecording) return savingRecording;
  if (!engine || !recordingOn || recordBusy) return Promise.resolve();
  savingRecording = saveRecordingNow(engine).finally(() => {
    savingRecording = null;
  });
  return savingRecording;
}

async function saveRecordingNow(engine: Engine): Promise<void> {
  recordBusy = true;
  updateRecordButton();
  const stem = `${recordedName}_recording`;
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the worker did not answer')), SAVE_TIMEOUT_MS)));
    const { files } = await Promise.race([engine.record('stop', stem), timeout]).finally(() => clearTimeout(timer));
    endRecording(files.length ? undefined : 'Nothing recorded: no face was tracked');
    await saveFiles(files, `${stem}.zip`);
    // Saved after Stop: the status no longer offers to save it.
    if (files.length && !source) setStatus('Stopped — the recording was saved');
  } catch (e) {
    const text = `The recording could not be saved: ${(e as Error).message}`;
    lostRecording = { text, until: performance.now() + LOST_NOTICE_MS };
    endRecording(text, 'error');
  } finally {
    recordBusy = false;
    updateRecordButton();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// Controls.
ui.camera.onclick = () => void useSource(openCamera);
ui.file.onchange = () => {
  const file = ui.file.files?.[0];
  if (file) void useSource(() => openFile(file));
  ui.file.value = '';
};
/** The source stopped (Stop, or a camera gone): `status` said; `pendingToo` as stopSource's. */
function stopped(status: string, kind: '' | 'error' = '', pendingToo = true): void {
  stopSource(pendingToo);
  // No frames now: FPS and stage times cleared (the last frame's faces stay, to download).
  clearStats();
  setStatus(status, kind);
  setState('ready');
  updateRecordButton();
}

ui.stop.onclick = () => stopped(recordingOn ? 'Stopped — the recording can still be saved' : 'Stopped');
// The user's choice replaces the URL's ?model= (else "Auto" would keep picking the URL's model).
ui.model.onchange = () => {
  params.delete('model');
  void startEngine(ui.model.value as 'auto' | ModelName).catch(fail);
};
ui.maxFaces.onchange = () => {
  if (source && !source.live) void run();
};
for (const t of [ui.landmarks, ui.pose, ui.mesh]) t.onchange = () => drawOverlays(overlayCtx, faces, edges, overlayOptions());
ui.fit.onclick = () => viewer?.fit();
// The 3D view by keyboard (it takes the focus: Tab): the arrows turn it, + and − zoom, 0 or Home
// resets; the page does not scroll for them. (Ctrl and ⌘ with + − 0 stay the browser's zoom.)
ui.view3d.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (viewer?.key(e.key)) e.preventDefault();
});
/**
 * The 3D view shown or taken out of the page (off it was an empty box as large as the input view),
 * and Reset view with it (disabled where the view could not be made: its place says why).
 */
function show3dView(on: boolean): void {
  ui.view3d.hidden = !on;
  ui.fit.disabled = !on || viewerError !== null;
}
ui.show3d.onchange = () => {
  show3dView(ui.show3d.checked);
  if (ui.show3d.checked && ready) {
    lastViewerUpdate = -Infinity;
    updateViewer(ui.input.width, ui.input.height);
  }
};
ui.dlObj.onclick = () => void download('obj');
ui.dlGlb.onclick = () => void download('glb');
ui.dlJson.onclick = () => void download('json');
ui.rec.onclick = () => void toggleRecording();

// A photo or a video dropped on the page is opened: on the input view (which shows where to drop),
// and anywhere else too. Nothing dropped is left to the browser, which opens a file, and follows a
// link or searches for text, in place of the app (losing a recording in progress): what is not a
// file is refused, saying what is needed.
for (const type of ['dragover', 'drop'] as const) {
  document.addEventListener(type, (e) => {
    e.preventDefault();
    if (type === 'dragover') return;
    const file = e.dataTransfer?.files[0];
    if (file) void useSource(() => openFile(file));
    else if (startError) showStartError(); // (what is wrong first: the model did not load)
    else notify('Cannot open what was dropped: drop an image file (a photo) or a video file; a link or text is not one (save a picture from another page first)', 'warn');
  });
}
// (highlighted for files only: a link or text dropped there is refused)
ui.stage.addEventListener('dragover', (e) => ui.stage.classList.toggle('dragging', e.dataTransfer?.types.includes('Files') === true));
for (const type of ['dragleave', 'drop'] as const) ui.stage.addEventListener(type, () => ui.stage.classList.remove('dragging'));

/** Why the model could not be loaded (cleared by the next start): sources are refused meanwhile. */
let startError: string | null = null;

/** The load failure, as a source's refusal shows it. */
function showStartError(): void {
  setStatus(`${startError}${startErrorInAddress ? '' : ' — choose a model to try again'}`, 'error');
}

/** The start failed on the page's address (?threads=): choosing a model again cannot mend it. */
let startErrorInAddress = false;

function fail(e: unknown): void {
  // Nothing can process a source now: a camera is turned off rather than left lit.
  if (source?.live) stopSource();
  startError = `Cannot start: ${(e as Error).message}`;
  startErrorInAddress = (e as { inAddress?: boolean }).inAddress === true;
  setStatus(startError, 'error');
  ui.runtime.textContent = 'Not loaded'; // (it still said "Loading the model…")
  setState('error');
}

/** The flip checkbox was set by the URL or the user (else it follows the backend). */
let flipChosen = params.has('flip');
if (flipChosen) ui.flip.checked = params.get('flip') !== '0';
ui.flip.onchange = () => {
  flipChosen = true;
};
if (params.get('view') === '0') {
  ui.show3d.checked = false;
  show3dView(false);
}
const modelParam = params.get('model');
if (modelParam === 'default' || modelParam === 'light') ui.model.value = modelParam;
// (the select shows the URL's model; the choice says it came from the URL, not from the select)
void startEngine(modelParam !== null && ui.model.value === modelParam ? 'auto' : ui.model.value as 'auto' | ModelName)
  .then(() => {
    if (params.get('source') === 'camera') return useSource(openCamera);
  })
  .catch(fail);
