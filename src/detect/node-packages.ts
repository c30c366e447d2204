/**
 * Node-only helpers for loading the tfjs-based detector packages from their own files:
 * - `packageDir` finds a package's folder through the module search paths (their `exports` maps
 *   hide the files the project needs);
 * - `installFileFetch` makes `fetch()` serve file:// URLs from disk (the packages load models and
 *   the WebAssembly binary with fetch, and Node's fetch does not read file:// URLs); every other
 *   URL goes to the real fetch.
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const nodeRequire = createRequire(import.meta.url);

let fetchShimInstalled = false;

export function installFileFetch(): void {
  if (fetchShimInstalled) return;
  fetchShimInstalled = true;
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const u = typeof url === 'string' ? url : url instanceof URL ? url.href : url.url;
    if (u.startsWith('file://')) {
      const buf = await readFile(fileURLToPath(u));
      const type = u.endsWith('.json') ? 'application/json' : u.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
      return new Response(buf, { status: 200, headers: { 'content-type': type } });
    }
    return realFetch(url, init);
  }) as typeof fetch;
}

/** The folder holding `probe` inside package `name` (e.g. its dist folder). */
export function packageDir(name: string, probe: string): string {
  for (const base of nodeRequire.resolve.paths(name) ?? []) {
    const dir = join(base, name);
    if (existsSync(join(dir, probe))) return dirname(join(dir, probe));
  }
  throw new Error(`cannot find ${name}/${probe}: is the package installed?`);
}
