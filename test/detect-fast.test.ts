/**
 * The detector's fast path: the shipped BlazeFace graph in onnxruntime's blocked layout (NCHW
 * input of any side that is a multiple of 32) and the 128² region look at faces on the image's
 * edge (edgeLook 'region', the default) against the whole 256² look ('whole'), and the first pass
 * without the letterbox's empty bands (trimLetterbox).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { fillInput } from '../src/detect/blazeface.js';
import { createBlazeFaceDetector, REGION_INPUT, type EdgeLook } from '../src/detect/blazeface-detector.js';
import { BLAZEFACE_MODEL } from '../src/detect/create-node.js';
import { boxFromTurned, turnImage } from '../src/detect/turn.js';
import { iou, SURE_SCORE, type Detector } from '../src/detect/detector.js';
import { createDetector } from '../src/detect/index.js';
import { InputError, ModelError } from '../src/errors.js';
import { decodeImageBuffer } from '../src/io/image-node.js';
import { encodeModel } from '../src/model/onnx.js';
import type { OrtModule } from '../src/runtime/ort.js';
import type { RgbImage } from '../src/types.js';
import { readOnnxModel } from '../tools/detector/onnx-read.js';
import { EVAL_DIR } from '../scripts/compare-detectors.js';
import { SHARED } from './helpers/paths.js';

/** A photo as the benchmarks see it: cropped to fill 640×480. */
async function photo640(rel: string): Promise<RgbImage> {
  const { data, info } = await sharp(join(EVAL_DIR, rel)).removeAlpha().resize(640, 480, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** onnxruntime-node with every run's input side recorded. */
function recordingOrt(sides: number[], dims: number[][] = []): OrtModule {
  const create = async (bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) => {
    const s = await ort.InferenceSession.create(bytes, options);
    return {
      run: (feeds: Record<string, ort.Tensor>) => {
        sides.push(feeds['input:0'].dims[3]);
        dims.push([feeds['input:0'].dims[2], feeds['input:0'].dims[3]]);
        return s.run(feeds);
      },
      release: () => s.release(),
    };
  };
  return { ...ort, InferenceSession: { create } } as unknown as OrtModule;
}

describe('the shipped BlazeFace graph', () => {
  it('reads its input as NCHW and keeps every inner stage at a multiple of 16 channels (no Transpose, no zero Concat)', async () => {
    const g = readOnnxModel(new Uint8Array(await readFile(BLAZEFACE_MODEL)));
    const ops = new Set(g.nodes.map((n) => n.opType));
    expect([...ops].sort()).toEqual(['Add', 'Conv', 'MaxPool', 'Relu', 'Reshape', 'Transpose']);
    expect(g.nodes.filter((n) => n.opType === 'Transpose').every((n) => g.outputs.some((o) => g.nodes.some((m) => m.inputs[0] === n.outputs[0] && m.outputs[0] === o)))).toBe(true);
    const inits = new Map(g.initializers.map((t) => [t.name, t]));
    const first = g.nodes.find((n) => n.inputs[0] === g.inputs[0])!;
    expect(first.opType).toBe('Conv');
    expect(inits.get(first.inputs[1])!.dims).toEqual([32, 3, 5, 5]);
    const heads = new Set(g.nodes.filter((n) => n.opType === 'Transpose').map((n) => n.inputs[0]));
    for (const n of g.nodes) {
      if (n.opType !== 'Conv' || heads.has(n.outputs[0])) continue;
      expect(inits.get(n.inputs[1])!.dims[0] % 16, n.outputs[0]).toBe(0);
    }
  });

  it('runs on a 128² input with the anchors of 8 × 8 and 4 × 4 grids', async () => {
    const s = await ort.InferenceSession.create(BLAZEFACE_MODEL);
    const out = await s.run({ 'input:0': new ort.Tensor('float32', new Float32Array(3 * 128 * 128), [1, 3, 128, 128]) });
    expect(out['Identity:0'].dims).toEqual([1, 8 * 8 * 2, 1]);
    expect(out['Identity_1:0'].dims).toEqual([1, 4 * 4 * 6, 1]);
    expect(out['Identity_3:0'].dims).toEqual([1, 4 * 4 * 6, 16]);
    await s.release();
  });

  it('refuses a detector file that is not this graph at load, as a ModelError (MediaPipe\'s own BlazeFace, 3DDFA_V2)', async () => {
    for (const f of ['reference/mediapipe/onnx/face_detection_short_range.onnx', 'reference/3ddfa_v2/mb05_120x120.onnx']) {
      const bytes = new Uint8Array(await readFile(join(SHARED, f)));
      await expect(createBlazeFaceDetector(ort as unknown as OrtModule, bytes), f).rejects.toThrow(ModelError);
      await expect(createBlazeFaceDetector(ort as unknown as OrtModule, bytes), f).rejects.toThrow(/not the BlazeFace graph this version of prnet-ts ships/);
    }
  });

  it('the ONNX reader reads back what the writer wrote (float and int64 initializers, attributes)', () => {
    const bytes = encodeModel({
      name: 'g',
      nodes: [
        { opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'c', attributes: [{ name: 'pads', ints: [0, -1, 2, 3] }, { name: 'group', i: 1 }, { name: 'alpha', f: 0.25 }] },
        { opType: 'Reshape', inputs: ['y', 's'], outputs: ['z'] },
      ],
      initializers: [
        { name: 'w', dims: [2, 1, 1, 1], data: Float32Array.from([1.5, -2]) },
        { name: 's', dims: [3], data: BigInt64Array.from([1n, -1n, 16n]) },
      ],
      inputs: [{ name: 'x', shape: [1, 1, 'h', 'w'] }],
      outputs: [{ name: 'z', shape: [1, 'n', 16] }],
    }, { opsetVersion: 12, irVersion: 7 });
    const g = readOnnxModel(bytes);
    expect([g.irVersion, g.opsetVersion, g.name, g.inputs, g.outputs]).toEqual([7, 12, 'g', ['x'], ['z']]);
    expect(g.nodes[0]).toEqual({ opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'c', attributes: [{ name: 'pads', ints: [0, -1, 2, 3] }, { name: 'group', i: 1 }, { name: 'alpha', f: 0.25 }] });
    expect(Array.from(g.initializers[0].data as Float32Array)).toEqual([1.5, -2]);
    expect(Array.from(g.initializers[1].data as BigInt64Array)).toEqual([1n, -1n, 16n]);
  });
});

describe('the detector input', () => {
  it('is plain bilinear sampling into NCHW planes, black (−1) outside the image, for windows inside, across and beyond the edges', () => {
    const W = 37;
    const H = 23;
    const img: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3).map((_, i) => (i * 97 + (i >> 3) * 31) & 255) };
    // Reference: each output's source point, the four pixels around it (0 outside), bilinear weights.
    const at = (x: number, y: number, c: number) => (x < 0 || y < 0 || x >= W || y >= H ? 0 : img.data[(y * W + x) * 3 + c]);
    for (const [x0, y0, side, n] of [[0, 0, 37, 32], [-9, -3, 50, 64], [20, 10, 30, 32], [-40, 5, 20, 32], [3.3, 2.7, 11, 64]] as const) {
      const out = new Float32Array(3 * n * n);
      fillInput(img, out, n, x0, y0, side);
      let worst = 0;
      for (let v = 0; v < n; v++) {
        for (let u = 0; u < n; u++) {
          const x = x0 + ((u + 0.5) * side) / n - 0.5;
          const y = y0 + ((v + 0.5) * side) / n - 0.5;
          const fx = Math.floor(x);
          const fy = Math.floor(y);
          const tx = x - fx;
          const ty = y - fy;
          for (let c = 0; c < 3; c++) {
            const ref = (1 - ty) * ((1 - tx) * at(fx, fy, c) + tx * at(fx + 1, fy, c)) + ty * ((1 - tx) * at(fx, fy + 1, c) + tx * at(fx + 1, fy + 1, c));
            worst = Math.max(worst, Math.abs(out[c * n * n + v * n + u] - ((2 * ref) / 255 - 1)));
          }
        }
      }
      expect(worst, `${x0},${y0} ${side} → ${n}`).toBeLessThan(1e-5);
    }
  });

  it('averages f × f blocks first when the window is over 3× the input (f = scale / 2, rounded), a partial last block what it has', () => {
    const W = 301;
    const H = 203;
    const img: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3).map((_, i) => (i * 89 + (i >> 4) * 13) & 255) };
    for (const [x0, y0, side, n] of [[0, -49, 301, 32], [-50, -100, 400, 64], [17.5, 9.25, 190, 32], [120, 80, 250, 32]] as const) {
      const f = Math.round(side / n / 2);
      expect(f, 'the window needs block averaging').toBeGreaterThan(1);
      // Reference: the window's part of the image block-averaged with plain loops, rounded to bytes…
      const cx0 = Math.max(0, Math.floor(x0));
      const cy0 = Math.max(0, Math.floor(y0));
      const rw = Math.min(W, Math.ceil(x0 + side)) - cx0;
      const rh = Math.min(H, Math.ceil(y0 + side)) - cy0;
      const w = Math.ceil(rw / f);
      const h = Math.ceil(rh / f);
      const small: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3) };
      for (let by = 0; by < h; by++) for (let bx = 0; bx < w; bx++) for (let c = 0; c < 3; c++) {
        let sum = 0;
        let count = 0;
        for (let y = by * f; y < Math.min(rh, (by + 1) * f); y++) for (let x = bx * f; x < Math.min(rw, (bx + 1) * f); x++, count++) sum += img.data[((cy0 + y) * W + cx0 + x) * 3 + c];
        small.data[(by * w + bx) * 3 + c] = sum / count + 0.5;
      }
      // … then sampled bilinearly through the same window in its pixels: the same values.
      const out = new Float32Array(3 * n * n);
      const ref = new Float32Array(3 * n * n);
      fillInput(img, out, n, x0, y0, side);
      fillInput(small, ref, n, (x0 - cx0) / f, (y0 - cy0) / f, side / f);
      expect(out, `${x0},${y0} ${side} → ${n}`).toEqual(ref);
    }
  });
});

