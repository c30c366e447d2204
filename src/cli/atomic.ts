/**
 * Atomic file output: write to a temporary name in the same folder, then rename, so that a crash
 * or an error never leaves a partial file under the final name.
 *
 * Temporary files are named `.prnet-<pid>-<tag>-<n>.<name>.tmp`: recognisable as ours, and by the
 * pid of the process that wrote them. The tag is random for each file, so that nobody else who can
 * write to a shared output folder can guess a name and plant a link there (a link at a guessed name
 * made a run overwrite the file it pointed to); the writers also create them exclusively. The ones still pending are removed on SIGINT/SIGTERM
 * (`removePendingSync`), and `sweepStaleTemporaries` removes those left by a process that is gone
 * (killed with SIGKILL, power loss) and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { rmdirSync, rmSync } from 'node:fs';
import { link, lstat, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FACE_FILE_SUFFIXES, faceFileBase } from '../pipeline/output-names.js';
import { mkdirEach } from '../util/mkdir.js';
import { escapeControl, firstLine, OutputError } from '../errors.js';
import { exitBySignal } from './signals.js';
import { UsageError } from './options.js';

let counter = 0;

/** Groups being renamed into place right now: an interrupt waits for them (see onInterrupt). */
let committing = 0;
/** An interrupt came (onInterrupt's handler): a write whose temporary file is done is not renamed into place. */
let interrupted = false;
let deferredExit: (() => void) | null = null;

/** Temporary files written and not yet renamed or removed, by this process. */
const pending = new Set<string>();

/** A file of this run's to remove on SIGINT/SIGTERM with the temporaries (a lock): the returned function forgets it. */
export function removedOnInterrupt(path: string): () => void {
  pending.add(path);
  return () => {
    pending.delete(path);
  };
}

/** `.prnet-<pid>-<tag>-<n>.<name>.tmp` (or, from before stop 32, `.prnet-<pid>-<n>.<name>.tmp`); group 1 is the pid. */
export const TEMP_NAME = /^\.prnet-(\d+)-(?:[0-9a-f]{12}-)?\d+\..*\.tmp$/s;

/** What a temporary file that could not be created because something is at its name says (they are created exclusively). */
export function tempInTheWay(tmp: string): string {
  return `something is in the way of its temporary file ${basename(tmp)}`;
}

/** A new temporary name beside `path` (see the file comment). */
export function tempPath(path: string): string {
  return join(dirname(path), `.prnet-${process.pid}-${randomBytes(6).toString('hex')}-${counter++}.${basename(path)}.tmp`);
}

/**
 * Creates the output folder (and its parents). A path that names a file, or runs through one, is a
 * bad argument (UsageError, exit 2); a folder that cannot be made for other reasons (permission,
 * read-only, full disk) is an output failure (OutputError, exit 4).
 */
export async function makeOutputFolder(dir: string): Promise<void> {
  try {
    madeFolders.push(...(await mkdirEach(dir)));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = `cannot create the output folder (${writeFailure(e)})`;
    throw code === 'EEXIST' || code === 'ENOTDIR' ? new UsageError(message, dir) : new OutputError(message, dir, { cause: e });
  }
}

/** The folders makeOutputFolder made in this process, outermost first. */
const madeFolders: string[] = [];

/**
 * Removes the folders this process made for its output that are still empty (innermost first; a
 * folder with anything in it stays): a run that wrote nothing (a missing input, a model that did
 * not load, no face, an interrupt) leaves no empty folder behind. Called as the command ends.
 */
export function removeEmptyMadeFolders(): void {
  while (madeFolders.length) {
    try {
      rmdirSync(madeFolders.pop()!);
    } catch {
      // not empty (or gone): kept, and so are the folders it is in
      madeFolders.length = 0;
    }
  }
}

/** Why a path cannot be written, in words (for the one-line error). */
export function writeFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EEXIST':
      return 'a file of that name is in the way of a folder';
    case 'ENOENT':
      return 'no such file or folder, and none can be made there';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'a folder is in the way of the file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'EROFS':
      return 'read-only file system';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    case 'ENAMETOOLONG':
      return 'file name too long';
    default:
      return firstLine(e);
  }
}

/** A file-system error while writing `path`, naming the path and the cause. */
function outputError(e: unknown, path: string): OutputError {
  return new OutputError(`cannot write (${writeFailure(e)})`, path, { cause: e });
}

