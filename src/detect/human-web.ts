/**
 * The face detector in the browser (a page or a worker): @vladmandic/human's BlazeFace (+ FaceMesh
 * for the 'blazeface-mesh' box) on the tfjs WebAssembly backend, with every file served by the app
 * itself: human's ESM build, its model files (models/blazeface.*, models/facemesh.*) and the tfjs
 * .wasm binaries. Nothing is fetched from a CDN (human's defaults would).
 *
 * Boxes follow the Node detector's contract (create-node.ts): the image is downscaled to a long
 * side of 640 first, a padded second look finds faces cut by the frame's edges, and the
 * 'blazeface-mesh' box is the bounding box of the 468 mesh points.
 */
import type { FaceBox, RgbImage } from '../types.js';
import { DEFAULT_MIN_SCORE, detectScaled, type Detector } from './detector.js';
import { humanBoxes, humanConfig, type HumanDetectLike } from './human-common.js';
import { DETECT_MAX_SIDE } from './resize.js';

/** The slice of human's API this detector uses. */
export interface HumanInstance extends HumanDetectLike {
  load(): Promise<void>;
  tf: HumanDetectLike['tf'] & { env(): { set(flag: string, value: boolean): void } };
}
export type HumanConstructor = new (config: Record<string, unknown>) => HumanInstance;

export interface HumanWebOptions {
  /**
   * human's `Human` class (from `@vladmandic/human/dist/human.esm.js`, imported by the app's
   * bundler), or the URL of that file to import at run time.
   */
  human: HumanConstructor | string | URL;
  /** URL of the folder (ending in '/') that serves blazeface.json/.bin and facemesh.json/.bin. */
  modelBasePath: string;
  /** URL of the folder (ending in '/') that serves tfjs-backend-wasm's .wasm files. */
  wasmPath: string;
  /** 'blazeface-mesh' (default, the library's default detector) or 'blazeface'. */
  kind?: 'blazeface' | 'blazeface-mesh';
  /** tfjs backend for the detector (default 'wasm'). */
  backend?: 'wasm' | 'webgl' | 'webgpu' | 'cpu';
  /** Lowest score kept (default 0.5). */
  minScore?: number;
  /** Most faces returned (default 20). */
  maxFaces?: number;
  /** Long side of the copy the detector sees (default 640). */
  maxSide?: number;
  /** Look again inside a black border when nothing is found or a face fills the frame (default true). */
  retryPadded?: boolean;
}

/** Loads human and its models; returns a Detector. */
export async function createHumanDetector(options: HumanWebOptions): Promise<Detector> {
  const kind = options.kind ?? 'blazeface-mesh';
  const mesh = kind === 'blazeface-mesh';
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE[kind];
  const maxFaces = options.maxFaces ?? 20;
  const maxSide = options.maxSide ?? DETECT_MAX_SIDE;
  const retryPadded = options.retryPadded ?? true;
  const Human = typeof options.human === 'function'
    ? options.human
    : ((await import(/* @vite-ignore */ String(options.human))) as { Human: HumanConstructor }).Human;
  const human = new Human(humanConfig({
    backend: options.backend ?? 'wasm',
    wasmPath: options.wasmPath,
    modelBasePath: options.modelBasePath,
    mesh,
    maxFaces,
    minConfidence: 0.3,
    extra: { wasmPlatformFetch: false, warmup: 'none' },
  }));
  // tfjs's threaded WebAssembly build starts its workers from an inlined script that breaks once
  // bundled; BlazeFace is small, and one thread leaves the cores to the network.
  human.tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  await human.load();

  const run = humanBoxes(human, mesh, minScore);

  return {
    kind,
    detect: (image: RgbImage): Promise<FaceBox[]> => detectScaled(run, image, { maxSide, maxFaces, retryPadded }),
  };
}
