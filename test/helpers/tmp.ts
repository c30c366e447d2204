/** Temporary folders for a test file, and listings of what a command left in them. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/** Temporary folders under the OS temp dir, removed together by `cleanup()` (call it in afterAll). */
export class TempDirs {
  private readonly dirs: string[] = [];
  constructor(private readonly prefix = 'prnet-test-') {}

  async make(name = ''): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `${this.prefix}${name ? name + '-' : ''}`));
    this.dirs.push(dir);
    return dir;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** Every file under `dir` (dot files included), as sorted paths relative to it; [] when it does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Temporary files of the atomic writers (`.<name>.<pid>.<n>.tmp`, `<name>.tmp-…`) left under `dir`. */
export async function leftoverTempFiles(dir: string): Promise<string[]> {
  return (await listFiles(dir)).filter((f) => /\.tmp$|\.tmp-/.test(f));
}
