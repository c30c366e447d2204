import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { objSafeName, roundNumber, toJson, uvFromFaceIndex, writeGlb, writeObj, writeObjTextured, writePly } from '../src/export/index.js';
import { fmt, TextWriter } from '../src/export/text.js';
import { encodePng } from '../src/io/image-node.js';

// A unit quad in image pixels (y down): v0 top-left, v1 top-right, v2 bottom-left, v3 bottom-right,
// triangles counter-clockwise seen from the front once y points up.
const H = 100;
const vertices = new Float32Array([10, 20, 5, 30, 20, 5, 10, 40, 7, 30, 40, 7]);
const triangles = new Int32Array([0, 2, 1, 1, 2, 3]);
const colors = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5]);

function parseObj(text: string) {
  const v: number[][] = [];
  const vt: number[][] = [];
  const f: string[][] = [];
  const other: string[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'v') v.push(parts.slice(1).map(Number));
    else if (parts[0] === 'vt') vt.push(parts.slice(1).map(Number));
    else if (parts[0] === 'f') f.push(parts.slice(1));
    else if (parts[0] && parts[0] !== '#') other.push(line);
  }
  return { v, vt, f, other };
}

describe('OBJ', () => {
  it('writes vertex colours and 1-based faces in the y-up frame', () => {
    const { v, vt, f } = parseObj(writeObj(vertices, triangles, colors, { imageHeight: H, normals: false }));
    expect(v.length).toBe(4);
    expect(vt.length).toBe(0);
    expect(f).toEqual([['1', '3', '2'], ['2', '3', '4']]);
    expect(v[0]).toEqual([10, 79, 5, 1, 0, 0]);
    expect(v[3]).toEqual([30, 59, 7, 0.5, 0.5, 0.5]);
  });

  it('writes positions only without colours, and y = −y without an image height', () => {
    const { v } = parseObj(writeObj(vertices, triangles));
    expect(v[1]).toEqual([30, -20, 5]);
  });

  it('writes texture coordinates, material library and v/vt faces', () => {
    const uv = new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]);
    const { obj, mtl } = writeObjTextured(vertices, triangles, uv, { imageHeight: H, mtlFile: 'a.mtl', textureFile: 'a.png', normals: false });
    const { v, vt, f, other } = parseObj(obj);
    expect(v.length).toBe(4);
    expect(vt).toEqual([[0, 1], [1, 1], [0, 0], [1, 0]]);
    expect(f[0]).toEqual(['1/1', '3/3', '2/2']);
    expect(other).toContain('mtllib a.mtl');
    expect(other).toContain('usemtl face');
    expect(mtl).toContain('newmtl face');
    expect(mtl).toContain('map_Kd a.png');
  });

  it('rejects non-finite vertices and out-of-range indices', () => {
    expect(() => writeObj(new Float32Array([0, 0, NaN]), new Int32Array([0, 0, 0]))).toThrow(InputError);
    expect(() => writeObj(vertices, new Int32Array([0, 1, 4]))).toThrow(/vertex 4/);
    expect(() => writeObj(vertices, triangles, new Float32Array(3))).toThrow(InputError);
  });
});

function parsePly(bytes: Uint8Array) {
  const end = Buffer.from(bytes).indexOf('end_header\n') + 'end_header\n'.length;
  const header = new TextDecoder().decode(bytes.subarray(0, end)).split('\n');
  return { header, body: bytes.subarray(end) };
}

