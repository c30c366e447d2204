/**
 * Wavefront OBJ writers: vertex colours (`v x y z r g b`, the extension MeshLab and Blender read),
 * or texture coordinates with a material library (OBJ + MTL + a texture image written beside it).
 * Positions are in the model frame (see mesh.ts); faces are 1-based and counter-clockwise = front.
 * By default vertex normals are written (`vn`, one per vertex, faces `v//vn` or `v/vt/vn`) with one
 * smoothing group (`s 1`), so importers shade the face smooth rather than faceted.
 */
import { checkMesh, FRAME_OPTIONS, resolveNormals, toModelFrame, unitsLabel, type FrameOptions, type Triangles, type Vertices } from './mesh.js';
import { checkDecimals, memoText, TextWriter } from './text.js';
import { checkKnownOptions } from '../track/options.js';

/** writeObj's known options. */
const OBJ_OPTIONS = [...FRAME_OPTIONS, 'decimals', 'comment', 'normals'];

const SPACE = 32;
const NEWLINE = 10;

export interface ObjOptions extends FrameOptions {
  /** Decimals for positions (default 4). */
  decimals?: number;
  /** A comment line for the header. */
  comment?: string;
  /** Vertex normals (`vn`) and smoothing (`s 1`): true (default) computes them, or pass model-frame unit normals N×3; false: none. */
  normals?: boolean | Float32Array;
}

export interface TexturedObjOptions extends ObjOptions {
  /** File name of the material library, as referenced by `mtllib` (default "face.mtl"). */
  mtlFile?: string;
  /** File name of the texture image, as referenced by `map_Kd` (default "face_texture.png"). */
  textureFile?: string;
  /** Material name (default "face"). */
  materialName?: string;
}

/** OBJ with per-vertex colours (N×3, 0..1; omitted → positions only). */
export function writeObj(vertices: Vertices, triangles: Triangles, colors?: ArrayLike<number>, options: ObjOptions = {}): string {
  return new TextDecoder().decode(writeObjBytes(vertices, triangles, colors, options));
}

/** writeObj's text as UTF-8 bytes, without the string (what a file gets: no decode and re-encode). */
export function writeObjBytes(vertices: Vertices, triangles: Triangles, colors?: ArrayLike<number>, options: ObjOptions = {}): Uint8Array {
  options ??= {};
  checkKnownOptions(options, OBJ_OPTIONS, 'writeObj option', { decimal: 'decimals' });
  checkMesh(vertices, triangles, { colors: { array: colors, width: 3 } });
  return objBytes(toModelFrame(vertices, options), resolveNormals(options.normals, true, vertices, triangles), triangles, colors, options);
}

/**
 * writeObjBytes of a mesh already checked (checkMesh, with the colours and normals) and in the
 * model frame: positions p (toModelFrame of the vertices with `options`' frame), model-frame unit
 * normals or none. For a caller that writes several files of one mesh (pipeline/outputs.ts).
 */
export function objBytes(p: Float32Array, normals: Float32Array | undefined, triangles: Triangles, colors: ArrayLike<number> | undefined, options: ObjOptions): Uint8Array {
  const nv = p.length / 3;
  const d = checkDecimals(options.decimals ?? 4);
  // The blocks shared with the textured OBJ (or the previous face) first: the buffer then gets
  // its final size at once, and the result is a view of it (no copy).
  const lines = positionLines(p, d);
  const vn = normals ? normalLines(normals) : null;
  const f = faceLines(triangles, normals ? 2 : 1, normals ? '//' : '');
  const w = new TextWriter(headerRoom(options) + lines.length + (colors ? nv * 21 : 0) + (vn ? vn.length : 0) + f.length);
  header(w, options, nv, triangles.length / 3);
  if (!colors) w.append(lines);
  else colouredLines(w, lines, lineEnds.get(lines), colors, nv);
  if (vn) w.append(vn).text('s 1\n');
  return w.append(f).bytes();
}

/**
 * Appends each `v x y z` line of the block `lines` (its ends from the block when known), then the
 * vertex's colour: written straight into the buffer, 4 bytes at a time (a piece may write a few
 * bytes past its end, which the next piece overwrites), the colours of texel values copied from
 * tables. One loop in its own function, so that V8 optimises it alone.
 */
