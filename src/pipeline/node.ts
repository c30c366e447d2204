/**
 * The Node.js entry of the pipeline: loads the layout, the model (the bundled default unless told
 * otherwise) into an onnxruntime-node session, and the face detector, once.
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDetector, DETECTOR_KINDS, type DetectorKind } from '../detect/index.js';
import { checkCustomDetector, checkMinScore, type Detector } from '../detect/detector.js';
import { checkBooleans, checkKnownOptions } from '../track/options.js';
import { createOrientationNode } from '../detect/create-node.js';
import { InputError, ModelError, shownValue } from '../errors.js';
import { decodeImageFile } from '../io/image-node.js';
import { didYouMean } from '../util/nearest-name.js';
import { loadLayout } from '../layout/node.js';
import { readModelFileLazy } from '../model/file-node.js';
import type { ModelWeights } from '../model/weights.js';
import type { Precision } from '../model/resfcn.js';
import { createSession, sessionThreads } from '../runtime/node.js';
import { checkPrecision } from '../runtime/session.js';
import { defaultSmooth, Prnet, type ReconstructOptions, type ReconstructResult, type TestTimeOptions } from './prnet.js';
import type { ProducerJson } from './face.js';
import { packageVersion } from '../util/version.js';

/** The models bundled with the package (see the model card in the README). */
export const BUNDLED_MODELS = {
  default: fileURLToPath(new URL('../../assets/models/prnet-default.safetensors', import.meta.url)),
  light: fileURLToPath(new URL('../../assets/models/prnet-light.safetensors', import.meta.url)),
} as const;

export interface PrnetOptions {
  /** A model file path, weights in memory, or a bundled model's name (default 'default'). */
  model?: string | ModelWeights;
  /**
   * The face detector: a built-in one's name (default 'blazeface'), a Detector of your own
   * (`{ kind, detect(image) }`, kind the crop rule its boxes get: 'dlib' for a box from the brows to
   * the chin, or a built-in detector's name for boxes like its own; not released by dispose(); the
   * orientation network is used with it as with a built-in one), or false to load none (then every
   * call must pass boxes or crops). maxDetections, minScore and tiles are the built-in detector's
   * (an InputError beside your own).
   */
  detector?: DetectorKind | Detector | false;
  /** Threads for the network (default: the cores on a machine of up to 4, else onnxruntime's choice; capped at the cores). */
  threads?: number;
  /**
   * Most faces the detector reports per image, largest first (default: every face it finds; the
   * tfjs comparison detectors stop at 100).
   */
  maxDetections?: number;
  /**
   * The detector's tile looks at large photos (default true; DetectorOptions.tiles): a photo over
   * 1,536 pixels without a face of a quarter of its short side is also looked at in 1024² tiles, to
   * find the small faces of a group photo (~5 ms a tile, 20 for 12 megapixels).
   */
  tiles?: boolean;
  /**
   * Lowest detector score a face is kept at, 0.1 to 1 (default 0.5 for the built-in detector). Lower
   * finds more of the small, blurred or half-hidden faces of a crowd, and more things that are not
   * faces; higher keeps the sure ones only (docs/detectors.md, "Score threshold").
   */
  minScore?: number;
  /** Network precision, 'fp32' or 'int8' (default: the model file's choice, int8 for the bundled default model; see SessionOptions). */
  precision?: Precision;
  /**
   * Turn the crop of a detected face that lies sideways or upside down in it, as the face-orientation
   * network reads it (~0.5 ms a photo; a face it turns is reconstructed a second time, in the crop of
   * its landmarks): a photo turned without an EXIF tag, a person lying down. Default: true with a
   * bundled model and a detector; false with your own model file, since the orientation network's
   * weights are non-commercial as the bundled models' (LICENSE-weights.md). false: the detector's
   * crops as they are.
   */
  orientation?: boolean;
}

/** Resolves a model option to a path or weights; bundled names map to their files. */
export function resolveModel(model: string | ModelWeights | undefined): string | ModelWeights {
  if (model !== undefined && typeof model !== 'string') return model;
  const name = model ?? 'default';
  if (name === '') throw new InputError(`model must be a bundled model's name (${Object.keys(BUNDLED_MODELS).join(', ')}) or a model file's path, got ''`);
  // Own keys only: a file named 'constructor' or 'toString' is a file, not a bundled model.
  if (Object.hasOwn(BUNDLED_MODELS, name)) {
    const path = BUNDLED_MODELS[name as keyof typeof BUNDLED_MODELS];
    if (!existsSync(path)) throw new ModelError(`the bundled '${name}' model is missing (${path}); pass a model file with --model`);
    return path;
  }
  // A bare word that is no file (`--model lite`): most likely a bundled model's name, mistyped.
  if (!/[\\/.]/.test(name) && !existsSync(name)) {
    throw new ModelError(`no bundled model '${name}'${didYouMean(name, Object.keys(BUNDLED_MODELS))} and no such file (bundled models: ${Object.keys(BUNDLED_MODELS).join(', ')}; or give a model file's path)`);
  }
  return name;
}

/**
 * A model named on a command line, checked before work is queued or a port opened: a bundled
 * name as it is (every worker has it), else the model file's absolute path, read once here
 * (ModelError when it is missing or not a model file).
 */
