/**
 * PLY writer: binary little-endian (default) or ASCII. Vertices carry float x, y, z (model frame,
 * see mesh.ts), float nx, ny, nz (unless normals: false) and optionally uchar red, green, blue; faces are
 * `list uchar int vertex_indices`, counter-clockwise = front.
 */
import { checkMesh, FRAME_OPTIONS, resolveNormals, toByte, toModelFrame, unitsLabel, type FrameOptions, type Triangles, type Vertices } from './mesh.js';
import { memoText, TextWriter } from './text.js';
import { checkKnownOptions } from '../track/options.js';

const SPACE = 32;
const NEWLINE = 10;

export interface PlyOptions extends FrameOptions {
  /** "binary" (binary_little_endian 1.0, default) or "ascii". */
  format?: 'binary' | 'ascii';
  /** Per-vertex normals nx ny nz: true (default) computes them, or pass model-frame unit normals N×3; false: none. */
  normals?: boolean | Float32Array;
  /** A comment line for the header. */
  comment?: string;
}

/** PLY bytes of a mesh with optional per-vertex colours (N×3, 0..1). */
export function writePly(vertices: Vertices, triangles: Triangles, colors?: ArrayLike<number>, options: PlyOptions = {}): Uint8Array {
  options ??= {};
  checkKnownOptions(options, [...FRAME_OPTIONS, 'format', 'normals', 'comment'], 'writePly option');
  // 'ASCII' wrote binary, silently
  if (options.format !== undefined && options.format !== 'binary' && options.format !== 'ascii') throw new RangeError(`format must be 'binary' or 'ascii', got ${JSON.stringify(options.format)}`);
  checkMesh(vertices, triangles, { colors: { array: colors, width: 3 } });
  return plyBytes(toModelFrame(vertices, options), resolveNormals(options.normals, true, vertices, triangles), triangles, colors, options);
}

/** writePly of a mesh already checked (checkMesh, with the colours and normals) and in the model frame (as obj.ts objBytes). */
export function plyBytes(p: Float32Array, normals: Float32Array | undefined, triangles: Triangles, colors: ArrayLike<number> | undefined, options: PlyOptions): Uint8Array {
  const nv = p.length / 3;
  const nt = triangles.length / 3;
  const ascii = options.format === 'ascii';
  const head = [
    'ply',
    `format ${ascii ? 'ascii' : 'binary_little_endian'} 1.0`,
    `comment prnet-ts: x right, y up, z towards the viewer, ${unitsLabel(options)}`,
    ...(options.comment ? options.comment.split('\n').map((l) => `comment ${l}`) : []),
    `element vertex ${nv}`,
    'property float x',
    'property float y',
    'property float z',
    ...(normals ? ['property float nx', 'property float ny', 'property float nz'] : []),
    ...(colors ? ['property uchar red', 'property uchar green', 'property uchar blue'] : []),
    `element face ${nt}`,
    'property list uchar int vertex_indices',
    'end_header',
    '',
  ].join('\n');

  if (ascii) {
    const w = new TextWriter(head.length + nv * (normals ? 64 : 36) + nt * 24);
    w.text(head);
    asciiBody(w, p, normals, colors, triangles);
    return w.toBytes();
  }

  const headBytes = new TextEncoder().encode(head);
  const vsize = 12 + (normals ? 12 : 0) + (colors ? 3 : 0);
  const out = new Uint8Array(headBytes.length + nv * vsize + nt * 13);
  out.set(headBytes, 0);
  const o = binaryVertices(out, headBytes.length, p, normals, colors);
  out.set(faceRecords(triangles), o);
  return out;
}

/** The binary face records of the triangles (the layout's are the same for every face: written once, then copied). */
function faceRecords(triangles: Triangles): Uint8Array {
  const size = 13 * (triangles.length / 3);
  return memoText('ply faces', triangles, (w) => {
    binaryFaces(w.reserve(size), w.length, triangles);
    w.advance(w.length + size);
  }, size);
}

/** The ASCII vertex and face lines. */
function asciiBody(w: TextWriter, p: Float32Array, normals: Float32Array | undefined, colors: ArrayLike<number> | undefined, triangles: Triangles): void {
  for (let i = 0; i < p.length; i += 3) {
    w.fixed(p[i], 4).byte(SPACE).fixed(p[i + 1], 4).byte(SPACE).fixed(p[i + 2], 4);
    if (normals) w.byte(SPACE).fixed(normals[i], 5).byte(SPACE).fixed(normals[i + 1], 5).byte(SPACE).fixed(normals[i + 2], 5);
    if (colors) w.byte(SPACE).int(toByte(colors[i])).byte(SPACE).int(toByte(colors[i + 1])).byte(SPACE).int(toByte(colors[i + 2]));
    w.byte(NEWLINE);
  }
  for (let t = 0; t < triangles.length; t += 3) {
    w.text('3 ').int(triangles[t]).byte(SPACE).int(triangles[t + 1]).byte(SPACE).int(triangles[t + 2]).byte(NEWLINE);
  }
}

/** The binary vertex records from offset o; returns the offset after them. */
function binaryVertices(out: Uint8Array, o: number, p: Float32Array, normals: Float32Array | undefined, colors: ArrayLike<number> | undefined): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const nv = p.length / 3;
  for (let i = 0; i < nv; i++) {
    view.setFloat32(o, p[3 * i], true);
    view.setFloat32(o + 4, p[3 * i + 1], true);
    view.setFloat32(o + 8, p[3 * i + 2], true);
    o += 12;
    if (normals) {
      view.setFloat32(o, normals[3 * i], true);
      view.setFloat32(o + 4, normals[3 * i + 1], true);
      view.setFloat32(o + 8, normals[3 * i + 2], true);
      o += 12;
    }
    if (colors) {
      out[o] = toByte(colors[3 * i]);
      out[o + 1] = toByte(colors[3 * i + 1]);
      out[o + 2] = toByte(colors[3 * i + 2]);
      o += 3;
    }
  }
  return o;
}

/** The binary face records (3, then the three indices as int32) from offset o. */
function binaryFaces(out: Uint8Array, o: number, triangles: Triangles): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let t = 0; t < triangles.length; t += 3) {
    out[o] = 3;
    view.setInt32(o + 1, triangles[t], true);
    view.setInt32(o + 5, triangles[t + 1], true);
    view.setInt32(o + 9, triangles[t + 2], true);
    o += 13;
  }
}
