/**
 * Debian's /usr/bin/python3 with python3-torch, numpy and Pillow: what the trainer's tests need
 * (test/parity.test.ts, test/trainer.test.ts). Without it those tests are skipped with the reason
 * in their names; under CI (process.env.CI) they fail instead, because .ci/run installs it.
 */
import { spawnSync } from 'node:child_process';

/** PRNET_PARITY_PYTHON overrides it (e.g. to check the skip path). */
export const PYTHON = process.env.PRNET_PARITY_PYTHON ?? '/usr/bin/python3';

/** Why PYTHON cannot import `modules` (named `what` in the message), or undefined. */
function importProblem(modules: string, what: string): string | undefined {
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} cannot run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} cannot import ${what} (${(r.stderr || '').trim().split('\n').pop()})`;
  return undefined;
}

export const torchMissing = importProblem('torch, numpy, PIL', 'torch/numpy/PIL');
const inCi = Boolean(process.env.CI);
/** Skip (outside CI only) when the Python stack is missing. */
export const skipPython = torchMissing !== undefined && !inCi;
/** Appended to test names when skipped. */
export const pythonSkipSuffix = skipPython ? ` — SKIPPED: ${torchMissing}; install Debian's python3-torch to run it` : '';

/** Throws under CI when the Python stack is missing. */
export function requireTorch(what: string): void {
  if (torchMissing !== undefined) {
    throw new Error(`${what} cannot run under CI: ${torchMissing}. .ci/run must install python3-torch, python3-numpy and python3-pil (apt-get install -y python3-torch python3-numpy python3-pil).`);
  }
}

/** Why SciPy cannot be imported by PYTHON (Debian's python3-scipy), or undefined. */
export const scipyMissing = importProblem('scipy.io', 'scipy.io');
/** Skip (outside CI only) what needs SciPy when it is missing. */
export const skipScipy = scipyMissing !== undefined && !inCi;

/** Throws under CI when SciPy is missing (.ci/run installs it). */
export function requireScipy(what: string): void {
  if (scipyMissing !== undefined) throw new Error(`${what} cannot run under CI: ${scipyMissing}. .ci/run must install python3-scipy (apt-get install -y python3-scipy).`);
}
