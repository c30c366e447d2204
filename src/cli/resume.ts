/**
 * `prnet reconstruct --resume`: what an earlier run into the same output folder finished.
 *
 * Every run appends one line to `<out>/.prnet-done.jsonl` for each image once all its files are in
 * place (and an earlier run's extra face files are removed): the input (absolute path, size,
 * modification time), the stem its files are named after, the options that decide the files'
 * content, and the files with their size and modification time. With --resume an image is
 * skipped when the folder's last line for it has the same input, stem and options and every file
 * it lists is still there as written; anything else (a changed photo, other options, a missing or
 * rewritten file — by another run without a record of it —, an image that failed) is
 * done again. The last line for an input wins, so a later run supersedes an earlier one.
 */
import { createReadStream, statSync } from 'node:fs';
import { open, realpath, rm, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { removedOnInterrupt, writeFileAtomic } from './atomic.js';

/** The record's name in the output folder (hidden: not an output, never taken for an input). */
export const DONE_RECORD = '.prnet-done.jsonl';

/**
 * Whether `outDir` keeps the record already (a plain file at its name; a folder in its place is no
 * record). A run of one image — `prnet reconstruct` of one photo without --resume, a batch job —
 * adds its line only then: it has nothing to resume, but the owner of its outputs is kept up to
 * date where a record names them (a one-image rerun of a/x.jpg left the record's x files changed,
 * the claim lapsed, and b/x.jpg alone wrote over them).
 */
export function keepsRecord(outDir: string): boolean {
  try {
    return statSync(join(outDir, DONE_RECORD)).isFile();
  } catch {
    return false;
  }
}

/** A file as the record knows it: absolute path (or name in the output folder), size, modification time. */
export interface FileIdentity {
  path: string;
  size: number;
  mtimeMs: number;
}

/** One finished image. */
export interface DoneEntry {
  /** Absolute path of the input. */
  input: string;
  size: number;
  mtimeMs: number;
  stem: string;
  /** The options it was made with (compared by runKey()). */
  options: Record<string, unknown>;
  faces: number;
  /**
   * Its files in the output folder, with their size and modification time when written: a file
   * that another run or image has rewritten since is not this image's any more.
   */
  files: FileIdentity[];
}

/**
 * A file's identity: its real path (links followed, so a photo reached through a linked folder is
 * the same input), size and modification time; undefined when it cannot be read.
 */
export async function fileIdentity(file: string): Promise<FileIdentity | undefined> {
  try {
    const s = await stat(file);
    return { path: await realpath(file).catch(() => resolve(file)), size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return undefined;
  }
}

/** A file's size and modification time (undefined when it cannot be read): an output as the record knows it, by name. */
async function sizeAndTime(file: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  const s = await stat(file).catch(() => undefined);
  return s && { size: s.size, mtimeMs: s.mtimeMs };
}

/** The record's key of an image: its input and stem (an input given twice is written under two stems). */
const entryKey = (input: string, stem: string): string => `${input}\0${stem}`;

/**
 * A key of the options that decide an image's files: the same options give the same key. Objects
 * are written with their keys sorted; undefined values are left out.
 */
export function runKey(options: Record<string, unknown>): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(sorted(options));
}

const isFile = (f: unknown): f is FileIdentity => {
  const e = f as FileIdentity;
  return !!e && typeof e.path === 'string' && !/[/\\]/.test(e.path) && typeof e.size === 'number' && typeof e.mtimeMs === 'number';
};

const isEntry = (v: unknown): v is DoneEntry => {
  const e = v as DoneEntry;
  return (
    !!e && typeof e.input === 'string' && typeof e.size === 'number' && typeof e.mtimeMs === 'number' && typeof e.stem === 'string' &&
    !!e.options && typeof e.options === 'object' && typeof e.faces === 'number' && Array.isArray(e.files) && e.files.every(isFile)
  );
};

/**
 * The folder's record: the last entry per input and stem, read line by line (a long history is no single
 * string), and how many lines were not entries (a run killed mid-write, a hand edit: passed over,
 * `unreadable`). A missing record is empty. When it holds more lines than entries, it is rewritten
 * with the entries alone (`compact`), so that it does not grow by a folder's worth of lines per run.
 */
export async function readDone(outDir: string, compact = false): Promise<{ entries: Map<string, DoneEntry>; unreadable: number }> {
  const path = join(outDir, DONE_RECORD);
  const last = new Map<string, DoneEntry>();
  let lines = 0;
  let unreadable = 0;
  // One compaction at a time: a second one, reading the record the first is about to replace,
  // would put its own rewrite over the first's and lose what was appended to that meanwhile.
  const unlock = compact ? await lockCompaction(outDir) : null;
  // (compacting: the file as read, kept open, so that lines other runs append while it is rewritten are found in it)
  const read = unlock ? await open(path, 'r').catch(() => null) : null;
  const readFrom = read ? (await read.stat()).size : 0;
  try {
    const input = createReadStream(path, { encoding: 'utf8' });
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      const e = lineEntry(line);
      if (e === undefined) continue;
      lines++;
      if (e) keepLatest(last, e);
      else unreadable++;
    }
  } catch (e) {
    await read?.close();
    await unlock?.();
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { entries: last, unreadable: 0 };
    throw e;
  }
  try {
    if (read && lines > last.size) {
      await writeFileAtomic(path, [...last.values()].map((e) => JSON.stringify(e) + '\n').join(''));
      await keepAppended(read, readFrom, last, path);
    }
  } finally {
    await read?.close();
    await unlock?.();
  }
  return { entries: last, unreadable };
}

