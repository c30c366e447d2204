/**
 * Import of the official PRNet TensorFlow checkpoint (`256_256_resfcn256_weight`): reads the
 * bundle index and data file, maps the 245 model variables onto our tensor names
 * (docs/model-format.md), transposes kernels to the ONNX/PyTorch layout and checks everything.
 * Optimizer state (Adam slots, beta1_power, beta2_power) is ignored.
 */
import { open, readFile } from 'node:fs/promises';
import { ModelError } from '../errors.js';
import { RESFCN256, checkConfig, decoderLayers, encoderBlocks, resfcnTensorSpecs, type ResfcnConfig, type TensorSpec } from './resfcn.js';
import { bundleDataPath, crc32c, DT_FLOAT, parseBundleIndex, TF_DTYPES, unmaskCrc, type BundleEntry } from './tf-bundle.js';
import { modelMetadata, validateTensors, type ModelCard, type ModelWeights } from './weights.js';

const TF_BN: Record<string, string> = { weight: 'gamma', bias: 'beta', running_mean: 'moving_mean', running_var: 'moving_variance' };

/** TF-Slim's scope names: the first layer of a kind is `X`, the following ones `X_1`, `X_2`, … */
function slim(base: string, k: number): string {
  return k === 0 ? base : `${base}_${k}`;
}

/**
 * Our tensor name → the TF variable holding it, for a given width (names do not depend on it).
 */
export function checkpointNameMap(width = RESFCN256.width): Map<string, string> {
  const map = new Map<string, string>();
  const bn = (ours: string, tf: string): void => {
    for (const [s, t] of Object.entries(TF_BN)) map.set(`${ours}.${s}`, `${tf}/BatchNorm/${t}`);
  };
  map.set('enc.0.conv.weight', 'resfcn256/Conv/weights');
  bn('enc.0.bn', 'resfcn256/Conv');
  for (const b of encoderBlocks(width)) {
    const tf = `resfcn256/${slim('resBlock', b.index - 1)}`;
    const p = `enc.${b.index}`;
    map.set(`${p}.conv1.weight`, `${tf}/Conv/weights`);
    bn(`${p}.bn1`, `${tf}/Conv`);
    map.set(`${p}.conv2.weight`, `${tf}/Conv_1/weights`);
    bn(`${p}.bn2`, `${tf}/Conv_1`);
    map.set(`${p}.conv3.weight`, `${tf}/Conv_2/weights`);
    if (b.hasShortcut) map.set(`${p}.shortcut.weight`, `${tf}/shortcut/weights`);
    bn(`${p}.bn3`, tf);
  }
  for (const d of decoderLayers(width)) {
    const tf = `resfcn256/${slim('Conv2d_transpose', d.index)}`;
    map.set(`dec.${d.index}.conv.weight`, `${tf}/weights`);
    bn(`dec.${d.index}.bn`, tf);
  }
  return map;
}

/** True for checkpoint variables that are optimizer state, not part of the model. */
export function isOptimizerVariable(name: string): boolean {
  return name === 'beta1_power' || name === 'beta2_power' || /\/Adam(_\d+)?$/.test(name);
}

/** The TF shape of one of our tensors: kernels [kh, kw, in, out] (conv) / [kh, kw, out, in] (transposed). */
export function tfShapeOf(spec: TensorSpec): number[] {
  if (spec.role === 'bn') return spec.shape;
  const [a, b, kh, kw] = spec.shape;
  return [kh, kw, b, a];
}

/**
 * Transposes a TF kernel [kh, kw, c2, c3] to ours [c3, c2, kh, kw] (permutation (3, 2, 0, 1)),
 * for both convs ([kh, kw, in, out] → [out, in, kh, kw]) and transposed convs
 * ([kh, kw, out, in] → [in, out, kh, kw]).
 */
export function transposeKernel(src: Float32Array, tfShape: number[]): Float32Array {
  const [kh, kw, c2, c3] = tfShape;
  const out = new Float32Array(src.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < c2; i++) {
        const s = ((y * kw + x) * c2 + i) * c3;
        for (let o = 0; o < c3; o++) out[((o * c2 + i) * kh + y) * kw + x] = src[s + o];
      }
    }
  }
  return out;
}

export interface ImportOptions {
  /** Verify each tensor's CRC32C against the index (default true). */
  verifyChecksums?: boolean;
  /** Input size recorded in the model (the official network is 256). */
  inputSize?: number;
  /** Model card written to the metadata. */
  card?: ModelCard;
}

export const OFFICIAL_CARD: ModelCard = {
  name: 'prnet-resfcn256-official',
  description: 'PRNet resfcn256 weights converted from the official TensorFlow checkpoint (Feng et al., ECCV 2018)',
  source: 'https://github.com/YadiraF/PRNet (256_256_resfcn256_weight)',
  license: 'released with the PRNet repository (MIT); trained on 300W-LP, whose terms are non-commercial research',
};

/**
 * Reads a TF checkpoint `<prefix>.index` + `<prefix>.data-*` and returns the model's weights.
 * Throws ModelError naming the file and the variable on any missing, unmapped, misshapen,
 * truncated or corrupt tensor.
 */