describe('PLY', () => {
  it('writes binary little-endian vertices, colours and faces', () => {
    const bytes = writePly(vertices, triangles, colors, { imageHeight: H, normals: false });
    const { header, body } = parsePly(bytes);
    expect(header[0]).toBe('ply');
    expect(header).toContain('format binary_little_endian 1.0');
    expect(header).toContain('element vertex 4');
    expect(header).toContain('element face 2');
    expect(header).toContain('property uchar red');
    expect(header).toContain('property list uchar int vertex_indices');
    expect(body.byteLength).toBe(4 * 15 + 2 * 13);
    const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    expect([dv.getFloat32(0, true), dv.getFloat32(4, true), dv.getFloat32(8, true)]).toEqual([10, 79, 5]);
    expect([body[12], body[13], body[14]]).toEqual([255, 0, 0]);
    expect([body[57], body[58], body[59]]).toEqual([128, 128, 128]);
    const f = 60;
    expect(body[f]).toBe(3);
    expect([dv.getInt32(f + 1, true), dv.getInt32(f + 5, true), dv.getInt32(f + 9, true)]).toEqual([0, 2, 1]);
    expect([dv.getInt32(f + 14, true), dv.getInt32(f + 18, true), dv.getInt32(f + 22, true)]).toEqual([1, 2, 3]);
  });

  it('writes ASCII with normals facing the viewer', () => {
    const text = new TextDecoder().decode(writePly(vertices, triangles, colors, { format: 'ascii', normals: true, imageHeight: H }));
    const { header } = parsePly(new TextEncoder().encode(text));
    expect(header).toContain('format ascii 1.0');
    const rows = text.slice(text.indexOf('end_header\n') + 11).trim().split('\n').map((l) => l.split(' ').map(Number));
    expect(rows.length).toBe(6);
    expect(rows[0].slice(0, 3)).toEqual([10, 79, 5]);
    expect(rows[0][5]).toBeGreaterThan(0.9); // nz > 0: counter-clockwise = front after the y flip
    expect(rows[0].slice(6)).toEqual([255, 0, 0]);
    expect(rows[4]).toEqual([3, 0, 2, 1]);
  });
});

interface Gltf {
  asset: { version: string };
  accessors: { bufferView: number; byteOffset?: number; componentType: number; count: number; type: string; min?: number[]; max?: number[] }[];
  bufferViews: { buffer: number; byteOffset: number; byteLength: number; target?: number }[];
  buffers: { byteLength: number }[];
  meshes: { primitives: { attributes: Record<string, number>; indices: number; material: number }[] }[];
  materials: { pbrMetallicRoughness: { baseColorTexture?: { index: number } } }[];
  images?: { bufferView: number; mimeType: string }[];
  textures?: { source: number }[];
}

function parseGlb(bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(dv.getUint32(0, true)).toBe(0x46546c67);
  expect(dv.getUint32(4, true)).toBe(2);
  expect(dv.getUint32(8, true)).toBe(bytes.byteLength);
  const jsonLength = dv.getUint32(12, true);
  expect(dv.getUint32(16, true)).toBe(0x4e4f534a);
  expect(jsonLength % 4).toBe(0);
  const jsonBytes = bytes.subarray(20, 20 + jsonLength);
  const text = new TextDecoder().decode(jsonBytes);
  expect(text.trimEnd().endsWith('}')).toBe(true);
  expect(/^ *$/.test(text.slice(text.lastIndexOf('}') + 1))).toBe(true); // padded with spaces
  const gltf = JSON.parse(text) as Gltf;
  const binStart = 20 + jsonLength;
  const binLength = dv.getUint32(binStart, true);
  expect(dv.getUint32(binStart + 4, true)).toBe(0x004e4942);
  expect(binLength % 4).toBe(0);
  expect(binStart + 8 + binLength).toBe(bytes.byteLength);
  const bin = bytes.subarray(binStart + 8, binStart + 8 + binLength);
  expect(gltf.buffers[0].byteLength).toBe(binLength);
  for (const view of gltf.bufferViews) {
    expect(view.byteOffset % 4).toBe(0);
    expect(view.byteOffset + view.byteLength).toBeLessThanOrEqual(binLength);
  }
  const read = (accessorIndex: number): Float32Array | Uint32Array => {
    const a = gltf.accessors[accessorIndex];
    const view = gltf.bufferViews[a.bufferView];
    const width = { SCALAR: 1, VEC2: 2, VEC3: 3 }[a.type] ?? 0;
    const start = bin.byteOffset + view.byteOffset + (a.byteOffset ?? 0);
    expect(start % 4).toBe(0);
    expect((a.byteOffset ?? 0) + a.count * width * 4).toBeLessThanOrEqual(view.byteLength);
    const buf = bin.buffer.slice(start, start + a.count * width * 4);
    return a.componentType === 5126 ? new Float32Array(buf) : new Uint32Array(buf);
  };
  return { gltf, bin, read };
}

