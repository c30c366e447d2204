/**
 * The face-orientation network: from a face's detector crop, how far the face is turned in it.
 * BlazeFace's keypoints keep to an upright face's order (docs/detectors.md): a face lying sideways
 * in a close-up, or upside down (a photo turned without an EXIF tag, a person lying down), got a
 * crop turned the wrong way or not at all, and a wrong reconstruction. The network reads the turn
 * off the crop (any of 360°), and a crop whose face it reads as turned by more than
 * ORIENT_MIN_TILT is turned with it before the reconstruction.
 *
 * A small CNN (training/orient.py: 8 convs 3×3 with ReLU, global average pool, linear → cos, sin),
 * its weights in assets/detector/orientation.safetensors (float16, batch norms folded), its graph built here.
 */
import { ModelError } from '../errors.js';
import { cropTransform, type CropSquare } from '../crop/transform.js';
import { writeCropInput } from '../crop/warp.js';
import { encodeModel, type OnnxInitializer, type OnnxNode } from '../model/onnx.js';
import { openHelperSession, type OrtModule } from '../runtime/ort.js';
import type { RgbImage } from '../types.js';
import { asFloat32, readSafetensors } from '../util/safetensors.js';

/** The network's input side (pixels of the crop square). */
export const ORIENT_INPUT = 64;
/** (in channels, out channels, stride) of each 3×3 conv; as LAYERS in training/orient.py. */
export const ORIENT_LAYERS: readonly (readonly [number, number, number])[] = [[3, 24, 2], [24, 24, 1], [24, 48, 2], [48, 48, 1], [48, 96, 2], [96, 96, 1], [96, 128, 2], [128, 128, 2]];
/** Most crops in one run of the network. */
const ORIENT_CHUNK = 64;
/** The model file's `format` metadata. */
export const ORIENT_FORMAT = 'prnet-ts/orient';
/**
 * A crop is turned when the network reads its face turned by more than this (radians): the
 * reconstruction copes with the rest (faces rolled up to ~45° in their crop) and upright faces
 * (the network's error on held-out crops: docs/detectors.md) are left as the detector cropped them.
 */
export const ORIENT_MIN_TILT = (45 * Math.PI) / 180;
/**
 * The reading of a turned crop counts as upright only with at least this confidence
 * (OrientationReading): a small, unsure face in an upright photo (read 0.16 after its turn) was
 * turned without it; at 0.6 more of the faces really turned were missed (docs/detectors.md).
 */
export const ORIENT_MIN_CONFIDENCE = 0.4;

