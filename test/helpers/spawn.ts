/**
 * A long-running `prnet` command (serve, worker) with its output lines as they come: from source
 * (tsx), or from the compiled package (bin/prnet.js → dist/) with `{ dist: true }`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './paths.js';

export interface RunningCli {
  child: ChildProcess;
  /** stderr and stdout lines so far. */
  lines: string[];
  /** Resolves with the first line (already printed or to come) that matches, within `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves once the process has ended and its stdout and stderr are read to the end (`lines` is complete). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, options: { dist?: boolean } = {}): RunningCli {
  const entry = options.dist ? [join(REPO, 'bin/prnet.js')] : ['--import', 'tsx', join(REPO, 'test/helpers/cli-entry.ts')];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        const m = line.match(w.re);
        if (m) w.resolve(m);
        else waiters.push(w);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal })));
  return {
    child,
    lines,
    exited,
    waitFor(re, ms = 60_000) {
      for (const line of lines) {
        const m = line.match(re);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; output:\n${lines.join('\n')}`)), ms);
        waiters.push({ re, resolve: (m) => (clearTimeout(timer), resolve(m)) });
        void exited.then(() => setTimeout(() => reject(new Error(`exited before a line matching ${re}; output:\n${lines.join('\n')}`)), 100));
      });
    },
  };
}
