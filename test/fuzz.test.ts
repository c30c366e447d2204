/**
 * Seeded fuzzing, as a hostile user would: a few hundred mutated images (bit flips, truncation,
 * header fields, splices, swapped magic numbers of real JPEG and PNG photos, crafted PGM/PPM/BMP),
 * crafted and mutated `.mat` files and model files, through the library and a few through the CLI.
 * Proves: no crash (only the documented typed errors), no hang, one line per failure naming the
 * file, the documented exit codes, bounded memory, nothing partial left in the output folder.
 *
 * The seed is fixed (PRNET_FUZZ_SEED overrides it) and printed, so a failure reproduces.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readMat } from '../tools/eval/mat.js';
import { InputError, ModelError, PrnetError } from '../src/errors.js';
import { decodeImageBuffer, MAX_IMAGE_PIXELS } from '../src/io/image-node.js';
import { createRng, parseModelFile, randomWeights, serializeModel } from '../src/model/index.js';
import { createPrnet } from '../src/pipeline/node.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import { createSession } from '../src/runtime/node.js';
import type { RgbImage } from '../src/types.js';
import { runCli } from './helpers/cli.js';
import { runMain } from './helpers/main-inprocess.js';
import { SMALL_CONFIG, testModelPath } from './helpers/model.js';
import { AFLW_PHOTO, ASTRONAUT, EVAL, GROUP_PHOTO, REPO } from './helpers/paths.js';
import { leftoverTempFiles, listFiles, TempDirs } from './helpers/tmp.js';

const SEED = Number(process.env.PRNET_FUZZ_SEED ?? 20261204);
/** PRNET_FUZZ_SCALE=k multiplies the library cases (images, .mat files, models) for a longer local run. */
const SCALE = Math.max(1, Number(process.env.PRNET_FUZZ_SCALE ?? 1));
const IMAGES = Math.round(400 * SCALE);
const MATS = Math.round(200 * SCALE);
const MODELS = Math.round(30 * SCALE);
/** Each test draws from its own generator (SEED, test number), so one test reproduces alone. */
let rng = createRng(SEED);
const reseed = (test: number): void => {
  rng = createRng((SEED * 1000 + test) >>> 0);
};
const int = (n: number): number => Math.floor(rng.uniform() * n);
const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)];

const dirs = new TempDirs('prnet-fuzz-');
let model: string;
let prnet: Prnet;
/** Real photos (full size and small re-encodes, which decode faster), as bytes. */
let seeds: { name: string; bytes: Uint8Array }[] = [];
let peakRss = 0;
const baseRss = process.memoryUsage().rss;
const sampleRss = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

beforeAll(async () => {
  console.log(`fuzz seed ${SEED} (set PRNET_FUZZ_SEED to change it)`);
  model = await testModelPath();
  prnet = await createPrnet({ model, detector: false, threads: 1 });
  const files = [ASTRONAUT, AFLW_PHOTO, GROUP_PHOTO, join(REPO, 'examples/astronaut.jpg')];
  for (const f of files) seeds.push({ name: basename(f), bytes: new Uint8Array(await readFile(f)) });
  const small = sharp(ASTRONAUT).resize(96, 96);
  seeds.push({ name: 'small.jpg', bytes: new Uint8Array(await small.clone().jpeg({ quality: 80 }).toBuffer()) });
  seeds.push({ name: 'small-progressive.jpg', bytes: new Uint8Array(await small.clone().jpeg({ progressive: true }).toBuffer()) });
  seeds.push({ name: 'small.png', bytes: new Uint8Array(await small.clone().png().toBuffer()) });
  seeds.push({ name: 'small-interlaced.png', bytes: new Uint8Array(await sharp(AFLW_PHOTO).resize(80, 80).png({ progressive: true }).toBuffer()) });
  seeds = seeds.filter((s) => s.bytes.length > 0);
});
afterAll(async () => {
  await prnet?.dispose();
  await dirs.cleanup();
});