/** The record's compaction lock, beside it: made exclusively, removed when the compaction is done. */
export const COMPACTION_LOCK = `${DONE_RECORD}.lock`;
/** A lock older than this was left by a run that died while compacting (a compaction takes well under a second). */
const LOCK_STALE_MS = 60_000;

/** Takes the folder's compaction lock: its release, or null where another run holds it (or it cannot be made: no compaction then). */
async function lockCompaction(outDir: string): Promise<(() => Promise<void>) | null> {
  const lock = join(outDir, COMPACTION_LOCK);
  for (let tries = 0; tries < 2; tries++) {
    try {
      await (await open(lock, 'wx')).close();
      const forget = removedOnInterrupt(lock); // (an interrupted --resume leaves no lock: the next would not compact for a minute)
      return async () => {
        await rm(lock, { force: true }).catch(() => undefined);
        forget();
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return null;
      const held = await stat(lock).catch(() => null);
      if (held && Date.now() - held.mtimeMs < LOCK_STALE_MS) return null;
      await rm(lock, { force: true }).catch(() => undefined);
    }
  }
  return null;
}

/** How long a compaction waits for an append begun on the replaced record before it reads its end. */
const APPEND_SETTLE_MS = 20;

/**
 * The lines another run (a batch worker, a concurrent reconstruct) appended to the replaced record
 * while it was read and rewritten, appended to the new one (each as one write) and to `entries`:
 * they had gone with the old file. `read` is the old file, open since before it was read; lines
 * from `from` on that are already entries (read with the rest) are not written twice.
 */
async function keepAppended(read: FileHandle, from: number, entries: Map<string, DoneEntry>, path: string): Promise<void> {
  await new Promise((r) => setTimeout(r, APPEND_SETTLE_MS));
  const { size } = await read.stat();
  if (size <= from) return;
  const tail = Buffer.alloc(size - from);
  const { bytesRead } = await read.read(tail, 0, tail.length, from);
  const text = tail.toString('utf8', 0, bytesRead);
  // (a first line cut by `from` — the read began inside a line being written — is not an entry)
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n');
  let extra = '';
  for (const line of lines) {
    const v = lineEntry(line);
    if (!v) continue;
    const known = entries.get(entryKey(v.input, v.stem));
    if (known && JSON.stringify(known) === JSON.stringify(v)) continue;
    keepLatest(entries, v);
    extra += JSON.stringify(v) + '\n';
  }
  if (extra) await appendKept(path, extra);
}

/**
 * Appends `text` (whole lines) to the record at `path` so that it stays there. A compaction (readDone
 * for --resume) replaces the record by renaming a rewritten file over it and then copies what was
 * appended to the old file meanwhile; a line written to the old file after that copy would go with
 * it. So the file written to is compared with the one at `path` once the write is done, and where
 * the record was replaced the text is appended again: either the compaction's copy came after the
 * write (the check then finds the old file still in place, or a line read twice, which readers take
 * once: the last per input and stem) or the check comes after the replacement.
 */
async function appendKept(path: string, text: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    const f = await open(path, 'a');
    let written: { dev: number; ino: number };
    try {
      await f.appendFile(text);
      written = await f.stat();
    } finally {
      await f.close();
    }
    const now = await stat(path).catch(() => null);
    // (no record at the path: removed by hand, not replaced; a few tries at most under repeated compactions)
    if (!now || (now.dev === written.dev && now.ino === written.ino) || tries >= 4) return;
  }
}

