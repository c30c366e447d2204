import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import {
  anglesToRotation,
  estimatePose,
  fitSimilarity,
  flipDisagreement,
  insideShare,
  keypointDisagreement,
  mergeFlippedMap,
  prepareSource,
  readLandmarks,
  readVertices,
  rotationToAngles,
  sampleColors,
  vertexNormals,
} from '../src/geometry/index.js';
import type { Layout } from '../src/layout/index.js';
import { loadLayout } from '../src/layout/node.js';
import type { PositionMap, RgbImage } from '../src/types.js';

const AFLW = join(import.meta.dirname, '../../shared/eval/aflw2000-3d');

let layout: Layout;
beforeAll(async () => {
  layout = await loadLayout();
});

/** scale · R · p + t for each row of an N×3 array, in float64, returned as float32. */
function transform(points: Float32Array, r: Float64Array, scale: number, t: number[]): Float32Array {
  const out = new Float32Array(points.length);
  for (let i = 0; i < points.length; i += 3) {
    const [x, y, z] = [points[i], points[i + 1], points[i + 2]];
    for (let a = 0; a < 3; a++) out[i + a] = scale * (r[3 * a] * x + r[3 * a + 1] * y + r[3 * a + 2] * z) + t[a];
  }
  return out;
}

/** A position map holding `vertices` at the face pixels and NaN elsewhere. */
function mapOf(vertices: Float32Array): PositionMap {
  const data = new Float32Array(256 * 256 * 3).fill(NaN);
  for (let i = 0; i < layout.vertexCount; i++) data.set(vertices.subarray(3 * i, 3 * i + 3), 3 * layout.faceIndex[i]);
  return { size: 256, data };
}

function rows(a: Float32Array, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * 3);
  for (let i = 0; i < indices.length; i++) out.set(a.subarray(3 * indices[i], 3 * indices[i] + 3), 3 * i);
  return out;
}

/** Face-vertex index of each landmark. */
function kptVertices(): number[] {
  const at = new Map<number, number>();
  layout.faceIndex.forEach((p, i) => at.set(p, i));
  return Array.from(layout.kptIndex, (p) => at.get(p) ?? -1);
}

/**
 * Just enough of MATLAB's v5 MAT format for AFLW2000-3D's ground truth: compressed or plain
 * numeric matrices, returned by name as column-major float64.
 */
function readMat(bytes: Uint8Array): Map<string, { dims: number[]; data: Float64Array }> {
  const out = new Map<string, { dims: number[]; data: Float64Array }>();
  const numeric = (view: DataView, type: number, off: number, nbytes: number): Float64Array => {
    const sizes: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8 };
    const size = sizes[type];
    if (!size) throw new Error(`MAT: unsupported data type ${type}`);
    const a = new Float64Array(nbytes / size);
    const get: Record<number, (p: number) => number> = {
      1: (p) => view.getInt8(p),
      2: (p) => view.getUint8(p),
      3: (p) => view.getInt16(p, true),
      4: (p) => view.getUint16(p, true),
      5: (p) => view.getInt32(p, true),
      6: (p) => view.getUint32(p, true),
      7: (p) => view.getFloat32(p, true),
      9: (p) => view.getFloat64(p, true),
    };
    for (let i = 0; i < a.length; i++) a[i] = get[type](off + i * size);
    return a;
  };
  const elements = (buf: Uint8Array, start: number): void => {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let off = start;
    while (off + 8 <= buf.byteLength) {
      const type = view.getUint32(off, true);
      const nbytes = view.getUint32(off + 4, true);
      const body = off + 8;
      if (type === 15) {
        elements(new Uint8Array(inflateSync(buf.subarray(body, body + nbytes))), 0);
      } else if (type === 14) {
        // Sub-elements: array flags, dimensions, name, real part.
        let p = body;
        const sub: { type: number; off: number; nbytes: number }[] = [];
        while (p < body + nbytes && sub.length < 4) {
          const t = view.getUint32(p, true);
          if (t >>> 16) {
            sub.push({ type: t & 0xffff, off: p + 4, nbytes: t >>> 16 }); // small data element
            p += 8;
          } else {
            const nb = view.getUint32(p + 4, true);
            sub.push({ type: t, off: p + 8, nbytes: nb });
            p += 8 + Math.ceil(nb / 8) * 8;
          }
        }
        const cls = view.getUint32(sub[0].off, true) & 0xff;
        if (cls >= 6 && cls <= 15 && sub.length === 4) {
          const dims = Array.from(numeric(view, sub[1].type, sub[1].off, sub[1].nbytes));
          const name = new TextDecoder().decode(buf.subarray(sub[2].off, sub[2].off + sub[2].nbytes));
          out.set(name, { dims, data: numeric(view, sub[3].type, sub[3].off, sub[3].nbytes) });
        }
      }
      off = body + (type === 15 ? nbytes : Math.ceil(nbytes / 8) * 8);
    }
  };
  elements(bytes, 128);
  return out;
}

