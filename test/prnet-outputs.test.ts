/**
 * The original PRNet demo's outputs that are not written by default, asked for with --formats:
 * the position map as NumPy .npy (`pos`), the texture's visibility mask (`--isMask`), the
 * frontal mesh (`--isFront`) and the mesh as a MATLAB .mat (`--isMat`), on a face turned by ~60°
 * with the bundled light model; and grey PNGs written as one channel.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npyBytes } from '../src/export/npy.js';
import { matBytes } from '../src/export/mat.js';
import { readMat, type MatNumeric } from '../tools/eval/mat.js';
import { estimatePose } from '../src/geometry/pose.js';
import { loadLayout } from '../src/layout/node.js';
import type { Layout } from '../src/layout/index.js';
import { FACE_FILE_SUFFIXES, faceFileBase } from '../src/pipeline/outputs.js';
import type { FaceJson } from '../src/pipeline/face.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { parseObj } from './helpers/meshes.js';
import { ASTRONAUT, EVAL } from './helpers/paths.js';
import { PYTHON, requireScipy, requireTorch, skipPython, skipScipy } from './helpers/python.js';
import { listFiles, TempDirs } from './helpers/tmp.js';

/** AFLW2000-3D's image00475: one face, turned by ~60° (a third of it hidden from the camera). */
const TURNED = join(EVAL, 'aflw2000-3d/image00475.jpg');
const dirs = new TempDirs('prnet-extra-');
let layout: Layout;
let out: string;
let r: CliResult;

beforeAll(async () => {
  layout = await loadLayout();
  out = await dirs.make('out');
  r = await runCli(['reconstruct', TURNED, ASTRONAUT, '--out', out, '--model', 'light', '--formats', 'default,posmap,mask,frontal,mat', '--quiet']);
}, 120_000);
afterAll(() => dirs.cleanup());

/** A .npy file's header and float32 data (little-endian, C order). */
function parseNpy(bytes: Uint8Array): { descr: string; shape: number[]; fortran: boolean; data: Float32Array; headerEnd: number } {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const length = bytes[8] | (bytes[9] << 8);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + length));
  const descr = /'descr': '([^']+)'/.exec(header)![1];
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const fortran = /'fortran_order': True/.test(header);
  // (a copy: a Buffer's slice is a view into a shared pool)
  const data = new Float32Array(Uint8Array.prototype.slice.call(bytes, 10 + length).buffer);
  return { descr, shape, fortran, data, headerEnd: 10 + length };
}

async function json(stem: string): Promise<FaceJson> {
  return JSON.parse(await readFile(join(out, `${stem}_face0.json`), 'utf8')) as FaceJson;
}