/**
 * Temporary-file writes under way: a signal waits until none is (an open still in the thread pool
 * would create its file after the clean-up). A write is in the set from the moment it starts.
 */
const writing = new Set<Promise<void>>();

async function writeTemp(tmp: string, data: Uint8Array | string): Promise<void> {
  pending.add(tmp);
  // exclusive: a file or link already there is not written through
  const write = writeFile(tmp, data, { flag: 'wx' }).catch((e: unknown) => {
    // not ours (the caller's clean-up removes a link there, never what it points to)
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') pending.delete(tmp);
    throw (e as NodeJS.ErrnoException).code === 'EEXIST' ? Object.assign(new Error(tempInTheWay(tmp)), { cause: e }) : e;
  });
  writing.add(write);
  try {
    await write;
  } finally {
    writing.delete(write);
  }
}

async function removeTemp(tmp: string): Promise<void> {
  await rm(tmp, { force: true }).catch(() => undefined);
  pending.delete(tmp);
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPath(path);
  try {
    await mkdirEach(dirname(path));
    await writeTemp(tmp, data);
    // An interrupt during the write: the file is not put in place (the swap said "not written" of a
    // file the rename then put there). One during the rename waits for it (as for a group's).
    if (interrupted) throw new Error('interrupted');
    committing++;
    try {
      await rename(tmp, path);
      pending.delete(tmp);
    } finally {
      committing--;
    }
  } catch (e) {
    await removeTemp(tmp);
    throw outputError(e, path);
  } finally {
    if (committing === 0 && deferredExit) deferredExit();
  }
}

/**
 * Writes a group of files so that either all of them appear or none do: every file is written
 * under a temporary name first; only when all writes succeeded are they renamed into place. When
 * a rename fails, the files of the group already renamed are taken back: a file of the same name
 * from an earlier run is put back as it was (it is kept aside under a temporary hard link until
 * the group is in place; a rerun that failed had removed an image's earlier, good outputs), one
 * that was not there is removed. Where a hard link cannot be made (a file system without them),
 * the earlier file is not kept: the group is all new or absent, as before.
 */
export async function writeFilesAtomic(files: { path: string; data: Uint8Array | string }[]): Promise<void> {
  const staged: { tmp: string; path: string }[] = [];
  let current = '';
  try {
    for (const f of files) {
      current = f.path;
      await mkdirEach(dirname(f.path));
      const tmp = tempPath(f.path);
      staged.push({ tmp, path: f.path });
      await writeTemp(tmp, f.data);
    }
    if (interrupted) throw new Error('interrupted'); // (as writeFileAtomic: not put in place)
    committing++;
    try {
      await renameGroup(staged, (e, path) => {
        current = path;
        return e;
      });
    } finally {
      committing--;
    }
  } catch (e) {
    await Promise.all(staged.map((s) => removeTemp(s.tmp)));
    throw outputError(e, current);
  } finally {
    if (committing === 0 && deferredExit) deferredExit();
  }
}

/**
 * Renames each temporary file onto its path, in order, so that the group appears whole or not at
 * all: when a rename fails, those renamed before it are taken back — a file of the same name from
 * an earlier run put back as it was (kept aside under a temporary hard link until the group is in
 * place), one that was not there removed — and `fail(error, path)` is thrown. The temporaries are
 * left to the caller when it fails (writeFilesAtomic; `prnet video`'s outputs, whose failed rerun
 * had removed the earlier run's JSONL and overlay with its own).
 */
export async function renameGroup(staged: readonly { tmp: string; path: string }[], fail: (e: unknown, path: string) => unknown = (e) => e): Promise<void> {
  const renamed: { path: string; kept: string | null; id: string | null }[] = [];
  let kept: string | null = null;
  let current = '';
  try {
    for (const s of staged) {
      current = s.path;
      kept = await keepAside(s.path);
      const id = await fileId(s.tmp);
      await rename(s.tmp, s.path);
      pending.delete(s.tmp);
      renamed.push({ path: s.path, kept, id });
      kept = null;
    }
  } catch (e) {
    // the file whose rename failed is still there as it was: its copy aside goes
    if (kept) await removeTemp(kept);
    await Promise.all(renamed.map(async (r) => {
      // A file another writer has put at the path since (a batch worker that took this job over
      // when this one's lock lapsed) is theirs: neither removed nor replaced by the earlier one.
      if (r.id === null || (await fileId(r.path)) !== r.id) {
        if (r.kept) await removeTemp(r.kept);
        return;
      }
      if (r.kept) {
        await rename(r.kept, r.path).then(() => pending.delete(r.kept!), () => removeTemp(r.kept!));
      } else await rm(r.path, { force: true }).catch(() => undefined);
    }));
    throw fail(e, current);
  }
  await Promise.all(renamed.map((r) => (r.kept ? removeTemp(r.kept) : undefined)));
}

