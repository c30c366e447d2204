/**
 * prnet-ts in the browser: the same pipeline and `reconstruct` API as in Node, over
 * onnxruntime-web (WebGPU where the browser has it, else WebAssembly with SIMD and threads), with
 * the same BlazeFace detector as in Node on the same runtime. Files come from URLs the app serves;
 * nothing else is fetched.
 *
 *   import { createPrnet, imageToRgb } from 'prnet-ts/browser';
 *   const prnet = await createPrnet({
 *     modelUrl: '/models/prnet-light.safetensors', layoutUrl: '/layout.safetensors', wasmPaths: '/ort/',
 *     detector: { modelUrl: '/detector/blazeface-back-256.onnx' },
 *   });
 *   const { faces } = await prnet.reconstruct(imgElement); // or a video, canvas, ImageData, RGB/RGBA bytes
 *
 * Works in a page and in a worker (the app runs it in a worker). For cross-origin isolation, WASM
 * threads and the WebGPU fallback, see docs/web.md.
 */
import * as ort from 'onnxruntime-web';
import { createBlazeFaceDetector } from './detect/blazeface-detector.js';
import { createHumanDetector, type HumanWebOptions } from './detect/human-web.js';
import { checkCustomDetector, checkMinScore, type Detector } from './detect/detector.js';
import { createOrientation, type Orientation } from './detect/orientation.js';
import { firstLine, InputError, ModelError, shownValue } from './errors.js';
import { parseLayout } from './layout/layout.js';
import { parseModelFile, parseModelFileLazy, type ModelWeights } from './model/weights.js';
import { Prnet, type ReconstructOptions, type ReconstructResult } from './pipeline/prnet.js';
import type { PngEncoder } from './pipeline/outputs.js';
import { isPixelImage, rgbaToRgbBytes, toRgbImage, type PixelImage } from './io/pixels.js';
import { createOrtSession, type OrtModule } from './runtime/ort.js';
import { WEB_WASM_GRAPH } from './runtime/web.js';
export { WEB_WASM_GRAPH } from './runtime/web.js';
import { checkPrecision, checkThreads, type PrnetSession } from './runtime/session.js';
import type { Precision } from './model/resfcn.js';
export type { Precision } from './model/resfcn.js';
import type { FaceBox, RgbImage } from './types.js';

export { Prnet, type BoxInput, type ReconstructOptions, type ReconstructResult, type StageTimings, type TestTimeOptions } from './pipeline/prnet.js';
export {
  faceColors, faceMesh, faceTexture, faceToJson, headCentre, POSE_CONVENTION, TEXTURE_SIZES,
  type Face, type FaceJson, type ProducerJson, type FaceMesh, type FaceTexture, type FaceTextureOptions,
} from './pipeline/face.js';
export { swapFaceTexture, type SwapOptions } from './pipeline/swap.js';
export { ALL_OUTPUT_FORMATS, buildOutputs, EXTRA_OUTPUT_FORMATS, OUTPUT_FORMATS, type OutputFormat, type OutputFile, type OutputOptions, type PngEncoder } from './pipeline/outputs.js';
export { toRgbImage, isPixelImage, type PixelImage } from './io/pixels.js';
export { AbortedError, DisposedError, InputError, ModelError, NoFaceError, OutputError, PrnetError, UnsupportedImageError, escapeControl } from './errors.js';
export type { RgbImage, FloatImage, FaceBox, PositionMap } from './types.js';
export { parseLayout, type Layout } from './layout/index.js';
export { parseModelFile, type ModelWeights } from './model/weights.js';
export { createHumanDetector, type HumanWebOptions, type HumanConstructor } from './detect/human-web.js';
export { MIN_SCORE_FLOOR, type Detector, type DetectorKind } from './detect/detector.js';
export type { Orientation, OrientationReading } from './detect/orientation.js';
export * from './geometry/index.js';
export * from './crop/index.js';
export * from './render/index.js';
export * from './track/index.js';
export {
  writeObj, writeObjBytes, writeObjTextured, writeObjTexturedBytes, writePly, writeGlb, npyBytes, matBytes, toJson, toModelFrame, uvFromFaceIndex, meshFrame, mmPerPixel, MEAN_IPD_MM,
  type GlbMesh, type GlbOptions, type HeadNode, type MeshFrame, type MeshFrameOptions, type MeshUnits, type FrameOptions, type ObjOptions,
  type TexturedObjOptions, type PlyOptions, type JsonOptions, type Vertices, type Triangles, type MatVariable, type MatNumericClass,
} from './export/index.js';
export { writeAnimatedGlb, decimateFaceGrid, pickVertices, rotationQuaternion, type AnimatedMesh, type AnimatedGlbOptions, type DecimatedMesh, type FramePose } from './export/glb-animation.js';
export { TrackAnimation, type TrackAnimationOptions, type TrackAnimationInfo } from './export/track-animation.js';
export type { GraphSource, PrnetSession } from './runtime/session.js';
export type { ResfcnConfig, GraphOptions } from './model/resfcn.js';