/** Rejects with 'hang' when `p` takes longer than `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The assertions on a failure: a documented typed error, one line, naming its source. */
function expectTypedOneLine(e: unknown, source: string, types: (new (...a: never[]) => PrnetError)[], what: string): void {
  const ok = types.some((T) => e instanceof T);
  expect(ok, `${what}: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`).toBe(true);
  const msg = (e as Error).message;
  expect(msg, what).not.toMatch(/[\n\r]/);
  expect(msg.startsWith(`${source}: `), `${what}: ${msg}`).toBe(true);
  expect(msg, what).not.toMatch(/\(\s*\)|:\)$|undefined|\[object /);
}

// ---- image mutations ----------------------------------------------------------------------

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body) >>> 0, 8 + data.length);
  return out;
}

const DIMS = [0, 1, 2, 7, 255, 4096, 30000, 65535, 65536, 0x7fffffff, 0xffffffff];

const MUTATORS: Record<string, (b: Uint8Array) => Uint8Array> = {
  bitflip(b) {
    const out = Uint8Array.from(b);
    const k = 1 + int(16);
    for (let i = 0; i < k; i++) {
      const p = rng.uniform() < 0.5 ? int(Math.min(512, out.length)) : int(out.length);
      out[p] ^= 1 << int(8);
    }
    return out;
  },
  truncate(b) {
    return b.slice(0, int(b.length));
  },
  header(b) {
    const out = Uint8Array.from(b);
    const v = new DataView(out.buffer);
    if (out[0] === 0x89 && out.length > 33) {
      // PNG IHDR width, height (and maybe depth / colour type), CRC fixed half of the time.
      v.setUint32(16, pick(DIMS) >>> 0);
      v.setUint32(20, pick(DIMS) >>> 0);
      if (rng.uniform() < 0.3) out[24] = pick([0, 1, 3, 16, 255]);
      if (rng.uniform() < 0.3) out[25] = pick([0, 2, 3, 5, 7]);
      if (rng.uniform() < 0.5) v.setUint32(29, crc32(out.subarray(12, 29)) >>> 0);
      return out;
    }
    // JPEG: the SOF marker's height and width.
    for (let i = 2; i + 9 < out.length; i++) {
      if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
        v.setUint16(i + 5, pick(DIMS) & 0xffff);
        v.setUint16(i + 7, pick(DIMS) & 0xffff);
        if (rng.uniform() < 0.3) out[i + 9] = pick([0, 1, 2, 4, 255]); // components
        return out;
      }
    }
    return out;
  },
  splice(b) {
    const a = int(b.length);
    const len = int(Math.min(4096, b.length - a));
    if (rng.uniform() < 0.5) return Buffer.concat([b.subarray(0, a), b.subarray(a + len)]); // delete
    return Buffer.concat([b.subarray(0, a + len), b.subarray(a, a + len), b.subarray(a + len)]); // duplicate
  },
  garbage(b) {
    const out = Uint8Array.from(b);
    const a = int(out.length);
    for (let i = a; i < Math.min(out.length, a + 1 + int(256)); i++) out[i] = int(256);
    return out;
  },
  magic(b) {
    const magics = ['P6\n', 'P5 ', 'BM', 'GIF89a', 'RIFF', 'II*\0', 'MM\0*', '\x89PNG\r\n\x1a\n', '\xff\xd8\xff'];
    const m = Buffer.from(pick(magics), 'latin1');
    return Buffer.concat([m, b.subarray(m.length)]);
  },
  pngChunks(b) {
    // A valid PNG signature + IHDR with hostile fields, then random/empty/huge-length chunks.
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(pick(DIMS) >>> 0, 0);
    ihdr.writeUInt32BE(pick(DIMS) >>> 0, 4);
    ihdr[8] = pick([1, 8, 16]);
    ihdr[9] = pick([0, 2, 6]);
    const idat = deflateSync(b.subarray(0, int(Math.min(b.length, 20000))));
    const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat)];
    if (rng.uniform() < 0.5) parts.push(pngChunk('IEND', new Uint8Array(0)));
    return Buffer.concat(parts);
  },
  pnm() {
    const kind = pick(['P2', 'P3', 'P5', 'P6']);
    const w = pick([1, 3, 64, 30000, 0x7fffffff]);
    const h = pick([1, 5, 64, 30000]);
    const max = pick([0, 1, 255, 256, 65535, 70000]);
    const body = Buffer.alloc(int(40000));
    for (let i = 0; i < body.length; i++) body[i] = kind === 'P2' || kind === 'P3' ? pick([0x30, 0x35, 0x20, 0x0a, 0x23, 0x39]) : int(256);
    return Buffer.concat([Buffer.from(`${kind}${rng.uniform() < 0.2 ? '#c\n' : '\n'}${w} ${h}${rng.uniform() < 0.2 ? '' : ` ${max}`}\n`), body]);
  },
  bmp() {
    const head = Buffer.alloc(54 + 1024);
    head.write('BM', 0, 'latin1');
    head.writeUInt32LE(pick([0, 54, 1078, 0xffffffff]), 10);
    head.writeUInt32LE(pick([12, 40, 108, 124, 0xffff]), 14);
    head.writeInt32LE(pick([1, 64, -64, 30000, 0x7fffffff, -0x80000000]), 18);
    head.writeInt32LE(pick([1, 64, -64, 30000, -0x80000000]), 22);
    head.writeUInt16LE(pick([1, 4, 8, 16, 24, 32]), 28);
    head.writeUInt32LE(pick([0, 1, 3, 4]), 30);
    head.writeUInt32LE(pick([0, 2, 256, 1000]), 46);
    for (let i = 54; i < head.length; i++) head[i] = int(256);
    const body = Buffer.alloc(int(64 * 64 * 4 + 100));
    for (let i = 0; i < body.length; i += 7) body[i] = int(256);
    return Buffer.concat([head, body]);
  },
};

