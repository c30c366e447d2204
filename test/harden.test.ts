/**
 * Hostile input, item by item (issue 11, goal 5): bounded --threads, --box and negative option
 * values, the .mat reader's limits and eval's failed rows, models that output non-finite values,
 * all-or-nothing output groups (rollback, signals, stale temporaries), output errors (exit 4),
 * the output folder inside the input, PGM/PPM/BMP, FIFOs, file-size limits, control characters in
 * names. The seeded fuzz test (fuzz.test.ts) throws mutated files at the same code.
 */
import { spawn, spawnSync } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { copyFile, lstat, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onInterrupt, sweepStaleTemporaries, tempPath, TEMP_NAME, writeFilesAtomic } from '../src/cli/atomic.js';
import { expandInputs } from '../src/cli/inputs.js';
import { failureLine } from '../src/cli/reconstruct.js';
import { evaluateAflw2000 } from '../tools/eval/aflw2000.js';
import { MAT_LIMITS, readMat } from '../tools/eval/mat.js';
import { AbortedError, InputError, ModelError, OutputError } from '../src/errors.js';
import { decodeImageBuffer, decodeImageFile, encodePng } from '../src/io/image-node.js';
import { modelMetadata, parseModelFile, randomWeights, resfcnTensorSpecs, serializeModel, type TensorSpec } from '../src/model/index.js';
import { createPrnet } from '../src/pipeline/node.js';
import { Prnet } from '../src/pipeline/prnet.js';
import { createSession, sessionThreads } from '../src/runtime/node.js';
import { cropFromLandmarks, cropTransform, type CropTransform } from '../src/crop/index.js';
import { PrnetSession } from '../src/runtime/session.js';
import { loadLayout } from '../src/layout/node.js';
import { writeSafetensors, f32Tensor } from '../src/util/safetensors.js';
import { REPO, ASTRONAUT, EVAL } from './helpers/paths.js';
import { withoutSuspect } from './helpers/cli.js';
import { runMain } from './helpers/main-inprocess.js';
import { SMALL_CONFIG, testModelPath } from './helpers/model.js';
import { leftoverTempFiles, listFiles, TempDirs } from './helpers/tmp.js';
import { pngHeaderOnly } from './helpers/images.js';

const dirs = new TempDirs('prnet-harden-');
let model: string;
let prnet: Prnet;
let astronaut: Awaited<ReturnType<typeof decodeImageFile>>;

beforeAll(async () => {
  model = await testModelPath();
  prnet = await createPrnet({ model, detector: false, threads: 1 });
  astronaut = await decodeImageFile(ASTRONAUT);
});
afterAll(async () => {
  await prnet.dispose();
  await dirs.cleanup();
});

/** A MATLAB v5 file: 128-byte header ('IM' little-endian) then the given elements. */
function matFile(...elements: Uint8Array[]): Uint8Array {
  const head = new Uint8Array(128);
  head.set(new TextEncoder().encode('MATLAB 5.0 MAT-file, crafted'));
  head[124] = 0;
  head[125] = 1;
  head[126] = 0x49; // 'I'
  head[127] = 0x4d; // 'M'
  return Buffer.concat([head, ...elements]);
}

/** A data element: type, byte count, data, padding to 8. */
function el(type: number, data: Uint8Array, pad = true): Uint8Array {
  const n = data.byteLength;
  const out = new Uint8Array(8 + (pad ? Math.ceil(n / 8) * 8 : n));
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, n, true);
  out.set(data, 8);
  return out;
}

const u32 = (...xs: number[]): Uint8Array => new Uint8Array(Uint32Array.from(xs).buffer);
const i32 = (...xs: number[]): Uint8Array => new Uint8Array(Int32Array.from(xs).buffer);

/** A miMATRIX of class `cls` with the given dims and name, and `rest` (its data elements). */
function matrix(cls: number, dims: number[], name: string, ...rest: Uint8Array[]): Uint8Array {
  return el(14, Buffer.concat([el(6, u32(cls, 0)), el(5, i32(...dims)), el(1, new TextEncoder().encode(name)), ...rest]));
}

describe('arguments', () => {
  it('--threads above the cores is refused with the bound; the library caps it', async () => {
    const r = await runMain(['reconstruct', 'a.jpg', '--out', 'o', '--threads', '100000']);
    expect(r.code).toBe(2);
    expect(r.errLines).toEqual([`prnet: --threads must be between 1 and ${availableParallelism()} (the cores of this machine), got '100000'`]);
    expect(sessionThreads(100000)).toBe(availableParallelism());
    expect(sessionThreads(1)).toBe(1);
    const s = await createSession(randomWeights(SMALL_CONFIG, 3), { threads: 100000 }); // opens (capped), does not exhaust memory
    await s.release();
    await expect(createSession(randomWeights(SMALL_CONFIG, 3), { threads: 0 })).rejects.toBeInstanceOf(InputError);
  });

  it.each([
    [['--box', '0,0,1e308,1e308'], /--box: every number must be within ±1000000 pixels/],
    [['--box', '0,0,1e-300,1e-300'], /--box: the width and height must be at least 1 pixel/],
    [['--box', ',,100,100'], /--box must be x,y,width,height .* got ',,100,100'/],
    [['--box', 'NaN,0,10,10'], /--box must be x,y,width,height/],
    // A negative value right after the option is its value (not "argument is ambiguous").
    [['--box', '-10,-10,0,50'], /--box must be .* positive size, got '-10,-10,0,50'/],
    [['--box=-10,-10,0,50'], /got '-10,-10,0,50'/],
    [['--max-faces', '-1'], /--max-faces must be a whole number ≥ 1, got '-1'/],
    [['--threads', '-3'], /--threads must be a whole number ≥ 1, got '-3'/],
    // An empty value (`--box "$UNSET"`) is not "use the default": the box would be ignored silently.
    [['--box='], /^prnet: --box needs a value, got an empty one$/],
    [['--box', ''], /^prnet: --box needs a value, got an empty one$/],
    [['--detector='], /^prnet: --detector needs a value, got an empty one$/],
    [['--model='], /^prnet: --model needs a value, got an empty one$/],
    [['--detector', 'foo'], /^prnet: --detector must be one of blazeface, blazeface-mesh, ssd-mobilenet, tiny-face, got 'foo'$/],
  ])('%j: one line, exit 2', async (extra, message) => {
    const r = await runMain(['reconstruct', 'a.jpg', '--out', 'o', ...extra]);
    expect(r.code).toBe(2);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/ambiguous/);
  });

  it('the library refuses boxes outside the image, not finite, or absurdly large (InputError)', async () => {
    const bad = [
      { x: 5000, y: 5000, width: 100, height: 100, score: 1 },
      { x: -200, y: 0, width: 100, height: 100, score: 1 },
      { x: 0, y: 0, width: 1e308, height: 1e308, score: 1 },
      { x: 0, y: 0, width: 1e-300, height: 1e-300, score: 1 },
      { x: NaN, y: 0, width: 100, height: 100, score: 1 },
    ];
    for (const box of bad) {
      const e = await prnet.reconstruct(astronaut, { boxes: [box] }).then(() => null, (x: unknown) => x);
      expect(e, JSON.stringify(box)).toBeInstanceOf(InputError);
    }
    // Partly outside is fine: the crop pads.
    const { faces } = await prnet.reconstruct(astronaut, { boxes: [{ x: -10, y: -10, width: 200, height: 200, score: 1 }], flip: false });
    expect(faces).toHaveLength(1);
  });
});