describe('--formats default,posmap,mask,frontal,mat', () => {
  it('writes the default files and the three asked for, each face\'s names in the clean-ups\' table', async () => {
    expect(r.code, r.stderr).toBe(0);
    // (beside the run's own record of the images done, .prnet-done.jsonl)
    const files = (await listFiles(out)).filter((f) => !f.startsWith('.'));
    expect(files).toHaveLength(2 * 15);
    for (const stem of ['image00475', 'astronaut']) {
      const base = faceFileBase(stem, 0);
      const faceFiles = files.filter((f) => f.startsWith(base));
      expect(faceFiles.map((f) => f.slice(base.length)).sort()).toEqual([...FACE_FILE_SUFFIXES].sort());
    }
  });

  it('posmap: the position map as .npy (256×256×3 float32, image frame): its key points are the JSON\'s landmarks, and numpy reads it', async () => {
    const bytes = await readFile(join(out, 'image00475_face0_posmap.npy'));
    const npy = parseNpy(bytes);
    expect(npy).toMatchObject({ descr: '<f4', shape: [256, 256, 3], fortran: false });
    // numpy aligns the data to 64 bytes
    expect(npy.headerEnd % 64).toBe(0);
    expect(npy.data.length).toBe(256 * 256 * 3);
    const lm = (await json('image00475')).landmarks['3d'];
    for (let k = 0; k < 68; k++) {
      for (let c = 0; c < 3; c++) expect(Math.abs(npy.data[3 * layout.kptIndex[k] + c] - lm[k][c])).toBeLessThan(6e-4);
    }
    // The face lies in the 450×450 photo.
    for (let i = 0; i < layout.faceIndex.length; i += 101) {
      const p = 3 * layout.faceIndex[i];
      expect(npy.data[p]).toBeGreaterThan(0);
      expect(npy.data[p]).toBeLessThan(450);
      expect(npy.data[p + 1]).toBeGreaterThan(0);
      expect(npy.data[p + 1]).toBeLessThan(450);
    }
    if (skipPython) return;
    requireTorch('numpy.load of the position map');
    const k = layout.kptIndex[30];
    const py = spawnSync(PYTHON, ['-c', `import numpy, sys; a = numpy.load(sys.argv[1]); print(a.dtype, a.shape, *a[${Math.floor(k / 256)}, ${k % 256}])`, join(out, 'image00475_face0_posmap.npy')], { encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
    const [dtype, ...rest] = py.stdout.trim().split(' ');
    expect(dtype).toBe('float32');
    expect(rest.slice(0, 3).join(' ')).toBe('(256, 256, 3)');
    rest.slice(3).map(Number).forEach((v, c) => expect(Math.abs(v - lm[30][c])).toBeLessThan(6e-4));
  });

  it('npyBytes: shapes of any rank, checked against the data', () => {
    const one = parseNpy(npyBytes(Float32Array.of(1, 2.5, -3), [3]));
    expect(one).toMatchObject({ descr: '<f4', shape: [3] });
    expect(Array.from(one.data)).toEqual([1, 2.5, -3]);
    expect(() => npyBytes(new Float32Array(6), [4, 2])).toThrow(/^shape \[4, 2\] holds 8 numbers, the data 6$/);
    expect(() => npyBytes(new Float64Array(2) as never, [2])).toThrow(TypeError);
  });

  it('mask: a grey texture-sized PNG, 255 where the photo shows the texel; a turned face shows less of itself than a frontal one', async () => {
    const share = async (stem: string): Promise<number> => {
      const file = join(out, `${stem}_face0_texture_mask.png`);
      expect(await sharp(file).metadata()).toMatchObject({ width: 256, height: 256, channels: 1 });
      const data = await sharp(file).extractChannel(0).raw().toBuffer();
      expect(new Set(data)).toEqual(new Set([0, 255]));
      let seen = 0;
      for (const i of layout.faceIndex) if (data[i] === 255) seen++;
      return seen / layout.faceIndex.length;
    };
    const frontal = await share('astronaut');
    const turned = await share('image00475');
    expect(frontal).toBeGreaterThan(0.6);
    expect(turned).toBeGreaterThan(0.3);
    expect(turned).toBeLessThan(frontal - 0.1);
  });

  it('frontal: the same surface with the head\'s rotation undone (pose ~0°), where the photo\'s mesh is turned by ~60°', async () => {
    const pose = (await json('image00475')).pose;
    expect(Math.abs(pose.yaw)).toBeGreaterThan(45);
    const turned = parseObj(await readFile(join(out, 'image00475_face0.obj'), 'utf8'));
    const front = parseObj(await readFile(join(out, 'image00475_face0_frontal.obj'), 'utf8'));
    expect(front.positions.length).toBe(turned.positions.length);
    expect(front.colorComponents).toBe(3);
    // Back into the image frame's axes (y down) to fit the canonical face: no rotation left.
    const flipY = (p: Float32Array): Float32Array => p.map((v, i) => (i % 3 === 1 ? -v : v));
    const frontPose = estimatePose(flipY(front.positions), layout.canonical);
    for (const a of ['yaw', 'pitch', 'roll'] as const) expect(Math.abs(frontPose[a]), a).toBeLessThan(0.5);
    const turnedPose = estimatePose(flipY(turned.positions), layout.canonical);
    expect(Math.abs(turnedPose.yaw - pose.yaw)).toBeLessThan(0.5);
    // A rigid turn: distances between vertices are kept (mm, 3 decimals in the OBJ).
    const n = front.positions.length / 3;
    for (let t = 0; t < 200; t++) {
      const a = (t * 7919) % n, b = (t * 104729 + 13) % n;
      const d = (p: Float32Array): number => Math.hypot(p[3 * a] - p[3 * b], p[3 * a + 1] - p[3 * b + 1], p[3 * a + 2] - p[3 * b + 2]);
      expect(Math.abs(d(front.positions) - d(turned.positions))).toBeLessThan(0.01);
    }
    // Centred as the other meshes are: its bounding box about the origin.
    for (let c = 0; c < 3; c++) {
      let lo = Infinity, hi = -Infinity;
      for (let i = c; i < front.positions.length; i += 3) {
        lo = Math.min(lo, front.positions[i]);
        hi = Math.max(hi, front.positions[i]);
      }
      expect(Math.abs(lo + hi)).toBeLessThan(0.01);
    }
  });

  it('mat: vertices, colors, triangles (0-based int32) and kpt as MATLAB level-5 arrays: the position map\'s face pixels, the OBJ\'s colours, the layout\'s triangles, the JSON\'s landmarks; scipy reads it', async () => {
    const path = join(out, 'image00475_face0_mesh.mat');
    const mat = readMat(new Uint8Array(await readFile(path)), path);
    expect(mat.description).toBe('MATLAB 5.0 MAT-file, written by prnet-ts');
    expect([...mat.variables.keys()]).toEqual(['vertices', 'colors', 'triangles', 'kpt']);
    const v = (name: string): MatNumeric => mat.variables.get(name) as MatNumeric;
    const n = layout.faceIndex.length;
    expect(v('vertices')).toMatchObject({ kind: 'numeric', className: 'double', dims: [n, 3] });
    expect(v('colors')).toMatchObject({ className: 'double', dims: [n, 3] });
    expect(v('triangles')).toMatchObject({ className: 'int32', dims: [layout.triangles.length / 3, 3] });
    expect(v('kpt')).toMatchObject({ className: 'double', dims: [68, 3] });
    // Column-major, as MATLAB stores it: element (r, c) at c·rows + r.
    const el = (a: MatNumeric, r: number, c: number): number => a.data[c * a.dims[0] + r];
    // The vertices are the position map's face pixels (float32 both: exact).
    const pos = parseNpy(await readFile(join(out, 'image00475_face0_posmap.npy'))).data;
    for (let i = 0; i < n; i += 97) for (let c = 0; c < 3; c++) expect(el(v('vertices'), i, c)).toBe(pos[3 * layout.faceIndex[i] + c]);
    for (let t = 0; t < layout.triangles.length / 3; t += 89) for (let c = 0; c < 3; c++) expect(el(v('triangles'), t, c)).toBe(layout.triangles[3 * t + c]);
    expect(v('triangles').data.reduce((a, b) => Math.min(a, b))).toBe(0);
    expect(v('triangles').data.reduce((a, b) => Math.max(a, b))).toBe(n - 1);
    // The OBJ's vertex colours (4 decimals there).
    const objColors = (await readFile(join(out, 'image00475_face0.obj'), 'utf8')).split('\n').filter((l) => l.startsWith('v ')).map((l) => l.split(' ').slice(4, 7).map(Number));
    expect(objColors).toHaveLength(n);
    for (let i = 0; i < n; i += 97) for (let c = 0; c < 3; c++) expect(Math.abs(el(v('colors'), i, c) - objColors[i][c])).toBeLessThan(1e-3);
    const lm = (await json('image00475')).landmarks['3d'];
    for (let k = 0; k < 68; k++) for (let c = 0; c < 3; c++) expect(Math.abs(el(v('kpt'), k, c) - lm[k][c])).toBeLessThan(6e-4);
    if (skipScipy) return;
    requireScipy('scipy.io.loadmat of the .mat output');
    const py = spawnSync(PYTHON, ['-c', [
      'import scipy.io, sys',
      'm = scipy.io.loadmat(sys.argv[1])',
      "print(*[f'{k}:{m[k].dtype}:{m[k].shape[0]}x{m[k].shape[1]}' for k in ('vertices', 'colors', 'triangles', 'kpt')])",
      "print(*m['kpt'][30], *m['triangles'][5], *m['vertices'][1234])",
    ].join('\n'), path], { encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
    const [kinds, values] = py.stdout.trim().split('\n');
    expect(kinds).toBe(`vertices:float64:${n}x3 colors:float64:${n}x3 triangles:int32:${layout.triangles.length / 3}x3 kpt:float64:68x3`);
    const nums = values.split(' ').map(Number);
    nums.slice(0, 3).forEach((x, c) => expect(Math.abs(x - lm[30][c])).toBeLessThan(6e-4));
    expect(nums.slice(3, 6)).toEqual(Array.from(layout.triangles.subarray(15, 18)));
    nums.slice(6, 9).forEach((x, c) => expect(x).toBeCloseTo(pos[3 * layout.faceIndex[1234] + c], 5));
  });

  it('matBytes: 2-D arrays of double, single and int32, refused when the shape, name, class or an int32 does not fit', () => {
    const mat = readMat(matBytes([
      { name: 'a', shape: [2, 3], data: [1, 2, 3, 4, 5, 6.5] },
      { name: 'single_1', shape: [1, 2], data: Float32Array.of(0.25, -1), class: 'single' },
      { name: 'ints', shape: [3, 1], data: Int32Array.of(-7, 0, 2 ** 31 - 1), class: 'int32' },
      { name: 'empty', shape: [0, 3], data: [] },
    ]));
    const a = mat.variables.get('a') as MatNumeric;
    // row-major in, column-major stored
    expect(a).toMatchObject({ className: 'double', dims: [2, 3] });
    expect(Array.from(a.data)).toEqual([1, 4, 2, 5, 3, 6.5]);
    expect(mat.variables.get('single_1')).toMatchObject({ className: 'single', dims: [1, 2], data: Float64Array.of(0.25, -1) });
    expect(mat.variables.get('ints')).toMatchObject({ className: 'int32', dims: [3, 1], data: Float64Array.of(-7, 0, 2 ** 31 - 1) });
    expect(mat.variables.get('empty')).toMatchObject({ dims: [0, 3] });
    expect(() => matBytes([{ name: 'x', shape: [2, 2], data: [1, 2, 3] }])).toThrow(/^x's shape \[2, 2\] holds 4 numbers, the data 3$/);
    expect(() => matBytes([{ name: '1x', shape: [1, 1], data: [1] }])).toThrow(/name must be a letter/);
    expect(() => matBytes([{ name: 'x', shape: [1, 1], data: [1] }, { name: 'x', shape: [1, 1], data: [2] }])).toThrow(/two MAT variables are named x/);
    expect(() => matBytes([{ name: 'x', shape: [1, 1], data: [1.5], class: 'int32' }])).toThrow(/x is int32, but holds 1.5/);
    expect(() => matBytes([{ name: 'x', shape: [1, 1], data: [1], class: 'uint8' as never }])).toThrow(/class must be double, single or int32/);
    expect(() => matBytes([{ name: 'x', shape: [1, 1, 1] as never, data: [1] }])).toThrow(/shape must be \[rows, columns\]/);
    expect(() => matBytes([{ name: 'x', shape: [2 ** 32 + 5, 0], data: [] }])).toThrow(/from 0 to 2\^31 − 1/);
    // (a length-only stand-in: the check comes before the data is read)
    expect(() => matBytes([{ name: 'x', shape: [2 ** 28, 1], data: { length: 2 ** 28 } as ArrayLike<number> }])).toThrow(/takes 2147483648 bytes, above a MAT-file array's 2147483647/);
  });

  it('a 12-MP photo\'s mesh overlay is a wireframe, not a white wash (its lines kept apart as they thicken): about half the face\'s pixels changed, as in a 512² photo (it was 85 %)', async () => {
    const dir = await dirs.make('big-overlay');
    const face = await sharp(ASTRONAUT).resize(2048, 2048).toBuffer();
    const photo = join(dir, 'big.png');
    await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#808080' } }).composite([{ input: face, left: 976, top: 476 }]).png().toFile(photo);
    const res = await runCli(['reconstruct', photo, '--out', dir, '--model', 'light', '--formats', 'json,overlay', '--quiet']);
    expect(res.code, res.stderr).toBe(0);
    const json = JSON.parse(await readFile(join(dir, 'big_face0.json'), 'utf8')) as FaceJson;
    const lm = json.landmarks['2d'];
    const xs = lm.map((p) => p[0]!), ys = lm.map((p) => p[1]!);
    const x0 = Math.floor(Math.min(...xs)), y0 = Math.floor(Math.min(...ys)), w = Math.ceil(Math.max(...xs)) - x0, h = Math.ceil(Math.max(...ys)) - y0;
    const region = async (file: string) => sharp(file).removeAlpha().extract({ left: x0, top: y0, width: w, height: h }).raw().toBuffer();
    const [before, after] = await Promise.all([region(photo), region(join(dir, 'big_mesh.png'))]);
    let changed = 0;
    for (let i = 0; i < before.length; i += 3) if (before[i] !== after[i] || before[i + 1] !== after[i + 1] || before[i + 2] !== after[i + 2]) changed++;
    const share = changed / (w * h);
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.65);
  }, 60_000);

  it('the depth image is a one-channel PNG (it was written as RGB)', async () => {
    expect((await sharp(join(out, 'image00475_depth.png')).metadata()).channels).toBe(1);
  });

  it('usage: --posmap alone names the --formats that adds it; a misspelt format is refused with the known ones', async () => {
    const alone = await runCli(['reconstruct', ASTRONAUT, '--out', out, '--posmap']);
    expect(alone.code).toBe(2);
    expect(alone.errLines).toEqual(['prnet: --posmap is not an option: choose the outputs with --formats posmap (only those), or --formats default,posmap (every output written without --formats, and that one)']);
    const both = await runCli(['reconstruct', ASTRONAUT, '--out', out, '--json', '--posmap']);
    expect(both.stderr).toMatch(/--formats json,posmap \(only those\), or --formats default,posmap \(/);
    const typo = await runCli(['reconstruct', ASTRONAUT, '--out', out, '--formats', 'json,posmaps']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/--formats: unknown format 'posmaps' \(known: json, obj, textured, ply, glb, depth, overlay, posmap, mask, frontal, mat, and default for .*\) \(did you mean 'posmap'\?\)/);
  });
});
