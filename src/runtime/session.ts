/**
 * The runtime-agnostic part of inference: a `PrnetSession` wraps one inference backend (an
 * onnxruntime-node or onnxruntime-web InferenceSession over the emitted resfcn graph) and does the
 * tensor layout and resampling around it. Bindings live in node.ts and web.ts.
 *
 * Sessions are expensive to create (the graph is built from the weights and optimised by
 * onnxruntime, ~1 s for resfcn256): create one per model and reuse it for every image. Runs on
 * one session are queued, so a session may be shared by concurrent callers.
 */
import { DisposedError, InputError, shownValue } from '../errors.js';
import type { Precision, ResfcnConfig } from '../model/resfcn.js';
import type { FloatImage, PositionMap } from '../types.js';
import { chwToHwc, hwcToChw, resizeSquare } from './resample.js';

import { CROP_SIZE } from '../crop/transform.js';

/** Side of the crop the pipeline feeds and of the UV layout the position map uses. */
export { CROP_SIZE };

/** What a binding provides: one forward pass over an NCHW float32 batch. */
export interface InferenceBackend {
  /** input: N×3×S×S float32; returns N×3×S×S float32. */
  run(input: Float32Array, dims: readonly [number, number, number, number]): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface SessionOptions {
  /**
   * Threads for one forward pass (onnxruntime intra-op threads). Default in Node: the cores on a
   * machine of up to 4, else onnxruntime's own choice (runtime/node.ts, defaultSessionThreads); in
   * the browser: onnxruntime-web's setting.
   */
  threads?: number;
  /**
   * Run one forward pass on a fixed input at load and fail with ModelError if the output is not
   * finite (default true). The bundled models skip it (their outputs are checked by the test
   * suite), which keeps start-up one forward pass shorter.
   */
  probe?: boolean;
  /**
   * Numeric precision of the network (docs/model-format.md): 'int8' runs the quantized graph
   * (int8 weights and activations where the error stays small, from the model file's stored
   * calibration), 'fp32' the float graph. Default: the model file's `default_precision` (int8
   * for the bundled default model, fp32 for the light one), else 'fp32'.
   */
  precision?: Precision;
}

/** Checks a precision option (undefined: the model decides); InputError names a bad value. */
/** A thread count option: undefined, or a whole number ≥ 1 (InputError; NaN gave a session reporting NaN threads). */
export function checkThreads(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw new InputError(`threads must be a whole number ≥ 1, got ${shownValue(value)}`);
}

export function checkPrecision(value: unknown): Precision | undefined {
  if (value === undefined) return undefined;
  if (value === 'fp32' || value === 'int8') return value;
  throw new InputError(`precision must be 'fp32' or 'int8', got ${JSON.stringify(value)}`);
}

/**
 * Where a session's ONNX graph came from: 'built' from the weights at load, or 'cached': the graph
 * cache's copy of the graph an earlier load of the same model file built (Node; docs/model-format.md,
 * "The graph cache").
 */
export type GraphSource = 'built' | 'cached';

export class PrnetSession {
  readonly config: Readonly<ResfcnConfig>;
  /** The precision the network runs at. */
  readonly precision: Precision;
  /** Where the network's graph came from: 'built' at load, or 'cached' (Node's graph cache). */
  readonly graph: GraphSource;
  private readonly backend: InferenceBackend;
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;

  /** The model file's metadata: its config keys and model card (name, description, source, license, init, …). */
  readonly metadata: Readonly<Record<string, string>>;

  constructor(backend: InferenceBackend, config: ResfcnConfig, precision: Precision = 'fp32', metadata: Record<string, string> = {}, graph: GraphSource = 'built') {
    this.backend = backend;
    this.precision = precision;
    this.graph = graph;
    this.config = Object.freeze({ ...config });
    this.metadata = Object.freeze({ ...metadata });
  }

  /** The network's input side S. */
  get inputSize(): number {
    return this.config.inputSize;
  }

  /**
   * Raw forward pass: `input` is N×3×S×S (NCHW, RGB 0..1, S = inputSize); returns N×3×S×S
   * position channels (x, y, z) in crop-pixel units of a 256 crop.
   */
  run(input: Float32Array, n: number): Promise<Float32Array> {
    const S = this.config.inputSize;
    if (this.released) return Promise.reject(new DisposedError('the session was released: create another'));
    if (!Number.isInteger(n) || n < 1) return Promise.reject(new InputError(`batch size must be a positive integer, got ${n}`));
    if (input.length !== n * 3 * S * S) {
      return Promise.reject(new InputError(`input has ${input.length} values, expected ${n}×3×${S}×${S} = ${n * 3 * S * S}`));
    }
    const result = this.queue.then(() => this.backend.run(input, [n, 3, S, S]));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Position map of one 256×256 crop (HWC RGB floats 0..1): 256×256×3 HWC, crop-pixel units.
   * A model with a smaller input size sees the crop shrunk (area average) and its map is
   * upsampled back to 256² (bilinear).
   */
  async predict(crop: FloatImage): Promise<PositionMap> {
    const [map] = await this.predictBatch([crop]);
    return map;
  }

  /** Position maps of several crops in one forward pass. */
  async predictBatch(crops: readonly FloatImage[]): Promise<PositionMap[]> {
    const S = this.config.inputSize;
    const maps = await this.predictBatchAtInput(crops);
    return S === CROP_SIZE ? maps : maps.map((m) => ({ size: CROP_SIZE, data: resizeSquare(m.data, S, CROP_SIZE, 3) }));
  }

  /**
   * Position maps of several crops on the network's own grid (inputSize², HWC; values in
   * crop-pixel units of the 256 crop, as predictBatch's): for a smaller model, before the
   * upsampling to the 256² layout.
   */
  async predictBatchAtInput(crops: readonly FloatImage[]): Promise<PositionMap[]> {
    const S = this.config.inputSize;
    const plane = S * S;
    const input = new Float32Array(crops.length * 3 * plane);
    crops.forEach((crop, i) => {
      if (crop.width !== CROP_SIZE || crop.height !== CROP_SIZE || crop.data.length !== CROP_SIZE * CROP_SIZE * 3) {
        throw new InputError(`crop ${i} must be ${CROP_SIZE}×${CROP_SIZE}×3 floats, got ${crop.width}×${crop.height} (${crop.data.length} values)`);
      }
      const src = S === CROP_SIZE ? crop.data : resizeSquare(crop.data, CROP_SIZE, S, 3);
      hwcToChw(src, S, 3, input, i * 3 * plane);
    });
    if (crops.length === 0) return [];
    const output = await this.run(input, crops.length);
    return crops.map((_, i) => ({ size: S, data: chwToHwc(output, S, 3, i * 3 * plane) }));
  }

  /** Frees the backend's native resources; the session cannot run afterwards. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.queue;
    await this.backend.release();
  }
}
