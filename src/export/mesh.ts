/**
 * The mesh frame shared by every 3D export (OBJ, PLY, GLB), and the checks and derived arrays
 * they share.
 *
 * Library vertices are in image pixels: x right, y down, z towards the camera (larger = nearer).
 * Exported meshes are in the "model frame": x right, y up, z towards the viewer — right-handed,
 * the convention of three.js, glTF and Blender's OBJ/PLY importers (with their default axis
 * settings) — still in pixel units. The only change is y: y' = (imageHeight − 1) − y when the
 * image height is given (as the original PRNet did, so the mesh sits in the first quadrant), and
 * y' = −y otherwise. The face triangles are counter-clockwise seen from the front in a y-up frame,
 * so after this flip they are front-facing in every format, unchanged.
 *
 * UV coordinates are given in the texture image's frame: u right, v down, 0..1 (glTF's
 * convention); OBJ writes 1 − v. uvFromFaceIndex puts each vertex at its texel's centre.
 */
import { InputError } from '../errors.js';
import { vertexNormals as imageFrameNormals } from '../geometry/normals.js';

/** Vertices N×3, row-major. */
export type Vertices = Float32Array | Float64Array;
/** Triangles T×3 vertex indices, row-major. */
export type Triangles = Int32Array | Uint32Array;

export interface FrameOptions {
  /** Height of the image the vertices are in; y' = (imageHeight − 1) − y. Without it y' = −y. */
  imageHeight?: number;
}

/** Image-frame vertices → model-frame positions (a new Float32Array). */
export function toModelFrame(vertices: Vertices, options: FrameOptions = {}): Float32Array {
  const out = new Float32Array(vertices.length);
  const h = options.imageHeight;
  const off = h === undefined ? 0 : h - 1;
  for (let i = 0; i < vertices.length; i += 3) {
    out[i] = vertices[i];
    out[i + 1] = off - vertices[i + 1];
    out[i + 2] = vertices[i + 2];
  }
  return out;
}

/**
 * Per-vertex unit normals in the model frame (y up) of image-frame vertices (N×3): the geometry
 * module's area-weighted normals with y negated; vertices on no face get (0, 0, 1), as glTF wants
 * unit normals.
 */
export function modelFrameNormals(vertices: Vertices, triangles: Triangles): Float32Array {
  const n = imageFrameNormals(Float32Array.from(vertices), Int32Array.from(triangles));
  for (let i = 0; i < n.length; i += 3) {
    if (n[i] === 0 && n[i + 1] === 0 && n[i + 2] === 0) n[i + 2] = 1;
    else n[i + 1] = -n[i + 1];
  }
  return n;
}

/**
 * UV coordinates (N×2, u right, v down, 0..1) of the dense vertices: vertex i at the centre of
 * its texel (faceIndex[i] % size, floor(faceIndex[i] / size)).
 */
export function uvFromFaceIndex(faceIndex: Int32Array | Uint32Array, size = 256): Float32Array {
  const uv = new Float32Array(faceIndex.length * 2);
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    const col = p % size, row = (p - col) / size;
    uv[2 * i] = (col + 0.5) / size;
    uv[2 * i + 1] = (row + 0.5) / size;
  }
  return uv;
}

/**
 * Checks a mesh before it is written: whole vertices, finite coordinates, indices in range,
 * per-vertex arrays of the right length. Throws InputError naming the first problem.
 */
export function checkMesh(
  vertices: Vertices,
  triangles: Triangles,
  perVertex: Record<string, { array: ArrayLike<number> | undefined; width: number }> = {},
): number {
  if (vertices.length % 3 !== 0) throw new InputError(`vertices: length ${vertices.length} is not a multiple of 3`);
  if (triangles.length % 3 !== 0) throw new InputError(`triangles: length ${triangles.length} is not a multiple of 3`);
  const nv = vertices.length / 3;
  for (let i = 0; i < vertices.length; i++) {
    if (!Number.isFinite(vertices[i])) throw new InputError(`vertex ${Math.floor(i / 3)} is not finite`);
  }
  for (let i = 0; i < triangles.length; i++) {
    const v = triangles[i];
    if (!(v >= 0 && v < nv)) throw new InputError(`triangle ${Math.floor(i / 3)} refers to vertex ${v}, outside 0..${nv - 1}`);
  }
  for (const [name, { array, width }] of Object.entries(perVertex)) {
    if (array && array.length !== nv * width) throw new InputError(`${name}: ${array.length} values, expected ${nv} × ${width}`);
  }
  return nv;
}

/** A 0..1 colour to a byte, rounded and clamped (NaN → 0). */
export function toByte(c: number): number {
  const v = Math.round(c * 255);
  return v > 0 ? (v < 255 ? v : 255) : 0;
}
