/**
 * Temporary output files (src/cli/atomic.ts, src/video/run.ts): created exclusively, so that a
 * file or link already at the name is never written through, and a write error mid-file (a full
 * disk) ends a video run promptly. Their names carry a random part of their own (test/harden.test.ts
 * checks that); here `randomBytes` is fixed, so that the test knows the names a run will use and
 * can plant links there, and `createWriteStream` can send a JSONL to /dev/full.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OutputError } from '../src/errors.js';
import { writeFileAtomic } from '../src/cli/atomic.js';
import { createPrnet } from '../src/pipeline/node.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import { processVideo } from '../src/video/index.js';
import { EVAL } from './helpers/paths.js';
import { TempDirs } from './helpers/tmp.js';

const state = vi.hoisted(() => ({ fixed: false, fullDisk: false, asked: [] as string[] }));
vi.mock('node:crypto', async (original) => {
  const c = await original<typeof import('node:crypto')>();
  return { ...c, randomBytes: (n: number, ...rest: unknown[]) => (state.fixed && rest.length === 0 ? Buffer.alloc(n, 0xab) : (c.randomBytes as (...a: unknown[]) => Buffer)(n, ...rest)) };
});
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  return {
    ...fs,
    createWriteStream: (path: string, options?: Parameters<typeof fs.createWriteStream>[1]) => {
      if (state.fullDisk && String(path).endsWith('.jsonl.tmp')) {
        state.asked.push(String(path));
        return fs.createWriteStream('/dev/full', { ...(typeof options === 'object' ? options : {}), flags: 'w' });
      }
      return fs.createWriteStream(path, options);
    },
  };
});

const D3 = join(resolve(EVAL, 'video'), 'driving_d3.mp4');
const TAG = 'ab'.repeat(6);
const dirs = new TempDirs('prnet-temps-');
let light: Prnet;
beforeAll(async () => {
  light = await createPrnet({ model: 'light' });
});
afterAll(async () => {
  await light?.dispose();
  await dirs.cleanup();
});

describe('temporary files', () => {
  it('a link planted at the very name a write will use is refused, not followed (the CLI\'s writes and a video run\'s)', async () => {
    const dir = await dirs.make('planted');
    const victim = join(await dirs.make('victim'), 'precious.txt');
    await writeFile(victim, 'precious');
    state.fixed = true;
    try {
      for (let n = 0; n < 400; n++) {
        for (const name of ['x.json', 'driving_d3.jsonl']) await symlink(victim, join(dir, `.prnet-${process.pid}-${TAG}-${n}.${name}.tmp`));
      }
      const e = await writeFileAtomic(join(dir, 'x.json'), '{}').then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(OutputError);
      expect((e as Error).message).toMatch(/x\.json: cannot write \(something is in the way of its temporary file \.prnet-\d+-a[ab]+-\d+\.x\.json\.tmp\)$/);
      await expect(processVideo(light, D3, { outDir: dir, maxFrames: 5, flip: false, outputs: { overlay: false, glb: false } }))
        .rejects.toThrow(/driving_d3\.jsonl: cannot write \(something is in the way of its temporary file \.prnet-\d+-a[ab]+-\d+\.driving_d3\.jsonl\.tmp\)$/);
    } finally {
      state.fixed = false;
    }
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect(existsSync(join(dir, 'x.json'))).toBe(false);
    expect(existsSync(join(dir, 'driving_d3.jsonl'))).toBe(false);
  });

  it('a JSONL that cannot be written (a full disk) ends the run with an OutputError, promptly, its temporary removed', async () => {
    // Before, the run never settled (a wait for 'drain' on a closed stream), or the CLI died of an
    // unhandled 'error' event.
    const dir = await dirs.make('full');
    state.fullDisk = true;
    const t0 = performance.now();
    try {
      await expect(processVideo(light, D3, { outDir: dir, maxFrames: 90, flip: false, outputs: { overlay: false, glb: false } })).rejects.toThrow(/driving_d3\.jsonl: cannot write \(no space left on the device\)$/);
    } finally {
      state.fullDisk = false;
    }
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(state.asked).toHaveLength(1);
    // no temporary, and no final file
    expect(await readdir(dir)).toEqual([]);
  });
});