describe('models that pass validation but output non-finite values', () => {
  const specs = new Map(resfcnTensorSpecs(SMALL_CONFIG).map((t) => [t.name, t]));
  /** The small random model with its tensors edited and metadata overridden, as file bytes (F32). */
  function withTensors(edit: (spec: TensorSpec, d: Float32Array) => void, md: Record<string, string> = {}): Uint8Array {
    const w = randomWeights(SMALL_CONFIG, 5);
    for (const [n, d] of w.tensors) edit(specs.get(n)!, d);
    return writeSafetensors([...w.tensors].map(([n, d]) => [n, f32Tensor(d, specs.get(n)!.shape)]), { ...modelMetadata(SMALL_CONFIG), ...md });
  }

  it.each([
    ['huge weights (×1e30)', (t: TensorSpec, d: Float32Array) => {
      if (t.role !== 'bn') d.forEach((v, i) => (d[i] = v * 1e30));
    }],
    ['zero running variances and huge gammas', (t: TensorSpec, d: Float32Array) => {
      if (t.bn === 'running_var') d.fill(0);
      if (t.bn === 'weight') d.fill(1e6);
    }],
  ])('%s: ModelError at load (the probe inference), exit 3 on the CLI', async (_name, edit) => {
    const dir = await dirs.make('nonfinite');
    const file = join(dir, 'bad.safetensors');
    await writeFile(file, withTensors(edit));
    const e = await createSession(file).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(ModelError);
    expect((e as Error).message).toMatch(/non-finite values .* test input/);
    const r = await runMain(['reconstruct', ASTRONAUT, '--box', '180,150,160,180', '--out', join(dir, 'out'), '--model', file]);
    expect(r.code).toBe(3);
    expect(r.errLines).toEqual([expect.stringMatching(/^prnet: .*bad\.safetensors: the network outputs non-finite values/)]);
    expect(await listFiles(join(dir, 'out'))).toEqual([]);
  });

  it.each([
    [{ output_scale: '1e39' }, /output scale must be a positive number up to 100000, got 1e\+39/],
    [{ input_size: '4096' }, /input size must be a multiple of 32 from 32 to 1024, got 4096/],
    [{ input_size: String(2 ** 30) }, /input size must be a multiple of 32 from 32 to 1024/],
    [{ width: '100000' }, /width must be a whole number from 1 to 64/],
    [{ default_precision: 'fp64' }, /^crafted\.safetensors: metadata "default_precision" must be "fp32" or "int8", got "fp64"$/],
    [{ track_framing: 'box' }, /^crafted\.safetensors: metadata "track_framing" must be "detector" or "landmarks", got "box"$/],
  ])('metadata %j: ModelError at parse', (md, message) => {
    expect(() => parseModelFile(withTensors(() => undefined, md), 'crafted.safetensors')).toThrow(message);
  });

  it('a non-finite position map for one image is a ModelError (a failed row naming the file), not a RangeError', async () => {
    const layout = await loadLayout();
    let calls = 0;
    const backend = {
      async run(input: Float32Array) {
        // Finite for the load-time probe, NaN afterwards (as a model could do on some inputs).
        return calls++ === 0 ? new Float32Array(input.length).fill(0.5) : new Float32Array(input.length).fill(NaN);
      },
      async release() {},
    };
    const p = new Prnet(new PrnetSession(backend, { ...SMALL_CONFIG }), layout, null);
    calls = 1;
    const e = await p.reconstruct(astronaut, { boxes: [{ x: 180, y: 150, width: 160, height: 180, score: 1 }] }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(ModelError);
    expect(failureLine(e, '/in/photo\n1.jpg')).toBe('/in/photo\\n1.jpg: the network output non-finite values (NaN or infinity) for this image: the model is broken');
  });
});

describe('.mat limits and eval', () => {
  it('a 208-byte file declaring a 65536×65536 struct, cell or double is refused at once', () => {
    for (const cls of [2, 1, 6]) {
      const rest = cls === 2 ? [el(5, i32(8)), el(1, new Uint8Array(8))] : [el(9, new Uint8Array(8))];
      const buf = matFile(matrix(cls, [65536, 65536], 'x', ...rest));
      expect(buf.length).toBeLessThan(260);
      const t0 = performance.now();
      expect(() => readMat(buf, 'crafted.mat')).toThrow(InputError);
      expect(performance.now() - t0).toBeLessThan(200);
    }
    // A struct with no fields and 65536 × 65536 elements (no bytes per element).
    expect(() => readMat(matFile(matrix(2, [65536, 65536], 's', el(5, i32(0)), el(1, new Uint8Array(0)))), 's.mat')).toThrow(/struct|limit/);
  });

  it('a zlib bomb stops at the inflate limit (zlib maxOutputLength), without the memory', () => {
    const bomb = deflateSync(Buffer.alloc(MAT_LIMITS.inflated + 2 ** 20), { level: 9 });
    expect(bomb.length).toBeLessThan(200_000);
    const buf = matFile(el(15, bomb, false));
    const before = process.memoryUsage().rss;
    expect(() => readMat(buf, 'bomb.mat')).toThrow(/bomb\.mat: a compressed element inflates past the limit of 67108864 bytes/);
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 2 ** 20);
  });

  it('deep nesting is refused (no stack overflow), errors are InputErrors', () => {
    let inner = matrix(6, [1, 1], '', el(9, new Uint8Array(8)));
    for (let i = 0; i < 40; i++) inner = el(14, Buffer.concat([el(6, u32(1, 0)), el(5, i32(1, 1)), el(1, new Uint8Array(0)), inner]));
    expect(() => readMat(matFile(inner), 'deep.mat')).toThrow(/nested deeper than 32/);
  });

  it('eval: a bad pair is a failed row, the good images are still scored; the CLI exits 1 with one line', async () => {
    const dir = await dirs.make('aflw');
    const aflw = join(EVAL, 'aflw2000-3d');
    const names = (await readdir(aflw)).filter((n) => n.endsWith('.jpg')).sort().slice(0, 3);
    for (const n of names) {
      await copyFile(join(aflw, n), join(dir, n));
      await copyFile(join(aflw, n.replace('.jpg', '.mat')), join(dir, n.replace('.jpg', '.mat')));
    }
    const bad = join(dir, names[1].replace('.jpg', '.mat'));
    const bytes = await readFile(bad);
    await writeFile(bad, bytes.subarray(0, 200));
    const report = await evaluateAflw2000(prnet, dir, { gtBox: true, peers: false });
    expect(report.images).toBe(3);
    expect(report.unreadable).toEqual([expect.stringMatching(/\.mat: /)]);
    expect(report.ours.perImage.filter((s) => s.nme2d !== null)).toHaveLength(2);
    expect(Number.isFinite(report.ours.nme2d)).toBe(true);
    const r = await runMain(['eval', 'aflw2000', dir, '--gt-box', '--no-peers', '--json', '--quiet', '--model', model]);
    expect(r.code).toBe(1);
    expect(r.errLines).toEqual([`prnet: ${bad}: ${report.unreadable[0].slice(bad.length + 2)}`]);
    const out = JSON.parse(r.stdout) as { images: number; perImage: { nme2d: number | null }[] };
    expect(out.perImage.filter((s) => s.nme2d !== null)).toHaveLength(2);
  });
});

