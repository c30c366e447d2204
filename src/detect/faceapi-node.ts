/**
 * Loads @vladmandic/face-api (SSD-MobileNetV1 and TinyFaceDetector) on the tfjs WebAssembly
 * backend in Node, from the model files the npm package ships: nothing is downloaded.
 *
 * Quirks handled here:
 * - the package's node-wasm build requires the `@tensorflow/tfjs` umbrella package, which the
 *   project does not install; that one request, from face-api's own file only, is answered with
 *   tfjs-core + tfjs-converter (the same instances @vladmandic/human uses, so both share one
 *   engine and backend);
 * - the Node bundle of tfjs-core lacks the chained tensor methods (`t.as3D()`, `t.sub()`, …) that
 *   the umbrella package registers and face-api calls; they are added to the Tensor prototype here
 *   (methods only, each a call of the op of the same name; nothing that exists is replaced).
 * - the WebAssembly binary is loaded with fetch() from a file:// URL (see node-packages.ts).
 */
import { realpathSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { installFileFetch, nodeRequire, packageDir } from './node-packages.js';

export interface FaceApiDetection {
  score: number;
  box: { x: number; y: number; width: number; height: number };
}
export interface FaceApiLike {
  tf: {
    tensor3d(data: Uint8Array | Int32Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
    setBackend(name: string): Promise<boolean>;
    ready(): Promise<void>;
    getBackend(): string;
  };
  nets: {
    ssdMobilenetv1: { loadFromDisk(dir: string): Promise<void>; isLoaded: boolean };
    tinyFaceDetector: { loadFromDisk(dir: string): Promise<void>; isLoaded: boolean };
  };
  SsdMobilenetv1Options: new (o: { minConfidence?: number; maxResults?: number }) => unknown;
  TinyFaceDetectorOptions: new (o: { inputSize?: number; scoreThreshold?: number }) => unknown;
  detectAllFaces(input: unknown, options: unknown): Promise<FaceApiDetection[]>;
}

export type FaceApiNet = 'ssd-mobilenet' | 'tiny-face';

let loaded: Promise<FaceApiLike> | undefined;
const netsLoaded = new Map<FaceApiNet, Promise<void>>();

/** The face-api module with the named detector network loaded (each loaded once). */
export async function loadFaceApi(net: FaceApiNet): Promise<FaceApiLike> {
  if (!loaded) {
    loaded = createFaceApi();
    loaded.catch(() => (loaded = undefined));
  }
  const api = await loaded;
  let p = netsLoaded.get(net);
  if (!p) {
    const dir = join(packageDir('@vladmandic/face-api', 'model/ssd_mobilenetv1_model.bin'));
    p = net === 'ssd-mobilenet' ? api.nets.ssdMobilenetv1.loadFromDisk(dir) : api.nets.tinyFaceDetector.loadFromDisk(dir);
    netsLoaded.set(net, p);
    p.catch(() => netsLoaded.delete(net));
  }
  await p;
  return api;
}

type ResolveFilename = (request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) => string;

async function createFaceApi(): Promise<FaceApiLike> {
  installFileFetch();
  const dist = packageDir('@vladmandic/face-api', 'dist/face-api.node-wasm.js');
  const entry = join(dist, 'face-api.node-wasm.js');
  const wasmDist = packageDir('@tensorflow/tfjs-backend-wasm', 'dist/tfjs-backend-wasm.wasm');

  // Answer face-api's require('@tensorflow/tfjs') with a module made of tfjs-core and -converter.
  const umbrellaId = join(dist, '__tfjs-umbrella__.js');
  const core = nodeRequire('@tensorflow/tfjs-core') as Record<string, unknown>;
  const converter = nodeRequire('@tensorflow/tfjs-converter') as Record<string, unknown>;
  registerChainedOps(core);
  const umbrella = new Module(umbrellaId);
  umbrella.filename = umbrellaId;
  umbrella.loaded = true;
  umbrella.exports = { ...core, ...converter };
  nodeRequire.cache[umbrellaId] = umbrella;
  const M = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = M._resolveFilename;
  // Node names a loaded module by its real path: node_modules reached through a link (pnpm, npm
  // link) gave another `entry`, and face-api's require('@tensorflow/tfjs') failed as not installed.
  const entryReal = realpathSync(entry);
  M._resolveFilename = function (request, parent, ...rest) {
    if (request === '@tensorflow/tfjs' && (parent?.filename === entry || parent?.filename === entryReal)) return umbrellaId;
    return original.call(this, request, parent, ...rest);
  };
  let api: FaceApiLike;
  try {
    api = nodeRequire(entry) as FaceApiLike;
  } finally {
    M._resolveFilename = original;
  }
  const wasm = nodeRequire('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
  if (api.tf.getBackend() !== 'wasm') {
    wasm.setWasmPaths(pathToFileURL(wasmDist).href + '/');
    await api.tf.setBackend('wasm');
  }
  await api.tf.ready();
  return api;
}

/** Tensor methods face-api (and tfjs code written against the umbrella package) calls. */
const CHAINED_OPS = [
  'abs', 'add', 'all', 'any', 'argMax', 'argMin', 'avgPool', 'batchNorm', 'cast', 'ceil', 'clipByValue', 'concat',
  'conv2d', 'depthwiseConv2d', 'div', 'equal', 'exp', 'expandDims', 'flatten', 'floor', 'gather', 'greater',
  'greaterEqual', 'less', 'lessEqual', 'log', 'logicalAnd', 'matMul', 'max', 'maxPool', 'maximum', 'mean', 'min',
  'minimum', 'mul', 'neg', 'pad', 'pow', 'prelu', 'relu', 'relu6', 'reshape', 'round', 'rsqrt', 'separableConv2d',
  'sigmoid', 'slice', 'softmax', 'split', 'sqrt', 'square', 'squeeze', 'stack', 'sub', 'sum', 'tile', 'transpose',
  'unstack', 'where',
];

type Op = (...args: unknown[]) => unknown;

function registerChainedOps(core: Record<string, unknown>): void {
  const proto = (core.Tensor as { prototype: Record<string, unknown> }).prototype;
  const define = (name: string, fn: (this: unknown, ...args: unknown[]) => unknown): void => {
    if (!(name in proto)) Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true });
  };
  for (const name of CHAINED_OPS) {
    const op = core[name] as Op | undefined;
    if (typeof op === 'function') define(name, function (...args) { return op(this, ...args); });
  }
  const reshape = core.reshape as Op;
  const cast = core.cast as Op;
  const image = core.image as Record<string, Op>;
  define('as1D', function () { return reshape(this, [-1]); });
  define('as2D', function (r, c) { return reshape(this, [r, c]); });
  define('as3D', function (r, c, d) { return reshape(this, [r, c, d]); });
  define('as4D', function (r, c, d, e) { return reshape(this, [r, c, d, e]); });
  define('asScalar', function () { return reshape(this, []); });
  define('asType', function (dtype) { return cast(this, dtype); });
  define('toFloat', function () { return cast(this, 'float32'); });
  define('toInt', function () { return cast(this, 'int32'); });
  define('toBool', function () { return cast(this, 'bool'); });
  define('resizeBilinear', function (...args) { return image.resizeBilinear(this, ...args); });
  define('resizeNearestNeighbor', function (...args) { return image.resizeNearestNeighbor(this, ...args); });
}
