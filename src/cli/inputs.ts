/** Expands the CLI's input arguments (files and folders) into a list of image files. */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';

/** Extensions picked up when a folder is given (a file named directly is always tried). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif', '.ppm', '.pgm', '.bmp']);

export interface InputList {
  files: string[];
  /** Arguments that could not be expanded (missing paths are kept as files so that they fail with a clear error). */
  empty: string[];
}

export async function expandInputs(args: string[]): Promise<InputList> {
  const files: string[] = [];
  const empty: string[] = [];
  for (const arg of args) {
    let isDir: boolean;
    try {
      isDir = (await stat(arg)).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      files.push(arg);
      continue;
    }
    const names = (await readdir(arg)).filter((n) => !n.startsWith('.') && IMAGE_EXTENSIONS.has(extname(n).toLowerCase())).sort();
    if (!names.length) empty.push(arg);
    for (const n of names) files.push(join(arg, n));
  }
  return { files, empty };
}

/** Output stems for the inputs: the file name without extension, made unique with -2, -3, … */
export function uniqueStems(files: string[]): string[] {
  const seen = new Map<string, number>();
  return files.map((f) => {
    const stem = basename(f, extname(f)) || 'image';
    const n = (seen.get(stem) ?? 0) + 1;
    seen.set(stem, n);
    return n === 1 ? stem : `${stem}-${n}`;
  });
}
