/**
 * The face-orientation network (src/detect/orientation.ts) on real photos: the 14 portraits of
 * ../shared/eval/portraits (not among the network's training photos, which come from
 * ../shared/faces), close-ups whose faces fill much of the frame, turned by 90°, 180° and 270°
 * without an EXIF tag. Each turned photo's 68 landmarks are compared with the upright photo's,
 * turned alike (mean distance in % of the upright landmark box's size, sqrt(w·h)).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative as relativePath, resolve as resolvePath } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../src/errors.js';
import * as ort from 'onnxruntime-node';
import { buildOrientOnnx, ORIENT_INPUT, ORIENT_LAYERS, type Orientation } from '../src/detect/orientation.js';
import { ORIENTATION_MODEL } from '../src/detect/create-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { CHUNK_FACES, Prnet } from '../src/pipeline/prnet.js';
import type { Detector } from '../src/detect/detector.js';
import type { RgbImage } from '../src/types.js';
import { asFloat32, readSafetensors, writeSafetensors, f32Tensor } from '../src/util/safetensors.js';
import { PYTHON, pythonSkipSuffix, requireTorch, skipPython } from './helpers/python.js';
import { boxSize } from '../tools/eval/nme.js';
import { EVAL, REPO, SHARED } from './helpers/paths.js';

const PORTRAITS = join(EVAL, 'portraits');

async function turned(file: string, deg: number): Promise<RgbImage> {
  const { data, info } = await sharp(file).rotate(deg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** The upright landmarks (flat 68×3) turned by deg (90, 180, 270: clockwise) in a w×h photo, as 68 (x, y). */
function turnPoints(lm: Float32Array, w: number, h: number, deg: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < 68; i++) {
    const x = lm[3 * i], y = lm[3 * i + 1];
    out.push(deg === 90 ? [h - 1 - y, x] : deg === 180 ? [w - 1 - x, h - 1 - y] : deg === 270 ? [y, w - 1 - x] : [x, y]);
  }
  return out;
}

/** The upright portraits' landmarks, per pipeline (the same with and without the network). */
const uprightLandmarks = new Map<Prnet, Float32Array[]>();

