/**
 * An interrupt while an output's temporary file is written (onInterrupt in src/cli/atomic.ts): the
 * file is not put in place, so that the command's "was not written" is true. (In the CLI the
 * handler's exit ends the process; here it only records the signal.) Its own file: the interrupt
 * is remembered by the module until the handling stops.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onInterrupt, removedOnInterrupt, writeFileAtomic, writeFilesAtomic } from '../src/cli/atomic.js';
import { TempDirs } from './helpers/tmp.js';

const dirs = new TempDirs('prnet-interrupt-');
afterAll(() => dirs.cleanup());

describe('an interrupt during an atomic write', () => {
  it('leaves the earlier file as it was and no temporary (the new one was renamed into place after "not written"); after the handling stops, writes go through again', async () => {
    const dir = await dirs.make('w');
    const out = join(dir, 'out.png');
    await writeFile(out, 'earlier');
    const signals: string[] = [];
    const stop = onInterrupt((s) => signals.push(s));
    try {
      const big = new Uint8Array(64 << 20).fill(7);
      const write = writeFileAtomic(out, big);
      process.emit('SIGINT', 'SIGINT');
      await expect(write).rejects.toThrow();
      const group = writeFilesAtomic([{ path: join(dir, 'a.json'), data: '{}' }, { path: join(dir, 'b.obj'), data: 'o' }]);
      await expect(group).rejects.toThrow();
      expect(signals).toEqual(['SIGINT']);
    } finally {
      stop();
    }
    expect(await readFile(out, 'utf8')).toBe('earlier');
    expect(await readdir(dir)).toEqual(['out.png']);
    await writeFileAtomic(out, 'new');
    expect(await readFile(out, 'utf8')).toBe('new');
  });

  it('a file named for removal on an interrupt (the record\'s compaction lock) is removed with the temporaries; forgotten, it stays', async () => {
    const dir = await dirs.make('lock');
    const lock = join(dir, '.prnet-done.jsonl.lock');
    const kept = join(dir, 'kept.lock');
    await writeFile(lock, '');
    await writeFile(kept, '');
    removedOnInterrupt(lock);
    removedOnInterrupt(kept)();
    const stop = onInterrupt(() => undefined);
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      stop();
    }
    expect(await readdir(dir)).toEqual(['kept.lock']);
  });
});