export async function checkedModel(model: string): Promise<string> {
  if (Object.hasOwn(BUNDLED_MODELS, model)) return model;
  const path = resolve(String(resolveModel(model)));
  await readModelFileLazy(path); // checked, not decoded
  return path;
}

/**
 * What makes a pipeline's results, for their JSON: the package version, the model as named (a
 * bundled model's name, else the model file's base name; weights in memory by their card's name,
 * or 'weights'), the
 * session's precision and the test-time options with their defaults filled in.
 */
export function producerJson(prnet: Prnet, model: string | ModelWeights | undefined, testTime: TestTimeOptions = {}): ProducerJson {
  const name = model === undefined ? 'default' : typeof model !== 'string' ? (model.metadata?.name || 'weights') : Object.hasOwn(BUNDLED_MODELS, model) ? model : basename(model);
  return {
    prnet: packageVersion(),
    model: name,
    precision: prnet.session.precision,
    flip: testTime.flip ?? true,
    smooth: testTime.smooth ?? defaultSmooth(prnet.session.config.inputSize),
  };
}

/** Creates the pipeline: layout, model session and detector are loaded once and reused. */
export async function createPrnet(options: PrnetOptions = {}): Promise<Prnet> {
  options ??= {}; // null as well as undefined
  if (typeof options !== 'object') throw new InputError(`createPrnet options must be an object, got ${typeof options}`);
  checkKnownOptions(options, CREATE_OPTIONS, 'createPrnet option', { modelUrl: 'model' });
  const precision = checkPrecision(options.precision);
  // The arguments are checked before anything loads.
  const maxFaces = detectionLimit(options.maxDetections);
  checkMinScore(options.minScore);
  checkBooleans(options, ['tiles', 'orientation']);
  if (options.threads !== undefined) sessionThreads(options.threads);
  const own = options.detector !== null && typeof options.detector === 'object' ? options.detector : null;
  if (own) {
    checkCustomDetector(own);
    // The built-in detector's options would be dropped without a word.
    const theirs = (['maxDetections', 'minScore', 'tiles'] as const).filter((k) => options[k] !== undefined);
    if (theirs.length) throw new InputError(`${theirs.join(', ')} ${theirs.length === 1 ? 'is an option' : 'are options'} of the built-in detector, not of a Detector of your own (apply ${theirs.length === 1 ? 'it' : 'them'} in its detect())`);
  }
  const kind = own ? undefined : (options.detector as DetectorKind | false | undefined);
  if (kind !== undefined && kind !== false && !(DETECTOR_KINDS as readonly unknown[]).includes(kind)) {
    throw new InputError(`unknown detector '${String(kind)}' (known: ${DETECTOR_KINDS.join(', ')}; or a Detector of your own)`);
  }
  const model = resolveModel(options.model);
  // (by the resolved path: a bundled model named relatively — assets/models/… from the package's
  // folder — ran without the orientation step in the CLI and with it in batch's workers, which get absolute paths)
  const bundled = typeof model === 'string' && (Object.values(BUNDLED_MODELS) as string[]).some((b) => resolve(b) === resolve(model));
  const [layout, session, detector, orientation] = await Promise.allSettled([
    loadLayout(),
    createSession(model, { threads: options.threads, probe: !bundled, precision }),
    own ? Promise.resolve(own) : kind === false ? Promise.resolve(null) : createDetector({ kind, maxFaces, minScore: options.minScore, tiles: options.tiles }),
    kind === false || !(options.orientation ?? bundled) ? Promise.resolve(null) : createOrientationNode(),
  ]);
  if (layout.status === 'rejected' || session.status === 'rejected' || detector.status === 'rejected' || orientation.status === 'rejected') {
    // What did load is released, not left holding its memory (a detector that failed leaves the network's session).
    // allSettled: a failing release must not hide the load failure the caller needs to see.
    await Promise.allSettled([
      session.status === 'fulfilled' ? session.value.release() : undefined,
      detector.status === 'fulfilled' && !own ? detector.value?.release?.() : undefined,
      orientation.status === 'fulfilled' ? orientation.value?.release() : undefined,
    ]);
    throw [layout, session, detector, orientation].find((r) => r.status === 'rejected')!.reason;
  }
  return new Prnet(session.value, layout.value, detector.value, !own, orientation.value);
}

/** The options createPrnet knows (PrnetOptions' keys). */
const CREATE_OPTIONS: readonly (keyof PrnetOptions)[] = ['model', 'detector', 'threads', 'maxDetections', 'minScore', 'tiles', 'precision', 'orientation'];

function detectionLimit(n: number | undefined): number | undefined {
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 1) throw new InputError(`maxDetections must be a whole number ≥ 1, got ${shownValue(n)}`);
  return n;
}

/** Decodes an image file and reconstructs its faces. */
export async function reconstructFile(prnet: Prnet, path: string, options: ReconstructOptions = {}): Promise<ReconstructResult & { image: Awaited<ReturnType<typeof decodeImageFile>> }> {
  const image = await decodeImageFile(path);
  const result = await prnet.reconstruct(image, options);
  return { ...result, image };
}