/** The ONNX graph of an orientation model file (its safetensors bytes): input `crop` N×3×64×64, output `tilt` N×2 (cos, sin). */
export function buildOrientOnnx(file: Uint8Array, source = 'the orientation model'): Uint8Array {
  let parsed: ReturnType<typeof readSafetensors>;
  try {
    parsed = readSafetensors(file);
  } catch (e) {
    throw new ModelError(`not an orientation model file: ${(e as Error).message}`, source, { cause: e });
  }
  const { tensors, metadata } = parsed;
  if (metadata.format !== ORIENT_FORMAT) throw new ModelError(`not an orientation model file (format '${metadata.format ?? ''}', expected '${ORIENT_FORMAT}')`, source);
  if (metadata.layers !== undefined && JSON.stringify(parseJson(metadata.layers)) !== JSON.stringify(ORIENT_LAYERS)) {
    throw new ModelError(`the orientation model's layers ${metadata.layers} are not this version's ${JSON.stringify(ORIENT_LAYERS)}`, source);
  }
  const tensor = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new ModelError(`the orientation model has no tensor '${name}'`, source);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new ModelError(`the orientation model's '${name}' is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, source);
    const data = asFloat32(t);
    for (const v of data) if (!Number.isFinite(v)) throw new ModelError(`the orientation model's '${name}' holds a non-finite value`, source);
    return data;
  };
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  let x = 'crop';
  ORIENT_LAYERS.forEach(([cin, cout, stride], i) => {
    initializers.push({ name: `conv${i}.weight`, dims: [cout, cin, 3, 3], data: tensor(`conv${i}.weight`, [cout, cin, 3, 3]) });
    initializers.push({ name: `conv${i}.bias`, dims: [cout], data: tensor(`conv${i}.bias`, [cout]) });
    nodes.push({
      opType: 'Conv', inputs: [x, `conv${i}.weight`, `conv${i}.bias`], outputs: [`conv${i}`], name: `conv${i}`,
      attributes: [{ name: 'kernel_shape', ints: [3, 3] }, { name: 'pads', ints: [1, 1, 1, 1] }, { name: 'strides', ints: [stride, stride] }],
    });
    nodes.push({ opType: 'Relu', inputs: [`conv${i}`], outputs: [`relu${i}`] });
    x = `relu${i}`;
  });
  const features = ORIENT_LAYERS[ORIENT_LAYERS.length - 1][1];
  initializers.push({ name: 'fc.weight', dims: [2, features], data: tensor('fc.weight', [2, features]) });
  initializers.push({ name: 'fc.bias', dims: [2], data: tensor('fc.bias', [2]) });
  nodes.push({ opType: 'GlobalAveragePool', inputs: [x], outputs: ['pooled'] });
  nodes.push({ opType: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attributes: [{ name: 'axis', i: 1 }] });
  nodes.push({ opType: 'Gemm', inputs: ['flat', 'fc.weight', 'fc.bias'], outputs: ['tilt'], attributes: [{ name: 'transB', i: 1 }] });
  return encodeModel({
    name: 'orientation',
    nodes,
    initializers,
    inputs: [{ name: 'crop', shape: ['N', 3, ORIENT_INPUT, ORIENT_INPUT] }],
    outputs: [{ name: 'tilt', shape: ['N', 2] }],
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The orientation network's reading of each crop. */
export interface OrientationReading {
  /**
   * How far the face of each crop square is turned in it (radians, clockwise on screen as a crop's
   * `angle` and the pose's roll: a crop turned by this more shows the face upright).
   */
  tilt: Float32Array;
  /**
   * The length of the network's (cos, sin): ~1 where it is sure, towards 0 where turns disagree
   * (the regression's mean over them): a profile, a small or blurred face, not a face.
   */
  confidence: Float32Array;
}

export interface Orientation {
  read(image: RgbImage, squares: readonly CropSquare[]): Promise<OrientationReading>;
  release(): Promise<void>;
}

export interface OrientationOptions {
  threads?: number;
  /** Session options of the runtime (Node's: thread spinning off). */
  extra?: Record<string, unknown>;
}

/** Loads the orientation network from its model file's bytes into a session of the given onnxruntime module. */
export async function createOrientation(ort: OrtModule, file: Uint8Array, options: OrientationOptions = {}, source?: string): Promise<Orientation> {
  const graph = buildOrientOnnx(file, source);
  const session = await openHelperSession(ort, graph, 'the orientation network', { threads: options.threads, extra: options.extra, source });
  const plane = ORIENT_INPUT * ORIENT_INPUT;
  return {
    async read(image, squares) {
      const n = squares.length;
      const out = { tilt: new Float32Array(n), confidence: new Float32Array(n) };
      if (!n) return out;
      // ORIENT_CHUNK crops a run (a crowd of a thousand faces in one batch took 311 MB more).
      for (let first = 0; first < n; first += ORIENT_CHUNK) {
        const m = Math.min(ORIENT_CHUNK, n - first);
        const input = new Float32Array(m * 3 * plane);
        for (let i = 0; i < m; i++) writeCropInput(image, cropTransform(squares[first + i], ORIENT_INPUT), ORIENT_INPUT, input, i * 3 * plane);
        const result = await session.run({ crop: new ort.Tensor('float32', input, [m, 3, ORIENT_INPUT, ORIENT_INPUT]) });
        const t = result.tilt?.data;
        if (!(t instanceof Float32Array) || t.length !== 2 * m) throw new ModelError('the orientation network returned no float32 tilt', source);
        for (let i = 0; i < m; i++) {
          out.tilt[first + i] = Math.atan2(t[2 * i + 1], t[2 * i]);
          out.confidence[first + i] = Math.hypot(t[2 * i], t[2 * i + 1]);
        }
      }
      return out;
    },
    release: () => session.release(),
  };
}
