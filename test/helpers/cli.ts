/** Runs the `prnet` command from source in a child process, as a user would run it. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Non-empty stderr lines. */
  errLines: string[];
  ms: number;
}

const ENTRY = join(REPO, 'test/helpers/cli-entry.ts');

/** How runCli starts the command: its timeout, extra environment, and `dist`: the compiled package's bin/prnet.js instead of the source. */
export interface CliOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  dist?: boolean;
}

/** `prnet <args…>` (through tsx, from the repository root); resolves when the process exits. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).result;
}

/** A running `prnet <args…>`: the process (to signal it) and its result when it exits. */
export interface RunningCli {
  readonly exitCode: number | null;
  /** What it has written to stderr so far. */
  readonly stderr: string;
  kill(signal: NodeJS.Signals): boolean;
  result: Promise<CliResult>;
}

/** Starts `prnet <args…>` as runCli does, without waiting for it. */
export function spawnCli(args: string[], options: CliOptions = {}): RunningCli {
  const t0 = performance.now();
  const entry = options.dist ? [join(REPO, 'bin/prnet.js')] : ['--import', 'tsx', ENTRY];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 90_000,
  });
  let stderr = '';
  const result = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr, errLines: stderr.split('\n').filter((l) => l.trim()), ms: performance.now() - t0 });
    });
  });
  return {
    get exitCode() {
      return child.exitCode;
    },
    get stderr() {
      return stderr;
    },
    kill: (signal) => child.kill(signal),
    result,
  };
}

/**
 * `prnet reconstruct`'s output without what it says of suspect faces (Face.suspect): the random-weight
 * test model's faces are suspect (its flip and keypoints disagree), so its warnings and the
 * summary's "N of them suspect" are left out where a test checks other lines; the warnings are
 * checked with a trained model (model-quality.test.ts).
 */
export function withoutSuspect<T extends { stderr: string; errLines: string[] }>(r: T): T {
  const warning = (l: string): boolean => /: face \d+ may be wrong \(.*\)$/.test(l);
  const summary = (l: string): string => l.replace(/, \d+ of them suspect/, '');
  const stderr = r.stderr.split('\n').filter((l) => !warning(l)).map(summary).join('\n');
  return { ...r, stderr, errLines: r.errLines.filter((l) => !warning(l)).map(summary) };
}