/** Where the network runs. */
export type ExecutionBackend = 'webgpu' | 'wasm';

/** onnxruntime-web's wasm files: a folder URL (ending in '/') or one build's two file URLs. */
export type WasmPaths = string | { mjs: string; wasm: string };

/** A file given by URL or as its bytes (an ArrayBuffer too, as `response.arrayBuffer()` gives). */
export type Bytes = string | URL | Uint8Array | ArrayBuffer;

export interface BrowserPrnetOptions {
  /** The model file (safetensors, docs/model-format.md): a URL or its bytes. */
  modelUrl: Bytes;
  /** assets/layout.safetensors: a URL or its bytes. */
  layoutUrl: Bytes;
  /**
   * URL of the folder (ending in '/') serving onnxruntime-web's ort-wasm-simd-threaded.jsep.mjs
   * and .wasm (copied from node_modules/onnxruntime-web/dist), or the URLs of one build's two files
   * (`{ mjs, wasm }`): where WebGPU is not wanted, onnxruntime-web's plain WebAssembly build
   * (ort-wasm-simd-threaded.mjs and .wasm: half the download, and reaches full speed seconds sooner
   * after load; docs/web.md). Default: onnxruntime-web's own choice (next to its script).
   */
  wasmPaths?: WasmPaths;
  /** Backends to try in order (default: ['webgpu', 'wasm'] where navigator.gpu exists, else ['wasm']). */
  backends?: ExecutionBackend[];
  /**
   * WebAssembly threads (default: the number of cores, at most 4, when `wasmPaths` is given; 1
   * without it, and without cross-origin isolation). onnxruntime-web takes its threads and wasmPaths once per page, at the first
   * session: a later createPrnet runs with those, and its `threads` says so.
   */
  threads?: number;
  /** Network precision, 'fp32' or 'int8' (the quantized graph; needs the model file's int8 calibration). Default: the model file's choice (int8 for the bundled default model, fp32 for the light one). */
  precision?: Precision;
  /**
   * The face detector: BlazeFace from its model file (assets/detector/blazeface-back-256.onnx, a URL
   * or its bytes; it runs on onnxruntime-web's WebAssembly backend beside the network), options for
   * human-web (the older tfjs detector), a ready Detector, or false / omitted for none (then pass
   * boxes or crops).
   */
  detector?: BlazeFaceWebOptions | HumanWebOptions | Detector | false;
  /**
   * The face-orientation network (assets/detector/orientation.safetensors, a URL or its bytes:
   * `{ modelUrl }`): a detected face lying sideways or upside down in its crop is turned upright
   * (~0.5 ms a face, as in Node: docs/detectors.md, "Orientation"). Off when omitted or false; it
   * needs a detector. Its weights are non-commercial, as the bundled models' (LICENSE-weights.md).
   */
  orientation?: { modelUrl: Bytes } | false;
}

/** BlazeFace in the browser: where its model file is, its score threshold (default 0.5) and its tile looks at large photos (default true; DetectorOptions.tiles). */
export interface BlazeFaceWebOptions {
  modelUrl: Bytes;
  minScore?: number;
  tiles?: boolean;
}

/** What the browser pipeline takes: RGB/RGBA/grey bytes (ImageData too), or anything a canvas can draw. */
export type BrowserImageInput = RgbImage | PixelImage | ImageSource;

/**
 * The pipeline, with where its network runs and the model file's metadata (name, width, …).
 * reconstruct and detect take any BrowserImageInput: an <img>, <video> (its current frame),
 * <canvas>, OffscreenCanvas, ImageBitmap, ImageData or RGB/RGBA bytes, converted as needed.
 */
