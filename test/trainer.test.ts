/**
 * The trainer's own checks (training/selftest.py) under Debian's python3-torch on the CPU: the
 * crop and target geometry, the left-right flip, the light variant's targets, the large-pose
 * synthesis in both modes (yaw and pitch: a rigid rotation whose colours land where the target
 * says; 'warp' leaves no seam on the old face's boundary, 'splat' does), the crop jitter drawn from
 * the measured runtime table, the fold count (PyTorch = src/geometry/folds.ts), the
 * weight-file formats (F16 export, parts + sha256, the 8-bit start for --init), and real training
 * steps of both widths with resume, sample-weighted draws, --init and export → join → load.
 * Skipped outside CI without torch (the reason is in the names); under CI it must run.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PYTHON, pythonSkipSuffix, requireTorch, skipPython } from './helpers/python.js';

const SELFTEST = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'training', 'selftest.py');

function selftest(args: string[]): string {
  requireTorch('The trainer self-test');
  const r = spawnSync(PYTHON, [SELFTEST, ...args], { encoding: 'utf8', timeout: 900_000, env: { ...process.env, OMP_NUM_THREADS: '2' } });
  if (r.error) throw r.error;
  expect(r.status, `training/selftest.py ${args.join(' ')}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).toBe(0);
  return r.stdout;
}

describe.skipIf(skipPython)(`trainer self-test (training/selftest.py)${pythonSkipSuffix}`, () => {
  it('geometry, flip, light targets, large-pose synthesis (warp and splat) in yaw and pitch, the seam, the runtime crop jitter, weight files and the 8-bit init copy', () => {
    const out = selftest([]);
    expect(out).toMatch(/large pose, pitch only: the eye line stays/);
    expect(out).toMatch(/large pose \(warp\): .* at 99\.\d% /);
    expect(out).toMatch(/seam: gradient energy on the old face boundary/);
    expect(out).toMatch(/crop jitter \(runtime table\)/);
    expect(out).toMatch(/all checks passed/);
  }, 600_000); // ~65 s on 2 idle cores; allow for a loaded machine

  it('trains both widths on the CPU: resume, sample-weighted draws, --init from the 8-bit copy, export → join → load', () => {
    const out = selftest(['--train']);
    expect(out).toMatch(/sampling: by the pack's sample weights/);
    expect(out).toMatch(/init: weights from .*\(.*I8\)/);
    expect(out).toMatch(/all checks passed/);
  }, 900_000);
});

describe.skipIf(skipPython)(`the trainer's fold count equals src/geometry/folds.ts${pythonSkipSuffix}`, () => {
  it('same triangles, same folded count on a noisy map (training/surface.py --fold-check)', async () => {
    requireTorch('The fold-count comparison');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { loadLayout } = await import('../src/layout/node.js');
    const { foldedTriangles } = await import('../src/geometry/folds.js');
    const dir = mkdtempSync(join(tmpdir(), 'folds-'));
    try {
      const file = join(dir, 'map.f32');
      const script = join(dirname(SELFTEST), 'surface.py');
      const r = spawnSync(PYTHON, [script, '--fold-check', file, '--noise', '0.25'], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
      expect(r.status, r.stderr).toBe(0);
      const m = /triangles (\d+) folded (\d+)/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      const buf = readFileSync(file);
      const map = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      const layout = await loadLayout();
      const vertices = new Float32Array(layout.faceIndex.length * 3);
      for (let i = 0; i < layout.faceIndex.length; i++) vertices.set(map.subarray(3 * layout.faceIndex[i], 3 * layout.faceIndex[i] + 3), 3 * i);
      const folded = foldedTriangles(vertices, layout.triangles);
      let count = 0;
      for (const f of folded) count += f;
      console.log(`fold check: ${folded.length} triangles; folded ${count} (TypeScript) vs ${m![2]} (PyTorch)`);
      expect(folded.length).toBe(Number(m![1]));
      expect(count).toBeGreaterThan(0.05 * folded.length); // the noise does fold the surface
      expect(count).toBe(Number(m![2]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