/** A file's identity (device and inode, not following a link), or null when it cannot be read. */
async function fileId(path: string): Promise<string | null> {
  const s = await lstat(path).catch(() => null);
  return s ? `${s.dev}:${s.ino}` : null;
}

/**
 * A file (or symbolic link) already at `path` kept aside under a temporary hard link (so that a
 * failed group can put it back), or null: nothing there, a folder, or no hard link possible there.
 */
async function keepAside(path: string): Promise<string | null> {
  const s = await lstat(path).catch(() => null);
  // a plain file, or a symbolic link (link(2) names the link itself, not what it points to)
  if (!s || !(s.isFile() || s.isSymbolicLink())) return null;
  const tmp = tempPath(path);
  pending.add(tmp);
  try {
    await link(path, tmp);
    return tmp;
  } catch {
    pending.delete(tmp);
    return null;
  }
}

/** onInterrupt for a command writing one file, `out`: says it was not written, then ends by the signal. */
export function onInterruptNotWritten(out: string): () => void {
  return onInterrupt((signal) => {
    process.stderr.write(`prnet: interrupted by ${signal}; ${escapeControl(out)} was not written\n`);
    exitBySignal(signal);
  });
}

/**
 * Handles SIGINT and SIGTERM until the returned function is called: the pending temporary files
 * are removed, then `exit(signal)` runs (it prints the summary and ends the process). A group of
 * files being renamed into place is finished first, so that it appears whole.
 */
export function onInterrupt(exit: (signal: NodeJS.Signals) => void): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    interrupted = true;
    let ran = false;
    const run = (): void => {
      if (ran) return;
      ran = true;
      deferredExit = null;
      removePendingSync();
      removeEmptyMadeFolders();
      exit(signal);
    };
    const whenCommitted = (): void => {
      if (committing > 0) deferredExit = run;
      else run();
    };
    // The temporaries are removed at a moment when no write is under way (waiting at most a
    // second): a SIGINT during a write's open left its temporary file behind.
    const whenIdle = (): void => {
      if (writing.size) void Promise.allSettled([...writing]).then(whenIdle);
      else whenCommitted();
    };
    if (writing.size) setTimeout(whenCommitted, 1000).unref();
    whenIdle();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    interrupted = false;
  };
}

/** Removes this process's pending temporary files, synchronously (for signal handlers). */
export function removePendingSync(): number {
  let n = 0;
  for (const tmp of pending) {
    try {
      rmSync(tmp, { force: true });
      n++;
    } catch {
      // nothing more can be done while exiting
    }
  }
  pending.clear();
  return n;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files of ours (`.prnet-<pid>-…tmp`) in `dir` whose process is no longer
 * running; files of running processes (another prnet writing to the same folder) and everything
 * else are left alone. Returns the names removed.
 */
export async function sweepStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    try {
      await rm(join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // not ours to fight over (permissions): leave it
    }
  }
  return removed;
}

/**
 * Removes the files of faces `count`, `count + 1`, … of the image named `stem` in `dir` (the
 * names `faceFileBase` and FACE_FILE_SUFFIXES give), left by an earlier run into the same folder
 * that found more faces in that image: after this run's files are in place, every `stem_face<i>`
 * file describes this run's faces. Face indices are contiguous, so it stops at the first index with
 * no file. Files in `keep` (this run's inputs, asked only when there is a file to remove:
 * fileIdentities, by device and inode, so also through a link, another spelling or a
 * case-insensitive file system) are never removed. Returns the names removed; a file that cannot
 * be removed is an OutputError naming it.
 */