function colouredLines(w: TextWriter, lines: Uint8Array, ends: Uint32Array | undefined, colors: ArrayLike<number>, nv: number): void {
  const room = lines.length + nv * 3 * COLOUR_ROOM + 8;
  let buf = w.reserve(room);
  let view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const src = new DataView(lines.buffer, lines.byteOffset, lines.byteLength);
  const wordEnd = lines.length - 3; // 4-byte reads below this offset stay inside the block
  let o = w.length;
  let start = 0;
  for (let i = 0; i < nv; i++) {
    let end = ends ? ends[i] : start;
    if (!ends) while (lines[end] !== NEWLINE) end++;
    let j = start;
    for (; j < end && j < wordEnd; j += 4) view.setUint32(o + j - start, src.getUint32(j, true), true);
    for (; j < end; j++) buf[o + j - start] = lines[j];
    o += end - start;
    for (let c = 3 * i; c < 3 * i + 3; c++) {
      const x = clamp01(colors[c]);
      const k = Math.round(x * 255);
      const table = x === k * (1 / 255) ? BYTE_COLOURS : x === Math.fround(k * (1 / 255)) ? FLOAT_COLOURS : null;
      if (table) {
        view.setUint32(o, table.words.getUint32(8 * k, true), true);
        view.setUint32(o + 4, table.words.getUint32(8 * k + 4, true), true);
        o += table.lengths[k];
      } else {
        // (the writer may move to a larger buffer: the rest is written there)
        w.advance(o).byte(SPACE).fixed(x, 4);
        o = w.length;
        const next = w.reserve(lines.length - start + (nv - i) * 3 * COLOUR_ROOM + 8);
        if (next !== buf) {
          buf = next;
          view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        }
      }
    }
    buf[o++] = NEWLINE;
    start = end + 1;
  }
  w.advance(o);
}

/**
 * OBJ with texture coordinates (uv N×2: u right, v down, 0..1 — see uvFromFaceIndex; written as
 * `vt u 1−v`) and its MTL. The texture image itself is the caller's to write, under textureFile.
 */
export function writeObjTextured(
  vertices: Vertices,
  triangles: Triangles,
  uv: ArrayLike<number>,
  options: TexturedObjOptions = {},
): { obj: string; mtl: string } {
  const { obj, mtl } = writeObjTexturedBytes(vertices, triangles, uv, options);
  return { obj: new TextDecoder().decode(obj), mtl };
}

/** writeObjTextured with the OBJ as UTF-8 bytes. */
export function writeObjTexturedBytes(
  vertices: Vertices,
  triangles: Triangles,
  uv: ArrayLike<number>,
  options: TexturedObjOptions = {},
): { obj: Uint8Array; mtl: string } {
  options ??= {};
  checkKnownOptions(options, [...OBJ_OPTIONS, 'mtlFile', 'textureFile', 'materialName'], 'writeObjTextured option', { decimal: 'decimals' });
  checkMesh(vertices, triangles, { uv: { array: uv, width: 2 } });
  return objTexturedBytes(toModelFrame(vertices, options), resolveNormals(options.normals, true, vertices, triangles), triangles, uv, options);
}

/** writeObjTexturedBytes of a mesh already checked and in the model frame (as objBytes). */
export function objTexturedBytes(p: Float32Array, normals: Float32Array | undefined, triangles: Triangles, uv: ArrayLike<number>, options: TexturedObjOptions): { obj: Uint8Array; mtl: string } {
  const nv = p.length / 3;
  const d = checkDecimals(options.decimals ?? 4);
  const mtlFile = lineSafe(options.mtlFile ?? 'face.mtl', 'mtlFile');
  const textureFile = lineSafe(options.textureFile ?? 'face_texture.png', 'textureFile');
  const material = lineSafe(options.materialName ?? 'face', 'materialName');
  const lines = positionLines(p, d);
  const vt = memoText('obj vt', uv, (t) => {
    for (let i = 0; i < 2 * nv; i += 2) t.text('vt ').fixed(uv[i], 6).byte(SPACE).fixed(1 - uv[i + 1], 6).byte(NEWLINE);
  }, nv * 22);
  const vn = normals ? normalLines(normals) : null;
  const f = faceLines(triangles, normals ? 3 : 2, '/');
  const w = new TextWriter(headerRoom(options) + 3 * (mtlFile.length + material.length) + lines.length + vt.length + (vn ? vn.length : 0) + f.length);
  header(w, options, nv, triangles.length / 3);
  w.text(`mtllib ${mtlFile}\n`).append(lines).append(vt);
  if (vn) w.append(vn);
  w.text(`usemtl ${material}\n`);
  if (vn) w.text('s 1\n');
  w.append(f);
  const mtl = [
    `newmtl ${material}`,
    'Ka 1.000 1.000 1.000',
    'Kd 1.000 1.000 1.000',
    'Ks 0.000 0.000 0.000',
    'd 1.0',
    'illum 1',
    `map_Kd ${textureFile}`,
    '',
  ].join('\n');
  return { obj: w.bytes(), mtl };
}

