/**
 * Loads the committed UV layout (assets/layout.safetensors) in Node. The path is resolved from
 * this module's URL, two levels up: the same from src/layout/ (tsx, vitest) and dist/layout/.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../errors.js';
import { parseLayout, type Layout } from './layout.js';

/** Where the layout asset lies in the package. */
export const LAYOUT_ASSET_URL = new URL('../../assets/layout.safetensors', import.meta.url);

let cached: Promise<Layout> | undefined;

/** Reads and parses the layout asset once; later calls return the same Layout. */
export function loadLayout(): Promise<Layout> {
  if (!cached) {
    const path = fileURLToPath(LAYOUT_ASSET_URL);
    cached = readFile(path).then(
      (bytes) => parseLayout(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
      (e: unknown) => {
        throw new ModelError(`cannot read the UV layout asset (${(e as Error).message})`, path, { cause: e });
      },
    );
    // A failed load is not cached, so that a later call can retry.
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}
