/**
 * The library API on a real photo with a small random-weight model: createPrnet, reconstruct
 * (detector, boxes, crops, maxFaces), reconstructFile, buildOutputs and swapFaceTexture. The
 * geometry of random weights is meaningless, so the checks are on structure: counts, frames (the
 * crop ↔ image mapping), consistency between the position map and its read-offs, timings.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyAffine, cropFromBox, cropFromUserBox, type CropTransform } from '../src/crop/index.js';
import { DisposedError, InputError, ModelError } from '../src/errors.js';
import { decodeImageBuffer, decodeImageFile, encodePng } from '../src/io/image-node.js';
import { createPrnet, reconstructFile } from '../src/pipeline/node.js';
import { buildOutputs, OUTPUT_FORMATS } from '../src/pipeline/outputs.js';
import { CHUNK_FACES, Prnet, type ReconstructResult } from '../src/pipeline/prnet.js';
import { faceColors, faceTexture, type Face } from '../src/pipeline/face.js';
import { swapFaceTexture } from '../src/pipeline/swap.js';
import type { FaceBox, RgbImage } from '../src/types.js';
import sharp from 'sharp';
import { createRaster, depthToGreyIn, gatherVertices, rasterize, texelVisibility } from '../src/render/index.js';
import { gradientPng, pngSize } from './helpers/images.js';
import { parseGlb } from './helpers/meshes.js';
import { SMALL_CONFIG, testModelPath } from './helpers/model.js';
import { ASTRONAUT, EVAL, GROUP_PHOTO, REPO } from './helpers/paths.js';

const VERTICES = 43867;
/** The network's largest output, in crop pixels: sigmoid × output scale. */
const OUT_MAX = SMALL_CONFIG.outputScale;

let prnet: Prnet;
let image: RgbImage;
let result: ReconstructResult;
/** Milliseconds the reconstruct call of `result` took, measured around it. */
let wall: number;
let gradient: RgbImage;

beforeAll(async () => {
  prnet = await createPrnet({ model: await testModelPath(), threads: 1 });
  image = await decodeImageFile(GROUP_PHOTO);
  gradient = await decodeImageBuffer(await gradientPng(320, 240), 'gradient.png');
  const t0 = performance.now();
  result = await prnet.reconstruct(image);
  wall = performance.now() - t0;
});
afterAll(async () => {
  await prnet?.dispose();
});

/** Checks every point of the face lies where the network can put it: inside the crop square (×1.1). */
function expectInCrop(points: Float32Array, crop: CropTransform, what: string): void {
  const eps = 1e-3 * crop.size;
  let bad = 0;
  for (let i = 0; i < points.length; i += 3) {
    const [u, v] = applyAffine(crop.forward, points[i], points[i + 1]);
    const z = points[i + 2] * crop.scale;
    if (!(u >= -eps && u <= OUT_MAX + eps && v >= -eps && v <= OUT_MAX + eps && z >= -eps && z <= OUT_MAX + eps)) bad++;
  }
  expect(bad, what).toBe(0);
}

function expectFaceStructure(face: Face, what: string): void {
  expect(face.landmarks).toBeInstanceOf(Float32Array);
  expect(face.landmarks.length, what).toBe(68 * 3);
  expect(face.vertices.length, what).toBe(VERTICES * 3);
  expect(face.positionMap.size).toBe(256);
  expect(face.positionMap.data.length).toBe(256 * 256 * 3);
  expect(face.vertices.every(Number.isFinite), what).toBe(true);
  expect(face.landmarks.every(Number.isFinite), what).toBe(true);
  // Read-offs come from the image-frame position map: vertices at the face pixels, landmarks at the 68 key pixels.
  const { faceIndex, kptIndex } = prnet.layout;
  for (let k = 0; k < VERTICES; k += 97) {
    for (let c = 0; c < 3; c++) expect(face.vertices[3 * k + c]).toBe(face.positionMap.data[3 * faceIndex[k] + c]);
  }
  for (let k = 0; k < 68; k++) {
    for (let c = 0; c < 3; c++) expect(face.landmarks[3 * k + c]).toBe(face.positionMap.data[3 * kptIndex[k] + c]);
  }
  expectInCrop(face.vertices, face.crop, what);
  // Pose: a proper rotation, positive scale, finite angles.
  const R = face.pose.rotation;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const dot = R[3 * i] * R[3 * j] + R[3 * i + 1] * R[3 * j + 1] + R[3 * i + 2] * R[3 * j + 2];
      expect(dot).toBeCloseTo(i === j ? 1 : 0, 4);
    }
  }
  const det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) + R[2] * (R[3] * R[7] - R[4] * R[6]);
  expect(det).toBeCloseTo(1, 4);
  expect(face.pose.scale).toBeGreaterThan(0);
  for (const a of [face.pose.yaw, face.pose.pitch, face.pose.roll]) expect(Number.isFinite(a)).toBe(true);
}

