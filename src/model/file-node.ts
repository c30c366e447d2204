/** Reading and writing model files in Node (the parsing itself is in weights.ts and runs anywhere). */
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/write-atomic.js';
import { ModelError } from '../errors.js';
import { parseModelFile, parseModelFileLazy, serializeModel, type ModelWeights, type SerializeOptions } from './weights.js';

/** Largest model file read (1 GiB; the widest configuration CONFIG_LIMITS allows is about 850 MB in F32). */
export const MAX_MODEL_BYTES = 2 ** 30;

/** Reads and validates a model file; ModelError names the path when it is missing or malformed. */
export async function readModelFile(path: string): Promise<ModelWeights> {
  return parseModelFile(await readModelBytes(path), path);
}

/**
 * readModelFile with the F16 tensors left half precision until read (parseModelFileLazy): for a
 * session made here, whose int8 graph is quantized from the halves.
 */
export async function readModelFileLazy(path: string): Promise<ModelWeights> {
  return parseModelFileLazy(await readModelBytes(path), path);
}

async function readModelBytes(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ModelError(st.isDirectory() ? 'is a folder, not a model file' : 'not a regular file', path);
    if (st.size > MAX_MODEL_BYTES) throw new ModelError(`model file is ${(st.size / 2 ** 20).toFixed(0)} MiB, above the limit of ${MAX_MODEL_BYTES / 2 ** 20} MiB`, path);
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof ModelError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelError(code === 'ENOENT' ? 'model file not found' : `cannot read the model file (${code ?? (e as Error).message})`, path, { cause: e });
  }
  return bytes;
}

/** Writes a model file atomically (a temporary name, then rename). */
export async function writeModelFile(path: string, weights: ModelWeights, options: SerializeOptions = {}): Promise<void> {
  await writeFileAtomic(path, serializeModel(weights, options));
}
