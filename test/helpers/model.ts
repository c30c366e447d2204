/**
 * Random-weight model files for tests: no trained model is needed to exercise the pipeline's
 * plumbing. Each file is generated once per test run (deterministic weights) and shared by every
 * test file of the run through a folder keyed by the vitest process; folders of finished runs are
 * removed when a new run creates its own.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RESFCN256, randomWeights, serializeModel, type ResfcnConfig } from '../../src/model/index.js';

/** The small variant (half width, 128 input): builds and runs several times faster than resfcn256. */
export const SMALL_CONFIG: ResfcnConfig = { width: 8, inputSize: 128, outputScale: 281.6 };

export type TestModelKind = 'small' | 'full';

const CACHE_ROOT = join(tmpdir(), 'prnet-ts-test-models');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function runDir(): Promise<string> {
  // Test files run in worker processes of one vitest process: their parent identifies the run.
  const dir = join(CACHE_ROOT, `run-${process.ppid}`);
  if (!existsSync(dir)) {
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(CACHE_ROOT)) {
      const m = /^run-(\d+)$/.exec(name);
      if (m && Number(m[1]) !== process.ppid && !alive(Number(m[1]))) await rm(join(CACHE_ROOT, name), { recursive: true, force: true });
    }
  }
  return dir;
}

const pending = new Map<string, Promise<string>>();

/**
 * Path of a random-weight model file (F16): 'small' = width 8, input 128 (use it unless the full
 * network matters), 'full' = resfcn256. Same seed → same file.
 */
export function testModelPath(kind: TestModelKind = 'small', seed = 7): Promise<string> {
  const key = `${kind}-${seed}`;
  let p = pending.get(key);
  if (!p) {
    p = (async () => {
      const path = join(await runDir(), `random-${key}.safetensors`);
      if (existsSync(path)) return path;
      const config = kind === 'small' ? SMALL_CONFIG : RESFCN256;
      const bytes = serializeModel(randomWeights(config, seed), { dtype: 'F16' });
      // Another test file may be writing the same file: write a private name, then rename.
      const tmp = `${path}.${process.pid}.partial`;
      await writeFile(tmp, bytes);
      await rename(tmp, path);
      return path;
    })();
    pending.set(key, p);
  }
  return p;
}