describe('flipDisagreement', () => {
  it('is 0 for a mirror-consistent pair and grows with the mirrored prediction\'s offset, in landmark-box sides', () => {
    const size = 256, last = size - 1;
    const direct = new Float32Array(size * size * 3), mirrored = new Float32Array(size * size * 3);
    // the direct landmarks on a 100 × 60 box; the mirrored prediction is their exact mirror image
    for (let k = 0; k < 68; k++) {
      const p = 3 * layout.kptIndex[k];
      direct[p] = 80 + (k % 11) * 10;
      direct[p + 1] = 90 + (k % 7) * 10;
      direct[p + 2] = k;
    }
    for (let k = 0; k < 68; k++) {
      const p = 3 * layout.kptIndex[k], q = 3 * layout.kptIndex[layout.kptFlip[k]];
      mirrored[q] = last - direct[p];
      mirrored[q + 1] = direct[p + 1];
    }
    const a = { size, data: direct }, b = { size, data: mirrored };
    expect(flipDisagreement(a, b, layout)).toBe(0);
    // the same pair through mergeFlippedMap: the landmarks come back unchanged (the same mirror)
    const merged = mergeFlippedMap(a, b, layout).data;
    for (let k = 0; k < 68; k++) for (let c = 0; c < 2; c++) expect(merged[3 * layout.kptIndex[k] + c]).toBeCloseTo(direct[3 * layout.kptIndex[k] + c], 4);
    for (let k = 0; k < 68; k++) mirrored[3 * layout.kptIndex[k] + 1] += 4;   // 4 px lower
    expect(flipDisagreement(a, b, layout)).toBeCloseTo(4 / 80, 9);             // box 100 × 60: mean side 80
  });
});

