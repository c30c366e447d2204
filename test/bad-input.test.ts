/**
 * Bad input, end to end: every broken file, model or argument gives one line naming the file and
 * the cause, a non-zero exit, and no output files (temporary ones included); in a batch one bad
 * file does not stop the others and the summary lists what failed. Unusual but valid images
 * (greyscale, alpha, CMYK, EXIF-rotated) work.
 */
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { InputError, UnsupportedImageError } from '../src/errors.js';
import { decodeImageBuffer, decodeImageFile, MAX_IMAGE_PIXELS, sharpCause } from '../src/io/image-node.js';
import { modelMetadata, randomWeights, resfcnTensorSpecs } from '../src/model/index.js';
import { f16Tensor, writeSafetensors, type SafeTensor } from '../src/util/safetensors.js';
import { writeSyntheticCheckpoint } from './helpers/checkpoint.js';
import { runCli, withoutSuspect } from './helpers/cli.js';
import { pngSize, writeBadFixtures, writeGoodFixtures, type BadFixtures, type GoodFixtures } from './helpers/images.js';
import { runMain } from './helpers/main-inprocess.js';
import { parseOptions, UsageError } from '../src/cli/options.js';
import { SMALL_CONFIG, testModelPath } from './helpers/model.js';
import { ASTRONAUT, REPO, SHARED } from './helpers/paths.js';
import { leftoverTempFiles, listFiles, TempDirs } from './helpers/tmp.js';

const dirs = new TempDirs('prnet-bad-');
let inputs: string; // one folder with every fixture, bad and good
let bad: BadFixtures;
let good: GoodFixtures;
let model: string;

/** What each bad file's one-line error says after "<path>: ". */
const CAUSES: Record<keyof BadFixtures, RegExp> = {
  missing: /^no such file$/,
  text: /^not an image or an unsupported format \(.+\)$/,
  truncated: /^cannot decode image \(.*(premature end|truncated).*\)$/i,
  empty: /^empty file \(0 bytes\)$/,
  // (the CLI adds how to go on: test/cli.test.ts checks it on a 108-megapixel photo)
  huge: /^image is 30000×30000 = 900 megapixels, above the limit of 100 megapixels( \(--max-pixels n raises it\))?$/,
  gradient: /^no face found$/,
  heic: /^a HEIC photo \(HEVC-coded, as iPhones save them\): this build of libvips has no HEVC decoder; convert it to JPEG first \(macOS: sips .+\), or set the iPhone camera to "Most Compatible" \(heif: .*HEVC.*\)$/,
};
const BAD_KINDS = Object.keys(CAUSES) as (keyof BadFixtures)[];

beforeAll(async () => {
  inputs = await dirs.make('in');
  [bad, good, model] = await Promise.all([writeBadFixtures(inputs), writeGoodFixtures(inputs), testModelPath()]);
});
afterAll(() => dirs.cleanup());

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