describe('edge looks', () => {
  const sides: Record<EdgeLook, number[]> = { region: [], whole: [] };
  const detectors = {} as Record<EdgeLook, Detector>;
  beforeAll(async () => {
    const bytes = new Uint8Array(await readFile(BLAZEFACE_MODEL));
    for (const look of ['region', 'whole'] as const) detectors[look] = await createBlazeFaceDetector(recordingOrt(sides[look]), bytes, { edgeLook: look });
  });

  it('a face at the edge gets one 128² look around it (region) instead of a second 256² pass (whole), and the same face', async () => {
    // 2008_001009: a face cut by the top edge; bjork: a face filling the frame.
    for (const rel of ['ibug68/2008_001009.jpg', 'portraits/bjork.jpg']) {
      const image = await photo640(rel);
      sides.region.length = 0;
      sides.whole.length = 0;
      const region = await detectors.region.detect(image);
      const whole = await detectors.whole.detect(image);
      expect(sides.region, rel).toEqual([256, REGION_INPUT]);
      expect(sides.whole, rel).toEqual([256, 256]);
      expect(region.length, rel).toBe(whole.length);
      // Each face matches one of the whole look's, boxed whole: it reaches past the image's edge.
      for (const f of region) expect(Math.max(...whole.map((w) => iou(f, w))), rel).toBeGreaterThan(0.7);
      expect(region.some((f) => f.y < 0 || f.y + f.height > image.height), rel).toBe(true);
    }
  });

  it('a face a few input pixels wide in its pass is seen again through a 128² region look: a large photo gives the box and keypoints the photo alone gives', async () => {
    const png = await sharp(join(SHARED, 'eval', 'portraits', 'astronaut.png')).removeAlpha().png().toBuffer();
    const alone = await detectors.region.detect(await decodeImageBuffer(png));
    expect(alone).toHaveLength(1);
    const ref = alone[0];
    // the same pixels pasted into a phone-sized canvas: the whole look sees the 104-pixel face at
    // 7 (4032 wide) or 10 (2560) input pixels; REFINE_BELOW is 32
    for (const [W, H, ox, oy] of [[4032, 3024, 1800, 1300], [2560, 1920, 1000, 800]]) {
      const big = await decodeImageBuffer(await sharp({ create: { width: W, height: H, channels: 3, background: '#556677' } }).composite([{ input: png, left: ox, top: oy }]).png().toBuffer());
      sides.region.length = 0;
      const faces = await detectors.region.detect(big);
      expect(faces, `${W}`).toHaveLength(1);
      expect(sides.region, `${W}`).toContain(REGION_INPUT);
      const f = faces[0];
      // (without the second look: off by 18 and 21 pixels at 4032, 36 pixels narrower at 2560)
      expect(Math.abs(f.x - ox - ref.x), `${W}`).toBeLessThan(4);
      expect(Math.abs(f.y - oy - ref.y), `${W}`).toBeLessThan(4);
      expect(Math.abs(f.width - ref.width), `${W}`).toBeLessThan(6);
      let worst = 0;
      for (let k = 0; k < 6; k++) worst = Math.max(worst, Math.hypot(f.keypoints![2 * k] - ox - ref.keypoints![2 * k], f.keypoints![2 * k + 1] - oy - ref.keypoints![2 * k + 1]));
      expect(worst, `${W}`).toBeLessThan(10);
      // A score cut reads the closer look's score, the one returned (the coarse box scored 0.74
      // at 4032: --min-score 0.8 lost the face reported at 0.95).
      expect(f.score, `${W}`).toBeGreaterThan(0.8);
      const strict = await createDetector({ minScore: 0.8 });
      const kept = await strict.detect(big);
      await strict.release?.();
      expect(kept.map((k) => k.score), `${W}`).toEqual([f.score]);
    }
  });

  it('a lowered score cut moves none of the boxes the default finds, also where closer looks ran (a web photo pasted into a large canvas)', async () => {
    const png = await sharp(join(SHARED, 'faces', 'webfaces', 'pic00787.jpg')).removeAlpha().png().toBuffer();
    const big = await decodeImageBuffer(await sharp({ create: { width: 2400, height: 1800, channels: 3, background: '#777777' } }).composite([{ input: png, left: 300, top: 200 }]).png().toBuffer());
    const low = await createDetector({ minScore: 0.3 });
    try {
      const plain = await detectors.region.detect(big);
      const lowered = await low.detect(big);
      expect(plain.length).toBeGreaterThanOrEqual(1);
      // (a box under 0.5 that its closer look scored 0.93 took the place of the default's 0.85)
      for (const p of plain) expect(lowered.some((b) => b.x === p.x && b.y === p.y && b.width === p.width && b.score === p.score), `${p.x},${p.y}`).toBe(true);
    } finally {
      await low.release?.();
    }
  });

  it('no edge look for faces inside the image; the whole look when nothing is found, and a wider one when that finds nothing', async () => {
    sides.region.length = 0;
    expect(await detectors.region.detect(await photo640('portraits/astronaut.png'))).toHaveLength(1);
    expect(sides.region).toEqual([256]);
    sides.region.length = 0;
    const blank: RgbImage = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 3).fill(128) };
    expect(await detectors.region.detect(blank)).toHaveLength(0);
    expect(sides.region).toEqual([256, 256, 256]);
  });
  it('the first pass leaves out the letterbox bands beyond 8 black pixels (trimLetterbox, default): 256 × 224 for 4:3, either way round', async () => {
    const dims: number[][] = [];
    const bytes = new Uint8Array(await readFile(BLAZEFACE_MODEL));
    const rec = recordingOrt([], dims);
    const trimmed = await createBlazeFaceDetector(rec, bytes, { retryPadded: false });
    const square = await createBlazeFaceDetector(rec, bytes, { retryPadded: false, trimLetterbox: false });
    expect(dims).toEqual([[64, 64], [64, 64]]); // the load-time probes
    dims.length = 0;
    const land = await photo640('portraits/astronaut.png');
    const portrait: RgbImage = { width: 480, height: 640, data: new Uint8Array(480 * 640 * 3) };
    // The landscape photo turned a quarter: the same face, upright no longer, but the input's shape.
    for (let y = 0; y < 640; y++) for (let x = 0; x < 480; x++) portrait.data.set(land.data.subarray((x * 640 + (639 - y)) * 3, (x * 640 + (639 - y)) * 3 + 3), (y * 480 + x) * 3);
    const a = await trimmed.detect(land);
    await trimmed.detect(portrait);
    const b = await square.detect(land);
    expect(dims).toEqual([[224, 256], [256, 224], [256, 256]]);
    // The same face, boxed alike (the image and its surroundings are the same up to the band).
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    expect(iou(a[0], b[0])).toBeGreaterThan(0.9);
  });

  it('createDetector passes edgeLook on and rejects an unknown one', async () => {
    const d = await createDetector({ edgeLook: 'whole' });
    expect(await d.detect(await photo640('portraits/bjork.jpg'))).toHaveLength(1);
    await expect(createDetector({ edgeLook: 'sideways' as EdgeLook })).rejects.toThrow(/^edgeLook must be 'region' or 'whole', got "sideways"$/);
  });

  it('createDetector refuses bad options with an InputError naming them, before loading', async () => {
    // maxFaces -1 dropped the last face, minScore -1 / 2 / a string found nothing, threads 1.5 read as a model load failure.
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ maxFaces: -1 }, /^maxFaces must be a whole number ≥ 1, got -1$/],
      [{ maxFaces: 0 }, /^maxFaces must be a whole number ≥ 1, got 0$/],
      [{ maxFaces: '1' }, /^maxFaces must be a whole number ≥ 1, got "1"$/],
      [{ minScore: -1 }, /^minScore must be a number from 0.1 to 1, got -1$/],
      [{ minScore: 0 }, /^minScore must be a number from 0.1 to 1, got 0$/], // every anchor cluster a face
      [{ minScore: 2 }, /^minScore must be a number from 0.1 to 1/],
      [{ minScore: 'abc' }, /^minScore must be a number from 0.1 to 1, got "abc"$/],
      [{ threads: 1.5 }, /^threads must be a whole number ≥ 1, got 1.5$/],
      [{ maxDetections: 1 }, /^unknown detector option 'maxDetections' \(did you mean 'maxFaces'\?\)/], // createPrnet's name, dropped without a word
      [{ threads: 0 }, /^threads must be a whole number ≥ 1, got 0$/],
      [{ retryPadded: 'false' }, /^retryPadded must be true or false, got "false"$/],
      [{ kind: 'bogus' }, /^unknown detector 'bogus'/],
    ];
    for (const [options, re] of bad) {
      const p = createDetector(options as never);
      await expect(p, JSON.stringify(options)).rejects.toThrow(re);
      await expect(p).rejects.toBeInstanceOf(InputError);
    }
    // Infinity is "every face" (the default), not an error.
    expect(await (await createDetector({ maxFaces: Infinity })).detect(await photo640('portraits/bjork.jpg'))).toHaveLength(1);
  });
});

