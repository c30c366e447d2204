/** Folder creation for the Node entry points (CLI writes, the video path). */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * mkdir -p one folder at a time (returns the folders it made, outermost first): Node's own recursive mkdir loops forever where a mkdir fails with
 * ENOENT under an existing parent (e.g. under /proc), taking it for a missing parent.
 */
export async function mkdirEach(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let p = resolve(dir); ; p = dirname(p)) {
    const st = await stat(p).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      return null;
    });
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`${p} is not a folder`), { code: missing.length ? 'ENOTDIR' : 'EEXIST' });
      break;
    }
    missing.push(p);
    if (dirname(p) === p) break;
  }
  const made: string[] = [];
  for (const p of missing.reverse()) {
    await mkdir(p).then(() => made.push(p), (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  return made;
}
