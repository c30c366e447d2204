/**
 * Where a frame's time goes in the browser (WebAssembly): each stage of the app's per-frame path
 * (VideoTracker → Prnet.reconstruct on a tracked crop) timed on its own, the network for each
 * precision and batch size, all interleaved round by round, medians. Runs in a worker, as the app.
 */
import {
  FaceStabilizer, WEB_WASM_GRAPH, createPrnet, createWebSession, cropFromBox, estimatePose, mergeFlippedMap, mirrorImage, parseModelFile,
  readLandmarks, readVertices, rgbaToRgb, smoothPositionMap, uncropPositionMap, warpCrop, type RgbImage,
} from '../../src/browser.js';
import * as ort from 'onnxruntime-web';
import { chwToHwc, hwcToChw, resizeSquare } from '../../src/runtime/resample.js';
import { createOrtSession, type OrtModule } from '../../src/runtime/ort.js';
import type { PrnetSession } from '../../src/runtime/session.js';

export interface ProfileRequest {
  base: string;
  /** RGB bytes of the frame, transferred. */
  rgb: ArrayBuffer;
  width: number;
  height: number;
  rounds: number;
  threads?: number;
  /** Also time the default model (slow: one run of it per round). */
  withDefault: boolean;
}

export interface ProfileReply {
  crossOriginIsolated: boolean;
  threads: number;
  /** Stage → median milliseconds. */
  stages: Record<string, number>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

async function run(req: ProfileRequest): Promise<ProfileReply> {
  const url = (p: string): string => new URL(p, req.base).href;
  const prnet = await createPrnet({
    // onnxruntime-web's plain WebAssembly build, as the app uses without WebGPU.
    modelUrl: url('models/prnet-light.safetensors'), layoutUrl: url('layout.safetensors'),
    wasmPaths: { mjs: url('ort/ort-wasm-simd-threaded.mjs'), wasm: url('ort/ort-wasm-simd-threaded.wasm') },
    backends: ['wasm'], threads: req.threads, detector: { modelUrl: url('detector/blazeface-back-256.onnx') },
  });
  const bytes = async (p: string): Promise<Uint8Array> => new Uint8Array(await (await fetch(url(p))).arrayBuffer());
  const light = parseModelFile(await bytes('models/prnet-light.safetensors'), 'light');
  const nets: [string, PrnetSession][] = [
    ['light fp32', prnet.session],
    ['light int8', (await createWebSession(light, { backends: ['wasm'], precision: 'int8' })).session],
  ];
  // The light fp32 session again with onnxruntime's intra-op threads sleeping between runs
  // (allow_spinning 0) instead of spinning, which holds the cores away from the JavaScript stages.
  const noSpin = (await createOrtSession(ort as unknown as OrtModule, light, {
    precision: 'fp32', graph: WEB_WASM_GRAPH, extra: { executionProviders: ['wasm'], extra: { session: { intra_op: { allow_spinning: '0' } } } },
  }));
  if (req.withDefault) {
    const def = parseModelFile(await bytes('models/prnet-default.safetensors'), 'default');
    nets.push(['default int8', (await createWebSession(def, { backends: ['wasm'], precision: 'int8' })).session]);
  }
  const L = prnet.layout;
  const image: RgbImage = { width: req.width, height: req.height, data: new Uint8Array(req.rgb) };
  const rgba = new Uint8Array(req.width * req.height * 4);
  for (let i = 0, j = 0; j < image.data.length; i += 4, j += 3) rgba.set(image.data.subarray(j, j + 3), i);
  const [box] = await prnet.detect(image);
  if (!box) throw new Error('no face in the frame');
  const crop = cropFromBox(box, 'blazeface');
  const stabilizer = new FaceStabilizer(L);
  const mask128 = new Uint8Array(128 * 128);
  for (let i = 0; i < L.faceMask.length; i++) if (L.faceMask[i]) mask128[((i / 256 / 2) | 0) * 128 + (((i % 256) / 2) | 0)] = 1;
  const T: Record<string, number[]> = {};
  const add = (name: string, ms: number): void => {
    (T[name] ??= []).push(ms);
  };
  const span = <R>(name: string, f: () => R): R => {
    const t = performance.now();
    const r = f();
    add(name, performance.now() - t);
    return r;
  };
  for (let round = 0; round < req.rounds + 2; round++) {
    span('rgba → rgb', () => rgbaToRgb(rgba, req.width, req.height));
    let t = performance.now();
    await prnet.detect(image);
    add('detect (BlazeFace)', performance.now() - t);
    const c = span('crop: warpCrop 256²', () => warpCrop(image, crop));
    const mirrored = span('crop: mirror (flip)', () => mirrorImage(c));
    for (const [name, session] of nets) {
      const S = session.config.inputSize;
      const small = span(`crop: shrink → ${S}² + CHW (${name.split(' ')[0]})`, () => {
        const s = S === 256 ? c.data : resizeSquare(c.data, 256, S, 3);
        const input = new Float32Array(2 * 3 * S * S);
        hwcToChw(s, S, 3, input, 0);
        hwcToChw(S === 256 ? mirrored.data : resizeSquare(mirrored.data, 256, S, 3), S, 3, input, 3 * S * S);
        return input;
      });
      t = performance.now();
      await session.run(small.subarray(0, 3 * S * S), 1);
      add(`network ${name}, 1 crop`, performance.now() - t);
      if (name.startsWith('light')) {
        t = performance.now();
        await session.run(small, 2);
        add(`network ${name}, 2 crops (flip)`, performance.now() - t);
      }
    }
    for (const [name, session] of [['spinning', prnet.session], ['no spinning', noSpin]] as const) {
      const input = new Float32Array(3 * 128 * 128);
      t = performance.now();
      const o = await session.run(input, 1);
      add(`light fp32 1 crop, threads ${name}: network`, performance.now() - t);
      const t1 = performance.now();
      const small = smoothPositionMap({ size: 128, data: chwToHwc(o, 128, 3, 0) }, mask128, 1);
      const up = { size: 256, data: resizeSquare(small.data, 128, 256, 3) };
      const v2 = readVertices(uncropPositionMap(up, crop), L);
      estimatePose(v2, L.canonical);
      add(`light fp32 1 crop, threads ${name}: read-offs right after`, performance.now() - t1);
      add(`light fp32 1 crop, threads ${name}: both`, performance.now() - t);
    }
    t = performance.now();
    const [map, mmap] = await prnet.session.predictBatch([c, mirrored]);
    add('predictBatch light fp32, 2 crops (with resampling)', performance.now() - t);
    const out = await prnet.session.run(new Float32Array(3 * 128 * 128), 1);
    const raw = chwToHwc(out, 128, 3, 0);
    span('read-off: CHW → HWC + upsample 128² → 256²', () => resizeSquare(chwToHwc(out, 128, 3, 0), 128, 256, 3));
    const merged = span('flip merge', () => mergeFlippedMap(map, mmap, L));
    const sm = span('read-off: smooth σ 2 at 256² (flip)', () => smoothPositionMap(merged, L.faceMask, 2));
    span('read-off: smooth σ 1 at 128² + upsample (no flip)', () => resizeSquare(smoothPositionMap({ size: 128, data: raw }, mask128, 1).data, 128, 256, 3));
    const un = span('read-off: uncrop', () => uncropPositionMap(sm, crop));
    const v = span('read-off: vertices + landmarks', () => (readLandmarks(un, L), readVertices(un, L)));
    span('read-off: pose', () => estimatePose(v, L.canonical));
    t = performance.now();
    const r = await prnet.reconstruct(image, { crops: [crop], flip: false });
    add('reconstruct light fp32, no flip (whole)', performance.now() - t);
    add('reconstruct: crop', r.timings.crop);
    add('reconstruct: network', r.timings.network);
    add('reconstruct: read-offs (smooth at 128²)', r.timings.readoff);
    span('stabilise', () => stabilizer.stabilize(r.faces[0], round * 33));
  }
  const stages: Record<string, number> = {};
  for (const [k, v] of Object.entries(T)) stages[k] = +median(v.slice(2)).toFixed(2);
  return { crossOriginIsolated: self.crossOriginIsolated, threads: prnet.threads, stages };
}

self.onmessage = (e: MessageEvent<ProfileRequest>) => {
  run(e.data).then(
    (r) => self.postMessage(r),
    (err: unknown) => self.postMessage({ error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
};