describe('outputs: all or nothing, signals, stale temporaries, exit 4', () => {
  it('a failed rename rolls back the files of the group already renamed', async () => {
    const dir = await dirs.make('rollback');
    await mkdir(join(dir, 'b.json')); // a folder where the second file goes
    const e = await writeFilesAtomic([
      { path: join(dir, 'a.json'), data: 'a' },
      { path: join(dir, 'b.json'), data: 'b' },
      { path: join(dir, 'c.json'), data: 'c' },
    ]).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(OutputError);
    expect((e as Error).message).toBe(`${join(dir, 'b.json')}: cannot write (a folder is in the way of the file)`);
    expect(await listFiles(dir)).toEqual([]);
  });

  it('temporary names carry a random tag of their own, and are created exclusively: a link planted in a shared folder is not written through', async () => {
    const dir = await dirs.make('planted');
    const victim = join(await dirs.make('victim'), 'precious.txt');
    await writeFile(victim, 'precious');
    // Another user of the folder plants links at the names the CLI would use with the old scheme
    // (.prnet-<pid>-<n>.<name>.tmp, its pid known by starting it with exec).
    const r = spawnSync('sh', ['-c', `for n in 0 1 2 3; do ln -s "$1" "$2/.prnet-$$-$n.astronaut_face0.json.tmp"; done; exec "$3" --import tsx test/helpers/cli-entry.ts reconstruct "$4" --out "$2" --model light --formats json`, 'sh', victim, dir, process.execPath, ASTRONAUT], { cwd: REPO, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(join(dir, 'astronaut_face0.json'))).isFile()).toBe(true);
    // Every temporary name has its own random part: none can be guessed from another.
    const names = Array.from({ length: 4 }, () => basename(tempPath(join(dir, 'x.json'))));
    for (const n of names) expect(n).toMatch(TEMP_NAME);
    expect(new Set(names.map((n) => n.split('-')[2])).size).toBe(4);
  });

  it('the sweep removes temporaries of dead processes only', async () => {
    const dir = await dirs.make('sweep');
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));
    await writeFile(join(dir, `.prnet-${dead}-3.x_face0.json.tmp`), 'stale');
    await writeFile(join(dir, `.prnet-${process.pid}-9.y.json.tmp`), 'ours, live');
    await writeFile(join(dir, '.other.tmp'), 'not ours');
    await writeFile(join(dir, 'photo.jpg'), 'not ours');
    expect(await sweepStaleTemporaries(dir)).toEqual([`.prnet-${dead}-3.x_face0.json.tmp`]);
    expect(await listFiles(dir)).toEqual([`.other.tmp`, `.prnet-${process.pid}-9.y.json.tmp`, 'photo.jpg']);
  });

  it('onInterrupt removes pending temporaries and waits for a group being renamed', async () => {
    const dir = await dirs.make('signal');
    const exits: string[] = [];
    const stop = onInterrupt((s) => exits.push(s));
    try {
      const writing = writeFilesAtomic(Array.from({ length: 20 }, (_, i) => ({ path: join(dir, `f${i}.bin`), data: new Uint8Array(200_000) })));
      await new Promise((r) => setTimeout(r, 1));
      process.emit('SIGTERM', 'SIGTERM');
      await writing.catch(() => undefined);
      expect(exits).toEqual(['SIGTERM']);
      const files = await listFiles(dir);
      expect(await leftoverTempFiles(dir)).toEqual([]);
      // All 20 or none.
      expect([0, 20]).toContain(files.length);
    } finally {
      stop();
    }
  });

  it('SIGINT mid-batch (a process): the summary is printed, the process ends by SIGINT (status 130), no temporary or partial files', async () => {
    const dir = await dirs.make('sigint');
    const inDir = join(dir, 'in');
    await mkdir(inDir);
    for (let i = 0; i < 8; i++) await copyFile(ASTRONAUT, join(inDir, `p${i}.png`));
    const out = join(dir, 'out');
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/helpers/cli-entry.ts'), 'reconstruct', inDir, '--out', out, '--model', model, '--detector', 'blazeface', '--formats', 'json,obj,ply,depth'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const t = setInterval(async () => {
        if ((await listFiles(out).catch(() => [])).some((f) => f.endsWith('.json'))) {
          clearInterval(t);
          child.kill('SIGINT');
        }
      }, 20);
      child.on('close', (code, signal) => {
        clearInterval(t);
        resolve({ code, signal });
      });
    });
    // Ended by the signal itself after the summary (a shell's $? is 130), not by an exit that waits
    // for native work in flight.
    expect(ended).toEqual({ code: null, signal: 'SIGINT' });
    expect(stderr).toMatch(/of 8 images \(interrupted by SIGINT\): \d+ done/);
    const files = await listFiles(out);
    expect(await leftoverTempFiles(out)).toEqual([]);
    // Every image's files are there together (json, obj, ply per face; depth per image) or not at all.
    const outputs = files.filter((f) => f !== '.prnet-done.jsonl');
    const stems = new Set(outputs.map((f) => f.replace(/_(face\d+\.(json|obj|ply)|depth\.png)$/, '')));
    for (const s of stems) expect(outputs.filter((f) => f.startsWith(`${s}_`)).sort(), s).toEqual([`${s}_depth.png`, `${s}_face0.json`, `${s}_face0.obj`, `${s}_face0.ply`]);
    // The record of finished images (--resume) names only images whose files are there: all of
    // them, or all but the one whose line the signal cut off (--resume does that one again).
    const record = (await readFile(join(out, '.prnet-done.jsonl'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { stem: string }).stem);
    for (const s of record) expect(stems.has(s), s).toBe(true);
    expect(record.length).toBeGreaterThanOrEqual(stems.size - 1);
  }, 60_000);

  it('a folder where an output goes: exit 4, the message names it, the other images are written, the summary is printed', async () => {
    const dir = await dirs.make('exit4');
    const out = join(dir, 'out');
    await mkdir(join(out, 'a_face0.json'), { recursive: true });
    await copyFile(ASTRONAUT, join(dir, 'a.png'));
    await copyFile(ASTRONAUT, join(dir, 'b.png'));
    const r = withoutSuspect(await runMain(['reconstruct', join(dir, 'a.png'), join(dir, 'b.png'), '--out', out, '--model', model, '--detector', 'blazeface', '--formats', 'json,depth']));
    expect(r.code).toBe(4);
    expect(r.errLines).toContain(`prnet: ${join(dir, 'a.png')}: ${join(out, 'a_face0.json')}: cannot write (a folder is in the way of the file)`);
    expect(r.errLines).toContain(`2 images: 1 done (1 face, 2 files in ${out}), 1 failed`);
    expect(await listFiles(out)).toEqual(['.prnet-done.jsonl', 'b_depth.png', 'b_face0.json']);
  }, 60_000);

  it("a rerun that cannot put one of an image's files in place keeps the earlier run's files of that image as they were", async () => {
    const dir = await dirs.make('rerun-fail');
    const out = join(dir, 'out');
    await copyFile(ASTRONAUT, join(dir, 'a.png'));
    const run = (...extra: string[]): Promise<{ code: number; errLines: string[] }> => runMain(['reconstruct', join(dir, 'a.png'), '--out', out, '--model', model, '--formats', 'json,obj,depth', '--quiet', ...extra]);
    expect((await run()).code).toBe(0);
    const read = async (): Promise<Map<string, string>> => new Map(await Promise.all((await listFiles(out)).map(async (f) => [f, (await readFile(join(out, f))).toString('base64')] as const)));
    const first = await read();
    expect([...first.keys()]).toEqual(['a_depth.png', 'a_face0.json', 'a_face0.obj']);
    // the image's last file cannot be replaced (a folder in its way): the face files renamed before it are taken back
    await rm(join(out, 'a_depth.png'));
    await mkdir(join(out, 'a_depth.png'));
    const failed = await run('--smooth', '0');
    expect(failed.code, failed.errLines.join('\n')).toBe(4);
    expect(failed.errLines).toEqual([`prnet: ${join(dir, 'a.png')}: ${join(out, 'a_depth.png')}: cannot write (a folder is in the way of the file)`]);
    const after = await read();
    expect([...after.keys()]).toEqual(['a_face0.json', 'a_face0.obj']); // (and the folder)
    for (const f of ['a_face0.json', 'a_face0.obj']) expect(after.get(f) === first.get(f), f).toBe(true);
    expect(await leftoverTempFiles(out)).toEqual([]);
    // (the rerun's files differ: without the folder in the way they replace the earlier ones)
    await rm(join(out, 'a_depth.png'), { recursive: true });
    expect((await run('--smooth', '0')).code).toBe(0);
    expect((await read()).get('a_face0.json') === first.get('a_face0.json')).toBe(false);
  }, 60_000);

  it("a one-image run keeps the folder's record only where there is one: a folder in its place is none (no warning)", async () => {
    const out = await dirs.make('record-folder');
    await mkdir(join(out, '.prnet-done.jsonl'));
    const r = withoutSuspect(await runMain(['reconstruct', ASTRONAUT, '--out', out, '--model', model, '--formats', 'json']));
    expect(r.code, r.errLines.join('\n')).toBe(0);
    expect(r.errLines.filter((l) => /warning/.test(l))).toEqual([]);
  }, 60_000);

  it('writeFilesAtomic: a group that fails puts back what was at its names, a symbolic link as a link', async () => {
    const dir = await dirs.make('group-back');
    await writeFile(join(dir, 'a.txt'), 'old a');
    await writeFile(join(dir, 'target.txt'), 'target');
    await symlink('target.txt', join(dir, 'b.txt'));
    await mkdir(join(dir, 'c.txt'));
    await expect(writeFilesAtomic([{ path: join(dir, 'a.txt'), data: 'new a' }, { path: join(dir, 'b.txt'), data: 'new b' }, { path: join(dir, 'c.txt'), data: 'c' }])).rejects.toBeInstanceOf(OutputError);
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('old a');
    expect((await lstat(join(dir, 'b.txt'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(dir, 'b.txt'), 'utf8')).toBe('target');
    expect(await leftoverTempFiles(dir)).toEqual([]);
    // in place, the group replaces them (the link itself, not its target)
    await rm(join(dir, 'c.txt'), { recursive: true });
    await writeFilesAtomic([{ path: join(dir, 'a.txt'), data: 'new a' }, { path: join(dir, 'b.txt'), data: 'new b' }, { path: join(dir, 'c.txt'), data: 'c' }]);
    expect([await readFile(join(dir, 'a.txt'), 'utf8'), await readFile(join(dir, 'b.txt'), 'utf8'), await readFile(join(dir, 'target.txt'), 'utf8')]).toEqual(['new a', 'new b', 'target']);
    expect(await leftoverTempFiles(dir)).toEqual([]);
  });

  it("a photo named alone in the output folder: only the images named as its own outputs are looked at (x-2.png's and x.png's second name's)", async () => {
    const dir = await dirs.make('alone-names');
    for (const n of ['y.png', 'x-2.png']) await copyFile(ASTRONAUT, join(dir, n));
    for (const n of ['y_mesh.png', 'z_mesh.png', 'x-2_depth.png', 'yy_pose.png']) await sharp(ASTRONAUT).resize(32, 32).png().toFile(join(dir, n));
    expect((await expandInputs([join(dir, 'y.png'), join(dir, 'x-2.png')], { outDir: dir })).unowned.map((f) => basename(f)).sort()).toEqual(['x-2_depth.png', 'y_mesh.png']);
    expect((await expandInputs([join(dir, 'y.png')], { outDir: join(dir, 'other') })).unowned).toEqual([]);
  });

  it('a photo named alone with --out at its own folder does not replace an image there named as its output that prnet-ts did not write', async () => {
    const dir = await dirs.make('alone-clash');
    await copyFile(ASTRONAUT, join(dir, 'y.png'));
    await sharp(ASTRONAUT).resize(300, 300).png().toFile(join(dir, 'y_mesh.png'));
    const mine = await readFile(join(dir, 'y_mesh.png'));
    const r = withoutSuspect(await runMain(['reconstruct', join(dir, 'y.png'), '--out', dir, '--model', model, '--formats', 'json,overlay', '--quiet']));
    expect(r.code, r.errLines.join('\n')).toBe(4);
    expect(r.errLines).toEqual([`prnet: ${join(dir, 'y.png')}: ${join(dir, 'y_mesh.png')}: exists, named as this image's output, and prnet-ts did not write it (no prnet-ts mark, not in .prnet-done.jsonl): not replaced, in case it is a photo; rename it (or delete it if it is an earlier version's output) or choose another --out`]);
    expect((await readFile(join(dir, 'y_mesh.png'))).equals(mine)).toBe(true);
    expect((await listFiles(dir)).filter((f) => !f.startsWith('.'))).toEqual(['y.png', 'y_mesh.png']);
    // another --out is not that folder: nothing there is in the way
    expect((await runMain(['reconstruct', join(dir, 'y.png'), '--out', join(dir, 'out'), '--model', model, '--formats', 'json,overlay', '--quiet'])).code).toBe(0);
  }, 60_000);

  it("photos of one name from two folders keep their own outputs when one of them is run again alone (the folder's record names the other's)", async () => {
    const dir = await dirs.make('two-x');
    const out = join(dir, 'out');
    await mkdir(join(dir, 'a'));
    await mkdir(join(dir, 'b'));
    await copyFile(ASTRONAUT, join(dir, 'a', 'x.png'));
    await sharp(ASTRONAUT).resize(400, 400).png().toFile(join(dir, 'b', 'x.png'));
    const run = (...inputs: string[]): Promise<{ code: number }> => runMain(['reconstruct', ...inputs, '--out', out, '--model', model, '--formats', 'json', '--quiet']);
    expect((await run(join(dir, 'a', 'x.png'), join(dir, 'b', 'x.png'))).code).toBe(0);
    const width = async (stem: string): Promise<number> => (JSON.parse(await readFile(join(out, `${stem}_face0.json`), 'utf8')) as { image: { width: number } }).image.width;
    expect([await width('x'), await width('x-2')]).toEqual([512, 400]);
    const a = await readFile(join(out, 'x_face0.json'));
    // b/x.png alone: its own x-2, not a's x
    expect((await run(join(dir, 'b', 'x.png'))).code).toBe(0);
    expect((await readFile(join(out, 'x_face0.json'))).equals(a)).toBe(true);
    expect(await width('x-2')).toBe(400);
    // a/x.png alone: x, its own; the record follows its rewritten files (a one-image run into a
    // folder with a record keeps it), so b/x.png alone again still writes x-2
    expect((await run(join(dir, 'a', 'x.png'))).code).toBe(0);
    expect(await width('x')).toBe(512);
    const a2 = await readFile(join(out, 'x_face0.json'));
    expect((await run(join(dir, 'b', 'x.png'))).code).toBe(0);
    expect((await readFile(join(out, 'x_face0.json'))).equals(a2)).toBe(true);
    expect(await width('x-2')).toBe(400);
    expect((await listFiles(out)).filter((f) => !f.startsWith('.'))).toEqual(['x-2_face0.json', 'x_face0.json']);
  }, 60_000);

  it('the output folder as input: our own outputs are not new inputs', async () => {
    const dir = await dirs.make('same');
    for (const n of ['a.png', 'a_depth.png', 'a_landmarks.png', 'a_pose.png', 'a_mesh.png', 'a_face0_texture.png', 'holiday_mesh.jpg']) await writeFile(join(dir, n), 'x');
    expect((await expandInputs([dir], { outDir: dir })).files.map((f) => f.slice(dir.length + 1))).toEqual(['a.png', 'holiday_mesh.jpg']);
    expect((await expandInputs([dir])).files).toHaveLength(7);
    // the same folder through a link (or a path with ..) is the output folder too
    const links = await dirs.make('same-links');
    await symlink(dir, join(links, 'linked'));
    for (const other of [join(links, 'linked'), join(dir, '..', basename(dir))]) {
      expect((await expandInputs([other], { outDir: dir })).files.map((f) => basename(f)), other).toEqual(['a.png', 'holiday_mesh.jpg']);
      expect((await expandInputs([dir], { outDir: other })).files.map((f) => basename(f)), other).toEqual(['a.png', 'holiday_mesh.jpg']);
    }
  });

  it('an input named as another input\'s output is not written over: that image\'s files are not written (exit 4); a rerun into the folder skips and rewrites our own outputs', async () => {
    const dir = await dirs.make('same-clash');
    await copyFile(ASTRONAUT, join(dir, 'y.png'));
    // a photo of the user's that happens to be named as y.png's mesh overlay
    await sharp(ASTRONAUT).resize(300, 300).png().toFile(join(dir, 'y_mesh.png'));
    const mine = await readFile(join(dir, 'y_mesh.png'));
    const run = async (...inputs: string[]): Promise<{ code: number; errLines: string[] }> => withoutSuspect(await runMain(['reconstruct', ...inputs, '--out', dir, '--model', model, '--formats', 'json,overlay', '--quiet']));
    const r = await run(join(dir, 'y.png'), join(dir, 'y_mesh.png'));
    expect(r.code, r.errLines.join('\n')).toBe(4);
    expect(r.errLines).toEqual([`prnet: ${join(dir, 'y.png')}: ${join(dir, 'y_mesh.png')}: is an input of this run, named as this image's output: writing it would destroy that photo; rename it or choose another --out`]);
    expect((await readFile(join(dir, 'y_mesh.png'))).equals(mine)).toBe(true);
    // y.png wrote nothing; the user's photo was reconstructed as any other
    const userFiles = ['y_mesh.png', 'y_mesh_face0.json', 'y_mesh_landmarks.png', 'y_mesh_mesh.png', 'y_mesh_pose.png'];
    expect((await listFiles(dir)).filter((f) => !f.startsWith('.'))).toEqual(['y.png', ...userFiles]);
    // The folder given as the input: y_mesh.png is named as y.png's output, but prnet-ts did not
    // write it (no mark, in no record): left out as an input, said, and not replaced (exit 4).
    for (const f of userFiles.slice(1)) await rm(join(dir, f));
    const listed = await expandInputs([dir], { outDir: dir });
    expect(listed.files.map((f) => f.slice(dir.length + 1))).toEqual(['y.png']);
    expect(listed.unowned).toEqual([join(dir, 'y_mesh.png')]);
    expect(listed.notes).toEqual([`${dir}: 1 image is named as prnet-ts's output but was not written by it (no prnet-ts mark, not in .prnet-done.jsonl): y_mesh.png; left out and not replaced (name it to read it)`]);
    const folder = await run(dir);
    expect(folder.code, folder.errLines.join('\n')).toBe(4);
    expect(folder.errLines).toEqual([`prnet: ${join(dir, 'y.png')}: ${join(dir, 'y_mesh.png')}: exists, named as this image's output, and prnet-ts did not write it (no prnet-ts mark, not in .prnet-done.jsonl): not replaced, in case it is a photo; rename it (or delete it if it is an earlier version's output) or choose another --out`]);
    expect((await readFile(join(dir, 'y_mesh.png'))).equals(mine)).toBe(true);
    expect((await listFiles(dir)).filter((f) => !f.startsWith('.'))).toEqual(['y.png', 'y_mesh.png']);
    // Our own outputs carry the mark: a rerun of the folder into itself skips them and writes them again.
    await rm(join(dir, 'y_mesh.png'));
    expect((await run(dir)).code).toBe(0);
    const again = await run(dir);
    expect(again.code, again.errLines.join('\n')).toBe(0);
    expect((await listFiles(dir)).filter((f) => !f.startsWith('.'))).toEqual(['y.png', 'y_face0.json', 'y_landmarks.png', 'y_mesh.png', 'y_pose.png']);
    expect((await expandInputs([dir], { outDir: dir })).unowned).toEqual([]);
  }, 60_000);

  it('an earlier version\'s unmarked outputs are ours when the folder\'s record lists them as written (size and modification time)', async () => {
    const dir = await dirs.make('same-record');
    await copyFile(ASTRONAUT, join(dir, 'y.png'));
    // y_mesh.png as a version before the mark wrote it: a plain PNG
    await sharp(ASTRONAUT).resize(64, 64).png().toFile(join(dir, 'y_mesh.png'));
    expect((await expandInputs([dir], { outDir: dir })).unowned).toEqual([join(dir, 'y_mesh.png')]);
    const s = await stat(join(dir, 'y_mesh.png'));
    const line = (mtimeMs: number): string => JSON.stringify({ input: join(dir, 'y.png'), size: 1, mtimeMs: 1, stem: 'y', options: {}, faces: 1, files: [{ path: 'y_mesh.png', size: s.size, mtimeMs }] }) + '\n';
    await writeFile(join(dir, '.prnet-done.jsonl'), line(s.mtimeMs));
    const listed = await expandInputs([dir], { outDir: dir });
    expect(listed.unowned).toEqual([]);
    expect(listed.notes).toEqual([]);
    expect(listed.files.map((f) => basename(f))).toEqual(['y.png']);
    // rewritten since (another modification time): not the one the record knows
    await writeFile(join(dir, '.prnet-done.jsonl'), line(s.mtimeMs - 1000));
    expect((await expandInputs([dir], { outDir: dir })).unowned).toEqual([join(dir, 'y_mesh.png')]);
  });
});