describe('GLB', () => {
  it('writes a valid binary glTF with positions (min/max), normals, colours and indices', () => {
    const { gltf, bin, read } = parseGlb(writeGlb({ vertices, triangles, colors }, { imageHeight: H }));
    expect(gltf.asset.version).toBe('2.0');
    const prim = gltf.meshes[0].primitives[0];
    const pos = gltf.accessors[prim.attributes.POSITION];
    expect(pos.count).toBe(4);
    expect(pos.componentType).toBe(5126);
    expect(pos.min).toEqual([10, 59, 5]);
    expect(pos.max).toEqual([30, 79, 7]);
    expect(Array.from(read(prim.attributes.POSITION).slice(0, 3))).toEqual([10, 79, 5]);
    const normals = read(prim.attributes.NORMAL);
    for (let i = 0; i < 4; i++) expect(normals[3 * i + 2]).toBeGreaterThan(0.9);
    const col = read(prim.attributes.COLOR_0);
    expect(gltf.accessors[prim.attributes.COLOR_0].count).toBe(4);
    expect(col[0]).toBe(1);
    expect(col[9]).toBeCloseTo(0.214, 3); // sRGB 0.5 decoded to linear
    const idxAcc = gltf.accessors[prim.indices];
    expect(idxAcc.componentType).toBe(5125);
    expect(idxAcc.count).toBe(6);
    const idx = read(prim.indices);
    expect(Array.from(idx)).toEqual([0, 2, 1, 1, 2, 3]);
    expect(Math.max(...idx)).toBeLessThan(pos.count);
    expect(gltf.bufferViews[gltf.accessors[prim.indices].bufferView].target).toBe(34963);
    // Padding of the BIN chunk is zeros.
    const lastView = gltf.bufferViews[gltf.bufferViews.length - 1];
    expect(bin.subarray(lastView.byteOffset + lastView.byteLength).every((b) => b === 0)).toBe(true);
  });

  it('embeds a PNG texture with texture coordinates, padding the image view to 4 bytes; no vertex colours beside it', async () => {
    const png = new Uint8Array(await encodePng(new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9, 1, 2, 3]), 5, 1));
    const uv = uvFromFaceIndex(new Int32Array([0, 255, 65280, 65535]));
    // Colours given with the texture are left out: glTF would multiply them into it.
    const { gltf, bin, read } = parseGlb(writeGlb({ vertices, triangles, colors, uv, texturePng: png }, { normals: false }));
    const prim = gltf.meshes[0].primitives[0];
    expect(prim.attributes.NORMAL).toBeUndefined();
    expect(prim.attributes.COLOR_0).toBeUndefined();
    const tc = read(prim.attributes.TEXCOORD_0);
    expect(tc[0]).toBeCloseTo(0.5 / 256, 6);
    expect(tc[2]).toBeCloseTo(255.5 / 256, 6);
    expect(tc[5]).toBeCloseTo(255.5 / 256, 6);
    expect(gltf.images?.[0].mimeType).toBe('image/png');
    const view = gltf.bufferViews[gltf.images![0].bufferView];
    expect(view.byteLength).toBe(png.byteLength);
    expect(bin.subarray(view.byteOffset, view.byteOffset + view.byteLength)).toEqual(png);
    expect(gltf.materials[prim.material].pbrMetallicRoughness.baseColorTexture?.index).toBe(0);
    expect(gltf.textures?.[0].source).toBe(0);
  });

  it('rejects a texture without uv, non-PNG bytes and an empty mesh', () => {
    expect(() => writeGlb({ vertices, triangles, texturePng: new Uint8Array(16) })).toThrow(InputError);
    expect(() => writeGlb({ vertices, triangles, uv: new Float32Array(8), texturePng: new Uint8Array(16) })).toThrow(/PNG/);
    expect(() => writeGlb({ vertices: new Float32Array(0), triangles: new Int32Array(0) })).toThrow(InputError);
  });
});

