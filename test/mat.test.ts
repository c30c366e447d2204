import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { at, loadAflwGroundTruth, loadMat, matNumeric, readMat } from '../tools/eval/mat.js';

const AFLW = join(import.meta.dirname, '..', '..', 'shared', 'eval', 'aflw2000-3d');
const PORTRAITS = join(import.meta.dirname, '..', '..', 'shared', 'eval', 'portraits');

/** Builds a little-endian uncompressed v5 file with one struct (tests small elements and structs). */
function syntheticStructFile(): Uint8Array {
  const pad = (arr: number[]) => { while (arr.length % 8) arr.push(0); return arr; };
  const el = (type: number, bytes: number[]): number[] => {
    const out: number[] = [];
    const p = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    if (bytes.length <= 4) {
      p((bytes.length << 16) | type);
      out.push(...bytes, 0, 0, 0, 0);
      return out.slice(0, 8);
    }
    p(type); p(bytes.length);
    out.push(...bytes);
    return pad(out);
  };
  const i32s = (vals: number[]) => vals.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]);
  const f64s = (vals: number[]) => { const b = new Uint8Array(new Float64Array(vals).buffer); return Array.from(b); };
  const ascii = (s: string) => Array.from(new TextEncoder().encode(s));
  const matrix = (cls: number, dims: number[], name: string, rest: number[]) =>
    el(14, [...el(6, i32s([cls, 0])), ...el(5, i32s(dims)), ...el(1, ascii(name)), ...rest]);
  const fieldA = matrix(6, [2, 2], '', el(9, f64s([1, 2, 3, 4])));
  const fieldB = matrix(13, [1, 1], '', el(6, i32s([7])));
  const names = [...ascii('ab'), 0, 0, 0, 0, 0, 0, ...ascii('c'), 0, 0, 0, 0, 0, 0, 0];
  const struct = matrix(2, [1, 1], 's', [...el(5, i32s([8])), ...el(1, names), ...fieldA, ...fieldB]);
  const header = new Array<number>(128).fill(32);
  ascii('MATLAB 5.0 MAT-file, synthetic').forEach((c, i) => { header[i] = c; });
  header[124] = 0; header[125] = 1; header[126] = 'I'.charCodeAt(0); header[127] = 'M'.charCodeAt(0);
  return new Uint8Array([...header, ...struct]);
}

describe('MATLAB v5 reader', () => {
  it('reads pt3d_68 (3×68, inside the 450×450 image) and Pose_Para (1×7) from every AFLW2000-3D file', async () => {
    const files = readdirSync(AFLW).filter((f) => f.endsWith('.mat'));
    expect(files.length).toBe(8);
    for (const f of files) {
      const mat = await loadMat(join(AFLW, f));
      const pt = matNumeric(mat, 'pt3d_68');
      expect(pt.dims).toEqual([3, 68]);
      for (let k = 0; k < 68; k++) {
        expect(at(pt, 0, k)).toBeGreaterThanOrEqual(0);
        expect(at(pt, 0, k)).toBeLessThan(450);
        expect(at(pt, 1, k)).toBeGreaterThanOrEqual(0);
        expect(at(pt, 1, k)).toBeLessThan(450);
      }
      const pose = matNumeric(mat, 'Pose_Para');
      expect(pose.dims).toEqual([1, 7]);
      expect(Math.abs(at(pose, 0, 1))).toBeLessThan(Math.PI / 2);
      expect(mat.variables.has('pt2d')).toBe(true);
      expect(mat.variables.has('roi')).toBe(true);
    }
  });

  it('exposes column-major data: at(r, c) equals data[c·rows + r], and pt3d_68 rows are x, y, z', async () => {
    const gt = await loadAflwGroundTruth(join(AFLW, 'image00050.mat'));
    const mat = await loadMat(join(AFLW, 'image00050.mat'));
    const pt = matNumeric(mat, 'pt3d_68');
    expect(at(pt, 1, 5)).toBe(pt.data[5 * 3 + 1]);
    expect(gt.pt3d68[5 * 3 + 1]).toBe(at(pt, 1, 5));
    // The chin (8) is below the nose tip (30) in y-down image pixels.
    expect(at(pt, 1, 8)).toBeGreaterThan(at(pt, 1, 30));
    // Integer class (roi is int16) and single (Pose_Para) both come out as numbers.
    const roi = matNumeric(mat, 'roi');
    expect(roi.className).toBe('int16');
    expect(Number.isInteger(at(roi, 0, 0))).toBe(true);
  });

  it('reads a 300W-LP file (pt2d 2×68, Pose_Para, Shape_Para 199×1)', async () => {
    const mat = await loadMat(join(PORTRAITS, 'Data_IBUG_image_008_1_0.mat'));
    expect(matNumeric(mat, 'pt2d').dims).toEqual([2, 68]);
    expect(matNumeric(mat, 'Pose_Para').dims).toEqual([1, 7]);
    expect(matNumeric(mat, 'Shape_Para').dims).toEqual([199, 1]);
  });

  it('reads uncompressed structs and small data elements', () => {
    const mat = readMat(syntheticStructFile(), 'synthetic');
    const s = mat.variables.get('s');
    expect(s?.kind).toBe('struct');
    if (s?.kind !== 'struct') return;
    expect(s.fieldNames).toEqual(['ab', 'c']);
    const a = s.elements[0]?.ab;
    expect(a?.kind).toBe('numeric');
    if (a?.kind !== 'numeric') return;
    expect(a.dims).toEqual([2, 2]);
    expect(at(a, 0, 1)).toBe(3);
    const c = s.elements[0]?.c;
    expect(c?.kind === 'numeric' ? Array.from(c.data) : null).toEqual([7]);
  });

  it('rejects a file that is not MATLAB v5', () => {
    expect(() => readMat(new Uint8Array(200), 'zeros.mat')).toThrow(/zeros\.mat/);
  });
});