describe('keypointDisagreement', () => {
  it('is 0 where BlazeFace\'s eyes, nose tip and mouth are the landmarks\' own, and grows with their offset, in landmark-box sides', () => {
    // 68 landmarks on a 100 × 60 box (mean side 80), 3 numbers a point
    const lm = new Float32Array(68 * 3);
    for (let k = 0; k < 68; k++) {
      lm[3 * k] = 80 + (k % 11) * 10;
      lm[3 * k + 1] = 90 + (k % 7) * 10;
    }
    const centre = (from: number, to: number): [number, number] => {
      let x = 0, y = 0;
      for (let k = from; k <= to; k++) [x, y] = [x + lm[3 * k], y + lm[3 * k + 1]];
      return [x / (to - from + 1), y / (to - from + 1)];
    };
    // the subject's right eye (36–41), left eye (42–47), nose tip (30), mouth (48–67); the ears are not used
    const keypoints = Float32Array.of(...centre(36, 41), ...centre(42, 47), lm[90], lm[91], ...centre(48, 67), -500, -500, 900, 900);
    expect(keypointDisagreement(lm, keypoints)).toBeCloseTo(0, 6);
    const shifted = Float32Array.from(keypoints);
    shifted[1] += 8; // the right eye 8 px lower: a mean of 2 px over the 4 points
    expect(keypointDisagreement(lm, shifted)).toBeCloseTo(2 / 80, 6);
    // 2 numbers a point give the same
    const lm2 = Float32Array.from({ length: 136 }, (_, i) => lm[3 * (i >> 1) + (i & 1)]);
    expect(keypointDisagreement(lm2, shifted, 2)).toBeCloseTo(2 / 80, 6);
    // swapped eyes (a face read the other way round) disagree by the eye distance
    const swapped = Float32Array.from(keypoints);
    swapped.set(keypoints.subarray(2, 4), 0);
    swapped.set(keypoints.subarray(0, 2), 2);
    const eyes = Math.hypot(keypoints[2] - keypoints[0], keypoints[3] - keypoints[1]);
    expect(keypointDisagreement(lm, swapped)).toBeCloseTo(eyes / 2 / 80, 6);
    // a rolled face: the box in its own frame (roll), as upright
    const a = Math.PI / 6, c = Math.cos(a), sn = Math.sin(a);
    const turn = (p: Float32Array, stride: number): Float32Array => {
      const o = Float32Array.from(p);
      for (let i = 0; i + 1 < p.length; i += stride) [o[i], o[i + 1]] = [c * p[i] - sn * p[i + 1], sn * p[i] + c * p[i + 1]];
      return o;
    };
    expect(keypointDisagreement(turn(lm, 3), turn(shifted, 2), 3, a)).toBeCloseTo(2 / 80, 6);
    // (along the image's axes the turned box is wider: less)
    expect(keypointDisagreement(turn(lm, 3), turn(shifted, 2))).toBeLessThan(0.9 * (2 / 80));
    expect(() => keypointDisagreement(lm.subarray(0, 66 * 3), keypoints)).toThrow(RangeError);
    expect(() => keypointDisagreement(lm, keypoints.subarray(0, 6))).toThrow(/at least 4 points/);
    expect(keypointDisagreement(new Float32Array(68 * 3), keypoints)).toBeNaN();
  });
});

describe('readVertices / readLandmarks', () => {
  it('recover exactly the points a position map holds at the face and keypoint pixels', () => {
    const r = anglesToRotation(30, -15, 10);
    const v = transform(layout.canonical, r, 0.8, [120, 140, 30]);
    const map = mapOf(v);
    expect(readVertices(map, layout)).toEqual(v);
    const lm = readLandmarks(map, layout);
    expect(lm.length).toBe(68 * 3);
    expect(lm).toEqual(rows(v, kptVertices()));
    expect(lm.every(Number.isFinite)).toBe(true);
  });

  it('reject a map of the wrong size with an InputError', () => {
    expect(() => readVertices({ size: 128, data: new Float32Array(128 * 128 * 3) }, layout)).toThrow(InputError);
  });
});

