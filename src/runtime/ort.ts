/**
 * An InferenceBackend over any onnxruntime JavaScript package. onnxruntime-node and
 * onnxruntime-web share the InferenceSession / Tensor API, so both bindings pass their module here.
 */
import { firstLine, ModelError } from '../errors.js';
import { buildResfcnOnnx, checkConfig, type GraphOptions, type Precision, type ResfcnConfig } from '../model/resfcn.js';
import { HalfTensorMap } from '../model/tensor-map.js';
import { DEFAULT_PRECISION_KEY, int8RangesFromMetadata, nonFinite, validateTensors, type ModelWeights } from '../model/weights.js';
import { firstNotFinite } from '../util/finite.js';
import { PrnetSession, checkPrecision, type GraphSource, type InferenceBackend, type SessionOptions } from './session.js';

/** The parts of an onnxruntime module this binding uses. */
export interface OrtModule {
  InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtInferenceSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}

export interface OrtInferenceSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
  release(): Promise<void>;
}

/**
 * Opens a small helper network's graph (the face detector, the orientation network): sequential,
 * `threads` intra-op threads (default 1), onnxruntime's warnings off, `extra` (the runtime's own
 * options) over those; a failure is a ModelError saying which network (`what`) and `source`.
 */
export async function openHelperSession(ort: OrtModule, graph: Uint8Array, what: string, options: { threads?: number; extra?: Record<string, unknown>; source?: string } = {}): Promise<OrtInferenceSession> {
  try {
    return await ort.InferenceSession.create(graph, {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      ...options.extra,
    });
  } catch (e) {
    throw new ModelError(`onnxruntime could not load ${what}: ${(e as Error).message}`, options.source, { cause: e });
  }
}

/**
 * Builds the ONNX graph from the weights and opens it with the given onnxruntime module. `graph`
 * overrides the graph options (scripts compare graph forms with it).
 */
export async function createOrtSession(
  ort: OrtModule,
  weights: ModelWeights,
  options: SessionOptions & { source?: string; extra?: Record<string, unknown>; graph?: GraphOptions } = {},
): Promise<PrnetSession> {
  const { graph, precision } = buildNetworkGraph(weights, options);
  return openNetworkSession(ort, graph, { config: weights.config, metadata: weights.metadata, precision, graph: 'built' }, options);
}

/**
 * Checks the weights and builds their network's ONNX graph at the precision asked for (else the
 * model's default); `graph` overrides the graph options.
 */
export function buildNetworkGraph(weights: ModelWeights, options: { precision?: Precision; source?: string; graph?: GraphOptions } = {}): { graph: Uint8Array; precision: Precision } {
  checkWeights(weights, options.source);
  const graphOptions: GraphOptions = networkGraphOptions(weights.metadata, options.precision, options.source);
  for (const [k, v] of Object.entries(options.graph ?? {})) if (v !== undefined) Object.assign(graphOptions, { [k]: v });
  try {
    return { graph: buildResfcnOnnx(weights.tensors, weights.config, graphOptions), precision: graphOptions.precision ?? 'fp32' };
  } catch (e) {
    // (the graph builder knows no file: a calibration without a range it needs names the model's)
    if (e instanceof ModelError && e.source === undefined && options.source) throw new ModelError(e.message, options.source, { cause: e });
    throw e;
  }
}

/**
 * The precision a model's network runs at (the one asked for, else the model file's default:
 * int8 where the file names it and is calibrated, else fp32) and the graph options for it;
 * ModelError for int8 asked of a model without a calibration.
 */
export function networkGraphOptions(metadata: Record<string, string>, asked: unknown, source?: string): GraphOptions & { precision: Precision } {
  const ranges = int8RangesFromMetadata(metadata, source ?? 'model');
  // The model file names its default (docs/model-format.md); int8 only where it is calibrated.
  const precision = checkPrecision(asked) ?? (ranges && metadata[DEFAULT_PRECISION_KEY] === 'int8' ? 'int8' : 'fp32');
  if (precision !== 'int8') return { precision };
  if (!ranges) throw new ModelError('the model has no int8 calibration (metadata "int8_ranges"; see scripts/calibrate-int8.ts): use precision fp32', source);
  return { precision, ranges };
}

