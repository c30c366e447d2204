/**
 * Wavefront OBJ writers: vertex colours (`v x y z r g b`, the extension MeshLab and Blender read),
 * or texture coordinates with a material library (OBJ + MTL + a texture image written beside it).
 * Positions are in the model frame (see mesh.ts); faces are 1-based and counter-clockwise = front.
 */
import { checkMesh, toModelFrame, type FrameOptions, type Triangles, type Vertices } from './mesh.js';
import { TextWriter } from './text.js';

export interface ObjOptions extends FrameOptions {
  /** Decimals for positions (default 4). */
  decimals?: number;
  /** A comment line for the header. */
  comment?: string;
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
  const nv = checkMesh(vertices, triangles, { colors: { array: colors, width: 3 } });
  const p = toModelFrame(vertices, options);
  const d = options.decimals ?? 4;
  const w = new TextWriter(256 + nv * (colors ? 48 : 28) + triangles.length * 7);
  header(w, options, nv, triangles.length / 3);
  for (let i = 0; i < 3 * nv; i += 3) {
    w.text('v ').fixed(p[i], d).byte(SPACE).fixed(p[i + 1], d).byte(SPACE).fixed(p[i + 2], d);
    if (colors) {
      w.byte(SPACE).fixed(clamp01(colors[i]), 4).byte(SPACE).fixed(clamp01(colors[i + 1]), 4).byte(SPACE).fixed(clamp01(colors[i + 2]), 4);
    }
    w.byte(NEWLINE);
  }
  for (let t = 0; t < triangles.length; t += 3) {
    w.text('f ').int(triangles[t] + 1).byte(SPACE).int(triangles[t + 1] + 1).byte(SPACE).int(triangles[t + 2] + 1).byte(NEWLINE);
  }
  return w.toString();
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
  const nv = checkMesh(vertices, triangles, { uv: { array: uv, width: 2 } });
  const p = toModelFrame(vertices, options);
  const d = options.decimals ?? 4;
  const mtlFile = options.mtlFile ?? 'face.mtl';
  const textureFile = options.textureFile ?? 'face_texture.png';
  const material = options.materialName ?? 'face';
  const w = new TextWriter(256 + nv * 48 + triangles.length * 14);
  header(w, options, nv, triangles.length / 3);
  w.text(`mtllib ${mtlFile}\n`);
  for (let i = 0; i < 3 * nv; i += 3) {
    w.text('v ').fixed(p[i], d).byte(SPACE).fixed(p[i + 1], d).byte(SPACE).fixed(p[i + 2], d).byte(NEWLINE);
  }
  for (let i = 0; i < 2 * nv; i += 2) w.text('vt ').fixed(uv[i], 6).byte(SPACE).fixed(1 - uv[i + 1], 6).byte(NEWLINE);
  w.text(`usemtl ${material}\n`);
  for (let t = 0; t < triangles.length; t += 3) {
    const a = triangles[t] + 1, b = triangles[t + 1] + 1, c = triangles[t + 2] + 1;
    w.text('f ').int(a).byte(SLASH).int(a).byte(SPACE).int(b).byte(SLASH).int(b).byte(SPACE).int(c).byte(SLASH).int(c).byte(NEWLINE);
  }
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
  return { obj: w.toString(), mtl };
}

function header(w: TextWriter, options: ObjOptions, nv: number, nt: number): void {
  w.text(`# prnet-ts\n# ${nv} vertices, ${nt} triangles; x right, y up, z towards the viewer, pixel units\n`);
  if (options.comment) for (const line of options.comment.split('\n')) w.text(`# ${line}\n`);
}

const SPACE = 32;
const SLASH = 47;
const NEWLINE = 10;

function clamp01(x: number): number {
  return x > 0 ? (x < 1 ? x : 1) : 0;
}