describe('decoding (in process)', () => {
  it('says a cause libvips repeats once (a truncated JPEG\'s "premature end" after sharp\'s words and on its own line)', () => {
    const e = new Error('Input buffer has corrupt header: VipsJpeg: premature end of JPEG image\nVipsJpeg: Bogus Huffman table definition\nVipsJpeg: premature end of JPEG image\n');
    expect(sharpCause(e)).toBe('Input buffer has corrupt header: VipsJpeg: premature end of JPEG image; VipsJpeg: Bogus Huffman table definition');
    expect(sharpCause(new Error('a\na\nb'))).toBe('a; b');
  });

  it('a HEIC photo is an UnsupportedImageError that says how to convert it; its header still reads (512 × 512, HEVC)', async () => {
    const err = await decodeImageFile(bad.heic).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedImageError);
    expect(err).toBeInstanceOf(InputError);
    const meta = await sharp(bad.heic).metadata();
    expect([meta.format, meta.compression]).toEqual(['heif', 'hevc']);
  });

  it.each(BAD_KINDS.filter((k) => k !== 'gradient'))('%s: InputError naming the file and the cause', async (kind) => {
    const err = await decodeImageFile(bad[kind]).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg.startsWith(`${bad[kind]}: `)).toBe(true);
    expect(msg.slice(bad[kind].length + 2)).toMatch(CAUSES[kind]);
    expect(msg).not.toContain('\n');
  });

  it('a 30000×30000 header is refused before decoding: fast, without allocating the pixels', async () => {
    expect(MAX_IMAGE_PIXELS).toBe(100_000_000);
    const bytes = await readFile(bad.huge);
    expect(bytes.length).toBeLessThan(1000);
    globalThis.gc?.();
    const before = process.memoryUsage();
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await expect(decodeImageBuffer(bytes, 'huge.png')).rejects.toThrow(/above the limit/);
    const ms = (performance.now() - t0) / 5;
    const after = process.memoryUsage();
    expect(ms).toBeLessThan(200);
    // Decoding would need 900 MB (grey) or 2.7 GB (RGB).
    expect(after.rss - before.rss).toBeLessThan(64 * 2 ** 20);
    expect(after.external - before.external).toBeLessThan(16 * 2 ** 20);
  });

  it('an SVG (a vector drawing, whose drawing cost the pixel limit does not bound) is refused at once, naming the format', async () => {
    // 600 bytes within the 100-megapixel limit that took 3 GB and over ten minutes to draw.
    const svg = new TextEncoder().encode(
      '<svg xmlns="http://www.w3.org/2000/svg" width="10000" height="10000"><filter id="b"><feGaussianBlur stdDeviation="3000"/><feMorphology radius="500"/></filter>' +
        '<rect width="10000" height="10000" fill="red" filter="url(#b)"/></svg>',
    );
    await expect(decodeImageBuffer(svg, 'blur.svg')).rejects.toThrow('blur.svg: not a photo (SVG is a vector drawing: export it as PNG or JPEG first)');
  });

  it('a TIFF whose pixel data is missing (strips past the end of the file) is refused, not decoded blank', async () => {
    // A grey TIFF by hand: one strip of w·h bytes declared, `bytes` present.
    const tiff = (w: number, h: number, bytes: number): Uint8Array => {
      const tags: [number, number, number][] = [[256, 4, w], [257, 4, h], [258, 3, 8], [259, 3, 1], [262, 3, 1], [273, 4, 0], [277, 3, 1], [278, 4, h], [279, 4, w * h]];
      const dataOffset = 8 + 2 + tags.length * 12 + 4;
      const b = new Uint8Array(dataOffset + bytes).fill(128);
      const v = new DataView(b.buffer);
      b.set([0x49, 0x49, 0x2a, 0x00]);
      v.setUint32(4, 8, true);
      v.setUint16(8, tags.length, true);
      tags.forEach(([tag, type, value], i) => {
        const o = 10 + 12 * i;
        v.setUint16(o, tag, true);
        v.setUint16(o + 2, type, true);
        v.setUint32(o + 4, 1, true);
        if (type === 3) v.setUint16(o + 8, value, true);
        else v.setUint32(o + 8, tag === 273 ? dataOffset : value, true);
      });
      v.setUint32(10 + 12 * tags.length, 0, true); // no next directory
      return b;
    };
    await expect(decodeImageBuffer(tiff(2000, 2000, 200), 'cut.tif')).rejects.toThrow(/^cut\.tif: cannot decode image \(tiff2vips: Read error/);
    await expect(decodeImageBuffer(tiff(20, 20, 400), 'whole.tif')).resolves.toMatchObject({ width: 20, height: 20 });
  });

  it('the pixel limit is configurable and checked on the stored size', async () => {
    const png = await readFile(ASTRONAUT);
    await expect(decodeImageBuffer(png, 'a.png', { maxPixels: 512 * 511 })).rejects.toThrow(/a\.png: image is 512×512 = 262144 pixels, above the limit of 261632 pixels$/);
    await expect(decodeImageBuffer(png, 'a.png', { maxPixels: 512 * 512 })).resolves.toMatchObject({ width: 512, height: 512 });
  });

  it('greyscale, alpha and CMYK decode to 8-bit RGB of the same picture', async () => {
    const ref = await decodeImageFile(ASTRONAUT);
    const grey = await decodeImageFile(good.grey);
    expect([grey.width, grey.height, grey.data.length]).toEqual([512, 512, 512 * 512 * 3]);
    let coloured = 0;
    for (let i = 0; i < grey.data.length; i += 3) if (grey.data[i + 1] !== grey.data[i] || grey.data[i + 2] !== grey.data[i]) coloured++;
    expect(coloured).toBe(0);
    const alpha = await decodeImageFile(good.alpha);
    // Half transparent: composited over white, as a viewer shows it (not the stored colours).
    const over = new Uint8Array(ref.data.length);
    for (let i = 0; i < over.length; i++) over[i] = 255 - Math.round(((255 - ref.data[i]) * 128) / 255);
    expect(meanAbsDiff(alpha.data, over)).toBeLessThan(0.5); // libvips rounds its own way
    expect(meanAbsDiff(alpha.data, ref.data)).toBeGreaterThan(30);
    const cmyk = await decodeImageFile(good.cmyk);
    expect([cmyk.width, cmyk.height]).toEqual([512, 512]);
    expect(meanAbsDiff(cmyk.data, ref.data)).toBeLessThan(12);
  });

  it('EXIF orientation 6 and 8 are applied: stored 384×512, decoded upright 512×384', async () => {
    const upright = await decodeImageFile(good.upright);
    expect([upright.width, upright.height]).toEqual([512, 384]);
    for (const f of [good.exif6, good.exif8]) {
      const img = await decodeImageFile(f);
      expect([img.width, img.height]).toEqual([512, 384]);
      expect(meanAbsDiff(img.data, upright.data)).toBeLessThan(6);
    }
  });
});

