/**
 * An InferenceBackend over any onnxruntime JavaScript package. onnxruntime-node and
 * onnxruntime-web share the InferenceSession / Tensor API, so both bindings pass their module here.
 */
import { ModelError } from '../errors.js';
import { buildResfcnOnnx, type GraphOptions } from '../model/resfcn.js';
import { DEFAULT_PRECISION_KEY, int8RangesFromMetadata, type ModelWeights } from '../model/weights.js';
import { PrnetSession, checkPrecision, type InferenceBackend, type SessionOptions } from './session.js';

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
 * Builds the ONNX graph from the weights and opens it with the given onnxruntime module. `graph`
 * overrides the graph options (scripts compare graph forms with it).
 */
export async function createOrtSession(
  ort: OrtModule,
  weights: ModelWeights,
  options: SessionOptions & { source?: string; extra?: Record<string, unknown>; graph?: GraphOptions } = {},
): Promise<PrnetSession> {
  const ranges = int8RangesFromMetadata(weights.metadata, options.source ?? 'model');
  // The model file names its default (docs/model-format.md); int8 only where it is calibrated.
  const precision = checkPrecision(options.precision) ?? (ranges && weights.metadata[DEFAULT_PRECISION_KEY] === 'int8' ? 'int8' : 'fp32');
  const graphOptions: GraphOptions = { precision };
  if (precision === 'int8') {
    if (!ranges) throw new ModelError('the model has no int8 calibration (metadata "int8_ranges"; see scripts/calibrate-int8.ts): use precision fp32', options.source);
    graphOptions.ranges = ranges;
  }
  for (const [k, v] of Object.entries(options.graph ?? {})) if (v !== undefined) Object.assign(graphOptions, { [k]: v });
  const graph = buildResfcnOnnx(weights.tensors, weights.config, graphOptions);
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
  return new PrnetSession(backend, weights.config, graphOptions.precision ?? 'fp32');
}
