/** Expands the CLI's input arguments (files and folders) into a list of image files. */
import { open, readdir, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { escapeControl } from '../errors.js';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { objSafeName } from '../export/obj.js';
import { escapeRegExp, outputSuffixPattern } from '../pipeline/output-names.js';
import { isMarkedPng, PNG_MARK_HEAD } from '../io/png-mark.js';
import { DONE_RECORD, fileIdentity, recordEntries, stemsClaimed, type DoneRecordReader } from './resume.js';
import { realOrResolved } from './atomic.js';

/**
 * Extensions picked up when a folder is given (a file named directly is always tried, whatever its
 * name: the decoder reads the format from the bytes). `.jfif` is what browsers on Windows often
 * save web JPEGs as.
 */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.jif', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif', '.heic', '.heif', '.ppm', '.pgm', '.pnm', '.bmp']);

/**
 * Names of the images `prnet reconstruct` writes (`<stem>_face<i>_texture.png`, `<stem>_depth.png`,
 * the overlays): in the output folder these are our own outputs, not new inputs.
 */
export const OUTPUT_IMAGE_NAME = new RegExp(`${outputSuffixPattern(true)}$`);

/** How many names a note lists (the rest are counted). */
const SHOWN_NAMES = 5;

/** Names for a note: the first SHOWN_NAMES, escaped, then "… (N more)". */
export function shownNames(names: readonly string[]): string {
  return names.slice(0, SHOWN_NAMES).map((n) => escapeControl(n)).join(', ') + (names.length > SHOWN_NAMES ? `, … (${names.length - SHOWN_NAMES} more)` : '');
}

/** Why an image named as an output is left alone (InputList.unowned), as every message says it. */
export const UNOWNED_WHY = `prnet-ts did not write it (no prnet-ts mark, not in ${DONE_RECORD})`;
/** What the messages about such an image advise. */
export const UNOWNED_ADVICE = "rename it (or delete it if it is an earlier version's output) or choose another --out";
/** An image's failure when one of its outputs would replace such an image (prnet reconstruct, the batch worker). */
export const UNOWNED_OUTPUT = `exists, named as this image's output, and ${UNOWNED_WHY}: not replaced, in case it is a photo; ${UNOWNED_ADVICE}`;

export interface ExpandOptions {
  /** The output folder: when a folder given is this one, the images we wrote there are skipped. */
  outDir?: string;
}

export interface InputList {
  files: string[];
  /** Arguments that could not be expanded (missing paths are kept as files so that they fail with a clear error). */
  empty: string[];
  /** Folders that could not be listed, as one-line messages naming them. */
  unreadable: string[];
  /** Folders with sub-folders, which are not searched: one-line notes naming them. */
  notes: string[];
  /**
   * Images in the output folder named as prnet-ts's outputs that it did not write (no mark, not in
   * the folder's record): left out as inputs, as its outputs are, and never to be replaced (a
   * photo of the user's named `y_mesh.png` beside `y.jpg`, or an earlier version's output).
   */
  unowned: string[];
}