function mutatedImage(i: number): { name: string; how: string; bytes: Uint8Array } {
  const s = seeds[i % 5 === 0 ? int(4) : 4 + int(seeds.length - 4)]; // mostly the small ones
  const how = pick(Object.keys(MUTATORS));
  let bytes = MUTATORS[how](s.bytes);
  if (rng.uniform() < 0.2) bytes = MUTATORS.bitflip(bytes); // stack a second mutation sometimes
  return { name: `${String(i).padStart(3, '0')}-${how}-${s.name}`, how, bytes };
}

// ---- .mat mutations ----------------------------------------------------------------------

/** The real .mat with its compressed elements inflated (so mutations hit the structure). */
async function uncompressedMat(path: string): Promise<Uint8Array> {
  const buf = new Uint8Array(await readFile(path));
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const parts: Uint8Array[] = [buf.subarray(0, 128)];
  for (let off = 128; off + 8 <= buf.length;) {
    const type = v.getUint32(off, true);
    const n = v.getUint32(off + 4, true);
    const body = buf.subarray(off + 8, off + 8 + n);
    parts.push(type === 15 ? inflateSync(body) : buf.subarray(off, off + 8 + Math.ceil(n / 8) * 8));
    off += 8 + (type === 15 ? n : Math.ceil(n / 8) * 8);
  }
  return Buffer.concat(parts);
}

function mutateMat(plain: Uint8Array, packed: Uint8Array): Uint8Array {
  const r = rng.uniform();
  if (r < 0.15) return MUTATORS.bitflip(packed);
  if (r < 0.25) return MUTATORS.truncate(rng.uniform() < 0.5 ? packed : plain);
  const out = Uint8Array.from(plain);
  const v = new DataView(out.buffer);
  if (r < 0.6) {
    // Overwrite 32-bit words with hostile numbers (tags, byte counts, dims, class ids).
    for (let k = 0; k < 1 + int(4); k++) {
      const p = 128 + 4 * int((out.length - 132) / 4);
      v.setUint32(p, pick([0, 1, 2, 5, 6, 14, 15, 0x7fffffff, 0xffffffff, 65536, 0x00040001, int(2 ** 32)]) >>> 0, true);
    }
    return out;
  }
  if (r < 0.8) return MUTATORS.bitflip(out);
  // Recompress the mutated structure, sometimes as a zlib bomb of zeros.
  const body = rng.uniform() < 0.3 ? Buffer.alloc(int(200) * 2 ** 20) : MUTATORS.garbage(out.subarray(128));
  const z = deflateSync(body, { level: 1 });
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(15, 0);
  tag.writeUInt32LE(z.length, 4);
  return Buffer.concat([out.subarray(0, 128), tag, z]);
}

// ---- tests -------------------------------------------------------------------------------

