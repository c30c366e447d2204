import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildLayout, readNpyFloat, readNumbers } from '../scripts/build-layout.js';
import { IBUG68_FLIP, mirrorFaceVertices, parseLayout, triangulateFaceGrid, type Layout } from '../src/layout/index.js';
import { loadLayout } from '../src/layout/node.js';

const UV = join(import.meta.dirname, '../../shared/reference/prnet/uv-data');
const ASSET = join(import.meta.dirname, '../assets/layout.safetensors');

async function grey(name: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(join(UV, name)).extractChannel(0).raw().toBuffer());
}

function pct(a: number, b: number): string {
  return `${((100 * a) / b).toFixed(2)} %`;
}

/** Triangles whose normal, with image y flipped to y up, has z > 0; zero-area ones; projected areas. */
function windingStats(v: Float32Array, triangles: Int32Array): { towards: number; degenerate: number; frontArea: number; backArea: number } {
  let towards = 0;
  let degenerate = 0;
  let frontArea = 0;
  let backArea = 0;
  for (let k = 0; k < triangles.length; k += 3) {
    const [a, b, c] = [3 * triangles[k], 3 * triangles[k + 1], 3 * triangles[k + 2]];
    const ux = v[b] - v[a];
    const uy = -(v[b + 1] - v[a + 1]);
    const uz = v[b + 2] - v[a + 2];
    const wx = v[c] - v[a];
    const wy = -(v[c + 1] - v[a + 1]);
    const wz = v[c + 2] - v[a + 2];
    const nx = uy * wz - uz * wy;
    const ny = uz * wx - ux * wz;
    const nz = ux * wy - uy * wx;
    if (nx === 0 && ny === 0 && nz === 0) degenerate++;
    if (nz > 0) {
      towards++;
      frontArea += nz;
    } else backArea -= nz;
  }
  return { towards, degenerate, frontArea, backArea };
}

let layout: Layout;
beforeAll(async () => {
  layout = await loadLayout();
});