describe('close-ups', () => {
  const sides: number[] = [];
  let detector: Detector;
  beforeAll(async () => {
    detector = await createBlazeFaceDetector(recordingOrt(sides), new Uint8Array(await readFile(BLAZEFACE_MODEL)));
  });
  const chip = (name: string): Promise<RgbImage> => decodeImageBuffer(readFileSync(join(SHARED, 'faces', 'utkface', name)));

  it('a frame-filling face behind glasses, for which the first look boxed a lens (doubtful and small), is found by the padded look, and the lens is dropped (at a lowered cut too)', async () => {
    const low = await createBlazeFaceDetector(ort as unknown as OrtModule, new Uint8Array(await readFile(BLAZEFACE_MODEL)), { minScore: 0.3 });
    // (before: one box of 47–65 px scored 0.51–0.66 on a lens or an eye, and no other face)
    for (const name of ['15_1_2_20170104012024121.jpg.chip.jpg', '16_0_1_20170113155247627.jpg.chip.jpg', '68_1_0_20170103184201412.jpg.chip.jpg', '88_1_0_20170110183756051.jpg.chip.jpg']) {
      const image = await chip(name);
      sides.length = 0;
      const faces = await detector.detect(image);
      expect(sides, name).toEqual([256, 256]);
      expect(faces, name).toHaveLength(1);
      expect(faces[0].width, name).toBeGreaterThan(0.8 * image.width);
      expect(faces[0].score, name).toBeGreaterThanOrEqual(SURE_SCORE);
      expect(await low.detect(image), name).toEqual(faces);
    }
    await low.release?.();
  });

  it('a face larger than the frame, found by neither the first nor the padded look, is found by the wider look; at a lowered cut, without the boxes inside it', async () => {
    const low = await createBlazeFaceDetector(ort as unknown as OrtModule, new Uint8Array(await readFile(BLAZEFACE_MODEL)), { minScore: 0.3 });
    // (the wider look scores these 0.81 and 0.68; at 0.3 the padded look's 0.39 box on an eye
    // stayed beside the face)
    for (const name of ['58_0_1_20170113193258196.jpg.chip.jpg', '26_0_0_20170113210605429.jpg.chip.jpg']) {
      const image = await chip(name);
      sides.length = 0;
      const faces = await detector.detect(image);
      expect(sides, name).toEqual([256, 256, 256]);
      expect(faces, name).toHaveLength(1);
      expect(faces[0].width, name).toBeGreaterThan(0.9 * image.width);
      expect(await low.detect(image), name).toEqual(faces);
    }
    await low.release?.();
  });

  it('a lone doubtful small face that the padded look finds no larger sure face for stays as the first look boxed it', async () => {
    // image00475 (yaw 66°): one box at 0.67, 161 px of 450; the padded look runs and changes nothing
    const image = await decodeImageBuffer(readFileSync(join(EVAL_DIR, 'aflw2000-3d', 'image00475.jpg')));
    const once = await createBlazeFaceDetector(ort as unknown as OrtModule, new Uint8Array(await readFile(BLAZEFACE_MODEL)), { retryPadded: false });
    const first = await once.detect(image);
    await once.release?.();
    expect(first).toHaveLength(1);
    expect(first[0].score).toBeLessThan(0.7);
    sides.length = 0;
    expect(await detector.detect(image)).toEqual(first);
    expect(sides).toEqual([256, 256]);
  });

  it('a small doubtful face alone is looked at again, and replaced by the padded look\'s sure box of it; sure faces are not looked at again', async () => {
    // pic11314 (webfaces-detect): the face scores 0.66 in the first look at 49 px of 286; the
    // padded look scores it 0.87 and boxes it alike. A group photo whose small faces are sure, and a
    // portrait, get one pass.
    const small = await decodeImageBuffer(readFileSync(join(EVAL_DIR, 'webfaces-detect', 'pic11314.jpg')));
    sides.length = 0;
    const [face, ...rest] = await detector.detect(small);
    expect(rest).toHaveLength(0);
    // the first pass (the portrait photo's letterbox trimmed), the padded look, then the closer
    // look every face a few input pixels wide gets
    expect(sides).toEqual([192, 256, REGION_INPUT]);
    expect(face.score).toBeGreaterThan(0.8);
    expect(face.width).toBeLessThan(0.4 * Math.min(small.width, small.height));
    for (const rel of ['portraits/astronaut.png', 'ibug68/2008_002079.jpg']) {
      sides.length = 0;
      const faces = await detector.detect(await photo640(rel));
      expect(faces.length, rel).toBeGreaterThan(0);
      // (the group's small faces each get their closer 128² look)
      expect(sides.filter((n) => n !== REGION_INPUT), rel).toEqual([256]);
    }
  });
});

