/**
 * The export's reuse of text (src/export/text.ts memoText): the layout's face and vt lines, and a
 * face's v and vn lines, are written once and copied into the next file while their source values
 * are the same. Every file must read as if written afresh — whichever mesh came before, and when an
 * array is changed in place.
 */
import { describe, expect, it } from 'vitest';
import { checkMesh, toJson, writeObj, writeObjTextured, writePly } from '../src/export/index.js';
import { fmt, TextWriter } from '../src/export/text.js';

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

describe('bulk text writes', () => {
  // values the number rule meets: mm positions, unit normals, pixels, and the edge cases
  const values = (seed: number): Float32Array => {
    let s = seed;
    const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const v = new Float32Array(3 * 3000);
    for (let i = 0; i < v.length; i++) v[i] = [(rnd() - 0.5) * 200, rnd() * 2 - 1, rnd() * 4000, (rnd() - 0.5) * 1e-3][i % 4];
    v.set([0, -0, NaN, Infinity, -Infinity, 1e9, -5e8, 0.00005, -0.00049, 9999.9996, 10000, 123456.5]);
    return v;
  };

  it('triples writes the characters of text(prefix) + fixed per value, and the line ends', () => {
    for (const d of [0, 1, 3, 4, 5, 6]) {
      const v = values(d + 1);
      const ends = new Uint32Array(v.length / 3);
      const got = new TextWriter(16).triples('v ', v, d, ends);
      const want = new TextWriter(16);
      for (let i = 0; i < v.length; i += 3) want.text('v ').fixed(v[i], d).byte(32).fixed(v[i + 1], d).byte(32).fixed(v[i + 2], d).byte(10);
      expect(got.toString()).toBe(want.toString());
      const text = got.bytes();
      ends.forEach((e, i) => expect([i, text[e]]).toEqual([i, 10]));
    }
  });

  it('the coloured OBJ lines equal the number rule for texel colours (doubles and Float32) and any other value', () => {
    const n = 400;
    const verts = values(7).slice(0, 3 * n).map((x) => (Number.isFinite(x) ? x : 0));
    // per vertex: a texel value as a double, the same as a Float32 value, something else (out of 0..1 too)
    const c: number[] = [];
    for (let i = 0; i < n; i++) c.push((i % 256) / 255, Math.fround(((7 * i) % 256) / 255), Math.sin(i) * 1.2);
    const obj = writeObj(verts, new Int32Array([0, 1, 2]), c, { normals: false, decimals: 3 });
    const plain = writeObj(verts, new Int32Array([0, 1, 2]), undefined, { normals: false, decimals: 3 });
    const lines = vLines(obj);
    const base = vLines(plain);
    expect(lines.length).toBe(n);
    lines.forEach((line, i) => {
      const want = [0, 1, 2].map((k) => fmt(Math.min(1, Math.max(0, c[3 * i + k] || 0)), 4)).join(' ');
      expect(line).toBe(`${base[i]} ${want}`);
    });
  });

  it('checkMesh names the first bad vertex or index (the branch-free pass only decides whether to look)', () => {
    const v = new Float32Array(3 * 10).fill(1);
    const t = new Int32Array([0, 1, 2, 3, 4, 5]);
    expect(checkMesh(v, t)).toBe(10);
    v[3 * 6 + 1] = Infinity;
    v[3 * 8] = NaN;
    expect(() => checkMesh(v, t)).toThrow('vertex 6 is not finite');
    v.fill(1);
    expect(() => checkMesh(v, new Int32Array([0, 1, 2, 3, 10, 5]))).toThrow('triangle 1 refers to vertex 10, outside 0..9');
    expect(() => checkMesh(v, new Int32Array([0, -1, 2]))).toThrow('triangle 0 refers to vertex -1');
    expect(() => checkMesh(v, new Uint32Array([0, 4294967295, 2]))).toThrow('refers to vertex 4294967295');
    expect(() => checkMesh(new Float32Array(0), new Int32Array([0, 0, 0]))).toThrow('outside 0..-1');
    // per-vertex arrays must be finite too: a NaN UV made a GLB that validators reject
    const uv = new Float32Array(2 * 10).fill(0.5);
    uv[2 * 7 + 1] = NaN;
    expect(() => checkMesh(v, t, { uv: { array: uv, width: 2 } })).toThrow('uv: value 15 (vertex 7) is not finite');
    // options the writers took silently: 'ASCII' wrote binary; decimals -1 rounded to tens, NaN not at all
    expect(() => writePly(v, t, undefined, { format: 'ASCII' as never })).toThrow(/^format must be 'binary' or 'ascii', got "ASCII"$/);
    for (const decimals of [-1, NaN, 400]) expect(() => toJson({ a: 1.23456 }, { decimals })).toThrow(/^decimals must be a whole number from 0 to 10/);
    expect(toJson({ a: 1.23456 }, { decimals: 2 })).toBe('{\n  "a": 1.23\n}\n');
  });

  it('reserve and advance write into the buffer; advance refuses ends outside what was reserved', () => {
    const w = new TextWriter(1).text('ab');
    const buf = w.reserve(3);
    buf.set([99, 100, 101], w.length);
    expect(w.advance(w.length + 3).toString()).toBe('abcde');
    expect(() => w.advance(2)).toThrow(RangeError);
    expect(() => w.advance(1e9)).toThrow(RangeError);
  });
});
