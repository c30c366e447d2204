/**
 * DoneRecordReader: a folder's record (.prnet-done.jsonl) kept in memory by a worker and read on
 * from where it was (only what was appended), always the same entries as reading it whole.
 */
import { appendFile, readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { COMPACTION_LOCK, DONE_RECORD, DoneRecord, DoneRecordReader, readDone, type DoneEntry } from '../src/cli/resume.js';

// A line another run appends to the record between its reading and its replacement (set per test).
const race = vi.hoisted(() => ({ append: null as null | { path: string; text: string } }));
vi.mock('../src/cli/atomic.js', async (importOriginal) => {
  const atomic = await importOriginal<typeof import('../src/cli/atomic.js')>();
  const { appendFile: append } = await import('node:fs/promises');
  return {
    ...atomic,
    writeFileAtomic: async (...args: Parameters<typeof atomic.writeFileAtomic>) => {
      if (race.append && args[0] === race.append.path) await append(race.append.path, race.append.text);
      return atomic.writeFileAtomic(...args);
    },
  };
});
// Run while a record is opened for appending, after the open (set per test): a compaction between a run's open and its write.
const late = vi.hoisted(() => ({ hook: null as null | (() => Promise<void>) }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof fs.open>): ReturnType<typeof fs.open> => {
    const handle = await fs.open(...args);
    const hook = late.hook;
    if (hook && args[1] === 'a') {
      late.hook = null;
      await hook();
    }
    return handle;
  };
  return { ...fs, default: { ...fs, open }, open };
});
import { TempDirs } from './helpers/tmp.js';

const dirs = new TempDirs('prnet-record-');
afterAll(() => dirs.cleanup());

const entry = (input: string, stem: string, size = 1): DoneEntry => ({
  input, size, mtimeMs: 1, stem, options: { version: 'test' }, faces: 1, files: [{ path: `${stem}_face0.json`, size: 10, mtimeMs: 2 }],
});
const line = (e: DoneEntry): string => JSON.stringify(e) + '\n';
const same = async (dir: string, reader: DoneRecordReader): Promise<void> => {
  expect([...(await reader.current()).entries()]).toEqual([...(await readDone(dir)).entries.entries()]);
};

