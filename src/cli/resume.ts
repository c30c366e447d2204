/**
 * `prnet reconstruct --resume`: what an earlier run into the same output folder finished.
 *
 * Every run appends one line to `<out>/.prnet-done.jsonl` for each image once all its files are in
 * place (and an earlier run's extra face files are removed): the input (absolute path, size,
 * modification time), the stem its files are named after, the options that decide the files'
 * content, and the files. With --resume an image is skipped when the folder's last line for
 * it has the same input, stem and key and every file it lists is still there; anything else (a
 * changed photo, other options, a missing file, an image that failed) is done again. The last line
 * for an input wins, so a later run with other options supersedes an earlier one.
 */
import { appendFile, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The record's name in the output folder (hidden: not an output, never taken for an input). */
export const DONE_RECORD = '.prnet-done.jsonl';

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
  /** Its files' names in the output folder. */
  files: string[];
}

/** The input's identity as a record holds it (undefined when it cannot be read: it will fail anyway). */
export async function inputIdentity(file: string): Promise<Pick<DoneEntry, 'input' | 'size' | 'mtimeMs'> | undefined> {
  try {
    const s = await stat(file);
    return { input: resolve(file), size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return undefined;
  }
}

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

const isEntry = (v: unknown): v is DoneEntry => {
  const e = v as DoneEntry;
  return (
    !!e && typeof e.input === 'string' && typeof e.size === 'number' && typeof e.mtimeMs === 'number' && typeof e.stem === 'string' &&
    !!e.options && typeof e.options === 'object' && typeof e.faces === 'number' && Array.isArray(e.files) && e.files.every((f) => typeof f === 'string' && !/[/\\]/.test(f))
  );
};

/**
 * The folder's record: the last entry per input. A missing record is empty; a line that is not an
 * entry (a run killed mid-write, a hand edit) is passed over.
 */
export async function readDone(outDir: string): Promise<Map<string, DoneEntry>> {
  let text: string;
  try {
    text = await readFile(join(outDir, DONE_RECORD), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  const last = new Map<string, DoneEntry>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (isEntry(v)) last.set(v.input, v);
  }
  return last;
}

/** Whether `file`, to be written as `stem` with options `key`, was finished by an earlier run and its files are all there. */
export async function isDone(done: ReadonlyMap<string, DoneEntry>, outDir: string, file: string, stem: string, key: string): Promise<boolean> {
  const id = await inputIdentity(file);
  if (!id) return false;
  const e = done.get(id.input);
  if (!e || runKey(e.options) !== key || e.stem !== stem || e.size !== id.size || e.mtimeMs !== id.mtimeMs || !e.files.length) return false;
  for (const f of e.files) {
    try {
      if (!(await stat(join(outDir, f))).isFile()) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Appends one finished image's line (a single write: lines of concurrent runs do not interleave). */
export async function recordDone(outDir: string, entry: DoneEntry): Promise<void> {
  await appendFile(join(outDir, DONE_RECORD), JSON.stringify(entry) + '\n');
}