export type BrowserPrnet = Omit<Prnet, 'reconstruct' | 'detect'> & {
  reconstruct(image: BrowserImageInput, options?: ReconstructOptions): Promise<ReconstructResult>;
  detect(image: BrowserImageInput): Promise<FaceBox[]>;
  readonly backend: ExecutionBackend;
  /** The WebAssembly threads in effect (the first pipeline's in this page: see BrowserPrnetOptions.threads). */
  readonly threads: number;
  readonly modelMetadata: Readonly<Record<string, string>>;
};

/** Bytes as they are (RGB, RGBA, grey: see toRgbImage), anything else drawn through a canvas. */
export function browserImageToRgb(image: BrowserImageInput): RgbImage {
  if (isPixelImage(image)) return toRgbImage(image);
  // A TypeError from deep inside ("Cannot use 'in' operator") for these before.
  if (image === null || typeof image !== 'object') {
    throw new InputError(`not an image: expected an <img>, <video>, <canvas>, OffscreenCanvas, ImageBitmap, ImageData or { width, height, data }, got ${image === null ? 'null' : typeof image}${typeof image === 'string' ? ' (load a URL into an <img> or fetch → createImageBitmap first)' : ''}`);
  }
  if (typeof Blob !== 'undefined' && image instanceof Blob) throw new InputError('a Blob or File holds encoded bytes: decode it first (await createImageBitmap(blob))');
  // { width, height, data } whose data is not bytes (a Float32Array of 0..1): was drawImage's TypeError
  const d = (image as { data?: unknown }).data;
  if (d !== undefined && !(typeof ImageData !== 'undefined' && image instanceof ImageData)) {
    throw new InputError(`not an image: { width, height, data } needs data as bytes (Uint8Array or Uint8ClampedArray, 0..255), got ${ArrayBuffer.isView(d) ? d.constructor.name : d === null ? 'null' : typeof d}`);
  }
  return imageToRgb(image);
}

/** A Bytes option: a non-empty URL string, a URL, or bytes (InputError otherwise, before anything is fetched). */
function checkBytes(v: unknown, name: string): void {
  const ok = (typeof v === 'string' && v !== '') || v instanceof Uint8Array || v instanceof ArrayBuffer || (typeof URL !== 'undefined' && v instanceof URL);
  if (!ok) throw new InputError(`${name} must be a URL (string or URL) or the file's bytes (Uint8Array, ArrayBuffer), got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? "''" : typeof v}`);
}

/** createPrnet's options (BrowserPrnetOptions): any other key is an InputError. */
const BROWSER_OPTIONS = ['modelUrl', 'layoutUrl', 'wasmPaths', 'backends', 'threads', 'precision', 'detector', 'orientation'];

/**
 * The browser options checked before anything is fetched (InputError naming the option): a bad
 * thread count or backend list used to surface only after the downloads, or as onnxruntime's own
 * message; `detector: 'blazeface'` (the Node option's form) was a TypeError after the model loaded.
 */