/** The record's entries: from a reader kept across calls (a worker's) or read whole now. */
export async function recordEntries(outDir: string, record?: DoneRecordReader): Promise<ReadonlyMap<string, DoneEntry>> {
  return record ? record.current() : (await readDone(outDir)).entries;
}

/** A record line's entry: null for a line that is no entry (a run killed mid-write, a hand edit), undefined for a blank one. */
function lineEntry(line: string): DoneEntry | null | undefined {
  if (!line.trim()) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return isEntry(v) ? v : null;
  } catch {
    return null;
  }
}

/** An entry as the latest of its input and stem, last in the order written. */
function keepLatest(entries: Map<string, DoneEntry>, e: DoneEntry): void {
  const k = entryKey(e.input, e.stem);
  entries.delete(k);
  entries.set(k, e);
}

/**
 * A folder's record held in memory and brought up to date by reading only what was appended since
 * the last look (`prnet worker` looks once per job: reading the whole record each time made a
 * batch into a folder with a long record quadratic, ~0.15 s a job at 20,000 lines). A record
 * replaced (compacted by `--resume`: another file, by inode and birth time), shortened or changed
 * where it was read up to is read again from the start. Lines that are not entries are passed over, as readDone does.
 */
export class DoneRecordReader {
  private entries = new Map<string, DoneEntry>();
  /** Bytes read up to (the end of the last whole line). */
  private offset = 0;
  /** The file read: its inode and birth time. */
  private id = '';

  constructor(readonly outDir: string) {}

  private queue: Promise<unknown> = Promise.resolve();

  /** The last entry per input and stem, as the record is now (an empty map when there is none); concurrent calls read one after the other. */
  current(): Promise<ReadonlyMap<string, DoneEntry>> {
    const run = this.queue.then(() => this.read());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async read(): Promise<ReadonlyMap<string, DoneEntry>> {
    const path = join(this.outDir, DONE_RECORD);
    const f = await open(path, 'r').catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    });
    if (!f) {
      this.reset('');
      return this.entries;
    }
    try {
      const { size, ino, birthtimeMs } = await f.stat();
      // (another file: its inode, or where the file system reuses it, its birth time — 0 where none is kept)
      const id = `${ino}:${birthtimeMs}`;
      if (id !== this.id || size < this.offset) this.reset(id);
      else if (this.offset > 0) {
        // The byte before the offset still ends a line: the record was appended to, not rewritten in place.
        const before = Buffer.alloc(1);
        if ((await f.read(before, 0, 1, this.offset - 1)).bytesRead !== 1 || before[0] !== 0x0a) this.reset(id);
      }
      const chunk = Buffer.alloc(1 << 20);
      // (bytes, not text, across chunks: a character cut at a chunk's end must not become U+FFFD in a path)
      let carry: Buffer = Buffer.alloc(0);
      let at = this.offset;
      while (at < size) {
        const { bytesRead } = await f.read(chunk, 0, Math.min(chunk.length, size - at), at);
        if (bytesRead === 0) break;
        at += bytesRead;
        const end = chunk.lastIndexOf(0x0a, bytesRead - 1);
        if (end < 0) {
          carry = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
          continue;
        }
        const text = Buffer.concat([carry, chunk.subarray(0, end + 1)]).toString('utf8');
        carry = Buffer.from(chunk.subarray(end + 1, bytesRead));
        this.offset = at - carry.length;
        for (const line of text.split('\n')) {
          const e = lineEntry(line);
          if (e) keepLatest(this.entries, e);
        }
      }
    } finally {
      await f.close();
    }
    return this.entries;
  }

  private reset(id: string): void {
    this.entries = new Map();
    this.offset = 0;
    this.id = id;
  }
}

