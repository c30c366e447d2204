/**
 * The app's static files that do not come from its sources: the model, detector and layout
 * assets and the WebAssembly binaries of onnxruntime-web. The dev server
 * serves them from where they lie; the build copies them into the output. Every file is served
 * by the app itself: nothing is fetched from a CDN at run time.
 *
 * While the trained models are not in assets/models/, random-weights stand-ins are generated
 * into web/.dev-models/ (ignored by git) so that the app runs; their results are meaningless.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { packageDir } from '../src/detect/node-packages.js';
import { RESFCN256 } from '../src/model/resfcn.js';
import { randomWeights, serializeModel } from '../src/model/weights.js';

const repo = resolve(import.meta.dirname, '..');
const devModels = join(repo, 'web', '.dev-models');

/** The models the app offers: name → network configuration of its stand-in. */
export const APP_MODELS = {
  default: { width: 16, inputSize: 256 },
  light: { width: 16, inputSize: 128, architecture: 'mobile' },
} as const;

/** Cross-origin isolation (SharedArrayBuffer, hence WebAssembly threads). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/** URL path (under the app's base) → file on disk. */
export function staticFiles(log: (msg: string) => void = console.warn): Map<string, string> {
  const ort = packageDir('onnxruntime-web', 'dist/ort-wasm-simd-threaded.jsep.wasm');
  const files = new Map<string, string>();
  // The JSEP build (WebGPU and WebAssembly) and the plain WebAssembly build, which the app uses
  // where WebGPU is not (half the size, full speed sooner after load: docs/web.md).
  for (const build of ['.jsep', '']) for (const ext of ['mjs', 'wasm']) {
    const f = `ort-wasm-simd-threaded${build}.${ext}`;
    files.set(`ort/${f}`, join(ort, f));
  }
  files.set('detector/blazeface-back-256.onnx', join(repo, 'assets', 'detector', 'blazeface-back-256.onnx'));
  files.set('detector/orientation.safetensors', join(repo, 'assets', 'detector', 'orientation.safetensors'));
  files.set('layout.safetensors', join(repo, 'assets', 'layout.safetensors'));
  for (const name of Object.keys(APP_MODELS) as (keyof typeof APP_MODELS)[]) {
    const real = join(repo, 'assets', 'models', `prnet-${name}.safetensors`);
    files.set(`models/prnet-${name}.safetensors`, existsSync(real) ? real : standIn(name, log));
  }
  return files;
}

/** The random-weights stand-in for a missing model (generated once). */
function standIn(name: keyof typeof APP_MODELS, log: (msg: string) => void): string {
  const cfg = APP_MODELS[name];
  // Named by its configuration, so that a stand-in generated for an earlier one is not reused.
  const arch = 'architecture' in cfg ? cfg.architecture : 'resfcn';
  const path = join(devModels, `prnet-${name}-${arch}-w${cfg.width}-s${cfg.inputSize}.safetensors`);
  log(`assets/models/prnet-${name}.safetensors is missing: using a random-weights stand-in (${path}); its results are meaningless`);
  if (!existsSync(path)) {
    const weights = randomWeights({ ...RESFCN256, ...cfg }, 1, { name: `random-stand-in-${name}`, description: 'random weights for development only' });
    mkdirSync(devModels, { recursive: true });
    writeFileSync(path, serializeModel(weights, { dtype: 'F16' }));
  }
  return path;
}

const TYPES: Record<string, string> = {
  '.wasm': 'application/wasm',
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
};

export function contentType(path: string): string {
  const ext = path.slice(path.lastIndexOf('.'));
  return TYPES[ext] ?? 'application/octet-stream';
}

/** The Vite plugin: serve the files in dev, copy them into the build. */
export function prnetAssets(): Plugin {
  let files: Map<string, string> | null = null;
  let outDir = '';
  const get = (): Map<string, string> => (files ??= staticFiles());
  return {
    name: 'prnet-assets',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      const base = server.config.base;
      server.middlewares.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
        const url = (req.url ?? '').split('?')[0];
        const path = url.startsWith(base) ? url.slice(base.length) : null;
        const file = path ? get().get(path) : undefined;
        if (!file) return next();
        res.writeHead(200, { 'Content-Type': contentType(file), 'Content-Length': statSync(file).size, ...ISOLATION_HEADERS });
        res.end(readFileSync(file));
      });
    },
    generateBundle(_options, bundle) {
      // onnxruntime-web names its .wasm with `new URL(…, import.meta.url)`, which the bundler copies
      // into assets/; the app loads it from ort/ (ort.env.wasm.wasmPaths), so that copy is dropped.
      for (const name of Object.keys(bundle)) if (/ort-wasm-simd-threaded[^/]*\.wasm$/.test(name)) delete bundle[name];
    },
    writeBundle() {
      for (const [url, file] of get()) {
        const dest = join(outDir, url);
        mkdirSync(dirname(dest), { recursive: true });
        copyFileSync(file, dest);
      }
    },
  };
}