function checkBrowserOptions(options: BrowserPrnetOptions): void {
  if (options === null || typeof options !== 'object') throw new InputError('createPrnet needs options: { modelUrl, layoutUrl } at least (docs/web.md)');
  // A misspelt option (`detecter`) or one of Node's (`tiles`, `model`) was silently ignored.
  const unknown = Object.keys(options).filter((k) => !BROWSER_OPTIONS.includes(k) && (options as unknown as Record<string, unknown>)[k] !== undefined);
  if (unknown.length) {
    const hint = unknown.includes('tiles') ? " (in the browser: detector: { modelUrl, tiles })" : unknown.includes('model') ? ' (in the browser: modelUrl)' : '';
    throw new InputError(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}${hint}; the options are ${BROWSER_OPTIONS.join(', ')}`);
  }
  checkBytes(options.modelUrl, 'modelUrl');
  checkBytes(options.layoutUrl, 'layoutUrl');
  checkPrecision(options.precision);
  checkThreads(options.threads);
  // Without wasmPaths, onnxruntime-web's thread workers start from the page's own script in a
  // bundled build and die there (`document is not defined`): the session never came, no error.
  if ((options.threads ?? 1) > 1 && options.wasmPaths === undefined) {
    throw new InputError(`threads: ${options.threads} needs wasmPaths (the folder serving onnxruntime-web's ort-wasm-simd-threaded*.mjs and .wasm): without it onnxruntime-web's thread workers cannot start in a bundled page`);
  }
  const b = options.backends;
  if (b !== undefined && (!Array.isArray(b) || !b.length || !b.every((x) => x === 'webgpu' || x === 'wasm'))) {
    throw new InputError(`backends must be a non-empty array of 'webgpu' and 'wasm', got ${shownValue(b)}`);
  }
  const w = options.wasmPaths;
  if (w !== undefined) {
    const fine = typeof w === 'string' ? w.endsWith('/') : w !== null && typeof w === 'object' && typeof w.mjs === 'string' && typeof w.wasm === 'string';
    // onnxruntime-web puts the file names straight after a string: '/ort' asked for /ortort-wasm….
    if (!fine) throw new InputError(`wasmPaths must be a folder URL ending in '/' or { mjs, wasm } file URLs, got ${shownValue(w)}`);
  }
  const o = options.orientation;
  if (o !== undefined && o !== false) {
    if (o === null || typeof o !== 'object' || !('modelUrl' in o)) throw new InputError(`orientation must be { modelUrl } (assets/detector/orientation.safetensors) or false, got ${shownValue(o)}`);
    checkBytes(o.modelUrl, 'orientation.modelUrl');
    if (!options.detector) throw new InputError('orientation turns the crops of detected faces: it needs a detector');
  }
  const d = options.detector;
  if (d === undefined || d === false) return;
  if (d === null || typeof d !== 'object') {
    throw new InputError(`detector must be { modelUrl } (BlazeFace), human-web options, a Detector or false, got ${shownValue(d)}${typeof d === 'string' ? " (in the browser BlazeFace needs its model file: { modelUrl: '…/blazeface-back-256.onnx' })" : ''}`);
  }
  if ('detect' in d) {
    checkCustomDetector(d);
    return;
  }
  if ('modelUrl' in d) {
    checkBytes(d.modelUrl, 'detector.modelUrl');
    checkMinScore(d.minScore, 'detector.minScore'); // from 0.1, as createPrnet in Node
    if (d.tiles !== undefined && typeof d.tiles !== 'boolean') throw new InputError(`detector.tiles must be true or false, got ${shownValue(d.tiles)}`);
    return;
  }
  if (!('human' in d)) throw new InputError(`detector must be { modelUrl } (BlazeFace), human-web options ({ human, modelBasePath, wasmPath }), a Detector or false; got an object with ${Object.keys(d).map((k) => `'${k}'`).join(', ') || 'no keys'}`);
}

class WebPrnet extends Prnet {
  // async: a bad image is a rejected promise, as every other failure, not a synchronous throw
  override async reconstruct(image: BrowserImageInput, options?: ReconstructOptions): Promise<ReconstructResult> {
    return super.reconstruct(browserImageToRgb(image), options);
  }

  override async detect(image: BrowserImageInput): Promise<FaceBox[]> {
    return super.detect(browserImageToRgb(image));
  }
}

/** Creates the pipeline: model session, layout and detector are loaded once and reused. */
export async function createPrnet(options: BrowserPrnetOptions): Promise<BrowserPrnet> {
  checkBrowserOptions(options);
  const [modelBytes, layoutBytes] = await Promise.all([fetchBytes(options.modelUrl, 'model'), fetchBytes(options.layoutUrl, 'layout')]);
  // A fetched file is ours: its F16 tensors stay half precision (the int8 graph reads the halves);
  // bytes the caller passed are decoded, never referred to.
  const fetched = !(options.modelUrl instanceof Uint8Array || options.modelUrl instanceof ArrayBuffer);
  const weights = (fetched ? parseModelFileLazy : parseModelFile)(modelBytes, sourceName(options.modelUrl, 'model'));
  const layout = parseLayout(layoutBytes, sourceName(options.layoutUrl, 'layout'));
  // The network's session first: it sets onnxruntime-web's wasm paths and threads, which the
  // detector's session then shares.
  const { session, backend, threads } = await createWebSession(weights, {
    wasmPaths: options.wasmPaths, backends: options.backends, threads: options.threads, precision: options.precision,
  });
  const d = options.detector;
  let detector: Detector | null;
  try {
    detector = !d
      ? null
      : 'detect' in d
        ? d
        : 'modelUrl' in d
          ? await createBlazeFaceDetector(ort as unknown as OrtModule, await fetchBytes(d.modelUrl, 'face detector'), {
            minScore: d.minScore,
            tiles: d.tiles,
            extra: { executionProviders: ['wasm'] },
          }).catch((e: unknown) => {
            // onnxruntime's own message names no file: the URL it came from is said.
            throw e instanceof ModelError && e.source === undefined ? new ModelError(e.message, sourceName(d.modelUrl, 'face detector'), { cause: e.cause ?? e }) : e;
          })
          : await createHumanDetector(d);
  } catch (e) {
    await session.release(); // the network's session is not left holding its memory
    throw e;
  }
  // A detector the caller passed in is theirs to release (it may serve other pipelines).
  const ownsDetector = !(d && 'detect' in d);
  const o = options.orientation;
  let orientation: Orientation | null = null;
  if (o && detector) {
    try {
      const source = sourceName(o.modelUrl, 'orientation');
      orientation = await createOrientation(ort as unknown as OrtModule, await fetchBytes(o.modelUrl, 'orientation'), { extra: { executionProviders: ['wasm'] } }, source);
    } catch (e) {
      await Promise.allSettled([session.release(), ownsDetector ? detector.release?.() : undefined]);
      throw e;
    }
  }
  return Object.assign(new WebPrnet(session, layout, detector, ownsDetector, orientation), { backend, threads }); // modelMetadata: Prnet's, from the session
}

/**
 * An onnxruntime-web session for a model, trying each backend in order (WebGPU needs
 * navigator.gpu and an adapter; a backend that fails to start is skipped).
 */
export async function createWebSession(
  weights: ModelWeights,
  options: { wasmPaths?: WasmPaths; backends?: ExecutionBackend[]; threads?: number; precision?: Precision } = {},
): Promise<{ session: PrnetSession; backend: ExecutionBackend; threads: number }> {
  const precision = checkPrecision(options.precision);
  // As in Node (createSession): a whole number ≥ 1, at most the cores (NaN gave a session reporting NaN threads).
  checkThreads(options.threads);
  if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
  const isolated = typeof crossOriginIsolated !== 'undefined' && crossOriginIsolated;
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 1;
  // Without wasmPaths onnxruntime-web finds its files itself: in a bundled, cross-origin-isolated
  // page its thread workers then start from the app's own script (Vite) and die on `document`,
  // and the session never comes. So threads only where asked for, or where wasmPaths says where
  // the files are.
  const threads = isolated ? Math.min(options.threads ?? (options.wasmPaths ? Math.min(4, cores) : 1), cores) : 1;
  ort.env.wasm.numThreads = threads;
  const backends = options.backends ?? (hasWebGpu() ? ['webgpu', 'wasm'] : ['wasm']);
  const errors: unknown[] = [];
  for (const backend of backends) {
    try {
      const session = await createOrtSession(ort as unknown as OrtModule, weights, {
        source: weights.metadata.name,
        precision,
        ...(backend === 'wasm' ? { graph: WEB_WASM_GRAPH } : {}),
        extra: { executionProviders: [backend] },
      });
      // onnxruntime-web reads its threads and wasm paths once per page, when its WebAssembly
      // starts: what the first session got is what every later one runs with.
      wasmThreads ??= threads;
      return { session, backend, threads: wasmThreads };
    } catch (e) {
      errors.push(e);
    }
  }
  const notStarted = (e: unknown): boolean => WASM_NOT_STARTED.test(firstLine(e));
  if (errors.length === 1 && errors[0] instanceof Error && !notStarted(errors[0])) throw errors[0];
  // Every backend's cause: the first (WebGPU's) often names the wasm file that could not be
  // fetched, while the next only says that onnxruntime's WebAssembly did not start.
  const causes = errors.map((e, i) => `${backends[i]}: ${firstLine(e)}`).join('; ');
  // A .wasm URL that answered with a web page ('<!do…' where the wasm magic word 00 61 73 6d goes).
  const htmlWasm = /expected magic word 00 61 73 6d, found 3c/i.test(causes)
    ? ` — the WebAssembly file ${wasmFileShown(options.wasmPaths)} was answered with an HTML page, not the file: check wasmPaths and that the server has it`
    : '';
  const sticky = errors.some(notStarted)
    ? ` — onnxruntime-web does not try its WebAssembly files again in this page: correct wasmPaths (the folder holding ort-wasm-simd-threaded*.mjs and .wasm) and reload the page`
    : '';
  throw new ModelError(`no backend could run the network (${causes})${htmlWasm}${sticky}`, weights.metadata.name, { cause: errors[0] });
}

/** The .wasm file onnxruntime-web fetched, as far as wasmPaths says. */
function wasmFileShown(w: WasmPaths | undefined): string {
  if (w === undefined) return "(next to onnxruntime-web's script)";
  return typeof w === 'string' ? `${w}ort-wasm-simd-threaded*.wasm` : typeof w === 'object' && w !== null && 'wasm' in w ? String(w.wasm) : String(w);
}

/** The threads onnxruntime-web started its WebAssembly with (once per page). */
let wasmThreads: number | undefined;

/** onnxruntime-web's error once its WebAssembly failed to start in this page (it does not try again). */
const WASM_NOT_STARTED = /previous call to 'initWasm\(\)' failed/;

/** Whether this browser exposes WebGPU (an adapter may still be refused). */
export function hasWebGpu(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && !!(navigator as { gpu?: unknown }).gpu;
}

/** Anything a canvas can draw, or pixels already read. */
export type ImageSource = ImageData | HTMLImageElement | HTMLCanvasElement | HTMLVideoElement | ImageBitmap | OffscreenCanvas;

/** RGBA pixels (ImageData's layout) → the library's RGB image. */
export function rgbaToRgb(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new InputError(`the width and height must be whole numbers > 0, got ${String(width)} × ${String(height)}`);
  if (rgba.length !== width * height * 4) throw new InputError(`expected ${width}×${height}×4 RGBA bytes, got ${rgba.length}`);
  return { width, height, data: rgbaToRgbBytes(rgba, width * height) };
}

/** The RGB pixels of an image element, canvas, video frame, bitmap or ImageData. */
export function imageToRgb(source: ImageSource): RgbImage {
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) return rgbaToRgb(source.data, source.width, source.height);
  const el = source as Exclude<ImageSource, ImageData>;
  const width = 'videoWidth' in el ? el.videoWidth : 'naturalWidth' in el ? el.naturalWidth : el.width;
  const height = 'videoHeight' in el ? el.videoHeight : 'naturalHeight' in el ? el.naturalHeight : el.height;
  if (!(width > 0 && height > 0)) throw new InputError('the image has no pixels yet (not loaded?)');
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new InputError('no 2D canvas context');
  ctx.drawImage(el, 0, 0, width, height);
  let pixels: ImageData;
  try {
    pixels = ctx.getImageData(0, 0, width, height);
  } catch (e) {
    // An image from another origin without CORS taints the canvas: its pixels cannot be read.
    if ((e as { name?: string }).name === 'SecurityError') throw new InputError("the image comes from another origin without CORS, so its pixels cannot be read: serve it with Access-Control-Allow-Origin and load it with crossOrigin = 'anonymous', or fetch it and pass createImageBitmap(blob)", undefined, { cause: e });
    throw e;
  }
  return rgbaToRgb(pixels.data, width, height);
}

/** PNG encoding with a canvas (page or worker): the encoder buildOutputs takes. */
export const encodePng: PngEncoder = async (data, width, height, channels) => {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += channels) {
    const o = 4 * i;
    rgba[o] = data[j];
    rgba[o + 1] = data[channels === 1 ? j : j + 1];
    rgba[o + 2] = data[channels === 1 ? j : j + 2];
    rgba[o + 3] = 255;
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new InputError('no 2D canvas context');
  ctx.putImageData(new ImageData(rgba, width, height), 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
};

async function fetchBytes(source: Bytes, what: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  let bytes: Uint8Array;
  let type: string;
  try {
    const res = await fetch(source);
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    type = res.headers.get('content-type') ?? '';
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new ModelError(`cannot fetch the ${what}: ${(e as Error).message}`, String(source), { cause: e });
  }
  // Development servers (Vite's among them) and single-page hosts answer a path they do not
  // have with their index page, status 200: said as such, not as a corrupt file.
  if (/^text\/html\b/i.test(type) || looksLikeHtml(bytes)) {
    throw new ModelError(`the server sent an HTML page, not the ${what} file: a wrong URL? (many servers answer a path they do not have with their index page)`, String(source));
  }
  return bytes;
}

/** Whether bytes begin (after white space) with an HTML document's opening. */
function looksLikeHtml(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart().toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html');
}

function sourceName(source: Bytes, what: string): string {
  return source instanceof Uint8Array || source instanceof ArrayBuffer ? what : String(source);
}