describe('createPrnet + reconstruct with the detector', () => {
  it('finds the 3 faces of the photo, largest first, inside the image', () => {
    expect(prnet.detector?.kind).toBe('blazeface');
    expect(prnet.session.config).toEqual(SMALL_CONFIG);
    const { faces } = result;
    expect(faces).toHaveLength(3);
    faces.forEach((f, i) => {
      expect(f.index).toBe(i);
      expect(f.box.score).toBeGreaterThan(0.5);
      expect(f.box.x).toBeGreaterThanOrEqual(0);
      expect(f.box.y).toBeGreaterThanOrEqual(0);
      expect(f.box.x + f.box.width).toBeLessThanOrEqual(image.width);
      expect(f.box.y + f.box.height).toBeLessThanOrEqual(image.height);
    });
    const areas = faces.map((f) => f.box.width * f.box.height);
    expect(areas[0]).toBeGreaterThanOrEqual(areas[1]);
    expect(areas[1]).toBeGreaterThanOrEqual(areas[2]);
  });

  it('each face: crop from the detector\'s box rule, finite read-offs in the image frame within the crop', () => {
    for (const face of result.faces) {
      const want = cropFromBox(face.box, 'blazeface');
      expect(face.crop.square).toEqual(want.square);
      expect(face.crop.size).toBe(256);
      expectFaceStructure(face, `face ${face.index}`);
    }
  });

  it('reports the time of every stage', () => {
    const t = result.timings;
    expect(Object.keys(t).sort()).toEqual(['crop', 'detect', 'network', 'readoff']);
    // Every stage does work on a photo with a face (each takes measurable time), and together they
    // are no more than the call's wall time, measured around it in beforeAll.
    for (const [k, v] of Object.entries(t)) expect(v, k).toBeGreaterThan(0);
    expect(t.detect + t.crop + t.network + t.readoff).toBeLessThanOrEqual(wall);
  });

  it('maxFaces keeps the largest ones; a face-free image gives no faces and no error', async () => {
    const two = await prnet.reconstruct(image, { maxFaces: 2 });
    expect(two.faces.map((f) => f.box)).toEqual(result.faces.slice(0, 2).map((f) => f.box));
    const none = await prnet.reconstruct(gradient);
    expect(none.faces).toEqual([]);
    expect(none.timings.network).toBeLessThan(5);
  });

  it('reconstructFile decodes and reconstructs', async () => {
    const r = await reconstructFile(prnet, GROUP_PHOTO, { maxFaces: 1 });
    expect([r.image.width, r.image.height]).toEqual([image.width, image.height]);
    expect(r.faces).toHaveLength(1);
    expect(r.faces[0].box).toEqual(result.faces[0].box);
  });

  it('refuses a malformed image with InputError', async () => {
    await expect(prnet.reconstruct({ width: 10, height: 10, data: new Uint8Array(299) })).rejects.toThrow(InputError);
  });
});