describe('frame and text options are checked (RangeError), not written as zeros, Infinity or extra lines', () => {
  it.each([
    ['writeObj scale NaN', () => writeObj(vertices, triangles, undefined, { scale: NaN }), /scale must be a finite number > 0, got NaN/],
    ['writeObj decimals NaN', () => writeObj(vertices, triangles, undefined, { decimals: NaN }), /decimals must be a whole number from 0 to 10, got NaN/],
    ['writeObj origin [1]', () => writeObj(vertices, triangles, undefined, { origin: [1] }), /origin must be three finite numbers .*got \[1\]/],
    ['writeObj imageHeight 0', () => writeObj(vertices, triangles, undefined, { imageHeight: 0 }), /imageHeight must be a whole number ≥ 1, got 0/],
    ['writePly scale Infinity', () => writePly(vertices, triangles, undefined, { scale: Infinity, format: 'ascii' }), /scale must be a finite number > 0, got Infinity/],
    ['writeGlb scale NaN', () => writeGlb({ vertices, triangles }, { scale: NaN }), /scale must be a finite number > 0/],
    ['writeObjTextured mtlFile with a newline', () => writeObjTextured(vertices, triangles, new Float32Array(8), { mtlFile: 'a b\nusemtl x.mtl' }), /mtlFile must be a non-empty name without control characters/],
    ['writeObjTextured textureFile with a newline', () => writeObjTextured(vertices, triangles, new Float32Array(8), { textureFile: 'x\nKd 1 0 0.png' }), /textureFile must be/],
    // what OBJ readers do not read back: a comment sign, a leading space, doubled spaces, a tab
    ['writeObjTextured mtlFile with #', () => writeObjTextured(vertices, triangles, new Float32Array(8), { mtlFile: 'photo #1.mtl' }), /mtlFile must be a non-empty name without control characters, '#', or spaces at its ends or doubled .*"photo #1.mtl"/],
    ['writeObjTextured mtlFile with a leading space', () => writeObjTextured(vertices, triangles, new Float32Array(8), { mtlFile: ' a.mtl' }), /mtlFile must be/],
    ['writeObjTextured textureFile with doubled spaces', () => writeObjTextured(vertices, triangles, new Float32Array(8), { textureFile: 'a  b.png' }), /textureFile must be/],
    ['writeObjTextured materialName with a tab', () => writeObjTextured(vertices, triangles, new Float32Array(8), { materialName: 'a\tb' }), /materialName must be/],
  ])('%s', (_name, write, message) => {
    expect(write).toThrow(RangeError);
    expect(write).toThrow(message);
  });

  it('objSafeName gives names OBJ readers read back; single spaces between words stay', () => {
    expect(objSafeName(' my  photo #1')).toBe('_my__photo _1');
    expect(objSafeName('a b.c')).toBe('a b.c');
    expect(objSafeName('tab\tnbsp\u00a0nl\n')).toBe('tab_nbsp_nl_');
    expect(writeObjTextured(vertices, triangles, new Float32Array(8), { mtlFile: 'my photo.mtl' }).obj).toContain('mtllib my photo.mtl\n');
  });

  it('valid options still write', () => {
    expect(parseObj(writeObj(vertices, triangles, undefined, { scale: 2, decimals: 0, origin: [0, 0, 0] })).v[0]).toEqual([20, -40, 10]);
  });
});

