/**
 * buildOutputs keeps scratch between calls — the image PNGs' pixel buffers (given back to a pool
 * once encoded), the depth z-buffer, the overlay mask, the reused OBJ text, completeUvTexture's
 * working arrays — so the files it returns must still be the caller's: never changed by a later
 * call, no two of them sharing memory, and byte for byte what a process that never exported before
 * writes. With the bundled default model on real photos (one face, then three).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import { decodeImageFile, encodePng } from '../src/io/image-node.js';
import { triangulateFaceGrid } from '../src/layout/index.js';
import { createPrnet } from '../src/pipeline/node.js';
import { buildOutputs, OUTPUT_FORMATS, type OutputFile, type OutputFormat, type PngEncoder } from '../src/pipeline/outputs.js';
import type { Face } from '../src/pipeline/face.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import { createRaster, depthToGrey, drawLandmarks, drawMesh, drawPoseBox, faceStrokes, rasterize, wireframeStep } from '../src/render/index.js';
import type { RgbImage } from '../src/types.js';
import { ASTRONAUT, GROUP_PHOTO } from './helpers/paths.js';

let prnet: Prnet;
const cases: { stem: string; image: RgbImage; faces: Face[] }[] = [];

beforeAll(async () => {
  prnet = await createPrnet({ threads: 1 });
  for (const [stem, file, maxFaces] of [['one', ASTRONAUT, 1], ['group', GROUP_PHOTO, 3]] as const) {
    const image = await decodeImageFile(file);
    const { faces } = await prnet.reconstruct(image, { maxFaces });
    cases.push({ stem, image, faces });
  }
  // A photo above 16 megapixels (4096 × 4000), whose overlays are drawn and encoded one at a time.
  const small = await decodeImageFile(ASTRONAUT);
  const { data, info } = await sharp(small.data, { raw: { width: small.width, height: small.height, channels: 3 } }).resize(4096, 4000, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const large = { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  cases.push({ stem: 'large', image: large, faces: (await prnet.reconstruct(large, { maxFaces: 1 })).faces });
  expect(cases.map((c) => c.faces.length)).toEqual([1, 3, 1]);
});
afterAll(async () => {
  await prnet?.dispose();
});

const ALL = new Set(OUTPUT_FORMATS);
type Build = typeof buildOutputs;
const run = (build: Build, k: number, encode: PngEncoder = encodePng, formats: ReadonlySet<OutputFormat> = ALL): Promise<OutputFile[]> =>
  build(cases[k].stem, cases[k].image, cases[k].faces, prnet.layout, formats, encode);

/** The files' names and contents (as SHA-256 digests: deep equality of MB-sized buffers is slow), for comparing later. */
const snapshot = (files: OutputFile[]): string[] =>
  files.map((f) => `${f.name} ${createHash('sha256').update(f.data).digest('hex')}`);

/** Pairs of files whose bytes share memory (the same ArrayBuffer, overlapping ranges). */
function sharedMemory(files: OutputFile[]): string[] {
  const views = files.filter((f): f is OutputFile & { data: Uint8Array } => typeof f.data !== 'string');
  const pairs: string[] = [];
  for (let i = 0; i < views.length; i++) {
    for (let j = i + 1; j < views.length; j++) {
      const a = views[i].data, b = views[j].data;
      if (a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength) pairs.push(`${views[i].name} & ${views[j].name}`);
    }
  }
  return pairs;
}

/** A PNG's pixels: RGB, or the first channel of a grey image. */
async function pixels(png: OutputFile, grey: boolean): Promise<Buffer> {
  const decoded = sharp(png.data as Uint8Array);
  return (grey ? decoded.extractChannel(0) : decoded.removeAlpha()).raw().toBuffer();
}

/** The depth and overlay PNGs of a photo are what the public functions draw, face after face, on copies of the photo. */
async function expectPictures(files: OutputFile[], { stem, image, faces }: (typeof cases)[number]): Promise<void> {
  const { width, height } = image;
  const raster = createRaster(width, height);
  let lm = image, pose = image, mesh = image;
  for (const face of faces) {
    rasterize(face.vertices, prnet.layout.triangles, width, height, raster);
    // each face's strokes from its crop's side, and the wireframe buildOutputs draws: the face grid every `step` texels
    const s = faceStrokes(image, face.crop.square.side);
    lm = drawLandmarks(lm, face.landmarks, { dims: 3, radius: s.radius, thickness: s.lines });
    pose = drawPoseBox(pose, face.pose.rotation, face.pose.scale, face.pose.translation, { landmarks: face.landmarks, dims: 3, thickness: s.box });
    const step = wireframeStep(face.crop.square.side, prnet.layout.size, s.mesh);
    mesh = drawMesh(mesh, face.vertices, triangulateFaceGrid(prnet.layout.faceIndex, prnet.layout.size, step), { alpha: 0.6, thickness: s.mesh });
  }
  const want: [string, Uint8Array][] = [['depth', depthToGrey(raster).data], ['landmarks', lm.data], ['pose', pose.data], ['mesh', mesh.data]];
  for (const [kind, data] of want) {
    const file = files.find((f) => f.name === `${stem}_${kind}.png`);
    expect(file, kind).toBeDefined();
    expect(Buffer.compare(await pixels(file!, kind === 'depth'), Buffer.from(data)), kind).toBe(0);
  }
}