describe('reconstruct with boxes or crops (no detection)', () => {
  it('boxes: the user-box rule, no detector needed (detector: false), works where nothing would be detected', async () => {
    const bare = await createPrnet({ model: await testModelPath(), detector: false, threads: 1 });
    try {
      expect(bare.detector).toBeNull();
      await expect(bare.reconstruct(image)).rejects.toThrow(/no detector was loaded/);
      const boxes = result.faces.map((f) => f.box);
      const r = await bare.reconstruct(image, { boxes });
      expect(r.faces).toHaveLength(3);
      r.faces.forEach((f, i) => {
        // The box as given, without the detector's keypoints (a user box's crop does not use them).
        expect(f.box).toEqual({ x: boxes[i].x, y: boxes[i].y, width: boxes[i].width, height: boxes[i].height, score: boxes[i].score });
        expect(f.crop.square).toEqual(cropFromUserBox(boxes[i].x, boxes[i].y, boxes[i].width, boxes[i].height).square);
        expectFaceStructure(f, `box ${i}`);
      });
      expect(r.timings.detect).toBeLessThan(50);
      // A box without a score (the README's `{ x, y, width, height }`, typed as BoxInput) gets score 1.
      const box = { x: 100, y: 50, width: 90, height: 100 };
      const g = await bare.reconstruct(gradient, { boxes: [box] });
      expect(g.faces).toHaveLength(1);
      expect(g.faces[0].box).toEqual({ ...box, score: 1 });
      // A box whose sides are getters (a DOMRect, getBoundingClientRect()) keeps them; other fields are not carried.
      class Rect { get x(): number { return 100; } get y(): number { return 50; } get width(): number { return 90; } get height(): number { return 100; } }
      const fromRect = await bare.reconstruct(gradient, { boxes: [new Rect(), { ...box, extra: 'x' } as typeof box] });
      expect(fromRect.faces.map((f) => f.box)).toEqual([{ ...box, score: 1 }, { ...box, score: 1 }]);
      expectFaceStructure(g.faces[0], 'gradient box');
      await expect(bare.reconstruct(gradient, { boxes: [{ ...box, score: '0.9' as never }] })).rejects.toThrow(/^box 0's score must be a finite number, got "0.9"$/);
    } finally {
      await bare.dispose();
    }
  });

  it('crops: the same crops give the same faces; one crop alone gives the same face', async () => {
    const crops = result.faces.map((f) => f.crop);
    const again = await prnet.reconstruct(image, { crops });
    expect(again.faces).toHaveLength(3);
    again.faces.forEach((f, i) => {
      expect(f.crop).toEqual(crops[i]);
      expect(f.box.width).toBeCloseTo(crops[i].square.side, 6);
      expect(Array.from(f.vertices)).toEqual(Array.from(result.faces[i].vertices));
    });
    const one = await prnet.reconstruct(image, { crops: [crops[1]] });
    expect(one.faces).toHaveLength(1);
    let maxDiff = 0;
    for (let k = 0; k < one.faces[0].vertices.length; k++) maxDiff = Math.max(maxDiff, Math.abs(one.faces[0].vertices[k] - result.faces[1].vertices[k]));
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('concurrent calls on one pipeline (reused input and scratch arrays) give each call its own faces', async () => {
    const crops = result.faces.map((f) => f.crop);
    const alone: ReconstructResult[] = [];
    for (const crop of crops) alone.push(await prnet.reconstruct(image, { crops: [crop], flip: false }));
    const together = await Promise.all([2, 0, 1, 2, 0, 1].map((i) => prnet.reconstruct(image, { crops: [crops[i]], flip: false })));
    together.forEach((r, k) => {
      const i = [2, 0, 1, 2, 0, 1][k];
      expect(Array.from(r.faces[0].vertices), `call ${k}`).toEqual(Array.from(alone[i].faces[0].vertices));
      expect(r.faces[0].pose).toEqual(alone[i].faces[0].pose);
    });
  });

  it('a crowd goes through the network CHUNK_FACES at a time (bounded memory), each face as it would be alone; the reused inputs stay small', async () => {
    const pool = (p: Prnet): Float32Array[] => (p as unknown as { inputs: Float32Array[] }).inputs;
    const crops = result.faces.map((f) => f.crop);
    const session = prnet.session as unknown as { run: (input: Float32Array, n: number) => Promise<Float32Array> };
    const run = session.run.bind(session);
    const batches: number[] = [];
    session.run = (input, n) => { batches.push(n); return run(input, n); };
    let crowd: ReconstructResult;
    try {
      // 30 faces with the flip: 60 images in one run before (onnxruntime's memory grew ~55 MB per face).
      crowd = await prnet.reconstruct(image, { crops: Array.from({ length: 30 }, (_, i) => crops[i % crops.length]) });
    } finally {
      session.run = run;
    }
    expect(batches).toEqual([...Array(7).fill(2 * CHUNK_FACES), 2 * (30 - 7 * CHUNK_FACES)]);
    expect(crowd.faces.map((f) => f.index)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // Chunk boundaries keep each face with its own mirrored copy: every face is the one its crop gives.
    crowd.faces.forEach((f, i) => {
      const alone = result.faces[i % crops.length];
      let maxDiff = 0;
      for (let k = 0; k < f.vertices.length; k++) maxDiff = Math.max(maxDiff, Math.abs(f.vertices[k] - alone.vertices[k]));
      expect(maxDiff, `face ${i}`).toBeLessThan(1e-3);
    });
    // The reused inputs: at most two, none over a chunk's size.
    expect(pool(prnet).length).toBeLessThanOrEqual(2);
    for (const a of pool(prnet)) expect(a.length).toBeLessThanOrEqual(2 * CHUNK_FACES * 3 * 256 * 256);
  });
});

describe('buildOutputs and swapFaceTexture', () => {
  it('buildOutputs: the asked formats for every face, named <stem>_face<i>.*, per-image PNGs of the image size', async () => {
    const files = await buildOutputs('group', image, result.faces, prnet.layout, new Set(['json', 'glb', 'depth'] as const), encodePng);
    expect(files.map((f) => f.name)).toEqual(['group_face0.json', 'group_face0.glb', 'group_face1.json', 'group_face1.glb', 'group_face2.json', 'group_face2.glb', 'group_depth.png']);
    const json = JSON.parse(files[0].data as string) as { landmarks: { '2d': number[][] }; vertexCount: number; image: unknown };
    expect(json.landmarks['2d']).toHaveLength(68);
    expect(json.image).toEqual({ width: image.width, height: image.height });
    const named = await buildOutputs('group', image, result.faces.slice(0, 1), prnet.layout, ['json'], encodePng, { source: 'group.jpg' });
    expect((JSON.parse(named[0].data as string) as { image: unknown }).image).toEqual({ file: 'group.jpg', width: image.width, height: image.height });
    await expect(buildOutputs('group', image, result.faces, prnet.layout, ['json'], encodePng, { source: 3 as never })).rejects.toThrow(/^source must be the image's file name \(a string\), got 3$/);
    // a stem the textured OBJ could not name (it threw a RangeError about mtlFile): named as OBJ readers read back
    const odd = await buildOutputs('my photo #1', image, result.faces.slice(0, 1), prnet.layout, ['textured'], encodePng);
    expect(odd.map((f) => f.name)).toEqual(['my photo _1_face0_textured.obj', 'my photo _1_face0_textured.mtl', 'my photo _1_face0_texture.png']);
    await expect(buildOutputs('', image, result.faces, prnet.layout, ['json'], encodePng)).rejects.toThrow(/^stem must be a non-empty file name stem, got ""$/);
    expect(json.vertexCount).toBe(VERTICES);
    expect(parseGlb(files[1].data as Uint8Array).positions.length).toBe(VERTICES * 3);
    expect(pngSize(files[6].data as Uint8Array)).toEqual({ width: image.width, height: image.height });
    const all = await buildOutputs('g', image, result.faces.slice(0, 1), prnet.layout, new Set(OUTPUT_FORMATS), encodePng);
    expect(all).toHaveLength(11);
    expect(await buildOutputs('none', image, [], prnet.layout, new Set(OUTPUT_FORMATS), encodePng)).toEqual([]);
    // An array is as good as a Set (it was "formats.has is not a function"); an unknown name is an error, not no files.
    const fromArray = await buildOutputs('group', image, result.faces.slice(0, 1), prnet.layout, ['json'], encodePng);
    expect(fromArray.map((f) => [f.name, f.data])).toEqual([['group_face0.json', files[0].data]]);
    await expect(buildOutputs('g', image, result.faces, prnet.layout, new Set(['JSON'] as never[]), encodePng)).rejects.toThrow(/^unknown output format "JSON" \(known: json, obj, /);
    await expect(buildOutputs('g', image, result.faces, prnet.layout, 'json' as never, encodePng)).rejects.toThrow(/^formats must be a Set or an array/);
  });

  it('a large photo\'s depth and texture visibility use z-buffers over the faces\' pixels only, with the full z-buffer\'s results', async () => {
    // Over the 2 MP kept raster: the windowed depth path. Real faces (the bundled light model):
    // random weights give collapsed meshes.
    const light = await createPrnet({ model: 'light', threads: 1 });
    try {
      const big = await decodeImageBuffer(await sharp(GROUP_PHOTO).resize(2000).png().toBuffer(), 'big.png');
      expect(big.width * big.height).toBeGreaterThan(2_000_000);
      const { faces } = await light.reconstruct(big, { flip: false });
      expect(faces.length).toBeGreaterThanOrEqual(2);
      const [depth] = await buildOutputs('big', big, faces, light.layout, new Set(['depth'] as const), encodePng);
      const got = await sharp(depth.data as Uint8Array).extractChannel(0).raw().toBuffer();
      // The reference: one z-buffer over the whole photo.
      const full = createRaster(big.width, big.height);
      for (const f of faces) rasterize(f.vertices, light.layout.triangles, big.width, big.height, full);
      const want = depthToGreyIn(full, 0, 0, big.width - 1, big.height - 1, new Uint8Array(big.width * big.height));
      // Shifting float32 vertices by the window's origin can round them differently in the last
      // bit: a pixel centre on an edge may change sides. Otherwise the same picture.
      let differ = 0, covered = 0;
      for (let i = 0; i < want.length; i++) {
        if (want[i] > 0) covered++;
        if (want[i] !== got[i]) differ++;
      }
      expect(covered).toBeGreaterThan(10_000);
      expect(differ / covered).toBeLessThan(1e-3);
      // Visibility: the windowed z-buffer and the whole photo's give the same texels (up to such an edge).
      const L = light.layout;
      const face = faces[0];
      const whole = rasterize(gatherVertices(face.positionMap, L.faceIndex), L.triangles, big.width, big.height);
      const a = texelVisibility(face.positionMap, L.faceIndex, L.triangles, big.width, big.height, 2, whole);
      const b = texelVisibility(face.positionMap, L.faceIndex, L.triangles, big.width, big.height, 2);
      let mismatch = 0, seen = 0;
      for (let t = 0; t < a.length; t++) {
        if (a[t] !== b[t]) mismatch++;
        if (a[t]) seen++;
      }
      expect(seen).toBeGreaterThan(10_000);
      expect(mismatch / seen).toBeLessThan(1e-3);
    } finally {
      await light.dispose();
    }
  });

  it('RGBA pixels (as reconstruct takes them) give the RGB image\'s colours, texture, files and swap', async () => {
    const n = image.width * image.height;
    const rgba = new Uint8Array(4 * n);
    for (let i = 0; i < n; i++) rgba.set([image.data[3 * i], image.data[3 * i + 1], image.data[3 * i + 2], 255], 4 * i);
    const four = { width: image.width, height: image.height, data: rgba };
    const [face] = result.faces;
    expect(Array.from(faceColors(four, face))).toEqual(Array.from(faceColors(image, face)));
    expect(Array.from(faceTexture(four, face, prnet.layout).texture.data)).toEqual(Array.from(faceTexture(image, face, prnet.layout).texture.data));
    const formats = new Set(['textured', 'overlay'] as const);
    const fromRgba = await buildOutputs('g', four, [face], prnet.layout, formats, encodePng);
    const fromRgb = await buildOutputs('g', image, [face], prnet.layout, formats, encodePng);
    expect(fromRgba.map((f) => f.name)).toEqual(fromRgb.map((f) => f.name));
    fromRgba.forEach((f, i) => expect(Buffer.from(f.data as Uint8Array | string).equals(Buffer.from(fromRgb[i].data as Uint8Array | string)), f.name).toBe(true));
    const swapped = swapFaceTexture(four, face, four, result.faces[1], prnet.layout, { blend: false });
    expect(swapped.data.length).toBe(3 * n);
    expect(Array.from(swapped.data)).toEqual(Array.from(swapFaceTexture(image, face, image, result.faces[1], prnet.layout, { blend: false }).data));
  });

  it('swapFaceTexture: the source\'s face all over, also where a turned source does not show it (not the target\'s own skin)', async () => {
    // Real faces (the bundled light model): a source turned 62° (image00475, its far side unseen)
    // onto a frontal target. Pasted without blending, a pixel of the face that keeps the target's
    // colour came from the target's texture: a quarter of the face before (24 %), ~1 % by chance now.
    const light = await createPrnet({ model: 'light', threads: 1 });
    try {
      const source = await decodeImageFile(join(EVAL, 'aflw2000-3d', 'image00475.jpg'));
      const target = await decodeImageFile(ASTRONAUT);
      const [a] = (await light.reconstruct(source)).faces;
      const [b] = (await light.reconstruct(target)).faces;
      const keptShare = (out: { data: Uint8Array }): { changed: number; kept: number } => {
        let changed = 0, kept = 0;
        for (let i = 0; i < out.data.length; i += 3) {
          const d0 = Math.abs(out.data[i] - target.data[i]), d1 = Math.abs(out.data[i + 1] - target.data[i + 1]), d2 = Math.abs(out.data[i + 2] - target.data[i + 2]);
          if (d0 + d1 + d2 === 0) continue;
          changed++;
          if (d0 <= 8 && d1 <= 8 && d2 <= 8) kept++;
        }
        return { changed, kept };
      };
      const plain = keptShare(swapFaceTexture(source, a, target, b, light.layout, { blend: false }));
      expect(plain.changed).toBeGreaterThan(5000);
      expect(plain.kept / plain.changed).toBeLessThan(0.05);
      // --eyes: the target's own eyes stay, its photo's pixels as they are; the rest is the source's.
      const eyes = keptShare(swapFaceTexture(source, a, target, b, light.layout, { blend: false, keepEyes: true }));
      expect(eyes.changed).toBeLessThan(plain.changed - 100); // her eyes: ~150 pixels
      expect(eyes.kept / eyes.changed).toBeLessThan(0.05);
      // A grey target keeps grey eyes when blended: the blend no longer carries the step between the
      // source's skin and the target's eyes into them (a colour source turned them blue).
      const grey = await decodeImageFile(join(EVAL, 'aflw2000-3d', 'image00050.jpg'));
      for (let i = 0; i < grey.data.length; i += 3) grey.data[i] = grey.data[i + 1] = grey.data[i + 2] = Math.round((grey.data[i] + grey.data[i + 1] + grey.data[i + 2]) / 3);
      const [g] = (await light.reconstruct(grey)).faces;
      const colourful = await decodeImageFile(ASTRONAUT);
      const [c] = (await light.reconstruct(colourful)).faces;
      // The eye pixels: where pasting with the target's eyes differs from pasting without them.
      const [pastedEyes, pasted] = [true, false].map((keepEyes) => swapFaceTexture(colourful, c, grey, g, light.layout, { keepEyes, blend: false }).data);
      const eyeChroma = (out: RgbImage): number => {
        let sum = 0, n = 0;
        for (let i = 0; i < out.data.length; i += 3) {
          if (pastedEyes[i] === pasted[i] && pastedEyes[i + 1] === pasted[i + 1] && pastedEyes[i + 2] === pasted[i + 2]) continue;
          sum += Math.max(out.data[i], out.data[i + 1], out.data[i + 2]) - Math.min(out.data[i], out.data[i + 1], out.data[i + 2]);
          n++;
        }
        expect(n).toBeGreaterThan(50);
        return sum / n;
      };
      expect(eyeChroma(swapFaceTexture(colourful, c, grey, g, light.layout, {}))).toBeGreaterThan(8); // the source's eyes are coloured
      expect(eyeChroma(swapFaceTexture(colourful, c, grey, g, light.layout, { keepEyes: true }))).toBeLessThan(2);
    } finally {
      await light.dispose();
    }
  });

  it('swapFaceTexture: an image of the target\'s size, unchanged away from the target face', () => {
    const [a, b] = result.faces;
    for (const blend of [false, true]) {
      const out = swapFaceTexture(image, a, image, b, prnet.layout, { blend });
      expect([out.width, out.height, out.data.length]).toEqual([image.width, image.height, image.data.length]);
      // A pixel outside the target face's reach (its crop square, ×1.1) is untouched.
      const far = [0, 0];
      const [u, v] = applyAffine(b.crop.forward, far[0], far[1]);
      expect(u < 0 || v < 0 || u > OUT_MAX || v > OUT_MAX).toBe(true);
      const i = 3 * (far[1] * image.width + far[0]);
      expect(Array.from(out.data.subarray(i, i + 3))).toEqual(Array.from(image.data.subarray(i, i + 3)));
    }
  });
});

describe('createPrnet arguments and dispose', () => {
  it('an unknown detector or a bad maxDetections is an InputError before anything loads', async () => {
    // A model path that does not exist: were it loaded first, the error would be a ModelError about it.
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', detector: 'bogus' as never })).rejects.toThrow(/^unknown detector 'bogus' \(known: blazeface, /);
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', detector: 'bogus' as never })).rejects.toBeInstanceOf(InputError);
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', maxDetections: 0 })).rejects.toBeInstanceOf(InputError);
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', threads: 0 })).rejects.toThrow(/^threads must be a whole number ≥ 1, got 0$/);
    for (const minScore of [-0.1, 0, 0.05, 1.5, '0.3', NaN]) {
      await expect(createPrnet({ model: '/nonexistent/model.safetensors', minScore: minScore as never })).rejects.toThrow(/^minScore must be a number from 0\.1 to 1, got /);
    }
    // Names of Object's own properties are file names, not bundled models ("the bundled 'constructor' model is missing (function Object()…").
    await expect(createPrnet({ model: 'constructor' })).rejects.toThrow(/^no bundled model 'constructor' and no such file \(bundled models: default, light; /);
    await expect(createPrnet({ model: '__proto__' })).rejects.toThrow(/^no bundled model '__proto__' and no such file/);
    // A misspelt option (it loaded the default model with a detector, as if not given) names the one meant; undefined is no option.
    await expect(createPrnet({ modle: 'light' } as never)).rejects.toThrow(/^unknown createPrnet option 'modle' \(did you mean 'model'\?\) \(known: model, detector, threads, /);
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', detecter: false } as never)).rejects.toThrow(/^unknown createPrnet option 'detecter' \(did you mean 'detector'\?\)/);
    await expect(createPrnet({ modelUrl: 'm.safetensors' } as never)).rejects.toBeInstanceOf(InputError);
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', extra: undefined } as never)).rejects.toBeInstanceOf(ModelError);
  });

  it('says its model\'s card (modelMetadata): the bundled light model\'s name and licence, as in the browser entry', async () => {
    const p = await createPrnet({ model: 'light', detector: false, threads: 1 });
    try {
      const { parseModelFile } = await import('../src/model/weights.js');
      const { readFile } = await import('node:fs/promises');
      const file = join(REPO, 'assets/models/prnet-light.safetensors');
      const card = parseModelFile(new Uint8Array(await readFile(file)), file).metadata;
      expect(p.modelMetadata).toEqual(card);
      expect(p.modelMetadata.name).toBeTruthy();
      expect(p.modelMetadata.license).toMatch(/non-commercial/i);
      expect(Object.isFrozen(p.modelMetadata)).toBe(true);
    } finally {
      await p.dispose();
    }
  });

  it('takes a Detector of your own: its boxes cropped by the rule its kind names, not released by dispose; one without a kind is refused', async () => {
    const box = { x: 180, y: 80, width: 90, height: 100, score: 0.9 };
    let released = 0;
    const mine = { kind: 'dlib' as const, detect: async () => [box], release: async () => { released++; } };
    const p = await createPrnet({ model: await testModelPath(), detector: mine, threads: 1 });
    const [face] = (await p.reconstruct(image)).faces;
    const expected = cropFromUserBox(box.x, box.y, box.width, box.height).square;
    expect(face!.crop.square.cx).toBeCloseTo(expected.cx, 9);
    expect(face!.crop.square.side).toBeCloseTo(expected.side, 9);
    expect(await p.detect(image)).toEqual([box]);
    await p.dispose();
    expect(released).toBe(0); // the caller's, as in the browser entry
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', detector: { detect: async () => [] } as never })).rejects.toThrow(/^detector.kind must name the crop rule its boxes get: 'dlib' /);
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', detector: { kind: 'dlib' } as never })).rejects.toThrow(/^detector.detect must be a function$/);
    await expect(createPrnet({ model: '/nonexistent/model.safetensors', detector: mine, maxDetections: 1, tiles: false })).rejects.toThrow(/^maxDetections, tiles are options of the built-in detector, not of a Detector of your own/);
  });

  it("a Detector of your own is held to the rules of boxes: a result that is no array, a box not finite, empty, far larger than the image or outside it, or keypoints not BlazeFace's is an InputError naming it", async () => {
    let result: unknown = [];
    const p = await createPrnet({ model: await testModelPath(), threads: 1, detector: { kind: 'blazeface', detect: async () => result as FaceBox[] } });
    const ok = { x: 100, y: 80, width: 200, height: 220, score: 0.9 };
    const bad: [unknown, RegExp][] = [
      [null, /^the detector must return an array of face boxes, got null$/],
      [{ length: 1 }, /^the detector must return an array of face boxes/],
      [[ok, { ...ok, x: NaN }], /^the detector's box 1 must have finite x, y, width, height and score, got NaN,80,200,220,0\.9$/],
      [[{ ...ok, score: undefined }], /^the detector's box 0 must have finite x, y, width, height and score/],
      [[null], /^the detector's box 0 must have finite x, y, width, height and score, got null$/],
      [[{ ...ok, width: 0 }], /^the detector's box 0 \(100,80,0,220,0\.9\) must be between 1 and \d+ pixels wide and high/],
      [[{ ...ok, width: 2e9, height: 2e9 }], /must be between 1 and \d+ pixels wide and high/],
      [[{ ...ok, x: 1e7, y: 1e7 }], /^the detector's box 0 \(10000000,10000000,200,220,0\.9\) lies outside the 500×375 image$/],
      [[{ ...ok, keypoints: new Float32Array(8) }], /^the detector's box 0 has keypoints that are not BlazeFace's 6 points/],
      [[{ ...ok, keypoints: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, NaN) }], /^the detector's box 0 has keypoints that are not BlazeFace's 6 points/],
    ];
    for (const [r, re] of bad) {
      result = r;
      await expect(p.reconstruct(image), JSON.stringify(r)).rejects.toThrow(re);
      await expect(p.detect(image)).rejects.toBeInstanceOf(InputError);
    }
    // and the pipeline goes on
    result = [ok];
    expect((await p.reconstruct(image)).faces).toHaveLength(1);
    // options that are no object (an array read as no options)
    await expect(p.reconstruct(image, [] as never)).rejects.toThrow(/^reconstruct options must be an object, got an array$/);
    await p.dispose();
  });

  it('keypointDisagreement for a Detector of your own of kind blazeface: from its keypoints when the crop rule can use them, none when they were left behind by a moved box', async () => {
    const builtIn = await createPrnet({ model: await testModelPath(), threads: 1, orientation: false });
    const [found] = await builtIn.detect(image);
    const [ref] = (await builtIn.reconstruct(image, { maxFaces: 1 })).faces;
    expect(ref!.keypointDisagreement).toBeGreaterThan(0);
    const wrap = (box: typeof found): Promise<FaceBox[]> => Promise.resolve([box]);
    const same = await createPrnet({ model: await testModelPath(), threads: 1, detector: { kind: 'blazeface', detect: () => wrap(found!) } });
    expect((await same.reconstruct(image)).faces[0]!.keypointDisagreement).toBeCloseTo(ref!.keypointDisagreement!, 9);
    // the box moved by 1.5 sides, its keypoints left where they were: not used (nor by the crop rule)
    const moved = { ...found!, x: found!.x + 1.5 * found!.width };
    const left = await createPrnet({ model: await testModelPath(), threads: 1, detector: { kind: 'blazeface', detect: () => wrap(moved) } });
    expect((await left.reconstruct(image)).faces[0]!.keypointDisagreement).toBeUndefined();
    await Promise.all([builtIn.dispose(), same.dispose(), left.dispose()]);
  });

  it('dispose waits for the calls in flight, releases the detector it made (not one it was given), and refuses later calls', async () => {
    const own = await createPrnet({ model: await testModelPath(), threads: 1 });
    let released = 0;
    const real = own.detector!;
    const counting = { kind: real.kind, detect: (img: RgbImage) => real.detect(img), release: async () => { released++; await real.release?.(); } };
    const owner = new Prnet(own.session, own.layout, counting);
    const calls = [owner.reconstruct(image), owner.reconstruct(gradient)];
    await owner.dispose();
    // Both calls started before dispose finished, with their results.
    const [a, b] = await Promise.all(calls);
    expect(a.faces).toHaveLength(3);
    expect(b.faces).toHaveLength(0);
    expect(released).toBe(1);
    await expect(owner.reconstruct(image)).rejects.toThrow(/this pipeline was disposed/);
    // the program's error, not bad input (it was an InputError, which a service maps to a 4xx)
    await expect(owner.detect(image)).rejects.toBeInstanceOf(DisposedError);
    await expect(owner.reconstruct(image)).rejects.not.toBeInstanceOf(InputError);
    await expect(owner.reconstruct(image)).rejects.toHaveProperty('name', 'DisposedError');
    await owner.dispose(); // twice is fine

    const shared = await createPrnet({ model: await testModelPath(), threads: 1 });
    let sharedReleased = 0;
    const borrowed = new Prnet(shared.session, shared.layout, { kind: shared.detector!.kind, detect: (img) => shared.detector!.detect(img), release: async () => void sharedReleased++ }, false);
    await borrowed.dispose();
    expect(sharedReleased).toBe(0);
    await shared.detector!.release?.();
  });
});