describe('input files', () => {
  async function pixels(): Promise<{ data: Buffer; width: number; height: number }> {
    const { data, info } = await sharp(ASTRONAUT).resize(61, 47).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  }

  it('PPM (P6), PGM (P5, 16-bit) and BMP (24, 32-bit, 8-bit palette) decode to the same pixels', async () => {
    const { data, width: w, height: h } = await pixels();
    const ppm = Buffer.concat([Buffer.from(`P6\n# crafted\n${w} ${h}\n255\n`), data]);
    expect((await decodeImageBuffer(ppm)).data).toEqual(new Uint8Array(data));
    const grey = new Uint8Array(w * h * 2);
    for (let i = 0; i < w * h; i++) grey[2 * i] = data[3 * i];
    const pgm = Buffer.concat([Buffer.from(`P5 ${w} ${h} 65535 `), grey]);
    const g = await decodeImageBuffer(pgm);
    expect(g.data[3 * 10]).toBe(Math.round((data[30] * 256 * 255) / 65535));
    expect(g.data[3 * 10 + 1]).toBe(g.data[3 * 10]);
    for (const bpp of [24, 32, 8]) {
      const stride = Math.floor((bpp * w + 31) / 32) * 4;
      const palette = bpp === 8 ? 1024 : 0;
      const head = Buffer.alloc(54 + palette);
      head.write('BM', 0, 'latin1');
      head.writeUInt32LE(54 + palette + stride * h, 2);
      head.writeUInt32LE(54 + palette, 10);
      head.writeUInt32LE(40, 14);
      head.writeInt32LE(w, 18);
      head.writeInt32LE(h, 22);
      head.writeUInt16LE(1, 26);
      head.writeUInt16LE(bpp, 28);
      if (bpp === 8) for (let i = 0; i < 256; i++) head.fill(i, 54 + 4 * i, 54 + 4 * i + 3);
      const px = Buffer.alloc(stride * h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const s = 3 * (y * w + x);
          const o = (h - 1 - y) * stride + (bpp / 8) * x;
          if (bpp === 8) px[o] = data[s + 1];
          else [px[o], px[o + 1], px[o + 2]] = [data[s + 2], data[s + 1], data[s]];
        }
      }
      const img = await decodeImageBuffer(Buffer.concat([head, px]), `x${bpp}.bmp`);
      expect([img.width, img.height]).toEqual([w, h]);
      if (bpp === 8) expect(img.data[3 * 100]).toBe(data[3 * 100 + 1]);
      else expect(img.data).toEqual(new Uint8Array(data));
    }
    // A PPM whose header declares 30000×30000 is refused before allocating; a truncated one names it.
    await expect(decodeImageBuffer(Buffer.from('P6 30000 30000 255 xx'), 'h.ppm')).rejects.toThrow(/h\.ppm: image is 30000×30000 = 900 megapixels, above the limit/);
    // just past the limit: the two counts read apart (both said "100 megapixels")
    await expect(decodeImageBuffer(Buffer.from('P6 10001 10000 255 xx'), 'j.ppm')).rejects.toThrow(/^j\.ppm: image is 10001×10000 = 100\.01 megapixels, above the limit of 100 megapixels$/);
    await expect(decodeImageBuffer(ppm.subarray(0, 100), 't.ppm')).rejects.toThrow(/t\.ppm: P6 image: truncated/);
    // a number of 20 digits is one number (it was read as two: "9999999999×9999999999")
    await expect(decodeImageBuffer(Buffer.from('P5 99999999999999999999 1 255 xx'), 'n.pgm')).rejects.toThrow(/^n\.pgm: P5 image: a number in the header is too large$/);
  });

  it('a sliver within the pixel limit is refused by its long side before decoding (10 × 10,000,000 took 10 s to decode)', async () => {
    // a PNG header alone: the refusal comes from the header (sharp's metadata), before any decoding
    const png = pngHeaderOnly(10, 10_000_000);
    await expect(decodeImageBuffer(png, 'tall.png')).rejects.toThrow(/^tall\.png: image is 10×10000000: its long side is above the limit of 65,535 pixels$/);
    await expect(decodeImageBuffer(Buffer.from('P5 2 70000 255 xx'), 's.pgm')).rejects.toThrow(/^s\.pgm: image is 2×70000: its long side is above the limit of 65,535 pixels$/);
    // 65,535 itself is decoded
    const ok = await decodeImageBuffer(Buffer.concat([Buffer.from('P5 1 65535 255\n'), Buffer.alloc(65535, 128)]), 'ok.pgm');
    expect([ok.width, ok.height]).toEqual([1, 65535]);
  });

  it('a FIFO is "not a regular file", a file above the size limit is refused unread, a name with a newline stays on one line', async () => {
    const dir = await dirs.make('files');
    const fifo = join(dir, 'pipe.jpg');
    execFileSync('mkfifo', [fifo]);
    await expect(decodeImageFile(fifo)).rejects.toThrow(`${fifo}: not a regular file (a FIFO)`);
    const loop = join(dir, 'loop.jpg');
    await symlink(loop, loop);
    await expect(decodeImageFile(loop)).rejects.toThrow(`${loop}: a loop of symbolic links`);
    await expect(decodeImageFile(ASTRONAUT, { maxBytes: 1000 })).rejects.toThrow(/: file is \d+ bytes, above the limit of 1000 bytes$/);
    for (const maxBytes of [NaN, '1000', 0]) await expect(decodeImageFile(ASTRONAUT, { maxBytes: maxBytes as never })).rejects.toThrow(/^maxBytes must be a positive number/);
    // a misspelt limit was ignored: the image decoded without the limit it meant to set
    await expect(decodeImageFile(ASTRONAUT, { maxPixel: 5 } as never)).rejects.toThrow(/^unknown decode option 'maxPixel' \(did you mean 'maxPixels'\?\)/);
    await expect(decodeImageBuffer(await readFile(ASTRONAUT), 'a', { maxbytes: 5 } as never)).rejects.toBeInstanceOf(InputError);
    const odd = join(dir, 'new\nline\t.jpg');
    await writeFile(odd, 'not an image');
    const e = (await decodeImageFile(odd).then(() => null, (x: unknown) => x)) as Error;
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toBe(`${dir}/new\\nline\\t.jpg: not an image or an unsupported format (Input buffer contains unsupported image format)`);
  });

  it('a corrupt header gives a cause, not "(Input buffer has corrupt header:)"', async () => {
    const png = await readFile(ASTRONAUT);
    const bad = Buffer.from(png);
    bad.fill(0x41, 16, 29); // IHDR fields
    const e = (await decodeImageBuffer(bad, 'bad.png').then(() => null, (x: unknown) => x)) as Error;
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/^bad\.png: (not an image or an unsupported format|cannot decode image) \(.*\w.*\)$/);
    expect(e.message).not.toMatch(/:\)$/);
  });

  it('decodes failing at the same time each get their own message (libvips has one error buffer)', async () => {
    const jpeg = await readFile(join(EVAL, 'aflw2000-3d/image00050.jpg'));
    const truncated = jpeg.subarray(0, jpeg.length >> 1);
    const text = Buffer.from('not an image\n');
    const messages = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const r = await Promise.all([truncated, text, truncated].map((b, k) => decodeImageBuffer(b, `f${k}`).then(() => 'decoded', (e: Error) => e.message)));
      r.forEach((m) => messages.add(m));
    }
    expect([...messages].sort()).toEqual([
      'f0: cannot decode image (VipsJpeg: premature end of JPEG image)',
      'f1: not an image or an unsupported format (Input buffer contains unsupported image format)',
      'f2: cannot decode image (VipsJpeg: premature end of JPEG image)',
    ]);
  });

  it('library entry points give typed errors for wrong argument types', async () => {
    await expect(decodeImageBuffer(null as unknown as Uint8Array)).rejects.toBeInstanceOf(InputError);
    await expect(decodeImageFile(42 as unknown as string)).rejects.toBeInstanceOf(InputError);
    expect(() => readMat('x' as unknown as Uint8Array)).toThrow(InputError);
    await expect(prnet.reconstruct(astronaut, { boxes: [null as unknown as never] })).rejects.toBeInstanceOf(InputError);
    await expect(prnet.reconstruct(astronaut, { maxFaces: NaN, boxes: [] })).rejects.toBeInstanceOf(InputError);
    await expect(prnet.reconstruct(astronaut, { crops: [{} as never] })).rejects.toBeInstanceOf(InputError);
    // maxFaces a whole number; boxes and crops arrays.
    for (const maxFaces of [1.5, '1', null]) await expect(prnet.reconstruct(astronaut, { maxFaces: maxFaces as never })).rejects.toThrow(/maxFaces must be a whole number ≥ 0/);
    await expect(prnet.reconstruct(astronaut, { boxes: {} as never })).rejects.toThrow(/^boxes must be an array/);
    await expect(prnet.reconstruct(astronaut, { crops: {} as never })).rejects.toThrow(/^crops must be an array/);
    // Holes in the arrays are checked, not skipped (they came back as undefined faces).
    await expect(prnet.reconstruct(astronaut, { boxes: new Array(2) })).rejects.toThrow(/^box 0 must have finite x, y, width and height, got undefined$/);
    // eslint-disable-next-line no-sparse-arrays
    await expect(prnet.reconstruct(astronaut, { crops: [, cropFromLandmarks([[100, 100], [200, 220]])] as never })).rejects.toThrow(/^crop 0 is not a 256-pixel crop transform/);
    // Wrong types are refused, not coerced ('false' turned the flip on, '' meant σ 0), and shown as what they are.
    await expect(prnet.reconstruct(astronaut, { flip: 'false' as never, maxFaces: 0 })).rejects.toThrow(/^flip must be true or false, got "false"$/);
    for (const smooth of ['1', '', true, [2]]) await expect(prnet.reconstruct(astronaut, { smooth: smooth as never, maxFaces: 0 })).rejects.toThrow(/^smooth must be a number from 0 to 8/);
    await expect(prnet.reconstruct(astronaut, { maxFaces: '1' as never })).rejects.toThrow(/got "1"$/);
    // Options of the helpers around the pipeline: sharp's plain Error, an 'f16' that wrote F32, an empty model name.
    for (const compressionLevel of [12, 1.5, '9']) await expect(encodePng(new Uint8Array(12), 2, 2, 3, { compressionLevel: compressionLevel as never })).rejects.toThrow(/^encodePng: compressionLevel must be a whole number from 0 to 9/);
    expect(() => serializeModel(randomWeights(SMALL_CONFIG, 1), { dtype: 'f16' as never })).toThrow(/^dtype must be 'F16' or 'F32', got "f16"$/);
    await expect(createPrnet({ model: '' })).rejects.toThrow(/^model must be a bundled model's name \(default, light\) or a model file's path, got ''$/);
    // signal: an aborted one stops the call before any work; one aborted meanwhile, at the next chunk of faces.
    await expect(prnet.reconstruct(astronaut, { signal: AbortSignal.abort(), boxes: [] })).rejects.toBeInstanceOf(AbortedError);
    await expect(prnet.reconstruct(astronaut, { signal: {} as never, boxes: [] })).rejects.toThrow(/^signal must be an AbortSignal/);
    // Nine faces are three chunks: the flag is read by the type check, at the start, after
    // detection and after each chunk's network.
    const nine = Array.from({ length: 9 }, (_, i) => ({ x: 40 * i, y: 40, width: 120, height: 120, score: 1 }));
    let reads = 0;
    const counting = { get aborted() { reads++; return false; } };
    expect((await prnet.reconstruct(astronaut, { boxes: nine, signal: counting })).faces).toHaveLength(9);
    expect(reads).toBe(6);
    reads = 0;
    const late = { get aborted() { return ++reads > 4; } }; // aborted before the third chunk, after two ran
    await expect(prnet.reconstruct(astronaut, { boxes: nine, signal: late })).rejects.toThrow(/^reconstruct was aborted$/);
    expect(reads).toBe(5);
    // An abort that comes while the network runs (onnxruntime-node holds the thread: it is seen
    // after it) stops a one-face call too; before, the call returned its face.
    reads = 0;
    const during = { get aborted() { return ++reads > 3; } };
    await expect(prnet.reconstruct(astronaut, { boxes: nine.slice(0, 1), signal: during })).rejects.toBeInstanceOf(AbortedError);
    // The signal's reason is the error's cause (a timeout is told from a cancel).
    const reason = new Error('user cancelled');
    const err = await prnet.reconstruct(astronaut, { signal: AbortSignal.abort(reason), boxes: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as Error).cause).toBe(reason);
    // Unknown options (a misspelt maxFaces returned every face), boxes with crops, a path or encoded bytes for pixels.
    await expect(prnet.reconstruct(astronaut, { maxFace: 1 } as never)).rejects.toThrow(/^unknown reconstruct option 'maxFace' \(did you mean 'maxFaces'\?\)/);
    await expect(prnet.reconstruct(astronaut, { boxes: [], crops: [] })).rejects.toThrow(/^give boxes or crops, not both/);
    await expect(prnet.reconstruct('photo.jpg' as never)).rejects.toThrow(/decodeImageFile\(path\)/);
    await expect(prnet.reconstruct(new Uint8Array(10) as never)).rejects.toThrow(/decodeImageBuffer\(bytes\)/);
    expect((await prnet.reconstruct(astronaut, { boxes: [], maxFaces: undefined })).faces).toEqual([]); // an option left undefined is no option
    // null options are no options (this pipeline has no detector: it gets as far as asking for one)
    await expect(prnet.reconstruct(astronaut, null as never)).rejects.toThrow(/^no detector was loaded/);
    // A crop far outside the image, absurdly large, or with transforms that are not its square's.
    const good = cropFromLandmarks([[100, 100], [200, 220]]);
    const bad: [CropTransform, RegExp][] = [
      [cropTransform({ cx: 1e6, cy: 1e6, side: 100 }), /lies outside the 512×512 image/],
      [cropTransform({ cx: 256, cy: 256, side: 1e9 }), /must be between 1 and 4096 pixels on a side/],
      [{ ...good, inverse: [0, 0, 0, 0, 0, 0] }, /forward, inverse and scale are not the ones its square gives/],
      [{ ...good, forward: cropTransform({ ...good.square, side: 2 * good.square.side }).forward }, /not the ones its square gives/],
    ];
    for (const [crop, re] of bad) await expect(prnet.reconstruct(astronaut, { crops: [crop] })).rejects.toThrow(re);
    expect((await prnet.reconstruct(astronaut, { crops: [good], flip: false })).faces).toHaveLength(1);
    // A turned crop (a rolled face's): the face's box is the square's extent in the image; its angle must be finite.
    const turned = cropTransform({ ...good.square, angle: Math.PI / 4 });
    const [tf] = (await prnet.reconstruct(astronaut, { crops: [turned], flip: false })).faces;
    expect(tf!.box.width).toBeCloseTo(good.square.side * Math.SQRT2, 6);
    expect(tf!.box.x + tf!.box.width / 2).toBeCloseTo(good.square.cx, 6);
    await expect(prnet.reconstruct(astronaut, { crops: [{ ...turned, square: { ...turned.square, angle: NaN } }] })).rejects.toThrow(/is not a 256-pixel crop transform with finite numbers/);
    // A tracked face may be up to 3 long sides (FaceTracker's maxFaceScale), its crop 1.6 × that: accepted.
    expect((await prnet.reconstruct(astronaut, { crops: [cropTransform({ cx: 256, cy: 256, side: 4.8 * 512 })], flip: false })).faces).toHaveLength(1);
    // encodePng: sizes, channels and byte count (libvips said "memory area too small" or "Input Bit Array is empty").
    await expect(encodePng(new Uint8Array(5), 10, 10, 3)).rejects.toThrow(/^encodePng: expected 10 × 10 × 3 = 300 bytes, got 5$/);
    await expect(encodePng(new Uint8Array(0), 0, 0, 3)).rejects.toBeInstanceOf(InputError);
    await expect(encodePng(new Uint8Array(8), 2, 2, 2 as never)).rejects.toThrow(/channels must be 1, 3 or 4/);
    expect((await encodePng(new Uint8Array(12), 2, 2, 3)).subarray(1, 4).toString()).toBe('PNG');
    await expect(createSession({} as never)).rejects.toBeInstanceOf(ModelError);
    const w = randomWeights(SMALL_CONFIG, 2);
    w.tensors.delete([...w.tensors.keys()][3]);
    await expect(createSession(w)).rejects.toThrow(/missing tensor/);
    await expect(createPrnet({ model: '/nonexistent/m.safetensors', detector: false })).rejects.toBeInstanceOf(ModelError);
    await expect(createPrnet({ model, detector: false, threads: 1.5 })).rejects.toBeInstanceOf(InputError);
  });
});
