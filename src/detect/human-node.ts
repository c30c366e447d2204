/**
 * Loads @vladmandic/human (BlazeFace + FaceMesh) on the tfjs WebAssembly backend in Node, from the
 * model files the npm package ships: nothing is downloaded.
 *
 * Two quirks of the package are handled here, once:
 * - its `exports` map is broken for Node, so it is required by file path;
 * - it loads models with fetch(), and Node's fetch does not read file:// URLs, so a shim serves
 *   file:// URLs from disk (and passes every other URL to the real fetch).
 */
import { join } from 'node:path';
import { humanConfig } from './human-common.js';
import { pathToFileURL } from 'node:url';
import { installFileFetch, nodeRequire as require, packageDir } from './node-packages.js';

// The package's types are loose; this is the slice of its API the project uses.
export interface HumanFaceResult {
  box: [number, number, number, number];
  score: number;
  boxScore: number;
  faceScore: number;
  /** 468 (or 478 with iris) points: x, y in image pixels; z relative, in units of the 192-px face crop, negative = nearer. */
  mesh: [number, number, number][];
  meshRaw: [number, number, number][];
}
export interface HumanLike {
  load(): Promise<void>;
  detect(input: unknown): Promise<{ face: HumanFaceResult[] }>;
  tf: {
    tensor3d(data: Uint8Array | Int32Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
    getBackend(): string;
  };
}

export interface HumanOptions {
  /** Run FaceMesh (468 points) after BlazeFace; off for detection alone. */
  mesh?: boolean;
  maxFaces?: number;
  minConfidence?: number;
}

const cache = new Map<string, Promise<HumanLike>>();

/** A loaded Human instance, created once per option set and reused. */
export function loadHuman(options: HumanOptions = {}): Promise<HumanLike> {
  const key = JSON.stringify(options);
  let p = cache.get(key);
  if (!p) {
    p = createHuman(options);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function createHuman(options: HumanOptions): Promise<HumanLike> {
  installFileFetch();
  const humanDist = packageDir('@vladmandic/human', 'dist/human.node-wasm.js');
  const humanModels = join(humanDist, '..', 'models');
  const wasmDist = packageDir('@tensorflow/tfjs-backend-wasm', 'dist/tfjs-backend-wasm.wasm');
  const mod = require(join(humanDist, 'human.node-wasm.js')) as { Human: new (config: unknown) => HumanLike };
  const human = new mod.Human(humanConfig({
    backend: 'wasm',
    wasmPath: pathToFileURL(wasmDist).href + '/',
    modelBasePath: pathToFileURL(humanModels).href + '/',
    mesh: options.mesh ?? true,
    maxFaces: options.maxFaces ?? 20,
    minConfidence: options.minConfidence ?? 0.3,
  }));
  await human.load();
  return human;
}
