/**
 * The export's reuse of text (src/export/text.ts memoText): the layout's face and vt lines, and a
 * face's v and vn lines, are written once and copied into the next file while their source values
 * are the same. Every file must read as if written afresh — whichever mesh came before, and when an
 * array is changed in place.
 */
import { describe, expect, it } from 'vitest';
import { writeObj, writeObjTextured } from '../src/export/index.js';
import { fmt } from '../src/export/text.js';

function quad(dx: number): Float32Array {
  return new Float32Array([10 + dx, 20, 5, 30 + dx, 20, 5, 10 + dx, 40, 7, 30 + dx, 40, 7]);
}
const vLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('v '));
const fLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('f '));
const vnLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('vn '));

describe('reused OBJ text', () => {
  it('gives every mesh its own positions, normals and faces, in any order', () => {
    const tA = new Int32Array([0, 2, 1, 1, 2, 3]);
    const tB = new Int32Array([0, 1, 2, 1, 3, 2]);
    const a1 = writeObj(quad(0), tA);
    const b = writeObj(quad(5), tB);
    const a2 = writeObj(quad(0), tA);
    expect(a2).toBe(a1);
    expect(vLines(b)[0]).toBe('v 15 -20 5');
    expect(vLines(a1)[0]).toBe('v 10 -20 5');
    expect(fLines(b)).toEqual(['f 1//1 2//2 3//3', 'f 2//2 4//4 3//3']);
    expect(fLines(a1)).toEqual(['f 1//1 3//3 2//2', 'f 2//2 3//3 4//4']);
    // the winding flips the normals
    const z = (text: string): number => Number(vnLines(text)[0].split(' ')[3]);
    expect(z(a1)).toBeGreaterThan(0.9);
    expect(z(b)).toBeLessThan(-0.9);
  });

  it('notices arrays changed in place (same array, new values)', () => {
    const v = quad(0);
    const t = new Int32Array([0, 2, 1, 1, 2, 3]);
    const uv = new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]);
    const first = writeObjTextured(v, t, uv).obj;
    v[0] = 11;
    t.set([1, 2, 3, 0, 2, 1]);
    uv[0] = 0.25;
    const second = writeObjTextured(v, t, uv).obj;
    expect(vLines(first)[0]).toBe('v 10 -20 5');
    expect(vLines(second)[0]).toBe('v 11 -20 5');
    expect(second).toContain('\nvt 0.25 1\n');
    expect(fLines(second)[0]).toBe('f 2/2/2 3/3/3 4/4/4');
  });

  it('shares the v lines between the two OBJs of a face, colours appended as the number rule writes them', () => {
    const v = quad(0);
    const t = new Int32Array([0, 2, 1, 1, 2, 3]);
    // texel colours k/255 (the table) and other values (formatted)
    const c = new Float32Array([0, 1, 128 / 255, 1 / 255, 254 / 255, 0.123456, 0.5, 2, -1, NaN, 77 / 255, 0.99995]);
    const plain = vLines(writeObjTextured(v, t, new Float32Array(8)).obj);
    const coloured = vLines(writeObj(v, t, c));
    expect(coloured.length).toBe(4);
    coloured.forEach((line, i) => {
      const want = [0, 1, 2].map((k) => fmt(Math.min(1, Math.max(0, c[3 * i + k] || 0)), 4)).join(' ');
      expect(line).toBe(`${plain[i]} ${want}`);
    });
    // every byte value k/255 gives fmt's characters
    const all = new Float32Array(256 * 3);
    const verts = new Float32Array(256 * 3);
    for (let k = 0; k < 256; k++) all[3 * k] = all[3 * k + 1] = all[3 * k + 2] = k * (1 / 255);
    const lines = vLines(writeObj(verts, new Int32Array([0, 1, 2]), all, { normals: false }));
    for (let k = 0; k < 256; k++) expect(lines[k]).toBe(`v 0 0 0 ${Array(3).fill(fmt(k * (1 / 255), 4)).join(' ')}`);
  });
});