describe('turned looks (src/detect/turn.ts)', () => {
  it('turns an image by quarter turns, and a box found in it (corners and keypoints) back into the photo, scaled', () => {
    // a 3 × 2 image whose pixels are numbered
    const image: RgbImage = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => Math.floor(i / 3)) };
    const px = (im: RgbImage): number[] => Array.from({ length: im.width * im.height }, (_, i) => im.data[3 * i]);
    expect(px(turnImage(image, 1))).toEqual([3, 0, 4, 1, 5, 2]); // 2 × 3: the left column on top, read bottom to top
    expect(px(turnImage(image, 2))).toEqual([5, 4, 3, 2, 1, 0]);
    expect(px(turnImage(image, 3))).toEqual([2, 5, 1, 4, 0, 3]);
    expect([turnImage(image, 1).width, turnImage(image, 1).height]).toEqual([2, 3]);
    // In a 40 × 20 copy of a photo 2× as wide and 3× as high: a box of pixels 28–32 × 3–9 (edges
    // 28..33, 3..10) turned with the image, and a keypoint at pixel (30, 5).
    const W = 40, H = 20;
    for (const q of [1, 2, 3] as const) {
      // the box's edges and the keypoint once turned
      const turnedBox = q === 1 ? { x: H - 10, y: 28, width: 7, height: 5 } : q === 2 ? { x: W - 33, y: H - 10, width: 5, height: 7 } : { x: 3, y: W - 33, width: 7, height: 5 };
      const [kx, ky] = q === 1 ? [H - 1 - 5, 30] : q === 2 ? [W - 1 - 30, H - 1 - 5] : [5, W - 1 - 30];
      const box = boxFromTurned({ ...turnedBox, score: 0.9, keypoints: Float32Array.of(kx, ky) }, q, W, H, 2, 3);
      expect([box.x, box.y, box.width, box.height, box.score], `q ${q}`).toEqual([56, 9, 10, 21, 0.9]);
      expect(Array.from(box.keypoints!), `q ${q}`).toEqual([60.5, 16]); // pixel (30, 5)'s centre: (30.5 · 2 − 0.5, 5.5 · 3 − 0.5)
    }
  });
});
