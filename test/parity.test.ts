/**
 * Parity between the trainer's PyTorch definition (training/resfcn.py, run by Debian's
 * /usr/bin/python3 with python3-torch) and the ONNX graph this library emits (src/model/resfcn.ts,
 * run by onnxruntime-node): the same weight file and the same input must give the same position
 * map, within 1e-3 px on values up to 281.6. Both directions: weights written by TypeScript and
 * run by PyTorch, and weights exported by the trainer (F16) parsed and run by TypeScript.
 *
 * Without torch the tests are skipped with the reason in their names; under CI (process.env.CI)
 * they fail instead, because .ci/run must install python3-torch.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng, parseModelFile, randomWeights, serializeModel, type ResfcnConfig } from '../src/model/index.js';
import { createSession } from '../src/runtime/index.js';
import { asFloat32, f32Tensor, readSafetensors, writeSafetensors } from '../src/util/safetensors.js';
import { PYTHON, pythonSkipSuffix, requireTorch as requireTorchFor, skipPython } from './helpers/python.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PARITY = join(ROOT, 'training', 'parity.py');
const TOLERANCE = 1e-3;
const skip = skipPython;
const suffix = pythonSkipSuffix;

function requireTorch(): void {
  requireTorchFor('PyTorch parity');
}

function python(args: string[]): string {
  const r = spawnSync(PYTHON, [PARITY, ...args], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, OMP_NUM_THREADS: '2' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`training/parity.py ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

function randomInput(n: number, size: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const x = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform();
  return x;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const dir = mkdtempSync(join(tmpdir(), 'prnet-parity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `input`, runs PyTorch on `modelPath`, returns its output. */
function torchForward(modelPath: string, input: Float32Array, n: number, size: number, tag: string): Float32Array {
  const inPath = join(dir, `${tag}-input.safetensors`);
  const outPath = join(dir, `${tag}-output.safetensors`);
  writeFileSync(inPath, writeSafetensors([['input', f32Tensor(input, [n, 3, size, size])]]));
  const log = python(['--model', modelPath, '--input', inPath, '--output', outPath]);
  console.log(`parity.py: ${log}`);
  const out = readSafetensors(readFileSync(outPath)).tensors.get('output');
  if (!out) throw new Error(`${outPath} has no "output" tensor`);
  expect(out.shape).toEqual([n, 3, size, size]);
  return asFloat32(out);
}

describe(`PyTorch (training/resfcn.py) and the ONNX graph give the same position maps${suffix}`, () => {
  const cases: [string, ResfcnConfig, number][] = [
    ['width 16 at 256 (resfcn256)', { width: 16, inputSize: 256, outputScale: 281.6 }, 1],
    ['width 8 at 128 (light)', { width: 8, inputSize: 128, outputScale: 281.6 }, 2],
    ['mobile width 16 at 128 (the real-time architecture, training/mobile.py)', { width: 16, inputSize: 128, outputScale: 281.6, architecture: 'mobile' }, 2],
  ];
  for (const [label, cfg, n] of cases) {
    it.skipIf(skip)(`${label}: TypeScript's random weights, max |diff| <= ${TOLERANCE} px`, async () => {
      requireTorch();
      const weights = randomWeights(cfg, 7);
      const tag = `ts-${cfg.architecture ?? 'resfcn'}-w${cfg.width}`;
      const modelPath = join(dir, `${tag}.safetensors`);
      writeFileSync(modelPath, serializeModel(weights, { dtype: 'F32' }));
      const x = randomInput(n, cfg.inputSize, 11);
      const ref = torchForward(modelPath, x, n, cfg.inputSize, tag);
      const session = await createSession(weights, { threads: 2 });
      try {
        const out = await session.run(x, n);
        const diff = maxAbsDiff(out, ref);
        let lo = Infinity, hi = -Infinity;
        for (const v of ref) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        console.log(`${label}: max |onnxruntime − PyTorch| = ${diff.toExponential(2)} px (outputs ${lo.toFixed(2)}..${hi.toFixed(2)})`);
        expect(hi - lo).toBeGreaterThan(1); // a live, unsaturated map
        expect(diff).toBeLessThanOrEqual(TOLERANCE);
      } finally {
        await session.release();
      }
    });
  }

  it.skipIf(skip)(`a model the trainer exports (F16, width 8 at 128) parses and runs identically, max |diff| <= ${TOLERANCE} px`, async () => {
    requireTorch();
    const modelPath = join(dir, 'torch-w8.safetensors');
    python(['--export-random', modelPath, '--width', '8', '--input-size', '128', '--seed', '3', '--dtype', 'F16']);
    const weights = parseModelFile(readFileSync(modelPath), modelPath);
    expect(weights.config).toEqual({ width: 8, inputSize: 128, outputScale: 281.6 });
    expect(weights.metadata).toMatchObject({ format: 'prnet-ts/resfcn', version: '1', source: 'training/parity.py' });
    const x = randomInput(2, 128, 5);
    const ref = torchForward(modelPath, x, 2, 128, 'torch-w8');
    const session = await createSession(modelPath, { threads: 2 });
    try {
      const diff = maxAbsDiff(await session.run(x, 2), ref);
      console.log(`trainer export: max |onnxruntime − PyTorch| = ${diff.toExponential(2)} px`);
      expect(diff).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await session.release();
    }
  });

  it.skipIf(skip)(`a mobile model the trainer exports (F16, width 16 at 128) parses with its architecture and runs identically, max |diff| <= ${TOLERANCE} px`, async () => {
    requireTorch();
    const modelPath = join(dir, 'torch-mobile.safetensors');
    python(['--export-random', modelPath, '--arch', 'mobile', '--width', '16', '--input-size', '128', '--seed', '3', '--dtype', 'F16']);
    const weights = parseModelFile(readFileSync(modelPath), modelPath);
    expect(weights.config).toEqual({ width: 16, inputSize: 128, outputScale: 281.6, architecture: 'mobile' });
    expect(weights.metadata).toMatchObject({ format: 'prnet-ts/resfcn', version: '1', architecture: 'mobile' });
    const x = randomInput(2, 128, 5);
    const ref = torchForward(modelPath, x, 2, 128, 'torch-mobile');
    const session = await createSession(modelPath, { threads: 2 });
    try {
      const diff = maxAbsDiff(await session.run(x, 2), ref);
      console.log(`trainer export (mobile): max |onnxruntime − PyTorch| = ${diff.toExponential(2)} px`);
      expect(diff).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await session.release();
    }
  });
});
