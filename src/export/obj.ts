/**
 * Wavefront OBJ writers: vertex colours (`v x y z r g b`, the extension MeshLab and Blender read),
 * or texture coordinates with a material library (OBJ + MTL + a texture image written beside it).
 * Positions are in the model frame (see mesh.ts); faces are 1-based and counter-clockwise = front.
 */
import { checkMesh, toModelFrame, type FrameOptions, type Triangles, type Vertices } from './mesh.js';

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
  const lines: string[] = header(options, nv, triangles.length / 3);
  for (let i = 0; i < nv; i++) {
    let s = `v ${fmt(p[3 * i], d)} ${fmt(p[3 * i + 1], d)} ${fmt(p[3 * i + 2], d)}`;
    if (colors) s += ` ${fmt(clamp01(colors[3 * i]), 4)} ${fmt(clamp01(colors[3 * i + 1]), 4)} ${fmt(clamp01(colors[3 * i + 2]), 4)}`;
    lines.push(s);
  }
  for (let t = 0; t < triangles.length; t += 3) {
    lines.push(`f ${triangles[t] + 1} ${triangles[t + 1] + 1} ${triangles[t + 2] + 1}`);
  }
  lines.push('');
  return lines.join('\n');
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
  const lines: string[] = header(options, nv, triangles.length / 3);
  lines.push(`mtllib ${mtlFile}`);
  for (let i = 0; i < nv; i++) lines.push(`v ${fmt(p[3 * i], d)} ${fmt(p[3 * i + 1], d)} ${fmt(p[3 * i + 2], d)}`);
  for (let i = 0; i < nv; i++) lines.push(`vt ${fmt(uv[2 * i], 6)} ${fmt(1 - uv[2 * i + 1], 6)}`);
  lines.push(`usemtl ${material}`);
  for (let t = 0; t < triangles.length; t += 3) {
    const a = triangles[t] + 1, b = triangles[t + 1] + 1, c = triangles[t + 2] + 1;
    lines.push(`f ${a}/${a} ${b}/${b} ${c}/${c}`);
  }
  lines.push('');
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
  return { obj: lines.join('\n'), mtl };
}

function header(options: ObjOptions, nv: number, nt: number): string[] {
  const out = ['# prnet-ts', `# ${nv} vertices, ${nt} triangles; x right, y up, z towards the viewer, pixel units`];
  if (options.comment) for (const line of options.comment.split('\n')) out.push(`# ${line}`);
  return out;
}

/** x rounded to `decimals` decimals, written without trailing zeros or "-0" (NaN → "0"). */
export function fmt(x: number, decimals: number): string {
  const f = POW10[decimals] ?? 10 ** decimals;
  const r = Math.round(x * f) / f;
  if (r === 0 || r !== r) return '0';
  if (Math.abs(r) >= 1e21) return x.toFixed(0);
  return String(r);
}

const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000];

function clamp01(x: number): number {
  return x > 0 ? (x < 1 ? x : 1) : 0;
}