export async function expandInputs(args: string[], options: ExpandOptions = {}): Promise<InputList> {
  // (the folder itself: a link to it, or a path with `..`, is the same folder)
  const outDir = options.outDir === undefined ? undefined : await realOrResolved(options.outDir);
  const files: string[] = [];
  const empty: string[] = [];
  const unreadable: string[] = [];
  const notes: string[] = [];
  const unowned: string[] = [];
  let ownedByRecord: Promise<(name: string, size: number, mtimeMs: number) => boolean> | undefined;
  // The output folder's images named as outputs, by the stem they belong to (for photos named alone in it).
  let outputNames: Promise<Map<string, string[]>> | undefined;
  const unownedSet = new Set<string>();
  const addUnowned = (path: string): void => {
    if (unownedSet.has(path)) return;
    unownedSet.add(path);
    unowned.push(path);
  };
  for (const arg of args) {
    let isDir: boolean;
    try {
      isDir = (await stat(arg)).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      files.push(arg);
      // A photo named alone whose folder is the output folder: the images there named as outputs
      // that prnet-ts did not write are not replaced either (y.jpg given with --out at its folder
      // wrote over the user's y_mesh.png that the folder given as input keeps).
      // Only the images named as this photo's outputs (x_*.png, x-2_*.png, any case) are read.
      if (outDir !== undefined && (await realOrResolved(dirname(arg))) === outDir) {
        outputNames ??= outputNamesByStem(outDir);
        const named = (await outputNames).get(outputStem(arg).toLowerCase()) ?? [];
        if (named.length) {
          ownedByRecord ??= recordedOutputs(outDir);
          for (const n of await unownedOutputs(dirname(arg), named, await ownedByRecord)) addUnowned(join(dirname(arg), n));
        }
      }
      continue;
    }
    const ours = outDir !== undefined && (await realOrResolved(arg)) === outDir;
    let entries: Dirent[];
    try {
      entries = await readdir(arg, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      unreadable.push(`${escapeControl(arg)}: cannot read the folder (${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? 'error')})`);
      continue;
    }
    // Sub-folders are not searched (a folder named photo.jpg is one too): the run says so rather
    // than leaving their images out without a word.
    const subFolders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    const folders = subFolders.length;
    const shown = shownNames(subFolders);
    const images = entries.filter((e) => !e.isDirectory()).map((e) => e.name).filter((n) => !n.startsWith('.') && IMAGE_EXTENSIONS.has(extname(n).toLowerCase()));
    const names = images.filter((n) => !(ours && OUTPUT_IMAGE_NAME.test(n))).sort();
    if (ours) {
      // Images named as our outputs: ours when marked or in the folder's record as written;
      // the others are left out too, said, and kept from being replaced.
      ownedByRecord ??= recordedOutputs(outDir);
      const named = images.filter((n) => OUTPUT_IMAGE_NAME.test(n)).sort();
      const theirs = await unownedOutputs(arg, named, await ownedByRecord);
      if (theirs.length) {
        for (const n of theirs) addUnowned(join(arg, n));
        const one = theirs.length === 1;
        notes.push(`${escapeControl(arg)}: ${one ? '1 image is' : `${theirs.length} images are`} named as prnet-ts's output${one ? '' : 's'} but ${one ? 'was' : 'were'} not written by it (no prnet-ts mark, not in ${DONE_RECORD}): ${shownNames(theirs)}; left out and not replaced (name ${one ? 'it' : 'one'} to read it)`);
      }
    }
    // Files not named as images are left out, but not without a word (an extensionless JPEG, an
    // extension not in the list): one line counting them by extension.
    const others = entries.filter((e) => e.isFile() && !e.name.startsWith('.') && !IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())).map((e) => e.name);
    if (others.length && !ours) notes.push(`${escapeControl(arg)}: ${otherFilesNote(others)}`);
    if (folders && !ours) notes.push(`${escapeControl(arg)}: ${folders} sub-folder${folders === 1 ? ' is' : 's are'} not searched: ${shown} (name ${folders === 1 ? 'it' : 'them'} to include ${folders === 1 ? 'its' : 'their'} images)`);
    if (!names.length) empty.push(arg);
    for (const n of names) files.push(join(arg, n));
  }
  return { files, empty, unreadable, notes, unowned };
}

/**
 * The images in `dir` named as `stem`'s PNG outputs (any case) that prnet-ts did not write, as
 * expandInputs' `unowned` (a batch job's check, for its own stem only), as paths.
 */
export async function unownedOutputsOf(dir: string, stem: string, record?: DoneRecordReader): Promise<string[]> {
  const own = new RegExp(`^${escapeRegExp(stem)}${outputSuffixPattern(true)}$`, 'i');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => own.test(n)).sort();
  if (!names.length) return [];
  return (await unownedOutputs(dir, names, await recordedOutputs(dir, record))).map((n) => join(dir, n));
}

/**
 * The images of `dir` named as outputs (OUTPUT_IMAGE_NAME), by the stem they may belong to, lower
 * case (`x_mesh.png` under `x`; `x-2_depth.png` under `x-2` and `x`): one listing for every photo
 * named alone in it.
 */
async function outputNamesByStem(dir: string): Promise<Map<string, string[]>> {
  const byStem = new Map<string, string[]>();
  const suffix = new RegExp(`${outputSuffixPattern(true)}$`, 'i');
  const add = (stem: string, n: string): void => {
    const list = byStem.get(stem);
    if (list) list.push(n);
    else byStem.set(stem, [n]);
  };
  for (const n of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (n.startsWith('.') || !OUTPUT_IMAGE_NAME.test(n) || !IMAGE_EXTENSIONS.has(extname(n).toLowerCase())) continue;
    // x-2_mesh.png is x-2.jpg's, or x.jpg's under its second name: under both
    const stem = n.replace(suffix, '').toLowerCase();
    add(stem, n);
    const base = stem.replace(/-\d+$/, '');
    if (base !== stem) add(base, n);
  }
  return byStem;
}

/** How many heads are read at once (a folder of thousands of earlier outputs). */
const HEADS_AT_ONCE = 32;

/**
 * Of the images in `folder` named as our outputs, those prnet-ts did not write: not marked
 * (io/png-mark.ts) and not in the folder's record with their size and modification time (an
 * earlier version's outputs, unmarked, are known by the record that runs of several images keep).
 */
async function unownedOutputs(folder: string, names: readonly string[], recorded: (name: string, size: number, mtimeMs: number) => boolean): Promise<string[]> {
  const ours = new Array<boolean>(names.length).fill(false);
  for (let i = 0; i < names.length; i += HEADS_AT_ONCE) {
    await Promise.all(names.slice(i, i + HEADS_AT_ONCE).map(async (name, k) => {
      const path = join(folder, name);
      const head = new Uint8Array(PNG_MARK_HEAD);
      let read = 0;
      try {
        const f = await open(path, 'r');
        try {
          read = (await f.read(head, 0, PNG_MARK_HEAD, 0)).bytesRead;
        } finally {
          await f.close();
        }
      } catch {
        // unreadable: not known to be ours
      }
      if (isMarkedPng(head.subarray(0, read))) ours[i + k] = true;
      else {
        const s = await stat(path).catch(() => null);
        ours[i + k] = !!s && recorded(name, s.size, s.mtimeMs);
      }
    }));
  }
  return names.filter((_, i) => !ours[i]);
}