describe('the CLI on one bad image', () => {
  it.each(BAD_KINDS)('%s: exit 1, one line "<file>: <cause>", no files', async (kind) => {
    const out = await dirs.make(`out-${kind}`);
    const r = await runCli(['reconstruct', bad[kind], '--out', out, '--model', model]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(new RegExp(`^prnet: ${escape(bad[kind])}: ${CAUSES[kind].source.slice(1)}`));
    expect(r.stdout).toBe('');
    expect(await listFiles(out)).toEqual([]);
  });
});

describe('the CLI on a batch with bad and good images', () => {
  let out: string;
  let r: Awaited<ReturnType<typeof runCli>>;
  let files: string[];
  const stems = ['alpha', 'cmyk', 'exif6', 'exif8', 'grey', 'upright'];

  beforeAll(async () => {
    out = await dirs.make('out-batch');
    // The folder holds every fixture; the missing file is named on its own.
    r = withoutSuspect(await runCli(['reconstruct', inputs, bad.missing, '--out', out, '--model', model, '--formats', 'json,overlay']));
    files = await listFiles(out);
  });

  it('processes every image, exits 1, and the summary names each failure with its cause', () => {
    expect(r.code, r.stderr).toBe(1);
    const total = stems.length + BAD_KINDS.length;
    expect(r.stderr).toContain(`${total} images: ${stems.length} done (${stems.length} faces, ${stems.length * 4} files in ${out}), ${BAD_KINDS.length} failed`);
    const failed = r.errLines.filter((l) => l.startsWith('  failed: '));
    expect(failed).toHaveLength(BAD_KINDS.length);
    for (const kind of BAD_KINDS) {
      expect(failed.some((l) => l.startsWith(`  failed: ${bad[kind]}: `) && CAUSES[kind].test(l.slice(`  failed: ${bad[kind]}: `.length))), `${kind} ${r.stderr}`).toBe(true);
      // … and each was also reported as it happened, on one line.
      expect(r.errLines.filter((l) => l.startsWith(`prnet: ${bad[kind]}: `)), kind).toHaveLength(1);
    }
  });

  it('writes the good images\' files and nothing for the bad ones, no temporary files', async () => {
    const expected = stems.flatMap((s) => [`${s}_face0.json`, `${s}_landmarks.png`, `${s}_mesh.png`, `${s}_pose.png`]).sort();
    // …and the record of finished images (--resume), which holds the good ones only.
    expect(files).toEqual(['.prnet-done.jsonl', ...expected]);
    const record = (await readFile(join(out, '.prnet-done.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { stem: string }).stem);
    expect(record.sort()).toEqual([...stems].sort());
    for (const kind of BAD_KINDS) {
      const stem = basename(bad[kind]).replace(/\.\w+$/, '');
      expect(files.filter((f) => f.startsWith(stem))).toEqual([]);
    }
    expect(await leftoverTempFiles(out)).toEqual([]);
  });

  it('greyscale, alpha and CMYK work: 68 landmarks, overlays of the image size', async () => {
    for (const stem of ['grey', 'alpha', 'cmyk']) {
      const json = JSON.parse(await readFile(join(out, `${stem}_face0.json`), 'utf8'));
      expect(json.landmarks['2d']).toHaveLength(68);
      expect(json.landmarks['3d'].flat().every(Number.isFinite)).toBe(true);
      for (const kind of ['landmarks', 'pose', 'mesh']) expect(pngSize(await readFile(join(out, `${stem}_${kind}.png`)))).toEqual({ width: 512, height: 512 });
    }
  });

  it('EXIF-rotated photos give results in the rotated (upright) frame', async () => {
    const box = async (stem: string) => (JSON.parse(await readFile(join(out, `${stem}_face0.json`), 'utf8')) as { box: { x: number; y: number; width: number; height: number } }).box;
    const ref = await box('upright');
    for (const stem of ['exif6', 'exif8']) {
      for (const kind of ['landmarks', 'pose', 'mesh']) expect(pngSize(await readFile(join(out, `${stem}_${kind}.png`))), `${stem} ${kind}`).toEqual({ width: 512, height: 384 });
      // The same face is found at the same place as in the upright copy.
      const b = await box(stem);
      const ix = Math.max(0, Math.min(b.x + b.width, ref.x + ref.width) - Math.max(b.x, ref.x));
      const iy = Math.max(0, Math.min(b.y + b.height, ref.y + ref.height) - Math.max(b.y, ref.y));
      const iou = (ix * iy) / (b.width * b.height + ref.width * ref.height - ix * iy);
      expect(iou, stem).toBeGreaterThan(0.7);
    }
  });
});

describe('model files', () => {
  let badShape: string;
  let notSafetensors: string;

  beforeAll(async () => {
    const dir = await dirs.make('models');
    badShape = join(dir, 'bad-shape.safetensors');
    const w = randomWeights(SMALL_CONFIG, 3);
    const entries: [string, SafeTensor][] = resfcnTensorSpecs(SMALL_CONFIG).map((s) => {
      const data = w.tensors.get(s.name) as Float32Array;
      // Same number of values, wrong shape.
      return [s.name, f16Tensor(data, s.name === 'enc.3.conv2.weight' ? [s.shape[0], s.shape[1], 2, 8] : s.shape)];
    });
    await writeFile(badShape, writeSafetensors(entries, modelMetadata(SMALL_CONFIG)));
    notSafetensors = join(dir, 'model.safetensors');
    await copyFile(ASTRONAUT, notSafetensors);
  });

  it('a tensor of the wrong shape: exit 3, naming the file and the tensor, no files', async () => {
    const out = await dirs.make('out-model');
    const r = await runCli(['reconstruct', ASTRONAUT, '--out', out, '--model', badShape]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.errLines).toEqual([`prnet: ${badShape}: tensor enc.3.conv2.weight has shape [16, 16, 2, 8], expected [16, 16, 4, 4] (width 8)`]);
    expect(await listFiles(out)).toEqual([]);
  });

  it('a file that is not safetensors, and a missing file: exit 3 naming the file', async () => {
    const out = await dirs.make('out-model2');
    const r = await runCli(['reconstruct', ASTRONAUT, '--out', out, '--model', notSafetensors]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(new RegExp(`^prnet: ${escape(notSafetensors)}: not a valid model file: `));
    const missing = join(out, 'nothing.safetensors');
    const r2 = await runCli(['swap', '--source', ASTRONAUT, '--target', ASTRONAUT, '--out', join(out, 'x.png'), '--model', missing]);
    expect(r2.code, r2.stderr).toBe(3);
    expect(r2.errLines).toEqual([`prnet: ${missing}: model file not found`]);
    expect(await listFiles(out)).toEqual([]);
  });
});

/** Whether dist/ holds a build of src/<module>.ts at least as new as the source (npm ci builds it; npm test does not). */
function distIsCurrent(module: string): boolean {
  const built = join(REPO, 'dist', `${module}.js`);
  return existsSync(built) && statSync(built).mtimeMs >= statSync(join(REPO, 'src', `${module}.ts`)).mtimeMs;
}

describe('bad arguments (exit 2) and unwritable outputs (exit 4): one line', () => {
  // The compiled CLI runs `eval` and `data` from tools/ through tsx: their errors are the source's
  // copies of the error classes, which it once took for internal errors (exit 70).
  it.skipIf(!distIsCurrent('cli/options'))('the compiled CLI gives the development commands\' errors their exit codes', async () => {
    let r = await runCli(['eval', 'pts', join(SHARED, 'eval', 'afw68'), '--model', join(inputs, 'no-such-model.safetensors')], { dist: true });
    expect([r.code, r.errLines]).toEqual([3, [`prnet: ${join(inputs, 'no-such-model.safetensors')}: model file not found`]]);
    r = await runCli(['data', 'label', '--set', 'bogus'], { dist: true });
    expect(r.code).toBe(2);
    expect(r.errLines).toEqual([expect.stringMatching(/^prnet: --set: unknown set bogus/)]);
  });

  it('as a process', async () => {
    const out = join(inputs, 'never-created');
    const r = await runCli(['reconstruct', ASTRONAUT, '--out', out, '--max-faces', 'two']);
    expect(r.code).toBe(2);
    expect(r.errLines).toEqual(["prnet: --max-faces must be a whole number ≥ 1, got 'two'"]);
    expect(await listFiles(out)).toEqual([]);
  });

  it.each([
    [['reconstruct'], /needs at least one image or folder/],
    [['reconstruct', 'a.jpg'], /needs --out/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--bogus'], /^prnet: Unknown option '--bogus'$/],
    // a near name is suggested; a missing value is said in the option's own name (Node's words named a hidden '-o')
    [['reconstruct', 'a.jpg', '--out', 'o', '--max-face', '1'], /^prnet: Unknown option '--max-face' \(did you mean '--max-faces'\?\)$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--no-plyy'], /^prnet: Unknown option '--no-plyy' \(did you mean '--no-ply'\?\)$/],
    [['video', 'a.mp4', '--out', 'o', '--stabilise'], /^prnet: Unknown option '--stabilise' \(did you mean '--stabilize'\?\)$/],
    [['reconstruct', 'a.jpg', '--out'], /^prnet: --out needs a value$/],
    [['reconstruct', 'a.jpg', '--output', 'o'], /^prnet: Unknown option '--output' \(did you mean '--out'\?\)$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--modle', 'light'], /^prnet: Unknown option '--modle' \(did you mean '--model'\?\)$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--sizes', '2'], /^prnet: Unknown option '--sizes'$/],
    [['--verison'], /^prnet: unknown command '--verison' \(did you mean '--version'\?\)/],
    [['recnstruct', 'a.jpg'], /^prnet: unknown command 'recnstruct' \(did you mean 'reconstruct'\?\) \(see prnet --help\)$/],
    // short words two edits off: the one command with the same first two letters
    [['help', 'swp'], /^prnet: no command 'swp' \(did you mean 'swap'\?\) \(see prnet --help\)$/],
    [['swp', '--source', 'a.jpg'], /^prnet: unknown command 'swp' \(did you mean 'swap'\?\) \(see prnet --help\)$/],
    [['batch', 'submit', 'dir', '--threads', '2'], /^prnet: Unknown option '--threads' here: each worker's own --threads applies \(prnet worker --threads n\)$/],
    [['batch', 'sbumit', 'dir'], /^prnet: batch needs 'submit' or 'status', got 'sbumit' \(did you mean 'submit'\?\) \(see prnet --help\)$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--box', '1,2,3'], /--box must be x,y,width,height/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--box', '1,2,0,5'], /--box must be .* positive size/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--crop', '1,2'], /^prnet: --crop must be centerX,centerY,side\[,angle\] \(pixels; the angle in degrees\), as a face's JSON "crop" has them, got '1,2'$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--crop', '1,2,0.5'], /--crop: the side must be at least 1 pixel/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--crop', '10,20,30,400'], /--crop: the angle must be within ±360 degrees/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--crop', '10,20,30', '--box', '1,2,3,4'], /^prnet: --box and --crop both say where the face is: give one$/],
    [['reconstruct', 'a.jpg', 'b.jpg', '--out', 'o', '--crop', '10,20,30'], /--crop applies to one image/],
    [['batch', 'submit', 'dir', '--out', 'o', '--crop', '10,20,30'], /^prnet: Unknown option '--crop' here: a crop is for one image \(prnet reconstruct --crop\)$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--formats', 'json,stl'], /unknown format 'stl'/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--formats', 'json', '--no-json'], /no output format left/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--max-faces', '0'], /--max-faces must be a whole number ≥ 1/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--threads', '1.5'], /--threads must be a whole number/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--detector', 'dlib'], /--detector must be one of/],
    [['reconstruct', 'a.jpg', 'b.jpg', '--out', 'o', '--box', '1,2,3,4'], /--box applies to one image/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--units', 'cm'], /--units must be px or mm, got 'cm'/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--units'], /--units/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--texture-size', '300'], /--texture-size must be one of 256, 512, 1024, 2048, got '300'/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--texture-size', '512.0'], /--texture-size must be one of/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--center=yes'], /--center/],
    // decimal digits only (Number() took hex, exponents and binary)
    [['reconstruct', 'a.jpg', '--out', 'o', '--max-faces', '0x10'], /^prnet: --max-faces must be a whole number ≥ 1, got '0x10'$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--max-faces', '1e3'], /got '1e3'$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--max-faces', '99999999999999999999'], /got '99999999999999999999'$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--smooth', '0x2'], /^prnet: --smooth must be a number from 0 to 8 \(UV pixels\), got '0x2'$/],
    // a format's name as a flag selects nothing (it was accepted and ignored: every format written)
    [['reconstruct', 'a.jpg', '--out', 'o', '--glb', '--json'], /^prnet: --json is not an option: choose the outputs with --formats json,glb \(or leave one out with --no-json\); the JSON goes to files, one per face$/],
    [['batch', 'submit', 'a.jpg', '--out', '/nonexistent/o', '--redis', 'redis://localhost:1', '--ply'], /^prnet: --ply is not an option: choose the outputs with --formats ply/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--min-score', '1.5'], /^prnet: --min-score must be a number from 0.1 to 1, got '1.5'$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--min-score', '-0.1'], /^prnet: --min-score must be a number from 0.1 to 1, got '-0.1'$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--min-score', '0'], /^prnet: --min-score must be a number from 0\.1 to 1, got '0'$/], // 362 boxes on a portrait
    [['video', 'a.mp4', '--out', 'o', '--min-score', '0x1'], /^prnet: --min-score must be a number from 0.1 to 1, got '0x1'$/],
    [['serve', '--min-score', 'high'], /^prnet: --min-score must be a number from 0.1 to 1, got 'high'$/],
    [['eval', 'aflw2000', 'dir', '--gt-box', '--min-score', '0.3'], /--gt-box crops from the ground truth: --min-score does not apply/],
    // twice is a mistake: the last one used to win silently (one box of two, the PLY without the JSON)
    [['reconstruct', 'a.jpg', '--out', 'o', '--box', '10,10,50,50', '--box', '300,300,50,50'], /^prnet: --box is given twice \('10,10,50,50' and '300,300,50,50'\): give it once$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--formats', 'json', '--formats=ply'], /^prnet: --formats is given twice/],
    // a switch with its negation likewise: the last one won (`--center --no-center` wrote uncentred meshes)
    [['reconstruct', 'a.jpg', '--out', 'o', '--center', '--no-center'], /^prnet: --center and --no-center are both given: give one$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '--no-tiles', '--resume', '--tiles'], /^prnet: --no-tiles and --tiles are both given: give one$/],
    [['reconstruct', 'a.jpg', '--out', 'o', '-q', '--no-quiet'], /^prnet: --quiet and --no-quiet are both given: give one$/],
    [['batch', 'submit', 'dir', '--out', 'o', '--no-orientation', '--orientation'], /^prnet: --no-orientation and --orientation are both given: give one$/],
    [['batch', 'status', '--redis', 'redis://localhost:1', '--wait', '--no-wait'], /^prnet: --wait and --no-wait are both given: give one$/],
    [['worker', '--redis', 'redis://localhost:1', '--quiet', '--no-quiet'], /^prnet: --quiet and --no-quiet are both given: give one$/],
    [['video', 'a.mp4', '--out', 'o', '--no-audio', '--audio'], /^prnet: --no-audio and --audio are both given: give one$/],
    [['swap', '--source', 'a.jpg', '--target', 'b.jpg', '--out', 'c.png', '--blend', '--no-blend'], /^prnet: --blend and --no-blend are both given: give one$/],
    [['serve', '--no-quiet', '-q'], /^prnet: --no-quiet and --quiet are both given: give one$/],
    [['import-checkpoint', 'ckpt', '--out', 'm.safetensors', '--f32', '--no-f32'], /^prnet: --f32 and --no-f32 are both given: give one$/],
    [['eval', 'aflw2000', 'dir', '--no-flip', '--flip'], /^prnet: --no-flip and --flip are both given: give one$/],
    [['swap', '--source', 'missing.jpg', '--target', 'b.jpg', '--out', 'c.png', '--threads', '0'], /^prnet: --threads must be a whole number ≥ 1, got '0'$/],
    [['swap', '--source', 'a.jpg'], /usage: prnet swap/],
    [['swap', '--source', 'a.jpg', '--target', 'b.jpg', '--out', 'c.jpg'], /--out must be a \.png file/],
    [['import-checkpoint'], /needs one checkpoint prefix/],
    [['import-checkpoint', 'ckpt'], /needs --out/],
    [['eval', 'lfw', 'dir'], /usage: prnet eval aflw2000/],
    [['eval', 'aflw2000', 'dir', '--gt-box', '--detector', 'blazeface'], /--gt-box crops from the ground truth: --detector does not apply/],
    [['data', 'shuffle'], /usage: prnet data label/],
    [['data', 'label', '--set', 'eval', '--shared', '/nonexistent-shared'], /^prnet: \/nonexistent-shared\/eval\/aflw2000-3d: no such folder: --shared \(or PRNET_SHARED\) must name the shared data folder/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    // data label reads its options with the CLI's parser (its own took 1e3 and let the last --set win)
    [['data', 'label', '--limit', '1e3'], /^prnet: --limit must be a whole number ≥ 0, got '1e3'$/],
    [['data', 'label', '--set', 'misc', '--set', 'eval'], /^prnet: --set is given twice \('misc' and 'eval'\): give it once$/],
    [['data', 'label', '--sets', 'misc'], /^prnet: Unknown option '--sets' \(did you mean '--set'\?\)$/],
    // a value left out before another option: Node's "argument is ambiguous" said nothing of it
    [['video', 'clip.mp4', '--out', 'o', '--frames', '-q'], /^prnet: --frames needs a value \(the next argument, '-q', starts with '-': a value that does is written --frames=-…\)$/],
    [['reconstruct', 'x.jpg', '-o', '--no-flip'], /^prnet: --out needs a value \(the next argument, '--no-flip', starts with '-'/],
    // … also at the end of a group of short flags (it said only "--out needs a value")
    [['reconstruct', 'x.jpg', '-qo', '-x'], /^prnet: --out needs a value \(the next argument, '-x', starts with '-': a value that does is written --out=-…\)$/],
  ])('%j', async (args, message) => {
    const r = await runMain(args);
    expect(r.code).toBe(2);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(/^prnet: /);
    expect(r.errLines[0]).toMatch(message);
  });

  it('a switch repeated as it was (`--center --center`, `-q --quiet`) says one thing and is taken', () => {
    const options = { center: { type: 'boolean' }, tiles: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } } as const;
    expect(parseOptions(['a.jpg', '--center', '--center', '--no-tiles', '--no-tiles', '-q', '--quiet'], options).values).toEqual({ center: true, tiles: false, quiet: true });
    expect(() => parseOptions(['--no-tiles', '--center', '--tiles'], options)).toThrow(new UsageError('--no-tiles and --tiles are both given: give one'));
  });

  it('swap: a photo over the pixel limit is one line saying how to go on (exit 1), as reconstruct\'s', async () => {
    const r = await runMain(['swap', '--source', bad.huge, '--target', good.upright, '--out', join(inputs, 'never-swap', 'x.png'), '--model', model]);
    expect([r.code, r.errLines]).toEqual([1, [`prnet: ${bad.huge}: image is 30000×30000 = 900 megapixels, above the limit of 100 megapixels (--max-pixels n raises it)`]]);
    expect(existsSync(join(inputs, 'never-swap'))).toBe(false);
  });

  it('a mistyped bundled model name says which models are bundled and the one meant (exit 3), and leaves no empty output folder', async () => {
    const r = await runMain(['reconstruct', ASTRONAUT, '--out', join(inputs, 'never'), '--model', 'lite']);
    expect([r.code, r.errLines]).toEqual([3, ["prnet: no bundled model 'lite' (did you mean 'light'?) and no such file (bundled models: default, light; or give a model file's path)"]]);
    // the output folder it made before the model failed to load is not left behind, empty
    expect(existsSync(join(inputs, 'never'))).toBe(false);
  });

  it('an output path that cannot be written: one line naming it, exit 4 (output error), no temporary files', async () => {
    const dir = await dirs.make('unwritable');
    const ckpt = await writeSyntheticCheckpoint(join(dir, 'ckpt'), 2);
    // a folder where the file goes (a path through a file is a usage error, exit 2, before the import: test/cli.test.ts)
    const target = join(dir, 'model.safetensors');
    await mkdir(target);
    const r = await runMain(['import-checkpoint', ckpt.prefix, '--out', target]);
    expect(r.code).toBe(4);
    expect(r.errLines).toEqual([`prnet: ${target}: cannot write (a folder is in the way of the file)`]);
    expect(await leftoverTempFiles(dir)).toEqual([]);
  });

  it('--out naming an existing file: exit 2 before any work (a bad argument, not a failed write)', async () => {
    const dir = await dirs.make('outfile');
    const file = join(dir, 'taken');
    await writeFile(file, 'x');
    const r = await runMain(['reconstruct', ASTRONAUT, '--out', file, '--model', model]);
    expect(r.code).toBe(2);
    expect(r.errLines).toEqual([`prnet: ${file}: cannot create the output folder (a file of that name is in the way of a folder)`]);
    expect(await listFiles(dir)).toEqual(['taken']);
  });

  it('--out where the file system refuses a folder (/proc/x): exit 4 at once (Node\'s recursive mkdir looped forever there)', async () => {
    const t0 = performance.now();
    const r = await runMain(['reconstruct', ASTRONAUT, '--out', '/proc/prnet-test/out', '--model', model]);
    expect(r.code).toBe(4);
    expect(r.errLines).toEqual(['prnet: /proc/prnet-test/out: cannot create the output folder (no such file or folder, and none can be made there)']);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
