/**
 * Which model and backend the app starts with: WebGPU → the default model (resfcn256, 256²
 * input), WebAssembly → the light one (width 8, 128² input), which is ~16× cheaper. The URL
 * parameters `model` (default | light) and `backend` (webgpu | wasm), and the page's model
 * select, override the choice.
 */
import type { ExecutionBackend } from '../../src/browser.js';
import type { ModelName } from './protocol.js';

export interface RuntimeChoice {
  model: ModelName;
  backends: ExecutionBackend[];
  /** Why this model, for the status line. */
  reason: string;
}

interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

/** Whether WebGPU gives an adapter here. */
export async function webGpuAvailable(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Whether the app serves a model file. */
async function served(base: string, model: ModelName): Promise<boolean> {
  try {
    const res = await fetch(new URL(`models/prnet-${model}.safetensors`, base), { method: 'HEAD' });
    // A single-page host (vite preview, many static hosts) answers a missing file with its index
    // page, status 200: not the model.
    return res.ok && !/^text\/html/i.test(res.headers.get('content-type') ?? '');
  } catch {
    return false;
  }
}

export async function chooseRuntime(base: string, params: URLSearchParams, selected: 'auto' | ModelName): Promise<RuntimeChoice> {
  const backendParam = params.get('backend');
  const gpu = backendParam === 'wasm' ? false : await webGpuAvailable();
  const backends: ExecutionBackend[] = gpu ? ['webgpu', 'wasm'] : ['wasm'];
  const modelParam = params.get('model');
  let model: ModelName;
  let reason: string;
  if (selected !== 'auto') {
    model = selected;
    reason = 'chosen';
  } else if (modelParam === 'default' || modelParam === 'light') {
    model = modelParam;
    reason = 'URL parameter';
  } else {
    model = gpu ? 'default' : 'light';
    reason = gpu ? 'WebGPU available' : 'no WebGPU: WebAssembly';
  }
  if (!(await served(base, model))) {
    const other: ModelName = model === 'default' ? 'light' : 'default';
    reason = `${model} model not served, using ${other}`;
    model = other;
  }
  return { model, backends, reason };
}

/**
 * `?threads=`: a whole number ≥ 1 in plain decimal digits, leading zeros allowed ("01" is 1, as
 * the address bar's users type it); absent or empty: undefined. Anything else is refused, naming
 * the value: 0, a sign, a fraction, an exponent, or more than 2⁵³ − 1 (whose digits a Number no
 * longer holds). The error carries `inAddress` (the page says to mend the address, not to choose a
 * model again). A count above the cores is taken as the cores, by the library.
 */
export function parseThreads(value: string | null): number | undefined {
  if (!value) return undefined;
  const threads = Number(value);
  if (/^\d+$/.test(value) && Number.isSafeInteger(threads) && threads >= 1) return threads;
  throw Object.assign(new Error(`?threads= must be a whole number ≥ 1, got "${value}": correct it or remove it from the address`), { inAddress: true });
}