export async function importCheckpoint(prefix: string, options: ImportOptions = {}): Promise<ModelWeights> {
  const indexPath = `${prefix}.index`;
  let indexBytes: Uint8Array;
  try {
    indexBytes = await readFile(indexPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelError(code === 'ENOENT' ? 'checkpoint index not found' : `cannot read the checkpoint index (${code})`, indexPath, { cause: e });
  }
  const index = parseBundleIndex(indexBytes, indexPath);
  if (index.header.endianness !== 0) throw new ModelError('big-endian checkpoints are not supported', indexPath);

  const first = index.entries.get('resfcn256/Conv/weights');
  if (!first || first.shape.length !== 4) throw new ModelError('checkpoint lacks variable resfcn256/Conv/weights [4, 4, 3, C]', indexPath);
  const config: ResfcnConfig = { width: first.shape[3], inputSize: options.inputSize ?? RESFCN256.inputSize, outputScale: RESFCN256.outputScale };
  checkConfig(config, indexPath);

  // Map every variable; anything that is neither ours nor optimizer state is an error.
  const names = checkpointNameMap(config.width);
  const byTf = new Map([...names].map(([ours, tf]) => [tf, ours]));
  for (const name of index.entries.keys()) {
    if (!byTf.has(name) && !isOptimizerVariable(name)) {
      throw new ModelError(`unmapped model variable ${name} in the checkpoint (not part of resfcn256)`, indexPath);
    }
  }
  const specs = resfcnTensorSpecs(config);
  const jobs: { spec: TensorSpec; entry: BundleEntry; tfShape: number[] }[] = [];
  for (const spec of specs) {
    const tfName = names.get(spec.name) as string;
    const entry = index.entries.get(tfName);
    if (!entry) throw new ModelError(`checkpoint lacks variable ${tfName} (for ${spec.name})`, indexPath);
    const tfShape = tfShapeOf(spec);
    if (entry.dtype !== DT_FLOAT) {
      throw new ModelError(`variable ${tfName} has dtype ${TF_DTYPES[entry.dtype]?.name ?? entry.dtype}, expected float32`, indexPath);
    }
    if (entry.shape.length !== tfShape.length || entry.shape.some((d, i) => d !== tfShape[i])) {
      throw new ModelError(`variable ${tfName} has shape [${entry.shape.join(', ')}], expected [${tfShape.join(', ')}]`, indexPath);
    }
    const count = tfShape.reduce((a, b) => a * b, 1);
    if (entry.size !== count * 4) throw new ModelError(`variable ${tfName} has ${entry.size} bytes, expected ${count * 4}`, indexPath);
    if (entry.sliced) throw new ModelError(`variable ${tfName} is stored in slices, which is not supported`, indexPath);
    if (entry.shardId >= index.header.numShards) throw new ModelError(`variable ${tfName} is in shard ${entry.shardId} of ${index.header.numShards}`, indexPath);
    jobs.push({ spec, entry, tfShape });
  }

  // Read shard by shard, in offset order, so a truncated file names the first tensor that does not fit.
  const tensors = new Map<string, Float32Array>();
  const verify = options.verifyChecksums ?? true;
  const shards = [...new Set(jobs.map((j) => j.entry.shardId))].sort((a, b) => a - b);
  for (const shard of shards) {
    const dataPath = bundleDataPath(prefix, shard, index.header.numShards);
    let fh;
    try {
      fh = await open(dataPath, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ModelError(code === 'ENOENT' ? 'checkpoint data file not found' : `cannot open the checkpoint data file (${code})`, dataPath, { cause: e });
    }
    try {
      const fileSize = (await fh.stat()).size;
      const inShard = jobs.filter((j) => j.entry.shardId === shard).sort((a, b) => a.entry.offset - b.entry.offset);
      for (const { entry } of inShard) {
        if (entry.offset + entry.size > fileSize) {
          throw new ModelError(
            `variable ${entry.name} (bytes ${entry.offset}..${entry.offset + entry.size}) does not fit the ${fileSize}-byte data file (truncated?)`,
            dataPath,
          );
        }
      }
      for (const { spec, entry, tfShape } of inShard) {
        const bytes = new Uint8Array(entry.size);
        const { bytesRead } = await fh.read(bytes, 0, entry.size, entry.offset);
        if (bytesRead !== entry.size) throw new ModelError(`variable ${entry.name}: short read (${bytesRead} of ${entry.size} bytes)`, dataPath);
        if (verify && entry.maskedCrc32c !== undefined && crc32c(bytes) !== unmaskCrc(entry.maskedCrc32c)) {
          throw new ModelError(`variable ${entry.name} fails its CRC32C check (corrupt data file)`, dataPath);
        }
        const values = new Float32Array(bytes.buffer); // little-endian, as the header says
        tensors.set(spec.name, spec.role === 'bn' ? values : transposeKernel(values, tfShape));
      }
    } finally {
      await fh.close();
    }
  }
  validateTensors(config, tensors, prefix);
  return { config, tensors, metadata: modelMetadata(config, options.card ?? OFFICIAL_CARD) };
}
