/** Reading and writing model files in Node (the parsing itself is in weights.ts and runs anywhere). */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { ModelError } from '../errors.js';
import { parseModelFile, serializeModel, type ModelWeights, type SerializeOptions } from './weights.js';

/** Reads and validates a model file; ModelError names the path when it is missing or malformed. */
export async function readModelFile(path: string): Promise<ModelWeights> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelError(code === 'ENOENT' ? 'model file not found' : `cannot read the model file (${code ?? (e as Error).message})`, path, { cause: e });
  }
  return parseModelFile(bytes, path);
}

/** Writes a model file atomically (a temporary name, then rename). */
export async function writeModelFile(path: string, weights: ModelWeights, options: SerializeOptions = {}): Promise<void> {
  const bytes = serializeModel(weights, options);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}