export async function removeFacesBeyond(dir: string, stem: string, count: number, keep?: () => Promise<ReadonlySet<string>>): Promise<string[]> {
  const removed: string[] = [];
  for (let i = count; ; i++) {
    let found = false;
    for (const suffix of FACE_FILE_SUFFIXES) {
      const name = faceFileBase(stem, i) + suffix;
      const path = join(dir, name);
      const info = await lstat(path).catch(() => null);
      if (!info) continue;
      found = true;
      if (info.isDirectory() || (keep && (await keep()).has(identity(await stat(path).catch(() => info))))) continue;
      try {
        await rm(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new OutputError(`cannot remove this file of an earlier run's face ${i} (${writeFailure(e)})`, path, { cause: e });
      }
      removed.push(name);
    }
    if (!found) return removed;
  }
}

/** A directory entry: its file (device, inode, links) and its place (its folder resolved, its name). */
interface Entry {
  dev: number;
  ino: number;
  nlink: number;
  key: string;
}

/** A path with its links followed, or made absolute as it is where it cannot be (it does not exist). */
export function realOrResolved(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

async function entryOf(path: string): Promise<Entry | null> {
  const s = await lstat(path).catch(() => null);
  if (!s || s.isDirectory()) return null;
  const folder = await realOrResolved(dirname(path));
  return { dev: s.dev, ino: s.ino, nlink: s.nlink, key: join(folder, basename(path)) };
}

/**
 * Which input, if any, writing (renaming a file onto) `path` would replace: the inputs' directory
 * entries, read on the first call and kept. An input is the output's entry when the two are one
 * (the same inode by lstat: through a linked folder, a name in another case on a case-folding file
 * system, or the input given as a link lying at the output's name); an input that is a link is
 * read through it, so the entry it leads to counts too; a hard link elsewhere to the same file is
 * another entry, which the rename leaves alone. Null when none.
 */
export function inputAt(inputs: readonly string[]): (path: string) => Promise<string | null> {
  let known: Promise<{ input: string; entry: Entry }[]> | undefined;
  const load = async (): Promise<{ input: string; entry: Entry }[]> => {
    const given: { input: string; entry: Entry }[] = [];
    for (const input of inputs) {
      const entry = await entryOf(input);
      if (entry) given.push({ input, entry });
      const target = await realpath(input).catch(() => null);
      const end = target && target !== resolve(input) ? await entryOf(target) : null;
      if (end) given.push({ input, entry: end });
    }
    return given;
  };
  return async (path) => {
    const out = await entryOf(path);
    if (!out) return null;
    const hit = (await (known ??= load())).find(({ entry: e }) => e.dev === out.dev && e.ino === out.ino && (e.nlink <= 1 || e.key === out.key));
    return hit ? hit.input : null;
  };
}

/** A file's identity (device and inode): the same file under any path. */
function identity(info: { dev: number; ino: number }): string {
  return `${info.dev}:${info.ino}`;
}

/**
 * The identities of the files that exist among `paths`, read on the first call and kept (for
 * removeFacesBeyond's `keep`: most runs never need them, and a folder of thousands of photos is
 * not stat'ed again at start-up).
 */
export function fileIdentities(paths: readonly string[]): () => Promise<ReadonlySet<string>> {
  let known: Promise<Set<string>> | undefined;
  return () => (known ??= (async () => {
    const out = new Set<string>();
    for (const p of paths) {
      const info = await stat(p).catch(() => null);
      if (info) out.add(identity(info));
    }
    return out;
  })());
}

/**
 * Refuses, as a usage error (exit 2) before any work, an output file that is one of the inputs
 * (the same file by device and inode, also through another path), which the atomic write would
 * replace. A symbolic link at the output is replaced itself, not its target: not refused.
 */
export async function refuseOverwritingInputs(out: string, inputs: readonly string[], option = '--out'): Promise<void> {
  const o = await lstat(out).catch(() => null);
  if (!o) return;
  // (the atomic write would replace a device or FIFO with a regular file: run as root, --out /dev/null did)
  if (o.isFIFO() || o.isSocket() || o.isCharacterDevice() || o.isBlockDevice()) {
    const kind = o.isFIFO() ? 'a FIFO' : o.isSocket() ? 'a socket' : 'a device';
    throw new UsageError(`${option} ${out} is ${kind}, not a file: the output would replace it with one; choose a file's path`);
  }
  for (const input of inputs) {
    const i = await stat(input).catch(() => null);
    if (i && i.dev === o.dev && i.ino === o.ino) throw new UsageError(`${option} ${out} is the input ${input}: writing it would destroy the input; choose another file`);
  }
}
