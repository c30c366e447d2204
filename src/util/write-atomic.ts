/** Writing a file whole or not at all (Node). */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `data` to `path` through a temporary name beside it (`<path>.tmp-<pid>-<12 hex>`), then
 * renames it over `path`; the temporary is removed when either step fails. `mode`: the new file's
 * permissions (default: the process's umask).
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    // exclusive: nothing already at that name (a planted link) is written through
    await writeFile(tmp, data, { flag: 'wx', ...(mode === undefined ? {} : { mode }) });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