/** Where each line of a block of `v` lines ends (the offset of its newline), per block. */
const lineEnds = new WeakMap<Uint8Array, Uint32Array>();

/** The line ends of the last `v` block written per count of decimals (reused for the next). */
const endsByDecimals = new Map<number, Uint32Array>();

/** `v x y z` lines (the same positions go into both OBJ files of a face: written once). */
function positionLines(p: Float32Array | Float64Array, d: number): Uint8Array {
  let ends: Uint32Array | undefined;
  const bytes = memoText(`obj v ${d}`, p, (t) => {
    ends = endsByDecimals.get(d);
    if (ends?.length !== p.length / 3) endsByDecimals.set(d, (ends = new Uint32Array(p.length / 3)));
    t.triples('v ', p, d, ends);
  }, p.length * 9);
  if (ends) lineEnds.set(bytes, ends);
  return bytes;
}

/**
 * " " and fixed(c, 4) for the colours a texture's texels give: k · (1/255) for each byte value k,
 * as doubles (BYTE_COLOURS) and as the Float32Array values sampleTextureAtUv returns
 * (FLOAT_COLOURS: Math.fround of those); 8 bytes each (zero-padded), and the lengths.
 */
const BYTE_COLOURS = colourTable((k) => k * (1 / 255));
const FLOAT_COLOURS = colourTable((k) => Math.fround(k * (1 / 255)));

function colourTable(value: (k: number) => number): { words: DataView; lengths: Uint8Array } {
  const table = new Uint8Array(8 * 256);
  const lengths = new Uint8Array(256);
  for (let k = 0; k < 256; k++) {
    const text = new TextWriter(8).byte(SPACE).fixed(value(k), 4).toBytes();
    lengths[k] = text.length;
    table.set(text, 8 * k);
  }
  return { words: new DataView(table.buffer), lengths };
}

/** Bytes a colour takes at most: a space and fixed(c, 4) of 0..1 (" 0.1234"). */
const COLOUR_ROOM = 7;

/** `vn` lines (the same normals go into both OBJ files of a face: written once). */
function normalLines(n: Float32Array): Uint8Array {
  return memoText('obj vn', n, (t) => {
    t.triples('vn ', n, 4);
  }, n.length * 9);
}

/** Face lines (the layout's triangles are the same for every face: written once per form). */
function faceLines(triangles: Triangles, repeat: number, sep: string): Uint8Array {
  return memoText(`obj f ${repeat}${sep}`, triangles, (t) => t.faces(triangles, repeat, sep), triangles.length * (repeat * 7 + 2));
}

/** Bytes the header may take (UTF-8 of the comment included). */
function headerRoom(options: ObjOptions): number {
  return 256 + 3 * (options.comment?.length ?? 0);
}

function header(w: TextWriter, options: ObjOptions, nv: number, nt: number): void {
  w.text(`# prnet-ts\n# ${nv} vertices, ${nt} triangles; x right, y up, z towards the viewer, ${unitsLabel(options)}\n`);
  if (options.comment) for (const line of options.comment.split('\n')) w.text(`# ${line}\n`);
}


function clamp01(x: number): number {
  return x > 0 ? (x < 1 ? x : 1) : 0;
}

/**
 * `name` with '_' for what an OBJ or MTL line cannot carry so that readers get it back: control
 * characters (a newline would add lines of its own to the file), '#' (a comment), and whitespace
 * other than a single space between other characters (OBJ readers trim a name's leading space;
 * three.js's MTL reader turns a texture name's double spaces into one). " my  photo #1" →
 * "_my__photo _1".
 */
export function objSafeName(name: string): string {
  return name
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f#]|[^\S ]/g, '_')
    .replace(/^ +| +$| {2,}/g, (spaces) => '_'.repeat(spaces.length));
}

/** A name written into an OBJ or MTL line (file, material): non-empty and objSafeName's own, RangeError otherwise. */
function lineSafe(name: string, option: string): string {
  if (typeof name !== 'string' || !name || objSafeName(name) !== name) {
    throw new RangeError(`${option} must be a non-empty name without control characters, '#', or spaces at its ends or doubled (OBJ readers do not read them back), got ${JSON.stringify(name)}`);
  }
  return name;
}