describe('JSON', () => {
  it('rounds numbers to 3 decimals and never writes NaN', () => {
    expect(roundNumber(1.23456)).toBe(1.235);
    expect(roundNumber(-0.0001)).toBe(0);
    expect(Object.is(roundNumber(-0.0001), -0)).toBe(false);
    expect(roundNumber(NaN)).toBeNull();
    expect(roundNumber(Infinity)).toBeNull();
    const text = toJson({ a: 1 / 3, b: [NaN, 2.00049], c: new Float32Array([0.1, 0.25]), d: 'x' });
    expect(text.endsWith('\n')).toBe(true);
    expect(JSON.parse(text)).toEqual({ a: 0.333, b: [null, 2], c: [0.1, 0.25], d: 'x' });
    expect(text).not.toContain('NaN');
  });

  it('keeps 7 significant digits of a scale factor (unitsPerPixel), whose relative precision 3 decimals would lose', () => {
    // A 4000-pixel photo's face: 0.18722 mm per pixel; 0.187 would put a landmark 0.1 mm off.
    const parsed = JSON.parse(toJson({ mesh: { unitsPerPixel: 0.187223456, origin: [1.23456, null] }, nan: { unitsPerPixel: NaN } })) as unknown;
    expect(parsed).toEqual({ mesh: { unitsPerPixel: 0.1872235, origin: [1.235, null] }, nan: { unitsPerPixel: null } });
    expect(JSON.parse(toJson({ unitsPerPixel: 0.187223456 }, { significantKeys: new Set() }))).toEqual({ unitsPerPixel: 0.187 });
  });

  it('keeps 6 decimals of a rotation and a pose matrix (nested, typed or not): a rotation read back stays a rotation', () => {
    const a = 0.3, c = Math.cos(a), s = Math.sin(a);
    const parsed = JSON.parse(toJson({ pose: { yaw: 17.1234567, rotation: [[c, 0, s], [0, 1, 0], [-s, 0, c]], matrix: Float64Array.of(c, 1.23456789) }, other: [[c]] })) as {
      pose: { yaw: number; rotation: number[][]; matrix: number[] };
      other: number[][];
    };
    expect(parsed.pose.yaw).toBe(17.123);
    expect(parsed.pose.rotation[0][0]).toBe(0.955336);
    expect(parsed.pose.matrix).toEqual([0.955336, 1.234568]);
    expect(parsed.other[0][0]).toBe(0.955);
    const R = parsed.pose.rotation;
    const det = R[0][0] * (R[1][1] * R[2][2] - R[1][2] * R[2][1]) - R[0][1] * (R[1][0] * R[2][2] - R[1][2] * R[2][0]) + R[0][2] * (R[1][0] * R[2][1] - R[1][1] * R[2][0]);
    expect(Math.abs(det - 1)).toBeLessThan(2e-6);
  });
});