/**
 * Opens a network's ONNX graph (built from the weights at load, or the graph cache's) as a
 * PrnetSession: `graph` is the session's note of which; `probe` (default on) runs one pass on a
 * test input first.
 */
export async function openNetworkSession(
  ort: OrtModule,
  graph: Uint8Array,
  network: { config: ResfcnConfig; metadata: Record<string, string>; precision: Precision; graph: GraphSource },
  options: { threads?: number; probe?: boolean; source?: string; extra?: Record<string, unknown> } = {},
): Promise<PrnetSession> {
  const sessionOptions: Record<string, unknown> = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...(options.threads !== undefined ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
    ...options.extra,
  };
  let session: OrtInferenceSession;
  try {
    session = await ort.InferenceSession.create(graph, sessionOptions);
  } catch (e) {
    throw new ModelError(`onnxruntime could not load the network: ${(e as Error).message}`, options.source, { cause: e });
  }
  const backend: InferenceBackend = {
    async run(input, dims) {
      // onnxruntime reads the whole underlying buffer in some builds: pass views as exact copies.
      const data = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? input : input.slice();
      const tensor = new ort.Tensor('float32', data, dims);
      const result = await session.run({ input: tensor });
      const out = result.output;
      if (!out || !(out.data instanceof Float32Array)) throw new ModelError('the network returned no float32 "output"', options.source);
      return out.data;
    },
    release: () => session.release(),
  };
  if (options.probe !== false) await probe(backend, network.config.inputSize, options.source);
  return new PrnetSession(backend, network.config, network.precision, network.metadata, network.graph);
}

/** Weights given in memory get the checks a model file gets (ModelError, not a TypeError later). */
function checkWeights(weights: ModelWeights, source = 'model weights'): void {
  const w = weights as Partial<ModelWeights> | null;
  if (!w || typeof w !== 'object' || !w.config || !(w.tensors instanceof Map)) {
    throw new ModelError('expected model weights ({ config, tensors: Map, metadata }) or a model file path', source);
  }
  checkConfig(w.config, source);
  // A model file's half-precision tensors are checked as they are (decoding them here would undo the lazy load).
  const lazy = w.tensors instanceof HalfTensorMap ? w.tensors : undefined;
  validateTensors(w.config, lazy ? lazy.lengths() : w.tensors, source);
  for (const [name, t] of lazy ? lazy.decodedEntries() : w.tensors) {
    if (!(t instanceof Float32Array)) throw new ModelError(`tensor ${name} is not a Float32Array`, source);
    // A NaN or infinity given in memory: the fp32 graph's test run would see it in the output, but
    // the int8 graph quantizes it away silently (a NaN weight became 0, the landmarks off by pixels).
    const bad = firstNotFinite(t);
    if (bad >= 0) throw nonFinite(name, bad, source);
  }
}

/**
 * One forward pass on a fixed input (mid-grey with a gradient) at load: a model that passes
 * validation but whose network output is not finite (zero running variances with zero epsilon
 * effect, huge weights, an output scale past float32) fails here with ModelError instead of at
 * the first image.
 */
async function probe(backend: InferenceBackend, size: number, source: string | undefined): Promise<void> {
  const plane = size * size;
  const input = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) input[c * plane + i] = 0.25 + (0.5 * (i % size)) / size;
  let out: Float32Array;
  try {
    out = await backend.run(input, [1, 3, size, size]);
  } catch (e) {
    await backend.release().catch(() => undefined);
    if (e instanceof ModelError) throw e;
    throw new ModelError(`the network failed on a test input: ${firstLine(e)}`, source, { cause: e });
  }
  let bad = out.length !== 3 * plane ? -2 : -1;
  if (bad === -1) {
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) {
        bad = i;
        break;
      }
    }
  }
  if (bad !== -1) {
    await backend.release().catch(() => undefined);
    throw new ModelError(
      bad === -2 ? `the network returned ${out.length} values for one ${size}² input, expected ${3 * plane}` : 'the network outputs non-finite values (NaN or infinity) on a test input: the weights are broken',
      source,
    );
  }
}
