/** Runs the CLI's `main` inside the test process, capturing what it writes (for fast argument checks). */
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export interface MainResult {
  code: number;
  stdout: string;
  stderr: string;
  errLines: string[];
}

/** `main(args)` with process.stdout/stderr writes captured instead of printed. */
export async function runMain(args: string[]): Promise<MainResult> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr, errLines: stderr.split('\n').filter((l) => l.trim()) };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