describe('buildOutputs reuses only its scratch', () => {
  it('returns files later calls do not change, sharing no memory, the bytes of a fresh process', async () => {
    const first = await run(buildOutputs, 0);
    const firstCopy = snapshot(first);
    const group = await run(buildOutputs, 1);
    const again = await run(buildOutputs, 0);
    // per face JSON, OBJ, textured OBJ + MTL + PNG, PLY, GLB; per photo the depth and 3 overlays
    expect(first.length).toBe(7 + 4);
    expect(group.length).toBe(3 * 7 + 4);
    // the first call's files after two more calls: as they were
    expect(snapshot(first)).toEqual(firstCopy);
    // the same face again: the same bytes, in new memory
    expect(snapshot(again)).toEqual(firstCopy);
    expect(sharedMemory([...first, ...group, ...again])).toEqual([]);
    // the pictures (drawn on kept buffers) are the ones the public drawing functions make
    await expectPictures(group, cases[1]);
    // a fresh copy of every module (no text, pixels or arrays kept from before) writes the same bytes
    vi.resetModules();
    const fresh = (await import('../src/pipeline/outputs.js')).buildOutputs;
    expect(snapshot(await run(fresh, 1))).toEqual(snapshot(group));
    expect(snapshot(await run(fresh, 0))).toEqual(firstCopy);
  });

  it('gives overlapping calls their own buffers', async () => {
    const one = snapshot(await run(buildOutputs, 0));
    const group = snapshot(await run(buildOutputs, 1));
    // An encoder that reads the pixels only after every call has drawn its pictures.
    const late: PngEncoder = async (data, width, height, channels) => {
      await new Promise((done) => setTimeout(done, 20));
      return encodePng(data, width, height, channels);
    };
    const overlapped = await Promise.all([run(buildOutputs, 0, late), run(buildOutputs, 1, late), run(buildOutputs, 0, late), run(buildOutputs, 1, late)]);
    expect(overlapped.map(snapshot)).toEqual([one, group, one, group]);
    expect(sharedMemory(overlapped.flat())).toEqual([]);
  });

  it('draws a large photo\'s overlays one at a time, from one copy, with the same pictures', async () => {
    let inFlight = 0, most = 0;
    const copies = new Set<ArrayBufferLike>();
    const counting: PngEncoder = async (data, width, height, channels) => {
      if (channels === 3 && width === 4096) copies.add(data.buffer);
      most = Math.max(most, ++inFlight);
      await new Promise((done) => setTimeout(done, 20));
      try {
        return await encodePng(data, width, height, channels);
      } finally {
        inFlight--;
      }
    };
    const images = new Set<OutputFormat>(['overlay']);
    const files = await run(buildOutputs, 2, counting, images);
    expect(files.map((f) => f.name)).toEqual(['large_landmarks.png', 'large_pose.png', 'large_mesh.png']);
    expect(most).toBe(1);
    expect(copies.size).toBe(1);
    await expectPictures(await run(buildOutputs, 2, encodePng, new Set(['overlay', 'depth'])), cases[2]);
    // Below the size, the three are encoded at once.
    most = 0;
    await run(buildOutputs, 0, counting, images);
    expect(most).toBe(3);
  });

  it('keeps the pixels an encoder returns as its bytes out of reuse', async () => {
    // An "encoder" that returns its input (raw pixels): those files are the pixel buffers themselves.
    const raw: PngEncoder = async (data) => data;
    const images = new Set<OutputFormat>(['depth', 'overlay']);
    const first = await run(buildOutputs, 0, raw, images);
    const copy = snapshot(first);
    expect(first.length).toBe(4);
    await run(buildOutputs, 1, raw, images);
    await run(buildOutputs, 0, raw, images);
    await run(buildOutputs, 1);
    expect(snapshot(first)).toEqual(copy);
    // The large photo's one-at-a-time overlays: each file keeps its own pixels.
    const large = await run(buildOutputs, 2, raw, new Set<OutputFormat>(['overlay']));
    expect(sharedMemory(large)).toEqual([]);
    expect(new Set(snapshot(large).map((l) => l.split(' ')[1])).size).toBe(3);
  });
});
