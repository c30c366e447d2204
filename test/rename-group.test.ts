/**
 * renameGroup (src/cli/atomic.ts): a group of outputs goes into place whole or not at all; when a
 * rename fails, those renamed before it are taken back — unless another writer has put its own
 * file at that path since (a batch worker that took the job over when this one's lock lapsed):
 * that file stays.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { renameGroup } from '../src/cli/atomic.js';
import { TempDirs } from './helpers/tmp.js';

// The n-th rename (1-based, counted from `arm`) fails, after `before` has run (set per test).
const fail = vi.hoisted(() => ({ at: 0, count: 0, before: null as null | (() => Promise<void>) }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const rename = async (...args: Parameters<typeof fs.rename>): Promise<void> => {
    if (fail.at && ++fail.count === fail.at) {
      await fail.before?.();
      throw Object.assign(new Error('EACCES: permission denied, rename'), { code: 'EACCES' });
    }
    return fs.rename(...args);
  };
  return { ...fs, default: { ...fs, rename }, rename };
});

const dirs = new TempDirs('prnet-rename-');
afterAll(() => dirs.cleanup());

const arm = (at: number, before: (() => Promise<void>) | null = null): void => {
  Object.assign(fail, { at, count: 0, before });
};

/** Three outputs staged in `dir` (a.json, b.obj, c.png), an earlier run's b.obj already there. */
async function group(dir: string): Promise<{ a: string; b: string; staged: { tmp: string; path: string }[] }> {
  const [a, b, c] = ['a.json', 'b.obj', 'c.png'].map((n) => join(dir, n));
  await writeFile(b, 'earlier b');
  const staged = await Promise.all([a, b, c].map(async (path, i) => {
    const tmp = join(dir, `.tmp${i}`);
    await writeFile(tmp, `new ${i}`);
    return { tmp, path };
  }));
  return { a: a!, b: b!, staged };
}

describe('renameGroup', () => {
  it('a failed rename takes back the files renamed before it: a new one removed, an earlier run\'s put back', async () => {
    const dir = await dirs.make('back');
    const { b, staged } = await group(dir);
    arm(3);
    await expect(renameGroup(staged)).rejects.toThrow(/EACCES/);
    arm(0);
    expect((await readdir(dir)).sort()).toEqual(['.tmp2', 'b.obj']);
    expect(await readFile(b, 'utf8')).toBe('earlier b');
  });

  it('a file another writer put at a path since this group renamed its own there is left as that writer wrote it (it was removed, or replaced by the earlier run\'s)', async () => {
    const dir = await dirs.make('theirs');
    const { a, b, staged } = await group(dir);
    // before the third rename fails, another writer puts its a.json and b.obj in place (as an atomic writer does: a new file)
    arm(3, async () => {
      for (const [path, text] of [[a, 'theirs a'], [b, 'theirs b']] as const) {
        await writeFile(`${path}.other`, text);
        await (await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises')).rename(`${path}.other`, path);
      }
    });
    await expect(renameGroup(staged)).rejects.toThrow(/EACCES/);
    arm(0);
    expect(await readFile(a, 'utf8')).toBe('theirs a');
    expect(await readFile(b, 'utf8')).toBe('theirs b');
    expect((await readdir(dir)).sort()).toEqual(['.tmp2', 'a.json', 'b.obj']); // (nothing of ours kept aside is left)
  });
});