describe(`fuzz (seed ${SEED})`, () => {
  it(`${IMAGES} mutated images through the library: decoded or InputError, one line, no hang; some reconstructed`, async () => {
    reseed(1);
    const t0 = performance.now();
    const outcomes: Record<string, number> = {};
    const decoded: RgbImage[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const { name, how, bytes } = mutatedImage(i);
      const t = performance.now();
      const r = await within(decodeImageBuffer(bytes, name), 10_000, name).then((img) => img, (e: unknown) => e);
      expect(performance.now() - t, name).toBeLessThan(10_000);
      if (r instanceof Error) {
        expectTypedOneLine(r, name, [InputError], `decode ${name}`);
        outcomes[`${how} rejected`] = (outcomes[`${how} rejected`] ?? 0) + 1;
      } else {
        const img = r as RgbImage;
        expect(img.width * img.height * 3, name).toBe(img.data.length);
        expect(img.width * img.height, name).toBeLessThanOrEqual(MAX_IMAGE_PIXELS);
        outcomes[`${how} decoded`] = (outcomes[`${how} decoded`] ?? 0) + 1;
        if (decoded.length < 30) decoded.push(img);
      }
      sampleRss();
    }
    // Decoded images, with boxes from sensible to hostile: a face, or an InputError.
    let faces = 0;
    for (const [k, img] of decoded.entries()) {
      const box = pick([
        { x: 0, y: 0, width: img.width, height: img.height, score: 1 },
        { x: img.width / 4, y: img.height / 4, width: img.width / 2 + 1, height: img.height / 2 + 1, score: 1 },
        { x: -img.width, y: 0, width: img.width, height: img.height, score: 1 },
        { x: 0, y: 0, width: 0.5, height: 1e9, score: 1 },
        { x: img.width - 1, y: img.height - 1, width: 40, height: 40, score: 1 },
      ]);
      const r = await within(prnet.reconstruct(img, { boxes: [box], flip: k % 2 === 0 }), 20_000, `reconstruct ${k}`).then((x) => x, (e: unknown) => e);
      if (r instanceof Error) {
        expect(r, `${r.name}: ${r.message}`).toBeInstanceOf(InputError);
        expect(r.message).not.toMatch(/\n/);
      } else {
        const { faces: f } = r as Awaited<ReturnType<Prnet['reconstruct']>>;
        expect(f).toHaveLength(1);
        expect(f[0].landmarks.every(Number.isFinite)).toBe(true);
        faces++;
      }
    }
    sampleRss();
    console.log(`fuzz images: ${JSON.stringify(outcomes)}; ${faces} of ${decoded.length} decoded reconstructed; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(Object.keys(outcomes).some((k) => k.endsWith('decoded'))).toBe(true);
    expect(Object.keys(outcomes).some((k) => k.endsWith('rejected'))).toBe(true);
    expect(faces, 'no decoded image was reconstructed, not even with a sensible box').toBeGreaterThan(0);
  });

  it(`${MATS} crafted and mutated .mat files: parsed or InputError, fast, bounded memory`, async () => {
    reseed(2);
    const t0 = performance.now();
    const path = join(EVAL, 'aflw2000-3d/image00050.mat');
    const packed = new Uint8Array(await readFile(path));
    const plain = await uncompressedMat(path);
    expect(readMat(plain, 'plain.mat').variables.get('pt3d_68')?.kind).toBe('numeric');
    let parsed = 0;
    for (let i = 0; i < MATS; i++) {
      const bytes = mutateMat(plain, packed);
      const name = `mat-${i}.mat`;
      const t = performance.now();
      try {
        readMat(bytes, name);
        parsed++;
      } catch (e) {
        expectTypedOneLine(e, name, [InputError], name);
      }
      expect(performance.now() - t, name).toBeLessThan(3000);
      sampleRss();
    }
    console.log(`fuzz .mat: ${parsed} of ${MATS} parsed, the rest InputError; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });

  it(`${MODELS} crafted model files: parsed and finite, or ModelError (at parse or the load-time probe)`, async () => {
    reseed(3);
    const t0 = performance.now();
    const good = serializeModel(randomWeights(SMALL_CONFIG, 11), { dtype: 'F16' });
    const headerLen = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLen))) as Record<string, { dtype?: string; shape?: number[]; data_offsets?: number[] } & Record<string, string>>;
    const withHeader = (h: unknown): Uint8Array => {
      const text = new TextEncoder().encode(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(text.length));
      return Buffer.concat([len, text, good.subarray(8 + headerLen)]);
    };
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    let sessions = 0;
    let loaded = 0;
    let probed = 0;
    for (let i = 0; i < MODELS; i++) {
      const h = structuredClone(header);
      const kind = i % 6;
      let bytes: Uint8Array;
      if (kind === 0) {
        h.__metadata__[pick(['input_size', 'width', 'output_scale', 'format', 'version'])] = pick(['0', '-1', '4096', '1073741824', '1e39', 'NaN', '', '32', '64', '1e5', 'x']);
        bytes = withHeader(h);
      } else if (kind === 1) {
        const t = h[pick(names)];
        if (rng.uniform() < 0.5) t.shape = t.shape!.map((d) => (rng.uniform() < 0.5 ? d * 2 : d));
        else t.data_offsets = [pick([0, 7, 2 ** 40]), pick([0, 8, 2 ** 53])];
        bytes = withHeader(h);
      } else if (kind === 2) {
        h[pick(names)].dtype = pick(['F64', 'I32', 'U8', 'BF16', 'F32', '']);
        bytes = withHeader(h);
      } else if (kind === 3) {
        bytes = MUTATORS.truncate(good);
      } else {
        // The tensor data: high bytes set to 0x7b (F16 values near 6e4, finite but they overflow
        // the network: caught by the load-time probe) or random bit flips (inf, NaN, anything).
        bytes = Uint8Array.from(good);
        const start = 8 + headerLen;
        for (let k = 0; k < 1 + int(kind === 4 ? 2000 : 200); k++) {
          const p = start + 2 * int((bytes.length - start) / 2) + 1;
          if (kind === 4) bytes[p] = 0x7b;
          else bytes[p - int(2)] ^= 1 << int(8);
        }
      }
      const name = `model-${i}.safetensors`;
      let weights;
      try {
        weights = parseModelFile(bytes, name);
      } catch (e) {
        expectTypedOneLine(e, name, [ModelError], name);
        continue;
      }
      if (sessions >= 8 * SCALE) continue; // a session costs about a second on a busy machine
      sessions++;
      try {
        const s = await within(createSession(weights, { threads: 1 }), 30_000, name);
        const out = await s.run(new Float32Array(3 * weights.config.inputSize ** 2).fill(0.4), 1);
        expect(out.every(Number.isFinite), name).toBe(true);
        await s.release();
        loaded++;
      } catch (e) {
        expect(e, `${name}: ${(e as Error).message}`).toBeInstanceOf(ModelError);
        expect((e as Error).message).not.toMatch(/\n/);
        if (/non-finite values .* test input/.test((e as Error).message)) probed++;
      }
      sampleRss();
    }
    console.log(`fuzz models: ${sessions} reached a session, ${loaded} loaded with finite output, ${probed} refused by the probe; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('the CLI on a folder of mutated images: exit 0/1, one line per failure naming the file, complete groups only', async () => {
    reseed(4);
    const dir = await dirs.make('cli');
    const inDir = join(dir, 'in');
    const out = join(dir, 'out');
    await mkdir(inDir);
    const names: string[] = [];
    for (let i = 0; i < 14; i++) {
      const { name, bytes } = mutatedImage(1000 + i);
      const file = `${name.replace(/\.(png|jpe?g)$/, '')}.${pick(['jpg', 'png', 'ppm', 'bmp'])}`;
      await writeFile(join(inDir, file), bytes);
      names.push(file);
    }
    await copyFile(ASTRONAUT, join(inDir, 'good-astronaut.png'));
    await copyFile(AFLW_PHOTO, join(inDir, 'good-aflw.jpg'));
    const r = await runCli(['reconstruct', inDir, '--out', out, '--model', model, '--detector', 'blazeface', '--formats', 'json,obj,depth', '--threads', '1'], { timeoutMs: 120_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect([0, 1], r.stderr).toContain(r.code);
    const failLines = r.errLines.filter((l) => l.startsWith('prnet: '));
    const summary = r.errLines.find((l) => /^16 images: \d+ done/.test(l));
    expect(summary, r.stderr).toBeDefined();
    const failed = Number(/(\d+) failed$/.exec(summary!)![1]);
    expect(failLines).toHaveLength(failed);
    expect(r.errLines.filter((l) => l.startsWith('  failed: '))).toHaveLength(failed);
    for (const l of failLines) expect(l, l).toMatch(new RegExp(`^prnet: ${inDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[^/]+: \\S`));
    // Every file in the output folder is a complete group: depth + json + obj per face.
    // (beside the record of finished images that --resume reads, which names only those groups)
    const all = await listFiles(out);
    expect(all).toContain('.prnet-done.jsonl');
    const files = all.filter((f) => f !== '.prnet-done.jsonl');
    expect(await leftoverTempFiles(out)).toEqual([]);
    const stems = new Set(files.map((f) => f.replace(/_(face\d+\.(json|obj)|depth\.png)$/, '')));
    const recorded = (await readFile(join(out, '.prnet-done.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { stem: string }).stem);
    expect(recorded.sort()).toEqual([...stems].sort());
    for (const s of stems) {
      const own = files.filter((f) => f.startsWith(`${s}_`));
      expect(own, s).toContain(`${s}_depth.png`);
      const faces = own.filter((f) => f.endsWith('.json')).length;
      expect(own.length, s).toBe(1 + 2 * faces);
    }
    expect(stems.has('good-astronaut'), r.stderr).toBe(true);
  }, 150_000);

  it('the CLI with crafted .mat files (eval: exit 0/1, the rest scored) and a crafted model (exit 3): one line each', async () => {
    reseed(5);
    const dir = await dirs.make('cli-eval');
    const aflw = join(EVAL, 'aflw2000-3d');
    const packed = new Uint8Array(await readFile(join(aflw, 'image00050.mat')));
    const plain = await uncompressedMat(join(aflw, 'image00050.mat'));
    for (const n of ['image00050', 'image00475']) {
      await copyFile(join(aflw, `${n}.jpg`), join(dir, `${n}.jpg`));
      await copyFile(join(aflw, `${n}.mat`), join(dir, `${n}.mat`));
    }
    for (let i = 0; i < 3; i++) {
      await copyFile(AFLW_PHOTO, join(dir, `crafted${i}.jpg`));
      await writeFile(join(dir, `crafted${i}.mat`), mutateMat(plain, packed));
    }
    const r = await runMain(['eval', 'aflw2000', dir, '--gt-box', '--no-peers', '--json', '--quiet', '--model', model, '--threads', '1']);
    expect([0, 1], r.stderr).toContain(r.code);
    const report = JSON.parse(r.stdout) as { images: number; perImage: { image: string; nme2d: number | null }[] };
    expect(report.images).toBe(5);
    expect(report.perImage.filter((s) => s.image.startsWith('image') && s.nme2d !== null)).toHaveLength(2);
    for (const l of r.errLines) expect(l).toMatch(new RegExp(`^prnet: .*crafted\\d\\.mat: \\S`));

    const bad = join(dir, 'bad.safetensors');
    const bytes = Uint8Array.from(await readFile(model));
    for (let k = 0; k < 64; k++) bytes[bytes.length - 1 - int(bytes.length / 2)] = 0x7c; // F16 infinities
    await writeFile(bad, bytes);
    const m = await runMain(['reconstruct', AFLW_PHOTO, '--box', '100,100,200,200', '--out', join(dir, 'out'), '--model', bad]);
    expect(m.code, m.stderr).toBe(3);
    expect(m.errLines).toEqual([expect.stringMatching(/^prnet: .*bad\.safetensors: /)]);
    expect(await listFiles(join(dir, 'out'))).toEqual([]);
  }, 120_000);

  // Memory stays bounded: checked after each test (the peak sampled during it), so a test run alone is checked too.
  afterEach(() => {
    sampleRss();
    expect(peakRss - baseRss, `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB, start ${(baseRss / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(1.5 * 2 ** 30);
  });
  afterAll(() => console.log(`fuzz peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (start ${(baseRss / 2 ** 20).toFixed(0)} MiB)`));
});