/** The files the output folder's record lists as written there, by name, size and modification time (none when it cannot be read). */
async function recordedOutputs(outDir: string, record?: DoneRecordReader): Promise<(name: string, size: number, mtimeMs: number) => boolean> {
  const files = new Set<string>();
  try {
    const entries = await recordEntries(outDir, record);
    for (const e of entries.values()) for (const f of e.files) files.add(`${f.path}\0${f.size}\0${f.mtimeMs}`);
  } catch {
    // no record to go by
  }
  return (name, size, mtimeMs) => files.has(`${name}\0${size}\0${mtimeMs}`);
}

/** How many kinds of other files the note names (the rest are counted together). */
const SHOWN_KINDS = 4;

/** "3 files not named as images are left out (2 .txt, 1 without an extension): name a file itself to read it anyway". */
export function otherFilesNote(names: readonly string[]): string {
  const byKind = new Map<string, number>();
  for (const n of names) {
    const ext = extname(n).toLowerCase();
    const kind = ext ? escapeControl(ext) : 'without an extension';
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  const kinds = [...byKind].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = kinds.slice(0, SHOWN_KINDS).map(([k, c]) => `${c} ${k}`);
  const rest = kinds.slice(SHOWN_KINDS).reduce((a, [, c]) => a + c, 0);
  if (rest) shown.push(`${rest} other`);
  const n = names.length;
  return `${n} file${n === 1 ? '' : 's'} not named as ${n === 1 ? 'an image is' : 'images are'} left out (${shown.join(', ')}): name a file itself to read it anyway`;
}

/**
 * Output stems for the inputs: the file name without extension as outputStem makes it, made unique with -2, -3, … (a
 * suffix that another input's own name already takes is skipped: x-2.jpg, x.jpg, x.png → x-2, x, x-3).
 * Inputs for which `present` is false (missing files, which fail without writing) are named after
 * all the others, so that one does not push an existing x.jpg to x-2. A stem for which
 * `othersAt(i, stem)` is true holds another photo's outputs (stemsClaimed: an earlier run's
 * a/x.jpg beside b/x.jpg, run alone): it is skipped as one of this run's.
 */
export function uniqueStems(files: string[], present: (file: string) => boolean = () => true, othersAt: (i: number, stem: string) => boolean = () => false): string[] {
  const own = new Set(files.map(outputStem));
  const used = new Set<string>();
  const stems = new Array<string>(files.length);
  const order = files.map((f, i) => ({ i, late: !present(f) })).sort((a, b) => Number(a.late) - Number(b.late) || a.i - b.i);
  for (const { i } of order) {
    const stem = outputStem(files[i]);
    let out = stem;
    for (let n = 2; used.has(out) || (out !== stem && own.has(out)) || othersAt(i, out); n++) out = `${stem}-${n}`;
    used.add(out);
    stems[i] = out;
  }
  return stems;
}

/** What the output folder's record says of the stems some photos would take (recordClaims). */
export interface RecordClaims {
  /** The photo (its real path) to which the record gives `stem`'s files, all still as written; undefined when it gives them to none. */
  owner(stem: string): string | undefined;
  /** Whether that photo is another than files[i]: the stem is not files[i]'s to write (uniqueStems' `othersAt`). */
  othersAt(i: number, stem: string): boolean;
  /** Whether it is files[i] itself: the stem is that photo's own. */
  mineAt(i: number, stem: string): boolean;
}

/**
 * The stems of `outDir` that its record (.prnet-done.jsonl) gives to a photo whose files there
 * are still as written (stemsClaimed), for `files` (named x, x-2, … after their own names, or
 * `bases`). A photo is known by its real path, as the record keeps it: a run from another
 * machine sees the same photo as the same one only where the paths are the same there. Without
 * a record (or one that cannot be read) no stem is claimed. Shared by `prnet reconstruct`, `prnet
 * batch submit` (where it sees the folder) and the batch worker (when it writes).
 */
export async function recordClaims(outDir: string, files: readonly string[], bases: ReadonlySet<string> = new Set(files.map(outputStem)), record?: DoneRecordReader): Promise<RecordClaims> {
  const claimed = await stemsClaimed(outDir, bases, record);
  const ids = claimed.size ? await Promise.all(files.map(async (f) => (await fileIdentity(f))?.path ?? resolve(f))) : [];
  const owner = (stem: string): string | undefined => claimed.get(stem);
  return {
    owner,
    othersAt: (i, stem) => {
      const o = owner(stem);
      return o !== undefined && o !== ids[i];
    },
    mineAt: (i, stem) => {
      const o = owner(stem);
      return o !== undefined && o === ids[i];
    },
  };
}

/** The file's name without extension, as a mesh file can refer to it (objSafeName: " my  photo #1.jpg" → "_my__photo _1"). */
export function outputStem(file: string): string {
  return objSafeName(basename(file, extname(file))) || 'image';
}