describe('DoneRecordReader', () => {
  it('reads a record, then what is appended, a line finished later, a replaced record and one rewritten in place, as readDone does', async () => {
    const dir = await dirs.make('record');
    const path = join(dir, DONE_RECORD);
    const reader = new DoneRecordReader(dir);
    expect((await reader.current()).size).toBe(0); // none yet
    await writeFile(path, line(entry('/p/a.jpg', 'a')) + line(entry('/p/b.jpg', 'b')));
    await same(dir, reader);
    // appended: a newer line for a (the latest wins) and a new photo
    await appendFile(path, line(entry('/p/a.jpg', 'a', 2)) + line(entry('/p/c.jpg', 'c')));
    await same(dir, reader);
    expect((await reader.current()).get('/p/a.jpg\0a')?.size).toBe(2);
    // a line being written: taken once it is whole
    const half = line(entry('/p/d.jpg', 'd'));
    await appendFile(path, half.slice(0, 40));
    expect((await reader.current()).has('/p/d.jpg\0d')).toBe(false);
    await appendFile(path, half.slice(40) + 'not json\n');
    await same(dir, reader);
    expect((await reader.current()).has('/p/d.jpg\0d')).toBe(true);
    // compacted (another file put in its place), shorter: read anew
    await writeFile(join(dir, 'new'), line(entry('/p/e.jpg', 'e')));
    await rename(join(dir, 'new'), path);
    await same(dir, reader);
    expect([...(await reader.current()).keys()]).toEqual(['/p/e.jpg\0e']);
    // rewritten in place, longer, the byte before the offset no longer a line's end: read anew
    await writeFile(path, line(entry('/p/f.jpg', 'ff')) + line(entry('/p/g.jpg', 'g')));
    await same(dir, reader);
    expect([...(await reader.current()).keys()]).toEqual(['/p/f.jpg\0ff', '/p/g.jpg\0g']);
  });

  it('a record past its 1 MiB chunks, with paths in other scripts cut at a chunk\'s end, and concurrent calls', async () => {
    const dir = await dirs.make('long');
    const path = join(dir, DONE_RECORD);
    let text = '';
    for (let i = 0; Buffer.byteLength(text) < 2 ** 20 - 600; i++) text += line(entry(`/фото/снимок-${i}-é€😀.jpg`, `s${i}`));
    // a four-byte character across the first chunk's end (its first two bytes in the first MiB)
    const pad = 2 ** 20 - 2 - Buffer.byteLength(text) - Buffer.byteLength('{"input":"/');
    text += line(entry(`/${'x'.repeat(pad)}😀.jpg`, 'cut'));
    expect(Buffer.from(text).subarray(2 ** 20 - 2, 2 ** 20 + 2).toString()).toBe('😀');
    for (let i = 0; Buffer.byteLength(text) < 2.5 * 2 ** 20; i++) text += line(entry(`/фото/後-${i}-é€😀.jpg`, `t${i}`));
    await writeFile(path, text);
    const reader = new DoneRecordReader(dir);
    const [a, b] = await Promise.all([reader.current(), reader.current()]);
    expect(a).toBe(b);
    await same(dir, reader);
    for (const k of (await reader.current()).keys()) expect(k).not.toContain('\uFFFD');
    await appendFile(path, line(entry('/фото/後.jpg', 'z')));
    await same(dir, reader);
  });

  it('no record, or one removed: nothing', async () => {
    const dir = await dirs.make('none');
    const reader = new DoneRecordReader(dir);
    expect((await reader.current()).size).toBe(0);
    await writeFile(join(dir, DONE_RECORD), line(entry('/p/a.jpg', 'a')));
    expect((await reader.current()).size).toBe(1);
    await rename(join(dir, DONE_RECORD), join(dir, 'gone'));
    expect((await reader.current()).size).toBe(0);
  });

  it('a compaction (readDone for --resume) keeps the lines another run appends while the record is rewritten', async () => {
    const dir = await dirs.make('compact');
    const path = join(dir, DONE_RECORD);
    await writeFile(path, line(entry('/p/a.jpg', 'a')) + line(entry('/p/a.jpg', 'a', 2)) + line(entry('/p/b.jpg', 'b')));
    // a worker's line for c, and a newer one for b, land between the read and the rename
    race.append = { path, text: line(entry('/p/c.jpg', 'c')) + line(entry('/p/b.jpg', 'b', 3)) };
    try {
      const { entries } = await readDone(dir, true);
      expect([...entries.keys()].sort()).toEqual(['/p/a.jpg\0a', '/p/b.jpg\0b', '/p/c.jpg\0c']);
      expect(entries.get('/p/b.jpg\0b')?.size).toBe(3);
    } finally {
      race.append = null;
    }
    // the record on disk: compacted (a once, at size 2) and with both appended lines
    const lines = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as DoneEntry);
    expect(lines.map((e) => [e.input, e.size])).toEqual([['/p/a.jpg', 2], ['/p/b.jpg', 1], ['/p/c.jpg', 1], ['/p/b.jpg', 3]]);
    const again = await readDone(dir);
    expect(again.entries.get('/p/b.jpg\0b')?.size).toBe(3);
    expect(again.entries.size).toBe(3);
  });

  it('a line appended to a record that a compaction replaces between the append\'s open and its write is written again to the new record', async () => {
    const dir = await dirs.make('late');
    const path = join(dir, DONE_RECORD);
    await writeFile(path, line(entry('/p/a.jpg', 'a')) + line(entry('/p/a.jpg', 'a', 2)));
    let compacted = false;
    late.hook = async () => {
      await readDone(dir, true); // renames the rewritten record over the one the run has open, and copies its tail before the run writes
      compacted = true;
    };
    const { files: _files, ...c } = entry('/p/c.jpg', 'c');
    await new DoneRecord(dir).add(c, []);
    expect(compacted).toBe(true);
    const { entries } = await readDone(dir);
    expect([...entries.keys()].sort()).toEqual(['/p/a.jpg\0a', '/p/c.jpg\0c']);
    expect(entries.get('/p/a.jpg\0a')?.size).toBe(2);
  });

  it('one compaction at a time: a record whose lock another run holds is read, not rewritten; a lock a dead run left (a minute old) is taken, and removed after', async () => {
    const dir = await dirs.make('lock');
    const path = join(dir, DONE_RECORD);
    const text = line(entry('/p/a.jpg', 'a')) + line(entry('/p/a.jpg', 'a', 2)) + line(entry('/p/b.jpg', 'b'));
    await writeFile(path, text);
    const lock = join(dir, COMPACTION_LOCK);
    await writeFile(lock, '');
    const held = await readDone(dir, true);
    expect(held.entries.size).toBe(2);
    expect(held.entries.get('/p/a.jpg\0a')?.size).toBe(2);
    expect(await readFile(path, 'utf8')).toBe(text);
    const old = new Date(Date.now() - 120_000);
    await utimes(lock, old, old);
    await readDone(dir, true);
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(2);
    expect((await readdir(dir)).sort()).toEqual([DONE_RECORD]);
    // two at once: one rewrites, the record is whole
    await appendFile(path, line(entry('/p/b.jpg', 'b', 5)));
    const both = await Promise.all([readDone(dir, true), readDone(dir, true)]);
    for (const r of both) expect(r.entries.get('/p/b.jpg\0b')?.size).toBe(5);
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(2);
    expect((await readdir(dir)).sort()).toEqual([DONE_RECORD]);
  });
});