describe('layout asset', () => {
  it('loads once and caches the result', async () => {
    expect(await loadLayout()).toBe(layout);
    expect(layout.size).toBe(256);
    expect(layout.vertexCount).toBe(43867);
  });

  it('is what scripts/build-layout.ts builds from the reference uv-data, byte for byte', async () => {
    const { bytes } = await buildLayout(UV);
    const committed = new Uint8Array(await readFile(ASSET));
    expect(committed.byteLength).toBeLessThan(2_000_000);
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(committed))).toBe(0);
    expect(parseLayout(bytes).metadata.licence).toMatch(/MIT/);
  });

  it('holds every face index of face_ind.txt', async () => {
    const ref = readNumbers(await readFile(join(UV, 'face_ind.txt'), 'utf8'));
    expect(layout.faceIndex.length).toBe(ref.length);
    let mismatches = 0;
    for (let i = 0; i < ref.length; i++) if (layout.faceIndex[i] !== ref[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('holds every keypoint of uv_kpt_ind.txt as (column, row), and kptIndex = row·256 + column', async () => {
    const ref = readNumbers(await readFile(join(UV, 'uv_kpt_ind.txt'), 'utf8'));
    for (let i = 0; i < 68; i++) {
      expect(layout.kpt[2 * i]).toBe(ref[i]);
      expect(layout.kpt[2 * i + 1]).toBe(ref[68 + i]);
      expect(layout.kptIndex[i]).toBe(ref[68 + i] * 256 + ref[i]);
      expect(layout.faceMask[layout.kptIndex[i]]).toBe(1);
    }
  });

  it('holds the canonical vertices to float32 precision', async () => {
    const { data, shape } = readNpyFloat(new Uint8Array(await readFile(join(UV, 'canonical_vertices.npy'))));
    expect(shape).toEqual([43867, 3]);
    let mismatches = 0;
    for (let i = 0; i < data.length; i++) if (layout.canonical[i] !== Math.fround(data[i])) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('holds the face, weight and eye masks of the reference PNGs', async () => {
    const face = await grey('uv_face_mask.png');
    const weight = await grey('uv_weight_mask.png');
    const level = new Map([[0, 0], [48, 3], [53, 3], [58, 4], [64, 4], [117, 4], [122, 4], [128, 4], [255, 16]]);
    const eyesRgb = new Uint8Array(await sharp(join(UV, 'uv_face_eyes.png')).removeAlpha().raw().toBuffer());
    const faceRgb = new Uint8Array(await sharp(join(UV, 'uv_face.png')).removeAlpha().raw().toBuffer());
    const faceSet = new Uint8Array(65536);
    for (const p of layout.faceIndex) faceSet[p] = 1;
    let eyes = 0;
    let faceWrong = 0;
    let weightWrong = 0;
    let blackMissed = 0;
    for (let p = 0; p < 65536; p++) {
      if (layout.faceMask[p] !== (face[p] === 255 ? 1 : 0) || layout.faceMask[p] !== faceSet[p]) faceWrong++;
      if (!level.has(weight[p]) || layout.weightMask[p] !== level.get(weight[p])) weightWrong++;
      // Every pixel blacked out in uv_face_eyes.png (and not black in uv_face.png) is in the mask.
      const black = eyesRgb[3 * p] + eyesRgb[3 * p + 1] + eyesRgb[3 * p + 2] === 0 && faceRgb[3 * p] + faceRgb[3 * p + 1] + faceRgb[3 * p + 2] > 0;
      if (black && !layout.eyeMask[p]) blackMissed++;
      eyes += layout.eyeMask[p];
    }
    expect([faceWrong, weightWrong, blackMissed]).toEqual([0, 0, 0]);
    expect(eyes).toBe(407);
    // Two eye regions, one on each half of the layout, mirror images of each other in size.
    let left = 0;
    for (let p = 0; p < 65536; p++) if (layout.eyeMask[p] && p % 256 < 128) left++;
    expect(left).toBeGreaterThan(180);
    expect(eyes - left).toBeGreaterThan(180);
  });

  it('triangulates the face pixels into 86,964 triangles, counter-clockwise seen from the front (y up)', () => {
    const { triangles, vertexCount, faceIndex } = layout;
    expect(layout.triangleCount).toBe(86964);
    expect(triangles).toEqual(triangulateFaceGrid(faceIndex));
    let bad = 0;
    for (let k = 0; k < triangles.length; k += 3) {
      const [a, b, c] = [triangles[k], triangles[k + 1], triangles[k + 2]];
      if (!(a >= 0 && b >= 0 && c >= 0 && a < vertexCount && b < vertexCount && c < vertexCount && a !== b && b !== c && a !== c)) bad++;
    }
    expect(bad).toBe(0);
    // On a frontal surface parametrised by the layout itself (x = column, y = row, any height z),
    // every triangle's normal (b−a)×(c−a), taken with y flipped, points towards the viewer.
    const grid = new Float32Array(vertexCount * 3);
    for (let i = 0; i < vertexCount; i++) {
      const x = faceIndex[i] % 256;
      const y = Math.floor(faceIndex[i] / 256);
      grid.set([x, y, 60 - 0.004 * ((x - 128) ** 2 + (y - 110) ** 2)], 3 * i);
    }
    expect(windingStats(grid, triangles).towards).toBe(layout.triangleCount);
  });

  it('gives front-facing normals on the canonical face except where it is degenerate, folded or turned sideways', () => {
    const s = windingStats(layout.canonical, layout.triangles);
    const t = layout.triangleCount;
    console.log(
      `canonical face: normal z > 0 (y flipped) for ${s.towards} of ${t} triangles (${pct(s.towards, t)}); ` +
        `${s.degenerate} have zero area (duplicate canonical vertices); ${pct(s.towards, t - s.degenerate)} of the rest; ` +
        `front-facing share of the projected area ${pct(s.frontArea, s.frontArea + s.backArea)}`,
    );
    // The reference canonical face repeats 3D points at neighbouring pixels (exactly zero-area
    // triangles), folds in places and turns away from the viewer towards the ears, so the share
    // of front-facing triangles is below 99 %; the opposite winding would give the complements.
    expect(s.degenerate).toBeLessThan(0.1 * t);
    expect(s.towards / (t - s.degenerate)).toBeGreaterThan(0.93);
    expect(s.frontArea / (s.frontArea + s.backArea)).toBeGreaterThan(0.98);
  });

  it('maps each vertex to its mirror image: UV column 255 − c, involutive except 19 boundary vertices', () => {
    const { flip, faceIndex, canonical } = layout;
    const m = mirrorFaceVertices(faceIndex, canonical);
    expect(flip).toEqual(m.flip);
    let notInvolutive = 0;
    let uvRule = 0;
    for (let i = 0; i < flip.length; i++) {
      if (flip[flip[i]] !== i) notInvolutive++;
      const p = faceIndex[i];
      const q = faceIndex[flip[i]];
      if (Math.floor(q / 256) === Math.floor(p / 256) && q % 256 === 255 - (p % 256)) uvRule++;
    }
    console.log(
      `flip: UV rule ${uvRule}, fallback ${m.fallback}, not involutive ${notInvolutive}, plane x = ${m.centreX.toFixed(3)}, ` +
        `mirror error mean ${m.meanError.toFixed(3)} px, max ${m.maxError.toFixed(3)} px`,
    );
    expect(uvRule).toBe(43848);
    expect(notInvolutive).toBe(19);
    expect(m.meanError).toBeLessThan(0.6);
  });

  it('kpt_flip is the iBUG 68-point mirror permutation and agrees with the UV mirror of the keypoints', () => {
    const kf = layout.kptFlip;
    expect(Array.from(kf)).toEqual([...IBUG68_FLIP]);
    const pairs: [number, number][] = [[0, 16], [8, 8], [17, 26], [21, 22], [27, 27], [30, 30], [31, 35], [33, 33], [36, 45], [39, 42], [40, 47], [48, 54], [51, 51], [57, 57], [59, 55], [60, 64], [62, 62], [65, 67], [66, 66]];
    for (const [a, b] of pairs) {
      expect(kf[a]).toBe(b);
      expect(kf[b]).toBe(a);
    }
    let worst = 0;
    for (let i = 0; i < 68; i++) {
      expect(kf[kf[i]]).toBe(i);
      // The UV mirror of landmark i's pixel lies at (or next to) landmark kf[i]'s pixel.
      const dx = 255 - layout.kpt[2 * i] - layout.kpt[2 * kf[i]];
      const dy = layout.kpt[2 * i + 1] - layout.kpt[2 * kf[i] + 1];
      worst = Math.max(worst, Math.hypot(dx, dy));
    }
    console.log(`kpt_flip: largest distance between a mirrored landmark pixel and its partner ${worst.toFixed(2)} px`);
    expect(worst).toBeLessThanOrEqual(2);
  });
});