describe('estimatePose', () => {
  const poses: [number, number, number][] = [
    [0, 0, 0],
    [30, -15, 10],
    [70, 10, -5],
    [-70, -20, 15],
    [-45, 30, -25],
    [15, 40, 35],
    [85, 0, 0],
  ];
  for (const [yaw, pitch, roll] of poses) {
    it(`recovers yaw ${yaw}°, pitch ${pitch}°, roll ${roll}°, scale and translation from a synthetic map`, () => {
      const v = transform(layout.canonical, anglesToRotation(yaw, pitch, roll), 1.3, [300, 220, -40]);
      const pose = estimatePose(readVertices(mapOf(v), layout), layout.canonical);
      expect(Math.abs(pose.yaw - yaw)).toBeLessThan(0.5);
      expect(Math.abs(pose.pitch - pitch)).toBeLessThan(0.5);
      expect(Math.abs(pose.roll - roll)).toBeLessThan(0.5);
      expect(pose.scale).toBeCloseTo(1.3, 4);
      pose.translation.forEach((t, a) => expect(t).toBeCloseTo([300, 220, -40][a], 2));
      const r = pose.rotation;
      const det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
      expect(det).toBeCloseTo(1, 9);
    });
  }

  it('stays within 1° under 1-pixel noise and NaN vertices', () => {
    const v = transform(layout.canonical, anglesToRotation(-40, 20, 12), 0.9, [128, 128, 0]);
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (let i = 0; i < v.length; i++) v[i] += rand();
    for (let i = 0; i < 300; i++) v[3 * i * 97] = NaN;
    const pose = estimatePose(v, layout.canonical);
    expect(Math.abs(pose.yaw + 40)).toBeLessThan(1);
    expect(Math.abs(pose.pitch - 20)).toBeLessThan(1);
    expect(Math.abs(pose.roll - 12)).toBeLessThan(1);
  });

  it('gives bit for bit the same fit from the prepared canonical face (prepareSource), and falls back with NaN vertices', () => {
    const prepared = prepareSource(layout.canonical);
    expect(prepared).not.toBeNull();
    let seed = 3;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (const [yaw, pitch, roll] of poses) {
      const v = transform(layout.canonical, anglesToRotation(yaw, pitch, roll), 1.1, [200, 150, 30]);
      for (let i = 0; i < v.length; i++) v[i] += 2 * rand();
      expect(estimatePose(v, layout.canonical, prepared)).toEqual(estimatePose(v, layout.canonical));
      v[3 * 1234] = NaN;
      expect(estimatePose(v, layout.canonical, prepared)).toEqual(estimatePose(v, layout.canonical));
    }
    expect(prepareSource(Float32Array.of(0, 0, 0, 1, NaN, 0, 2, 2, 2))).toBeNull();
  });

  it('returns a proper rotation (not a reflection) for mirrored input', () => {
    const v = Float32Array.from(layout.canonical);
    for (let i = 0; i < v.length; i += 3) v[i] = -v[i];
    const { rotation: r } = fitSimilarity(layout.canonical, v);
    const det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
    expect(det).toBeCloseTo(1, 9);
  });

  it('uses the angle convention: yaw > 0 nose to the image left, pitch > 0 face up, roll > 0 clockwise in the image', () => {
    const apply = (r: Float64Array, p: number[]): number[] => [0, 1, 2].map((a) => r[3 * a] * p[0] + r[3 * a + 1] * p[1] + r[3 * a + 2] * p[2]);
    const forward = [0, 0, 1]; // towards the camera
    const up = [0, -1, 0]; // image y is down
    expect(apply(anglesToRotation(30, 0, 0), forward)[0]).toBeLessThan(-0.4);
    expect(apply(anglesToRotation(0, 30, 0), forward)[1]).toBeLessThan(-0.4);
    expect(apply(anglesToRotation(0, 0, 30), up)[0]).toBeGreaterThan(0.4);
    for (const [y, p, r] of [[20, -35, 50], [-80, 10, -170], [5, 60, 120]]) {
      const back = rotationToAngles(anglesToRotation(y, p, r));
      expect([back.yaw, back.pitch, back.roll].map((x) => +x.toFixed(9))).toEqual([y, p, r]);
    }
  });

  it("matches the sign and size of AFLW2000-3D's Pose_Para (pitch, yaw, roll) on its ground-truth landmarks", async () => {
    const canonicalKpt = rows(layout.canonical, kptVertices());
    const names = ['image00050', 'image00475', 'image00514', 'image00516', 'image01038', 'image03324', 'image03614', 'image04331'];
    const lines: string[] = [];
    for (const name of names) {
      const mat = readMat(new Uint8Array(await readFile(join(AFLW, `${name}.mat`))));
      const pt = mat.get('pt3d_68');
      const pp = mat.get('Pose_Para');
      expect(pt?.dims).toEqual([3, 68]);
      if (!pt || !pp) throw new Error(`${name}: pt3d_68 or Pose_Para missing`);
      // Column-major 3×68 is row-major 68×3: x, y (image pixels), z (towards the camera).
      const pose = estimatePose(Float32Array.from(pt.data), canonicalKpt);
      const truth = { pitch: (pp.data[0] * 180) / Math.PI, yaw: (pp.data[1] * 180) / Math.PI, roll: (pp.data[2] * 180) / Math.PI };
      lines.push(`${name}: truth p/y/r ${[truth.pitch, truth.yaw, truth.roll].map((x) => x.toFixed(1)).join(' ')}; fit ${[pose.pitch, pose.yaw, pose.roll].map((x) => x.toFixed(1)).join(' ')}`);
      for (const k of ['pitch', 'yaw', 'roll'] as const) {
        expect(Math.abs(pose[k] - truth[k])).toBeLessThan(4);
        if (Math.abs(truth[k]) > 5) expect(Math.sign(pose[k])).toBe(Math.sign(truth[k]));
      }
    }
    console.log(lines.join('\n'));
  });
});

