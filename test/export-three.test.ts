/**
 * The files `prnet reconstruct` writes, opened as a user opens them: the GLB through the Khronos
 * glTF validator and three.js's GLTFLoader, the OBJs through OBJLoader, the PLY through PLYLoader —
 * on a real reconstruction (the bundled default model, a frontal and a turned face from ../shared).
 * Checked: counts, UVs, normals, vertex colours = texture (OBJ, PLY; the GLB has the texture alone), orientation (y up, front faces towards
 * +z: a front-face-only ray from the camera hits the face, one from behind does not), units and
 * centring, and complete textures (no black texel inside the face).
 */
import { resolve } from 'node:path';
import sharp from 'sharp';
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OBJLoader } from 'three/addons/loaders/OBJLoader.js';
import { PLYLoader } from 'three/addons/loaders/PLYLoader.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uvFromFaceIndex, writeGlb, writeObj, writePly } from '../src/export/index.js';
import { writeAnimatedGlb } from '../src/export/glb-animation.js';
import { parseGlb } from './helpers/meshes.js';
import { decodeImageFile, encodePng } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { createSession } from '../src/runtime/node.js';
import { buildOutputs, OUTPUT_FORMATS, type OutputFile, type OutputOptions } from '../src/pipeline/outputs.js';
import { faceMesh, faceTexture, faceToJson, type Face } from '../src/pipeline/face.js';
import { swapFaceTexture } from '../src/pipeline/swap.js';
import { toModelFrame } from '../src/export/mesh.js';
import { toRgbImage } from '../src/io/pixels.js';
import { InputError } from '../src/errors.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import type { RgbImage } from '../src/types.js';
import { REPO, SHARED } from './helpers/paths.js';

// gltf-validator ships no types.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore
import * as validator from 'gltf-validator';

interface ValidatorReport {
  issues: { numErrors: number; numWarnings: number; numInfos: number; messages: { code: string; message: string; severity: number; pointer?: string }[] };
  info: { totalVertexCount?: number; totalTriangleCount?: number; hasTextures?: boolean; hasMaterials?: boolean };
}
const validateBytes = (validator as unknown as { validateBytes: (b: Uint8Array, o?: object) => Promise<ValidatorReport> }).validateBytes;

const FRONTAL = resolve(REPO, 'examples/astronaut.jpg');
const TURNED = resolve(SHARED, 'eval/aflw2000-3d/image00475.jpg'); // yaw ≈ 66°
const BOXES = {
  frontal: { x: 177.5, y: 69.5, width: 93, height: 105, score: 1 },
  turned: { x: 181.5, y: 173.5, width: 160, height: 165, score: 1 },
};