/** Per turn, each portrait's landmark error (% of its face size; Infinity when no face is found). */
async function turnedErrors(p: Prnet, files: string[]): Promise<Record<number, number[]>> {
  const errors: Record<number, number[]> = { 90: [], 180: [], 270: [] };
  uprightLandmarks.set(p, []);
  for (const file of files) {
    const upright = await turned(file, 0);
    const ref = (await p.reconstruct(upright, { maxFaces: 1 })).faces[0]!;
    uprightLandmarks.get(p)!.push(ref.landmarks);
    for (const deg of [90, 180, 270]) {
      const expected = turnPoints(ref.landmarks, upright.width, upright.height, deg);
      const { faces } = await p.reconstruct(await turned(file, deg));
      // the face nearest the expected one
      let best = Infinity;
      for (const f of faces) {
        let e = 0;
        for (let i = 0; i < 68; i++) e += Math.hypot(f.landmarks[3 * i] - expected[i][0], f.landmarks[3 * i + 1] - expected[i][1]);
        best = Math.min(best, (100 * e) / 68 / boxSize(ref.landmarks));
      }
      errors[deg].push(best);
    }
  }
  return errors;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const shown = (v: number[]): string => v.map((x) => x.toFixed(1)).join(', ');

let files: string[] = [];
let withOrientation: Prnet;
let without: Prnet;
const results: Record<'on' | 'off', Record<number, number[]>> = { on: {}, off: {} };

beforeAll(async () => {
  files = (await readdir(PORTRAITS)).filter((n) => /\.(jpg|png)$/.test(n)).sort().map((n) => join(PORTRAITS, n));
  [withOrientation, without] = await Promise.all([createPrnet(), createPrnet({ orientation: false })]);
  results.on = await turnedErrors(withOrientation, files);
  results.off = await turnedErrors(without, files);
  console.log(`turned portraits, landmark error % (orientation on | off):\n${[90, 180, 270].map((d) => `${d}°: ${shown(results.on[d])} | ${shown(results.off[d])}`).join('\n')}`);
}, 300_000);

afterAll(async () => {
  await withOrientation?.dispose();
  await without?.dispose();
});

describe('close-up portraits turned by 90°, 180° and 270° (no EXIF tag): the crop turns with the face', () => {
  it('sideways (90°, 270°): most within 5 % of the upright result, the median far below the detector\'s own crops\'', () => {
    for (const deg of [90, 270]) {
      const on = results.on[deg], off = results.off[deg];
      expect(on.filter((e) => e <= 5).length, `${deg}°: ${shown(on)}`).toBeGreaterThanOrEqual(THRESHOLDS.sidewaysWithin5);
      expect(median(on), `${deg}°: ${shown(on)} against ${shown(off)}`).toBeLessThan(THRESHOLDS.sidewaysMedian);
      expect(median(on)).toBeLessThan(median(off));
    }
  });

  it('keypointDisagreement: upright portraits have it, low; turned a quarter without the network, no face whose crop the keypoints turn past 45° has it', async () => {
    let gated = 0;
    for (const file of files.slice(0, 6)) {
      const [up] = (await without.reconstruct(await turned(file, 0), { maxFaces: 1 })).faces;
      expect(up!.keypointDisagreement, file).toBeLessThan(0.1);
      for (const deg of [90, 270]) {
        for (const f of (await without.reconstruct(await turned(file, deg))).faces) {
          const angle = Math.abs(f.crop.square.angle ?? 0);
          if (angle > Math.PI / 4) {
            gated++;
            expect(f.keypointDisagreement, `${file} ${deg}°`).toBeUndefined();
          }
        }
      }
    }
    // (BlazeFace's keypoints turn most of these crops by 50–90°: the rule is exercised)
    expect(gated).toBeGreaterThan(3);
  });

  it('upright, the network changes nothing: the same landmarks with it and without', () => {
    const on = uprightLandmarks.get(withOrientation)!, off = uprightLandmarks.get(without)!;
    expect(on).toHaveLength(files.length);
    on.forEach((lm, i) => expect(Array.from(lm), files[i]).toEqual(Array.from(off[i]!)));
  });

  it('upside down (180°): most within 5 % of the upright result (without the network: none)', () => {
    const on = results.on[180];
    expect(on.filter((e) => e <= 5).length, shown(on)).toBeGreaterThanOrEqual(THRESHOLDS.upsideDownWithin5);
    expect(results.off[180].filter((e) => e <= 5).length, shown(results.off[180])).toBeLessThan(on.filter((e) => e <= 5).length);
  });
});

describe('the pipeline around the network, with a stand-in that reads every face as turned', () => {
  /** A stand-in network: the first reading of each call pair `first`, the second (of the turned crops) upright and sure. */
  const standIn = (first: number): Orientation => {
    let calls = 0;
    return {
      async read(_image, squares) {
        const tilt = new Float32Array(squares.length).fill(calls++ % 2 === 0 ? first : 0);
        return { tilt, confidence: new Float32Array(squares.length).fill(1) };
      },
      release: async () => undefined,
    };
  };

  it('a turn the reconstruction disagrees with falls back to the detector\'s crop: six upright faces misread as turned by 60°, as without the network, in order', async () => {
    // six portraits side by side: more faces than one network chunk
    const names = ['alice_coltrane.jpg', 'arvo_part.jpg', 'bjork.jpg', 'dj_krush.jpg', 'dear_nora.jpg', 'charanjit_sing.jpg'];
    const tiles = await Promise.all(names.map((n) => sharp(join(PORTRAITS, n)).removeAlpha().resize(320, 320, { fit: 'cover' }).toBuffer()));
    const { data, info } = await sharp({ create: { width: 960, height: 640, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .composite(tiles.map((input, i) => ({ input, left: (i % 3) * 320, top: Math.floor(i / 3) * 320 }))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const image: RgbImage = { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
    const misled = new Prnet(without.session, without.layout, without.detector, false, standIn(Math.PI / 3));
    const a = (await misled.reconstruct(image)).faces, b = (await without.reconstruct(image)).faces;
    expect(a.length).toBeGreaterThan(CHUNK_FACES);
    expect(a.map((f) => f.index)).toEqual(b.map((f) => f.index));
    a.forEach((f, i) => {
      expect(f.crop.square, `face ${i}`).toEqual(b[i]!.crop.square);
      expect(Array.from(f.landmarks), `face ${i}`).toEqual(Array.from(b[i]!.landmarks));
      // back in the detector's crop, the detector's keypoints are compared again
      expect(f.keypointDisagreement, `face ${i}`).toBe(b[i]!.keypointDisagreement);
      expect(f.keypointDisagreement, `face ${i}`).toBeLessThan(0.1);
    });
  });

  it('a turn the reconstruction agrees with stands, refined in the landmarks\' crop: a portrait upside down as upright', async () => {
    const bjork = join(PORTRAITS, 'bjork.jpg');
    const upright = await turned(bjork, 0), down = await turned(bjork, 180);
    const ref = (await without.reconstruct(upright, { maxFaces: 1 })).faces[0]!;
    const turnedRight = new Prnet(without.session, without.layout, without.detector, false, standIn(Math.PI));
    const face = (await turnedRight.reconstruct(down, { maxFaces: 1 })).faces[0]!;
    expect(Math.abs(Math.abs(face.crop.square.angle ?? 0) - Math.PI)).toBeLessThan(0.35);
    // BlazeFace's keypoints of the face upside down are what the turn mends: not compared
    expect(face.keypointDisagreement).toBeUndefined();
    const expected = turnPoints(ref.landmarks, upright.width, upright.height, 180);
    let e = 0;
    for (let i = 0; i < 68; i++) e += Math.hypot(face.landmarks[3 * i] - expected[i][0], face.landmarks[3 * i + 1] - expected[i][1]);
    expect((100 * e) / 68 / boxSize(ref.landmarks)).toBeLessThan(6); // measured 4.6 (3.2 with the network's own, finer angle)
    // without the stand-in, upside down it is far off
    const plain = (await without.reconstruct(down, { maxFaces: 1 })).faces[0];
    if (plain) {
      let p = 0;
      for (let i = 0; i < 68; i++) p += Math.hypot(plain.landmarks[3 * i] - expected[i][0], plain.landmarks[3 * i + 1] - expected[i][1]);
      expect((100 * p) / 68 / boxSize(ref.landmarks)).toBeGreaterThan(20);
    }
  });
});

describe('a photo turned without its EXIF tag in which the detector finds no face: looked at turned', () => {
  it('the astronaut upside down: no face upright; the turned looks find it, its landmarks those of the upright photo turned (without the orientation step: no face)', async () => {
    const file = join(REPO, 'examples', 'astronaut.jpg');
    const upright = await turned(file, 0), down = await turned(file, 180);
    expect(await withOrientation.detector!.detect(down)).toHaveLength(0);
    const ref = (await withOrientation.reconstruct(upright)).faces[0]!;
    const { faces } = await withOrientation.reconstruct(down);
    expect(faces).toHaveLength(1);
    expect(faces[0].index).toBe(0);
    expect(faces[0].suspect).toBe(false);
    const expected = turnPoints(ref.landmarks, upright.width, upright.height, 180);
    let e = 0;
    for (let i = 0; i < 68; i++) e += Math.hypot(faces[0].landmarks[3 * i] - expected[i][0], faces[0].landmarks[3 * i + 1] - expected[i][1]);
    expect((100 * e) / 68 / boxSize(ref.landmarks)).toBeLessThan(3); // measured 1.3
    // its box and keypoints are in the photo's frame: the crop turned upside down with the face
    expect(Math.abs(Math.abs(faces[0].crop.square.angle ?? 0) - Math.PI)).toBeLessThan(0.35);
    expect((await without.reconstruct(down)).faces).toHaveLength(0);
  });

  it('a lowered score cut\'s weak box (0.48 on the astronaut upside down, reconstructed wrong) does not stop the turned looks', async () => {
    const low = await createPrnet({ minScore: 0.3 });
    try {
      const down = await turned(join(REPO, 'examples', 'astronaut.jpg'), 180);
      expect((await low.detector!.detect(down)).map((b) => b.score < 0.5)).toEqual([true]);
      const { faces } = await low.reconstruct(down);
      expect(faces).toHaveLength(1);
      expect(faces[0].box.score).toBeGreaterThan(0.8);
      expect(Math.abs(Math.abs(faces[0].crop.square.angle ?? 0) - Math.PI)).toBeLessThan(0.35);
      expect(faces[0].suspect).toBe(false);
    } finally {
      await low.dispose();
    }
  });

  it('a face only a turned look found is dropped when its reconstruction is suspect, with test-time flip and without (a strip of a web photo without a face)', async () => {
    const full = await turned(join(SHARED, 'faces', 'webfaces', 'pic12891.jpg'), 0);
    const h = Math.floor(full.height / 3), y = full.height - h;
    const strip: RgbImage = { width: full.width, height: h, data: full.data.slice(y * full.width * 3, (y + h) * full.width * 3) };
    const sure: number[] = [];
    const recording: Detector = {
      kind: 'blazeface',
      detect: async (image, o) => {
        const found = await withOrientation.detector!.detect(image, o);
        sure.push(found.filter((b) => b.score >= 0.65).length);
        return found;
      },
    };
    const p = new Prnet(withOrientation.session, withOrientation.layout, recording, false, withOrientation.orientation);
    for (const flip of [true, false]) {
      sure.length = 0;
      expect((await p.reconstruct(strip, { flip })).faces, `flip ${flip}`).toHaveLength(0);
      // nothing upright; a turned look was sure of a face (0.71), which the reconstruction doubted
      // (flip disagreement 0.28; without flip, its keypoints against the landmarks)
      expect(sure[0], `flip ${flip}`).toBe(0);
      expect(sure.slice(1).some((n) => n > 0), `flip ${flip}`).toBe(true);
    }
  });

  it('three turned looks (90°, 270°, 180°) on a copy of long side 1024 at most, only where nothing is found upright and no boxes or crops are given', async () => {
    const seen: [number, number][] = [];
    const counting: Detector = {
      kind: 'blazeface',
      detect: (image, o) => {
        seen.push([image.width, image.height]);
        return withOrientation.detector!.detect(image, o);
      },
    };
    const p = new Prnet(withOrientation.session, withOrientation.layout, counting, false, withOrientation.orientation);
    const blank: RgbImage = { width: 2000, height: 1000, data: new Uint8Array(2000 * 1000 * 3).fill(90) };
    expect((await p.reconstruct(blank)).faces).toHaveLength(0);
    expect(seen).toEqual([[2000, 1000], [512, 1024], [512, 1024], [1024, 512]]);
    seen.length = 0;
    expect((await p.reconstruct(await turned(join(REPO, 'examples', 'astronaut.jpg'), 0))).faces).toHaveLength(1);
    expect(seen).toHaveLength(1);
    seen.length = 0;
    await p.reconstruct(blank, { boxes: [{ x: 10, y: 10, width: 100, height: 100 }] });
    await p.reconstruct(blank, { maxFaces: 0 });
    expect(seen).toEqual([[2000, 1000]]);
    // a detector of one's own is checked on the turned looks as upright (it failed on its null)
    const careless = new Prnet(withOrientation.session, withOrientation.layout, { kind: 'blazeface', detect: async (image) => (image.width === 2000 ? [] : (null as never)) }, false, withOrientation.orientation);
    await expect(careless.reconstruct(blank)).rejects.toThrow(/^the detector must return an array of face boxes, got null$/);
  });
});

describe(`the ONNX graph and the trainer's PyTorch forward (training/orient.py --forward) agree${pythonSkipSuffix}`, () => {
  it.skipIf(skipPython)('the shipped file on 2 random crops: the same (cos, sin) within 1e-4', async () => {
    requireTorch('the orientation parity check');
    const dir = await mkdtemp(join(tmpdir(), 'prnet-orient-'));
    try {
      const input = new Float32Array(2 * 3 * ORIENT_INPUT * ORIENT_INPUT);
      let seed = 7;
      for (let i = 0; i < input.length; i++) input[i] = ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 999;
      await writeFile(join(dir, 'in.safetensors'), writeSafetensors([['input', f32Tensor(input, [2, 3, ORIENT_INPUT, ORIENT_INPUT])]]));
      const r = spawnSync(PYTHON, [join(REPO, 'training/orient.py'), '--forward', ORIENTATION_MODEL, join(dir, 'in.safetensors'), join(dir, 'out.safetensors')], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
      expect(r.status, r.stderr).toBe(0);
      const torchOut = asFloat32(readSafetensors(await readFile(join(dir, 'out.safetensors'))).tensors.get('tilt')!);
      const session = await ort.InferenceSession.create(buildOrientOnnx(new Uint8Array(await readFile(ORIENTATION_MODEL))));
      const ours = (await session.run({ crop: new ort.Tensor('float32', input, [2, 3, ORIENT_INPUT, ORIENT_INPUT]) })).tilt!.data as Float32Array;
      await session.release();
      expect(ours.length).toBe(4);
      for (let i = 0; i < 4; i++) expect(Math.abs(ours[i] - torchOut[i]), `${Array.from(ours)} vs ${Array.from(torchOut)}`).toBeLessThan(1e-4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the model file', () => {
  it('a bundled model named by its path, relative or absolute, runs the orientation step as its name does (relative, it did not: the CLI and batch\'s workers then made different meshes)', async () => {
    const relative = join(relativePath(process.cwd(), REPO) || '.', 'assets/models/prnet-light.safetensors');
    for (const model of ['light', relative, resolvePath(relative)]) {
      const p = await createPrnet({ model });
      try {
        expect(p.orientation, model).not.toBeNull();
      } finally {
        await p.dispose();
      }
    }
  });

  it('the shipped file builds a graph of the layers the trainer writes; another file is a ModelError naming it', async () => {
    const bytes = new Uint8Array(await readFile(ORIENTATION_MODEL));
    const { tensors } = readSafetensors(bytes);
    expect(tensors.size).toBe(2 * ORIENT_LAYERS.length + 2);
    expect(buildOrientOnnx(bytes).length).toBeGreaterThan(100_000);
    const layout = new Uint8Array(await readFile(join(REPO, 'assets/layout.safetensors')));
    expect(() => buildOrientOnnx(layout, 'layout.safetensors')).toThrow(ModelError);
    expect(() => buildOrientOnnx(layout, 'layout.safetensors')).toThrow(/not an orientation model file \(format/);
    // a tensor of the wrong shape is named
    const bad = writeSafetensors([['conv0.weight', f32Tensor(new Float32Array(10), [10])]], { format: 'prnet-ts/orient' });
    expect(() => buildOrientOnnx(bad)).toThrow(/'conv0.weight' is \[10\], expected \[24, 3, 3, 3\]/);
  });
});

/**
 * Limits set with a margin from the measurement (docs/detectors.md, "Orientation"): within 5 %, 10
 * of 14 at 90°, 7 at 270°, 8 upside down (without the network 5, 2 and 0); the medians 3.7 and 5.4 %
 * (without: 10.2 and 13.1 %). Two sideways portraits are not found at all, either way.
 */
const THRESHOLDS = { sidewaysWithin5: 6, sidewaysMedian: 6, upsideDownWithin5: 6 };