describe('ASCII number writer', () => {
  // The rule the ASCII writers have always followed, written out independently of src/.
  const reference = (x: number, decimals: number): string => {
    const f = 10 ** decimals;
    const r = Math.round(x * f) / f;
    if (r === 0 || Number.isNaN(r)) return '0';
    if (Math.abs(r) >= 1e21) return x.toFixed(0);
    return String(r);
  };
  const fixed = (x: number, d: number): string => new TextWriter(1).fixed(x, d).toString();

  it('formats edge values exactly as the reference rule', () => {
    const edges = [
      0, -0, NaN, Infinity, -Infinity, 1e-7, -1e-7, 5e-8, 4.9e-8, 1.5e-7, 9.99e-7, 1e-6, -1e-6, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5,
      0.00005, -0.00005, 0.000049, -0.000049, 0.00015, -0.00015, 1.005, -1.005, 0.1 + 0.2, 99.99995, -99.99995, 123456789.12345679,
      2147483647, 2147483648, -2147483648, 214748.36475, 1e14, 1e15, 1e16, 2 ** 53, 1e20, 1e21, -1e21, 1e300, Number.MAX_VALUE,
      Number.MIN_VALUE, -Number.MIN_VALUE, 0.49999999999999994,
    ];
    for (const x of edges) {
      for (let d = 0; d <= 9; d++) expect([x, d, fixed(x, d), fmt(x, d)]).toEqual([x, d, reference(x, d), reference(x, d)]);
    }
    expect(fmt(-0.00001, 4)).toBe('0');
    expect(fixed(-0.00001, 4)).toBe('0');
    expect(fixed(-1.23456, 4)).toBe('-1.2346');
    expect(fixed(2.5, 0)).toBe('3');
    expect(fixed(-2.5, 0)).toBe('-2');
    expect(fixed(1e-7, 7)).toBe('1e-7');
    expect(fixed(NaN, 3)).toBe('0');
    expect(fixed(Infinity, 4)).toBe('Infinity');
  });

  it('formats random values of every magnitude exactly as the reference rule', () => {
    let seed = 12345;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const mismatches: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const x = (rnd() - 0.5) * 10 ** Math.floor(rnd() * 36 - 12);
      const y = Math.fround(x);
      const grid = (Math.round((rnd() - 0.5) * 2e6) + 0.5) / 1e4; // halves at the 4th decimal
      for (const v of [x, y, grid]) {
        for (const d of [0, 1, 3, 4, 5, 6, 7]) {
          const got = fixed(v, d);
          if (got !== reference(v, d) && mismatches.length < 5) mismatches.push(`${v} ${d}: ${got} ≠ ${reference(v, d)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('writes integers, ASCII and UTF-8 text, and grows', () => {
    const w = new TextWriter(1);
    for (const n of [0, 7, -7, 10, 2147483647, 2147483648, -2147483649, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e21, 1.5, NaN]) {
      w.int(n).byte(32);
    }
    w.text('é ✓ 😀').byte(10);
    for (let i = 0; i < 1000; i++) w.fixed(i / 7, 4).byte(32);
    const text = w.toString();
    expect(text.startsWith('0 7 -7 10 2147483647 2147483648 -2147483649 9007199254740991 -9007199254740991 1e+21 1.5 NaN é ✓ 😀\n')).toBe(true);
    expect(text.trim().split('\n')[1].split(' ').map(Number)).toEqual(Array.from({ length: 1000 }, (_, i) => Math.round((i / 7) * 1e4) / 1e4));
    expect(w.bytes()).toEqual(new TextEncoder().encode(text));
  });

  it('writes OBJ and ASCII PLY files byte for byte', () => {
    // Float32 inputs: 3.00005 is stored as 3.00005007 (→ 3.0001), 99.99999 as 99.99999237 (→ 100).
    const v = new Float32Array([0, 0.5, -0, 1.23456, -2.00004, 3.00005, -0.00004, 1e-9, 99.99999]);
    const t = new Int32Array([0, 1, 2]);
    const c = new Float32Array([0, 1, 0.5, 2, -1, NaN, 0.33333, 0.66666, 0.123456]);
    const head = '# prnet-ts\n# 3 vertices, 1 triangles; x right, y up, z towards the viewer, pixel units\n';
    expect(writeObj(v, t, c, { comment: 'test', normals: false })).toBe(
      `${head}# test\nv 0 -0.5 0 0 1 0.5\nv 1.2346 2 3.0001 1 0 0\nv 0 0 100 0.3333 0.6667 0.1235\nf 1 2 3\n`,
    );
    expect(writeObjTextured(v, t, new Float32Array([0.5, 0.25, 1 / 3, 1, 0, 0]), { decimals: 2, normals: false }).obj).toBe(
      `${head}mtllib face.mtl\nv 0 -0.5 0\nv 1.23 2 3\nv 0 0 100\nvt 0.5 0.75\nvt 0.333333 0\nvt 0 1\nusemtl face\nf 1/1 2/2 3/3\n`,
    );
    // With normals (the default): one vn per vertex, one smoothing group, v//vn and v/vt/vn faces.
    const n = new Float32Array([0, 0, 1, 0.6, 0, 0.8, 0, -1, 0]);
    expect(writeObj(v, t, undefined, { normals: n })).toBe(`${head}v 0 -0.5 0\nv 1.2346 2 3.0001\nv 0 0 100\nvn 0 0 1\nvn 0.6 0 0.8\nvn 0 -1 0\ns 1\nf 1//1 2//2 3//3\n`);
    expect(writeObjTextured(v, t, new Float32Array(6), { decimals: 0, normals: n }).obj).toMatch(/\nvn 0 -1 0\nusemtl face\ns 1\nf 1\/1\/1 2\/2\/2 3\/3\/3\n$/);
    const ply = new TextDecoder().decode(writePly(v, t, c, { format: 'ascii', normals: false }));
    expect(ply.slice(ply.indexOf('end_header\n') + 11)).toBe('0 -0.5 0 0 255 128\n1.2346 2 3.0001 255 0 0\n0 0 100 85 170 31\n3 0 1 2\n');
  });
});