// GLTFLoader decodes embedded images with self.URL, fetch and createImageBitmap: in Node, decode with sharp.
(globalThis as Record<string, unknown>).self ??= globalThis;
(globalThis as Record<string, unknown>).createImageBitmap ??= async (blob: Blob) => {
  const { data, info } = await sharp(Buffer.from(await blob.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data, close: () => {} };
};

let prnet: Prnet;
const cases: Record<'frontal' | 'turned', { image: RgbImage; face: Face; files: Map<string, OutputFile['data']> }> = {} as never;

async function outputs(image: RgbImage, face: Face, options?: OutputOptions): Promise<Map<string, OutputFile['data']>> {
  const files = await buildOutputs('f', image, [face], prnet.layout, new Set(OUTPUT_FORMATS.filter((f) => f !== 'overlay' && f !== 'depth')), encodePng, options);
  return new Map(files.map((f) => [f.name, f.data]));
}

beforeAll(async () => {
  prnet = await createPrnet({ detector: false, threads: 2 });
  for (const [name, file] of [['frontal', FRONTAL], ['turned', TURNED]] as const) {
    const image = await decodeImageFile(file);
    const { faces } = await prnet.reconstruct(image, { boxes: [BOXES[name]] });
    cases[name] = { image, face: faces[0], files: await outputs(image, faces[0]) };
  }
}, 60_000);
afterAll(async () => {
  await prnet?.dispose();
});

const bytesOf = (d: OutputFile['data']): Uint8Array => (typeof d === 'string' ? new TextEncoder().encode(d) : d);
const textOf = (d: OutputFile['data']): string => (typeof d === 'string' ? d : new TextDecoder().decode(d));
const arrayBuffer = (d: OutputFile['data']): ArrayBuffer => {
  const b = bytesOf(d);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};

function loadGlb(d: OutputFile['data']): Promise<THREE.Group> {
  return new Promise((res, rej) => new GLTFLoader().parse(arrayBuffer(d), '', (gltf) => res(gltf.scene), rej));
}

function theMesh(root: THREE.Object3D): THREE.Mesh {
  const meshes: THREE.Mesh[] = [];
  root.traverse((o) => {
    if ((o as THREE.Mesh).isMesh) meshes.push(o as THREE.Mesh);
  });
  expect(meshes).toHaveLength(1);
  return meshes[0];
}

/**
 * Orientation as a renderer sees it: with back faces culled (FrontSide), a ray from a camera on
 * +z looking down −z hits the face, a ray from behind (−z looking +z) does not (checked for a
 * frontal face: a turned face shows part of its front to −z as well).
 */
function expectFrontTowardsPlusZ(mesh: THREE.Mesh, frontal = true): void {
  const m = mesh.clone();
  m.material = new THREE.MeshBasicMaterial({ side: THREE.FrontSide });
  m.updateMatrixWorld(true);
  const box = new THREE.Box3().setFromObject(m);
  const size = box.getSize(new THREE.Vector3());
  const c = box.getCenter(new THREE.Vector3());
  const ray = new THREE.Raycaster();
  let front = 0, back = 0, tries = 0;
  for (const fx of [-0.2, 0, 0.2]) {
    for (const fy of [-0.2, 0, 0.2]) {
      const x = c.x + fx * size.x, y = c.y + fy * size.y;
      tries++;
      ray.set(new THREE.Vector3(x, y, box.max.z + size.z), new THREE.Vector3(0, 0, -1));
      if (ray.intersectObject(m).length) front++;
      ray.set(new THREE.Vector3(x, y, box.min.z - size.z), new THREE.Vector3(0, 0, 1));
      if (ray.intersectObject(m).length) back++;
    }
  }
  expect(front).toBe(tries);
  if (frontal) expect(back).toBe(0);
}

/** y up: the eyes' row is above the mouth's in the mesh (model-frame y of the landmarks' nearest vertices). */
function expectUpright(geometry: THREE.BufferGeometry, face: Face, toModel: (x: number, y: number, z: number) => THREE.Vector3): void {
  const lm = face.landmarks;
  const at = (i: number) => toModel(lm[3 * i], lm[3 * i + 1], lm[3 * i + 2]);
  const eyes = at(36).add(at(45)).multiplyScalar(0.5);
  const mouth = at(48).add(at(54)).multiplyScalar(0.5);
  expect(eyes.y).toBeGreaterThan(mouth.y);
  // …and those points lie on the loaded surface (the mesh frame is what the JSON says).
  const pos = geometry.getAttribute('position');
  let best = Infinity;
  const p = new THREE.Vector3();
  const nose = at(30);
  for (let i = 0; i < pos.count; i++) best = Math.min(best, p.fromBufferAttribute(pos, i).distanceTo(nose));
  const size = new THREE.Box3().setFromBufferAttribute(pos as THREE.BufferAttribute).getSize(new THREE.Vector3());
  expect(best).toBeLessThan(1e-3 * size.x);
}

/** Unit normals that agree with the geometry's own (three's computeVertexNormals from the winding). */
function expectNormals(geometry: THREE.BufferGeometry): void {
  const n = geometry.getAttribute('normal');
  expect(n).toBeDefined();
  const ours = Float32Array.from(n.array as ArrayLike<number>);
  const g = geometry.clone();
  g.computeVertexNormals();
  const theirs = g.getAttribute('normal').array;
  let agree = 0, unit = 0;
  // Indexed: smooth normals from the winding agree closely. OBJLoader de-indexes, so its computed
  // normals are the (noisy, 0.5-pixel) triangles' own: they must lie on the same side.
  const limit = geometry.index ? 0.9 : 0;
  for (let i = 0; i < ours.length; i += 3) {
    const len = Math.hypot(ours[i], ours[i + 1], ours[i + 2]);
    if (Math.abs(len - 1) < 1e-3) unit++;
    if (ours[i] * theirs[i] + ours[i + 1] * theirs[i + 1] + ours[i + 2] * theirs[i + 2] > limit) agree++;
  }
  expect(unit / (ours.length / 3)).toBe(1);
  expect(agree / (ours.length / 3)).toBeGreaterThan(geometry.index ? 0.999 : 0.9);
}

function modelFrame(json: { mesh: { unitsPerPixel: number; origin: number[] | null } }, glb: boolean) {
  const s = json.mesh.unitsPerPixel / (glb ? 1000 : 1);
  const [ox, oy, oz] = json.mesh.origin!;
  return (x: number, y: number, z: number) => new THREE.Vector3(s * (x - ox), s * (oy - y), s * (z - oz));
}

describe('GLB', () => {
  it('passes the Khronos glTF validator: 0 errors, 0 warnings, with texture', async () => {
    for (const c of Object.values(cases)) {
      const report = await validateBytes(bytesOf(c.files.get('f_face0.glb')!));
      const problems = report.issues.messages.filter((m) => m.severity <= 1).map((m) => `${m.code} ${m.pointer ?? ''}: ${m.message}`);
      expect(problems).toEqual([]);
      expect(report.issues.numErrors).toBe(0);
      expect(report.issues.numWarnings).toBe(0);
      expect(report.info.hasTextures).toBe(true);
      expect(report.info.totalVertexCount).toBe(prnet.layout.vertexCount);
      expect(report.info.totalTriangleCount).toBe(prnet.layout.triangleCount);
    }
  });

  it('loads in three.js: counts, UVs, normals, the embedded 256² texture and no vertex colours, metres, centred, upright, front towards +z', async () => {
    const { face, files } = cases.frontal;
    const mesh = theMesh(await loadGlb(files.get('f_face0.glb')!));
    const g = mesh.geometry;
    const L = prnet.layout;
    expect(g.getAttribute('position').count).toBe(L.vertexCount);
    expect(g.index!.count).toBe(3 * L.triangleCount);
    const uv = g.getAttribute('uv');
    const expected = uvFromFaceIndex(L.faceIndex, L.size);
    for (let i = 0; i < L.vertexCount; i += 997) {
      expect(uv.getX(i)).toBeCloseTo(expected[2 * i], 6);
      expect(uv.getY(i)).toBeCloseTo(expected[2 * i + 1], 6);
    }
    expectNormals(g);
    const material = mesh.material as THREE.MeshStandardMaterial;
    expect(material.map).toBeTruthy();
    const image = material.map!.image as { width: number; height: number };
    expect([image.width, image.height]).toEqual([256, 256]);
    // No vertex colours: three.js would multiply them into the texture (each colour squared).
    expect(material.vertexColors).toBe(false);
    expect(g.getAttribute('color')).toBeUndefined();
    // Life-size in metres (a face 12–25 cm wide), centred at the origin.
    const box = new THREE.Box3().setFromObject(mesh);
    const size = box.getSize(new THREE.Vector3());
    expect(size.x).toBeGreaterThan(0.12);
    expect(size.x).toBeLessThan(0.25);
    expect(box.getCenter(new THREE.Vector3()).length()).toBeLessThan(1e-6);
    const json = JSON.parse(files.get('f_face0.json') as string);
    expectUpright(g, face, modelFrame(json, true));
    expectFrontTowardsPlusZ(mesh);
  });
});

describe('the mesh writers with a face\'s frame', () => {
  it('writeGlb with faceMesh\'s frame (millimetres) writes metres, as buildOutputs\' GLB; units without a scale are refused', () => {
    const { face, files } = cases.frontal;
    const L = prnet.layout;
    const { frame } = faceMesh(face, L);
    expect(frame.units).toBe('mm');
    const ours = parseGlb(writeGlb({ vertices: face.vertices, triangles: L.triangles }, frame)).positions;
    const theirs = parseGlb(bytesOf(files.get('f_face0.glb')!)).positions;
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    expect(worst).toBeLessThan(1e-6); // metres: a face ~0.15 wide, not 150
    let wide = 0;
    for (let i = 0; i < ours.length; i += 3) wide = Math.max(wide, Math.abs(ours[i]));
    expect(wide).toBeGreaterThan(0.05);
    expect(wide).toBeLessThan(0.15);
    // 'mm' names a scale: alone it would label pixels as millimetres.
    for (const write of [() => writeObj(face.vertices, L.triangles, undefined, { units: 'mm' }), () => writePly(face.vertices, L.triangles, undefined, { units: 'm' }), () => writeGlb({ vertices: face.vertices, triangles: L.triangles }, { units: 'mm' })]) {
      expect(write).toThrow(InputError);
      expect(write).toThrow(/^units '(mm|m)' names a scale that was not given: pass scale too/);
    }
    expect(writeObj(face.vertices, L.triangles, undefined, frame)).toMatch(/millimetres/);
    // the scale is checked as given, before the conversion (-5 was said as -0.005)
    expect(() => writeGlb({ vertices: face.vertices, triangles: L.triangles }, { units: 'mm', scale: -5 })).toThrow(/^scale must be a finite number > 0, got -5$/);
    // the animated GLB follows the same rules
    const anim = { frames: [face.vertices], times: [0], triangles: L.triangles };
    expect(() => writeAnimatedGlb(anim, { units: 'mm' })).toThrow(/^units 'mm' names a scale that was not given/);
    const still = parseGlb(writeAnimatedGlb(anim, frame)).positions;
    let animWide = 0;
    for (let i = 0; i < still.length; i += 3) animWide = Math.max(animWide, Math.abs(still[i]));
    expect(animWide).toBeCloseTo(wide, 6);
  });

  it('faceTexture and swapFaceTexture take null options as none, as faceMesh and buildOutputs do (a TypeError before)', () => {
    const { face, image } = cases.frontal;
    const L = prnet.layout;
    expect(faceTexture(image, face, L, null as never).texture.width).toBe(256);
    expect(swapFaceTexture(image, face, image, face, L, null as never).width).toBe(image.width);
  });

  it('a misspelt option of faceMesh, faceTexture or buildOutputs is an InputError naming the one meant (it was dropped without a word)', async () => {
    const { face, image } = cases.frontal;
    const L = prnet.layout;
    expect(() => faceMesh(face, L, { centre: false } as never)).toThrow(/^unknown faceMesh option 'centre' \(did you mean 'center'\?\)/);
    expect(() => faceTexture(image, face, L, { sise: 512 } as never)).toThrow(/^unknown faceTexture option 'sise' \(did you mean 'size'\?\)/);
    await expect(buildOutputs('f', image, [face], L, ['json'], encodePng, { unit: 'px' } as never)).rejects.toThrow(/^unknown buildOutputs option 'unit' \(did you mean 'units'\?\)/);
    await expect(buildOutputs('f', image, [face], L, ['json'], encodePng, { textureSize: 300 })).rejects.toThrow(InputError);
    await expect(buildOutputs('f', image, [face], L, ['glb'], undefined as never)).rejects.toThrow(/^encodePng must be a function/);
  });

  it('the writers, swapFaceTexture, createSession and encodePng refuse a misspelt option, and a switch that is not true or false (each was dropped, or \'no\' read as true)', async () => {
    const { face, image } = cases.frontal;
    const L = prnet.layout;
    const m = faceMesh(face, L);
    const tri = L.triangles;
    expect(() => writeObj(m.positions, tri, undefined, { ...m.frame, decimal: 1 } as never)).toThrow(/^unknown writeObj option 'decimal' \(did you mean 'decimals'\?\)/);
    expect(() => writePly(m.positions, tri, undefined, { formt: 'ascii' } as never)).toThrow(/^unknown writePly option 'formt' \(did you mean 'format'\?\)/);
    expect(() => writeGlb({ vertices: m.positions, triangles: tri }, { nmae: 'x' } as never)).toThrow(/^unknown writeGlb option 'nmae' \(did you mean 'name'\?\)/);
    expect(() => swapFaceTexture(image, face, image, face, L, { eyes: true } as never)).toThrow(/^unknown swapFaceTexture option 'eyes' \(did you mean 'keepEyes'\?\)/);
    expect(() => swapFaceTexture(image, face, image, face, L, { blend: 'false' } as never)).toThrow(/^swapFaceTexture option blend must be true or false, got "false"$/);
    expect(() => faceMesh(face, L, { center: 'no' } as never)).toThrow(/^faceMesh option center must be true or false/);
    expect(() => faceTexture(image, face, L, { complete: 'no' } as never)).toThrow(/^faceTexture option complete must be true or false/);
    await expect(buildOutputs('f', image, [face], L, ['json'], encodePng, { center: 'no' } as never)).rejects.toThrow(/^buildOutputs option center must be true or false/);
    await expect(encodePng(new Uint8Array(12), 2, 2, 3, { compression: 9 } as never)).rejects.toThrow(/^unknown encodePng option 'compression' \(did you mean 'compressionLevel'\?\)/);
    await expect(createSession(resolve(REPO, 'assets/models/prnet-light.safetensors'), { precison: 'int8' } as never)).rejects.toThrow(/^unknown createSession option 'precison' \(did you mean 'precision'\?\)/);
  });

  it('buildOutputs: faces of one index (from separate reconstruct calls), a stem with a folder, faces or a layout of the wrong kind are InputErrors (clashing names, an MTL pointing nowhere, TypeErrors)', async () => {
    const { face, image } = cases.frontal;
    const L = prnet.layout;
    await expect(buildOutputs('f', image, [face, face], L, ['json'], encodePng)).rejects.toThrow(/^two faces have the index 0/);
    expect((await buildOutputs('f', image, [face, { ...face, index: 1 }], L, ['json'], encodePng)).map((f) => f.name)).toEqual(['f_face0.json', 'f_face1.json']);
    await expect(buildOutputs('out/f', image, [face], L, ['obj'], encodePng)).rejects.toThrow(/^stem must be a file name stem, not a path/);
    // (a backslash is a name's character on POSIX: the CLI's stem of astro\naut.png)
    expect((await buildOutputs('astro\\naut', image, [face], L, ['json'], encodePng)).map((f) => f.name)).toEqual(['astro\\naut_face0.json']);
    await expect(buildOutputs('f', image, { faces: [face] } as never, L, ['json'], encodePng)).rejects.toThrow(/^faces must be an array of faces/);
    await expect(buildOutputs('f', image, [face], prnet as never, ['json'], encodePng)).rejects.toThrow(/^layout must be the pipeline's layout/);
  });
});

describe('OBJ and PLY', () => {
  it('textured OBJ loads in three.js: UVs (v up), normals, upright, front towards +z, millimetres', () => {
    const { face, files } = cases.frontal;
    const root = new OBJLoader().parse(textOf(files.get('f_face0_textured.obj')!));
    const mesh = theMesh(root);
    const g = mesh.geometry;
    const L = prnet.layout;
    // OBJLoader de-indexes: one vertex per triangle corner.
    expect(g.getAttribute('position').count).toBe(3 * L.triangleCount);
    const uv = g.getAttribute('uv');
    const expected = uvFromFaceIndex(L.faceIndex, L.size);
    for (let k = 0; k < 3 * L.triangleCount; k += 1009) {
      const v = L.triangles[k];
      expect(uv.getX(k)).toBeCloseTo(expected[2 * v], 5);
      expect(uv.getY(k)).toBeCloseTo(1 - expected[2 * v + 1], 5);
    }
    expectNormals(g);
    const json = JSON.parse(files.get('f_face0.json') as string);
    expect(json.mesh.units).toBe('mm');
    const size = new THREE.Box3().setFromObject(mesh).getSize(new THREE.Vector3());
    expect(size.x).toBeGreaterThan(120);
    expect(size.x).toBeLessThan(250);
    expectUpright(g, face, modelFrame(json, false));
    expectFrontTowardsPlusZ(mesh);
    expect(textOf(files.get('f_face0_textured.obj')!)).toMatch(/\ns 1\n/);
  });

  it('vertex-colour OBJ loads with colours and normals', () => {
    const mesh = theMesh(new OBJLoader().parse(textOf(cases.frontal.files.get('f_face0.obj')!)));
    expect(mesh.geometry.getAttribute('color').count).toBe(3 * prnet.layout.triangleCount);
    expectNormals(mesh.geometry);
    expectFrontTowardsPlusZ(mesh);
  });

  it('PLY loads in three.js: indexed, normals, colours = texture, front towards +z', async () => {
    const { face, files } = cases.turned;
    const g = new PLYLoader().parse(arrayBuffer(files.get('f_face0.ply')!));
    const L = prnet.layout;
    expect(g.getAttribute('position').count).toBe(L.vertexCount);
    expect(g.index!.count).toBe(3 * L.triangleCount);
    expectNormals(g);
    const tex = await sharp(bytesOf(files.get('f_face0_texture.png')!)).raw().toBuffer();
    const col = g.getAttribute('color');
    let worst = 0;
    for (let i = 0; i < L.vertexCount; i += 101) {
      const p = L.faceIndex[i];
      // PLYLoader converts the file's sRGB bytes to linear bytes.
      const c = new THREE.Color().setRGB(tex[3 * p] / 255, tex[3 * p + 1] / 255, tex[3 * p + 2] / 255, THREE.SRGBColorSpace);
      worst = Math.max(worst, Math.abs(col.getX(i) - c.r), Math.abs(col.getY(i) - c.g), Math.abs(col.getZ(i) - c.b));
    }
    expect(worst * 255).toBeLessThan(0.51);
    const mesh = new THREE.Mesh(g);
    expectFrontTowardsPlusZ(mesh, false);
    expectUpright(g, face, modelFrame(JSON.parse(files.get('f_face0.json') as string), false));
  });
});

describe('complete textures', () => {
  const blackInFace = (data: Uint8Array): number => {
    let black = 0;
    for (const p of prnet.layout.faceIndex) if (data[3 * p] === 0 && data[3 * p + 1] === 0 && data[3 * p + 2] === 0) black++;
    return black / prnet.layout.vertexCount;
  };

  it('no black texel inside the face (frontal and turned), where the plain texture has many', async () => {
    for (const [name, c] of Object.entries(cases)) {
      const written = await sharp(bytesOf(c.files.get('f_face0_texture.png')!)).raw().toBuffer();
      expect(blackInFace(written), name).toBe(0);
      const plain = faceTexture(c.image, c.face, prnet.layout, { complete: false });
      expect(blackInFace(plain.texture.data), name).toBeGreaterThan(name === 'turned' ? 0.3 : 0.1);
      // Where the photo shows the texel, the complete texture keeps the photo's colour.
      const full = faceTexture(c.image, c.face, prnet.layout);
      let same = 0, seen = 0;
      for (const p of prnet.layout.faceIndex) {
        if (!plain.mask[p] || !full.mask[p]) continue;
        seen++;
        if (Math.abs(plain.texture.data[3 * p] - full.texture.data[3 * p]) <= 1) same++;
      }
      expect(same / seen, name).toBeGreaterThan(0.8);
    }
  });

  it('the turned face takes its far side from the mirrored near side', () => {
    const { image, face } = cases.turned;
    const t = faceTexture(image, face, prnet.layout);
    expect(t.sources!.mirrored).toBeGreaterThan(0.3);
    expect(t.sources!.own + t.sources!.mirrored + t.sources!.filled).toBeCloseTo(1, 6);
  });

  it('a 1024² texture: no black texel inside the face, close to the 256² one where both are smooth', () => {
    const { image, face } = cases.turned;
    const small = faceTexture(image, face, prnet.layout).texture;
    const big = faceTexture(image, face, prnet.layout, { size: 1024 }).texture;
    expect([big.width, big.height]).toEqual([1024, 1024]);
    let black = 0, diff = 0, n = 0;
    for (const p of prnet.layout.faceIndex) {
      const x = p % 256, y = (p - x) / 256;
      const q = (4 * y + 2) * 1024 + (4 * x + 2);
      if (big.data[3 * q] === 0 && big.data[3 * q + 1] === 0 && big.data[3 * q + 2] === 0) black++;
      diff += Math.abs(big.data[3 * q + 1] - small.data[3 * p + 1]);
      n++;
    }
    expect(black).toBe(0);
    expect(diff / n).toBeLessThan(12);
  });
});

describe('units and placement', () => {
  it('px without centring reproduces the image placement (y = height − 1 − y); mm is ~63 mm between the eyes', async () => {
    const { image, face } = cases.frontal;
    const files = await outputs(image, face, { units: 'px', center: false });
    const g = new PLYLoader().parse(arrayBuffer(files.get('f_face0.ply')!));
    const pos = g.getAttribute('position');
    const v = face.vertices;
    for (let i = 0; i < pos.count; i += 503) {
      expect(pos.getX(i)).toBeCloseTo(v[3 * i], 3);
      expect(pos.getY(i)).toBeCloseTo(image.height - 1 - v[3 * i + 1], 3);
      expect(pos.getZ(i)).toBeCloseTo(v[3 * i + 2], 3);
    }
    const json = JSON.parse(files.get('f_face0.json') as string);
    expect(json.mesh).toMatchObject({ units: 'px', unitsPerPixel: 1, origin: null });
    const report = await validateBytes(bytesOf(files.get('f_face0.glb')!));
    expect([report.issues.numErrors, report.issues.numWarnings]).toEqual([0, 0]);
    // mm: the eye centres (landmarks 36–41, 42–47) are 63 mm apart in the default files.
    const mm = JSON.parse(cases.frontal.files.get('f_face0.json') as string).mesh.unitsPerPixel as number;
    const lm = face.landmarks;
    const eye = (a: number) => [0, 1, 2].map((d) => [0, 1, 2, 3, 4, 5].reduce((s, k) => s + lm[3 * (a + k) + d], 0) / 6);
    const [l, r] = [eye(36), eye(42)];
    expect(mm * Math.hypot(l[0] - r[0], l[1] - r[1], l[2] - r[2])).toBeCloseTo(63, 1); // the JSON keeps 3 decimals of the scale
  });
});

describe('library results for three.js', () => {
  it('faceMesh → BufferGeometry (docs/threejs.md): same mesh as the GLB, Uint32 indices, front towards +z', async () => {
    const { face, image, files } = cases.frontal;
    const L = prnet.layout;
    // As in docs/threejs.md:
    const m = faceMesh(face, L); // millimetres, centred
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(m.positions, 3));
    geometry.setAttribute('normal', new THREE.BufferAttribute(m.normals, 3));
    geometry.setAttribute('uv', new THREE.BufferAttribute(m.uv, 2));
    geometry.setIndex(new THREE.BufferAttribute(m.indices, 1));
    const mesh = new THREE.Mesh(geometry, new THREE.MeshStandardMaterial());
    expect(m.indices).toBeInstanceOf(Uint32Array);
    expect(m.indices).toBe(L.indices);
    expect(Array.from(L.indices.subarray(0, 999))).toEqual(Array.from(L.triangles.subarray(0, 999)));
    expect(L.indices.buffer).toBe(L.triangles.buffer);
    expectNormals(geometry);
    expectFrontTowardsPlusZ(mesh);
    // The GLB holds the same positions, in metres.
    const glb = theMesh(await loadGlb(files.get('f_face0.glb')!)).geometry.getAttribute('position');
    for (let i = 0; i < L.vertexCount; i += 1013) expect(glb.getY(i) * 1000).toBeCloseTo(m.positions[3 * i + 1], 2);
    // px, not centred: the image placement with y flipped.
    const px = faceMesh(face, L, { units: 'px', center: false, imageHeight: image.height });
    expect(px.positions[1]).toBeCloseTo(image.height - 1 - face.vertices[1], 3);
    // A bad image height is a RangeError, not NaN positions.
    expect(() => faceMesh(face, L, { units: 'px', center: false, imageHeight: NaN })).toThrow(/imageHeight must be a whole number ≥ 1, got NaN/);
    // a face that is not this layout's: its indices pointed past its positions
    expect(() => faceMesh({ ...face, vertices: face.vertices.subarray(0, 300) }, L)).toThrow(/^the face has 100 vertices, the layout 43867: not this layout's face$/);
    expect(faceMesh(face, L, null as never).positions).toEqual(m.positions);
  });

  it('the pose as a 4×4 column-major matrix: image frame on face.pose, mesh frame on faceMesh', () => {
    const { face } = cases.turned;
    const L = prnet.layout;
    const { rotation: R, scale, translation: t, matrix } = face.pose;
    const M = new THREE.Matrix4().fromArray(matrix);
    // Matrix4.elements is column-major: element (row 0, column 1) at index 4.
    expect(M.elements[4]).toBeCloseTo(scale * R[1], 9);
    expect(M.elements[12]).toBeCloseTo(t[0], 9);
    // It maps the canonical face onto the vertices as well as the 3×3 form does.
    const m = faceMesh(face, L);
    const P = new THREE.Matrix4().fromArray(m.poseMatrix);
    const c = L.canonical;
    let errImage = 0, errMesh = 0, n = 0;
    const v = new THREE.Vector3();
    const size = new THREE.Box3().setFromArray(m.positions).getSize(new THREE.Vector3()).x;
    for (let i = 0; i < L.vertexCount; i += 97) {
      v.set(c[3 * i], c[3 * i + 1], c[3 * i + 2]).applyMatrix4(M);
      errImage += v.distanceTo(new THREE.Vector3(face.vertices[3 * i], face.vertices[3 * i + 1], face.vertices[3 * i + 2]));
      v.set(c[3 * i], -c[3 * i + 1], c[3 * i + 2]).applyMatrix4(P);
      errMesh += v.distanceTo(new THREE.Vector3(m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]));
      n++;
    }
    const imageSize = face.crop.square.side;
    // The fit's residual: a few % of the face size, the same in both frames.
    expect(errImage / n / imageSize).toBeLessThan(0.05);
    expect(errMesh / n / size).toBeLessThan(0.05);
    // A rotation with positive scale (no mirror) in the mesh frame: det > 0, and the turned face's
    // yaw shows as a rotation about y.
    expect(P.determinant()).toBeGreaterThan(0);
    const q = new THREE.Quaternion();
    P.decompose(new THREE.Vector3(), q, new THREE.Vector3());
    const e = new THREE.Euler().setFromQuaternion(q, 'XYZ');
    expect(Math.abs((e.y * 180) / Math.PI)).toBeGreaterThan(40);
  });

  it("headMatrix puts a life-size object on the face's centre, turned with the head: the face in the head's frame is frontal and upright about its origin; the photo GLB and JSON carry it", async () => {
    const { face } = cases.turned;
    const L = prnet.layout;
    const m = faceMesh(face, L);
    const H = new THREE.Matrix4().fromArray(m.headMatrix);
    // Rigid (no scale, no mirror), with poseMatrix's rotation.
    const pos = new THREE.Vector3(), q = new THREE.Quaternion(), sc = new THREE.Vector3(), qp = new THREE.Quaternion();
    H.decompose(pos, q, sc);
    for (const k of [sc.x, sc.y, sc.z]) expect(k).toBeCloseTo(1, 9);
    new THREE.Matrix4().fromArray(m.poseMatrix).decompose(new THREE.Vector3(), qp, new THREE.Vector3());
    expect(Math.abs(q.dot(qp))).toBeCloseTo(1, 9);
    // The mesh in the head's frame: centred (its mean within 3 mm of the origin: the fit's residual),
    // facing +z (the nose tip in front of the eyes), upright (the eyes above the mouth), frontal
    // (the nose tip between the eyes), though the face is turned ~60° in the photo.
    const inv = H.clone().invert();
    const local = (i: number): THREE.Vector3 => new THREE.Vector3(m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]).applyMatrix4(inv);
    const mean = new THREE.Vector3();
    for (let i = 0; i < L.vertexCount; i++) mean.add(local(i));
    mean.divideScalar(L.vertexCount);
    expect(mean.length()).toBeLessThan(3);
    const vertexOf = new Map<number, number>();
    L.faceIndex.forEach((p, i) => vertexOf.set(p, i));
    const lm = (k: number): THREE.Vector3 => local(vertexOf.get(L.kptIndex[k])!);
    const eyes = lm(36).add(lm(45)).multiplyScalar(0.5), nose = lm(30), mouth = lm(62);
    expect(nose.z - eyes.z).toBeGreaterThan(10); // mm
    expect(eyes.y - mouth.y).toBeGreaterThan(30);
    const eyeDistance = lm(36).distanceTo(lm(45));
    expect(Math.abs(nose.x - eyes.x) / eyeDistance).toBeLessThan(0.1);
    // An object 1 m in front of the head along its z lands on the side the nose points to, life-size.
    const ahead = new THREE.Vector3(0, 0, 1000).applyMatrix4(H);
    expect(ahead.distanceTo(pos)).toBeCloseTo(1000, 6);
    expect(Math.sign(ahead.x - pos.x)).toBe(Math.sign(new THREE.Vector3(0, 0, 1).applyQuaternion(qp).x));
    // The photo GLB carries the same frame as a node f_face0_head beside the mesh, in metres.
    const scene = await loadGlb(cases.turned.files.get('f_face0.glb')!);
    const headNode = scene.getObjectByName('f_face0_head')!;
    expect(headNode).toBeDefined();
    expect(headNode.position.distanceTo(pos.clone().multiplyScalar(0.001))).toBeLessThan(1e-6);
    expect(Math.abs(headNode.quaternion.dot(q))).toBeCloseTo(1, 6);
    // The JSON's pose.center is that origin in the image frame.
    const c = faceToJson(face, L).pose.center;
    const inMesh = toModelFrame(Float64Array.from(c), m.frame);
    expect(Math.hypot(inMesh[0] - pos.x, inMesh[1] - pos.y, inMesh[2] - pos.z)).toBeLessThan(1e-3);
  });

  it('RGBA and ImageData-shaped pixels give the same reconstruction as RGB', async () => {
    const { image } = cases.frontal;
    const n = image.width * image.height;
    const rgba = new Uint8ClampedArray(n * 4);
    for (let i = 0; i < n; i++) {
      rgba[4 * i] = image.data[3 * i];
      rgba[4 * i + 1] = image.data[3 * i + 1];
      rgba[4 * i + 2] = image.data[3 * i + 2];
      rgba[4 * i + 3] = 255;
    }
    const imageData = { width: image.width, height: image.height, data: rgba, colorSpace: 'srgb' }; // ImageData's shape
    expect(toRgbImage(imageData).data).toEqual(image.data);
    expect(toRgbImage(image)).toBe(image);
    const a = await prnet.reconstruct(image, { boxes: [BOXES.frontal] });
    const b = await prnet.reconstruct(imageData, { boxes: [BOXES.frontal] });
    expect(b.faces[0].vertices).toEqual(a.faces[0].vertices);
    expect(() => toRgbImage({ width: 2, height: 2, data: new Uint8Array(10) })).toThrow(InputError);
    expect(() => toRgbImage({ width: 2, height: 2, data: new Uint8Array(10) })).toThrow(/3 \(RGB\), 4 \(RGBA\) or 1 \(grey\)/);
    expect(toRgbImage({ width: 1, height: 2, data: new Uint8Array([7, 9]) }).data).toEqual(new Uint8Array([7, 7, 7, 9, 9, 9]));
  });
});