describe('sampleColors', () => {
  // R = 2x, G = 3y, B = 7: bilinear interpolation of a linear image is exact.
  const w = 64;
  const h = 48;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([2 * x, 3 * y, 7], 3 * (y * w + x));
  const image: RgbImage = { width: w, height: h, data };

  it('interpolates bilinearly at pixel centres and between them, 0..1', () => {
    const v = Float32Array.from([0, 0, 5, 10, 20, 0, 10.25, 20.5, 0, 62.75, 46.5, -3]);
    const c = sampleColors(image, v);
    const expected = [0, 0, 7, 20, 60, 7, 20.5, 61.5, 7, 125.5, 139.5, 7].map((x) => x / 255);
    c.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 6));
  });

  it('clamps at the border and gives 0 for non-finite points', () => {
    const v = Float32Array.from([-5, -9, 0, 100, 10.5, 0, 30, 1000, 0, NaN, 3, 0]);
    const c = sampleColors(image, v);
    const expected = [0, 0, 7, 126, 31.5, 7, 60, 141, 7, 0, 0, 0].map((x) => x / 255);
    c.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 6));
  });
});

describe('vertexNormals', () => {
  it('points towards the camera on the canonical face and outwards at its sides', () => {
    const n = vertexNormals(layout.canonical, layout.triangles);
    const kv = kptVertices();
    const nose = kv[30];
    expect(n[3 * nose + 2]).toBeGreaterThan(0.7);
    // Jaw ends: landmark 0 is on the image left (x < 0 on the canonical face), 16 on the right.
    expect(n[3 * kv[0]]).toBeLessThan(-0.3);
    expect(n[3 * kv[16]]).toBeGreaterThan(0.3);
    let front = 0;
    let unit = 0;
    for (let i = 0; i < layout.vertexCount; i++) {
      if (n[3 * i + 2] > 0) front++;
      if (Math.abs(Math.hypot(n[3 * i], n[3 * i + 1], n[3 * i + 2]) - 1) < 1e-5) unit++;
    }
    console.log(`canonical vertex normals: z > 0 for ${front} of ${layout.vertexCount}; unit length ${unit}`);
    expect(front / layout.vertexCount).toBeGreaterThan(0.95);
  });

  it('rotate with the face', () => {
    const r = anglesToRotation(35, -10, 20);
    const n0 = vertexNormals(layout.canonical, layout.triangles);
    const n1 = vertexNormals(transform(layout.canonical, r, 2, [10, 20, 30]), layout.triangles);
    const rn0 = transform(n0, r, 1, [0, 0, 0]);
    // Float32 rounding of the moved vertices shifts the normals of near-degenerate triangles a little.
    let worst = 0;
    let close = 0;
    for (let i = 0; i < n0.length; i += 3) {
      const d = Math.hypot(rn0[i] - n1[i], rn0[i + 1] - n1[i + 1], rn0[i + 2] - n1[i + 2]);
      worst = Math.max(worst, d);
      if (d < 1e-4) close++;
    }
    expect(close / layout.vertexCount).toBeGreaterThan(0.99);
    expect(worst).toBeLessThan(0.02);
  });
});

describe('insideShare', () => {
  it('counts the points within the image\'s pixel area (centres at integers, ±0.5 at the borders); NaN outside; 0 for none', () => {
    const pts = Float32Array.from([
      -0.5, -0.5, 0, // the top-left corner: inside
      9.5, 4.5, 1, // the bottom-right corner of a 10 × 5 image: inside
      9.51, 2, 0, // just right of it: outside
      3, -0.6, 0, // above: outside
      NaN, 2, 0, // not a number: outside
      4, 2, -100, // z does not matter: inside
    ]);
    expect(insideShare(pts, 10, 5)).toBeCloseTo(3 / 6, 12);
    expect(insideShare(new Float32Array(0), 10, 5)).toBe(0);
  });
});
