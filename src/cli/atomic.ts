/**
 * Atomic file output: write to a temporary name in the same folder, then rename, so that a crash
 * or an error never leaves a partial file under the final name.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PrnetError } from '../errors.js';

let counter = 0;

/** Why a path cannot be written, in words (for the one-line error). */
export function writeFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EEXIST':
      return 'a file of that name is in the way of a folder';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'is a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return (e instanceof Error ? e.message : String(e)).split('\n')[0];
  }
}

/** A file-system error while writing `path`, as a PrnetError naming the path and the cause. */
function outputError(e: unknown, path: string): PrnetError {
  return new PrnetError(`cannot write (${writeFailure(e)})`, path, { cause: e });
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw outputError(e, path);
  }
}

/**
 * Writes a group of files so that either all of them appear or none do: every file is written
 * under a temporary name first; only when all writes succeeded are they renamed into place.
 */
export async function writeFilesAtomic(files: { path: string; data: Uint8Array | string }[]): Promise<void> {
  const staged: { tmp: string; path: string }[] = [];
  let current = '';
  try {
    for (const f of files) {
      current = f.path;
      const dir = dirname(f.path);
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `.${basename(f.path)}.${process.pid}.${counter++}.tmp`);
      staged.push({ tmp, path: f.path });
      await writeFile(tmp, f.data);
    }
    for (const s of staged) {
      current = s.path;
      await rename(s.tmp, s.path);
    }
  } catch (e) {
    // Temporary files that were not renamed yet are removed (rm ignores those already renamed).
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true }).catch(() => undefined)));
    throw outputError(e, current);
  }
}