/**
 * Whether `file`, to be written as `stem` with options `key`, was finished by an earlier run: the
 * same input, stem and options, and every file it wrote still there as it wrote it.
 */
export async function isDone(done: ReadonlyMap<string, DoneEntry>, outDir: string, file: string, stem: string, key: string): Promise<boolean> {
  const id = await fileIdentity(file);
  if (!id) return false;
  const e = done.get(entryKey(id.path, stem));
  if (!e || runKey(e.options) !== key || e.size !== id.size || e.mtimeMs !== id.mtimeMs || !e.files.length) return false;
  for (const f of e.files) {
    const now = await sizeAndTime(join(outDir, f.path));
    if (!now || now.size !== f.size || now.mtimeMs !== f.mtimeMs) return false;
  }
  return true;
}

/**
 * The stems whose outputs in `outDir` the record says another photo wrote, with that photo's path
 * (its real path, as fileIdentity gives): entries whose files are all still there as written (an
 * output rewritten since is not that photo's any more). Only stems made from `bases` (x, x-2, …)
 * are looked at. A run of a/x.jpg and b/x.jpg wrote x_* and x-2_*; b/x.jpg run alone into the
 * same folder had written x_* over a's, which both JSONs then described as x.jpg.
 */
export async function stemsClaimed(outDir: string, bases: ReadonlySet<string>, record?: DoneRecordReader): Promise<Map<string, string>> {
  const claimed = new Map<string, string>();
  let entries: ReadonlyMap<string, DoneEntry>;
  try {
    entries = await recordEntries(outDir, record);
  } catch {
    return claimed; // no record to go by
  }
  for (const e of entries.values()) {
    if (!bases.has(e.stem.replace(/-\d+$/, '')) && !bases.has(e.stem)) continue;
    if (!e.files.length) continue;
    let intact = true;
    for (const f of e.files) {
      const now = await sizeAndTime(join(outDir, f.path));
      if (!now || now.size !== f.size || now.mtimeMs !== f.mtimeMs) {
        intact = false;
        break;
      }
    }
    if (intact) claimed.set(e.stem, e.input);
  }
  return claimed;
}

/** Appends finished images' lines to a folder's record. */
export class DoneRecord {
  private checked = false;
  constructor(readonly outDir: string) {}

  /** One image's line, after its files are in place (one write: lines of concurrent runs do not interleave). */
  async add(entry: Omit<DoneEntry, 'files'>, files: readonly string[]): Promise<void> {
    const path = join(this.outDir, DONE_RECORD);
    // A line cut short by an earlier run (a full disk) would swallow this one: start a new line.
    let lead = '';
    if (!this.checked) {
      this.checked = true;
      const f = await open(path, 'r').catch(() => null);
      if (f) {
        try {
          const { size } = await f.stat();
          const last = Buffer.alloc(1);
          if (size > 0 && (await f.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a) lead = '\n';
        } finally {
          await f.close();
        }
      }
    }
    const ids: FileIdentity[] = [];
    for (const name of files) {
      const id = await sizeAndTime(join(this.outDir, name));
      if (id) ids.push({ path: name, ...id });
    }
    await appendKept(path, lead + JSON.stringify({ ...entry, files: ids }) + '\n');
  }
}
