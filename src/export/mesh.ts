/**
 * The mesh frame shared by every 3D export (OBJ, PLY, GLB), and the checks and derived arrays
 * they share.
 *
 * Library vertices are in image pixels: x right, y down, z towards the camera (larger = nearer).
 * Exported meshes are in the "model frame": x right, y up, z towards the viewer — right-handed,
 * the convention of three.js, glTF and Blender's OBJ/PLY importers (with their default axis
 * settings). By default of the writers still in pixel units, the only change being y:
 * y' = (imageHeight − 1) − y when the image height is given (as the original PRNet did, so the
 * mesh sits in the first quadrant), and y' = −y otherwise. FrameOptions add a scale (e.g.
 * millimetres per pixel, see meshFrame) and an origin (e.g. the mesh's centre). The face triangles
 * are counter-clockwise seen from the front in a y-up frame, so after this flip they are
 * front-facing in every format, unchanged.
 *
 * UV coordinates are given in the texture image's frame: u right, v down, 0..1 (glTF's
 * convention); OBJ writes 1 − v. uvFromFaceIndex puts each vertex at its texel's centre.
 */
import { InputError } from '../errors.js';
import { vertexNormals as imageFrameNormals } from '../geometry/normals.js';
import { firstNotFinite } from '../util/finite.js';

/** Vertices N×3, row-major. */
export type Vertices = Float32Array | Float64Array;
/** Triangles T×3 vertex indices, row-major. */
export type Triangles = Int32Array | Uint32Array;

/** FrameOptions' keys (the writers' known options start with them). */
export const FRAME_OPTIONS = ['imageHeight', 'origin', 'scale', 'units'] as const;

export interface FrameOptions {
  /** Height of the image the vertices are in; y' = (imageHeight − 1) − y. Without it y' = −y. Ignored with `origin`. */
  imageHeight?: number;
  /**
   * Image-frame point (x, y, z pixels) put at the mesh origin: x' = s·(x − ox), y' = s·(oy − y),
   * z' = s·(z − oz). E.g. the mesh's bounding-box centre (meshFrame's `center`).
   */
  origin?: ArrayLike<number>;
  /** Mesh units per image pixel (default 1: pixel units). See meshFrame for millimetres. */
  scale?: number;
  /**
   * The units' name for file headers: 'px' (default), 'mm', 'm' or any text. It names `scale`, it
   * does not set it: 'mm' or 'm' without a scale is an InputError (meshFrame, or faceMesh's `frame`,
   * gives both). writeGlb writes a frame in 'mm' in metres, glTF's unit.
   */
  units?: string;
}

/**
 * A frame for a glTF file, whose unit is the metre: checked (checkFrame), and one in millimetres
 * (faceMesh's and meshFrame's default) turned into metres; any other as it is.
 */
export function inGltfUnits<T extends FrameOptions>(options: T): T {
  checkFrame(options);
  return options.units === 'mm' ? { ...options, scale: options.scale! / 1000, units: 'm' } : options;
}

/** The units of a frame as file headers say them. */
export function unitsLabel(options: FrameOptions): string {
  const u = options.units ?? 'px';
  return u === 'px' ? 'pixel units' : u === 'mm' ? 'millimetres' : u === 'm' ? 'metres' : u;
}

/** Model-frame normals: given, or computed (modelFrameNormals) when `normals` is true. */
export function resolveNormals(normals: boolean | Float32Array | undefined, fallback: boolean, vertices: Vertices, triangles: Triangles): Float32Array | undefined {
  if (normals instanceof Float32Array) {
    if (normals.length !== vertices.length) throw new InputError(`normals: ${normals.length} values, expected ${vertices.length}`);
    return normals;
  }
  return (normals ?? fallback) ? modelFrameNormals(vertices, triangles) : undefined;
}

/**
 * Image-frame vertices → model-frame positions (a new Float32Array): x' = s·(x − ox),
 * y' = s·(oy − y), z' = s·(z − oz), with o = options.origin, or (0, imageHeight − 1, 0) without
 * one ((0, 0, 0) without an image height either), and s = options.scale (default 1).
 */
export function toModelFrame(vertices: Vertices, options: FrameOptions = {}): Float32Array {
  checkFrame(options);
  const out = new Float32Array(vertices.length);
  const s = options.scale ?? 1;
  const o = options.origin;
  const ox = o ? o[0] : 0;
  const oy = o ? o[1] : options.imageHeight === undefined ? 0 : options.imageHeight - 1;
  const oz = o ? o[2] : 0;
  modelFrameInto(out, vertices, s, ox, oy, oz);
  return out;
}

/**
 * A frame's options, checked (RangeError): scale a finite number > 0, origin three finite numbers,
 * imageHeight a whole number ≥ 1; units 'mm' or 'm' only with a scale (InputError). A NaN scale wrote every vertex as 0 0 0, an infinite one
 * "Infinity", a short origin zeroed y and z.
 */
export function checkFrame(options: FrameOptions): void {
  const { scale, origin, imageHeight } = options;
  if (scale !== undefined && !(typeof scale === 'number' && scale > 0 && Number.isFinite(scale))) throw new RangeError(`scale must be a finite number > 0, got ${String(scale)}`);
  if (origin !== undefined && !(origin && origin.length === 3 && Array.from(origin).every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new RangeError(`origin must be three finite numbers (x, y, z pixels), got ${origin && typeof origin === 'object' ? `[${Array.from(origin).join(', ')}]` : String(origin)}`);
  }
  if (imageHeight !== undefined && !(Number.isInteger(imageHeight) && imageHeight >= 1)) throw new RangeError(`imageHeight must be a whole number ≥ 1, got ${String(imageHeight)}`);
  // Units name a scale: `{ units: 'mm' }` alone would label pixel coordinates as millimetres (a
  // face 150 "mm" wide in a 150-pixel crop, whatever its size).
  if ((options.units === 'mm' || options.units === 'm') && scale === undefined) {
    throw new InputError(`units '${options.units}' names a scale that was not given: pass scale too (meshFrame(), or faceMesh()'s frame, gives units and scale together)`);
  }
}

/** toModelFrame's loop (its own function: V8 optimises it alone, whatever the options' shapes). */
function modelFrameInto(out: Float32Array, vertices: Vertices, s: number, ox: number, oy: number, oz: number): void {
  for (let i = 0; i < vertices.length; i += 3) {
    out[i] = s * (vertices[i] - ox);
    out[i + 1] = s * (oy - vertices[i + 1]);
    out[i + 2] = s * (vertices[i + 2] - oz);
  }
}

/** Units a mesh can be written in: image pixels, or millimetres (see meshFrame). */
export type MeshUnits = 'px' | 'mm';
export const MESH_UNITS: readonly MeshUnits[] = ['px', 'mm'];

/**
 * The scale assumption behind millimetres: the mean adult interpupillary distance, 63 mm
 * (Dodgson 2004, "Variation and extrema of human interpupillary distance": mean ≈ 63 mm), taken as
 * the 3D distance between the two eye centres (the means of iBUG landmarks 36–41 and 42–47).
 */
export const MEAN_IPD_MM = 63;

/**
 * Millimetres per image pixel of a face: MEAN_IPD_MM over the 3D distance between its eye centres
 * (68 landmarks N×3, image frame). The 3D distance does not shrink when the head turns, since z is
 * in the same pixel units. NaN when the landmarks are degenerate.
 */
export function mmPerPixel(landmarks: ArrayLike<number>): number {
  if (landmarks.length < 68 * 3) throw new RangeError(`expected 68×3 landmarks, got ${landmarks.length} values`);
  const c = [0, 0, 0, 0, 0, 0];
  for (let k = 0; k < 6; k++) {
    for (let d = 0; d < 3; d++) {
      c[d] += landmarks[3 * (36 + k) + d] / 6;
      c[3 + d] += landmarks[3 * (42 + k) + d] / 6;
    }
  }
  const ipd = Math.hypot(c[3] - c[0], c[4] - c[1], c[5] - c[2]);
  return ipd > 0 ? MEAN_IPD_MM / ipd : NaN;
}

export interface MeshFrameOptions {
  /** 'mm' (default): millimetres from the mean interpupillary distance (mmPerPixel); 'px': image pixels. */
  units?: MeshUnits;
  /** Put the mesh's bounding-box centre at the origin (default true). */
  center?: boolean;
  /** Height of the image (the y flip without centring; see FrameOptions). */
  imageHeight?: number;
}

/** A face's mesh frame: what toModelFrame and the writers take, and what it means. */
export interface MeshFrame extends FrameOptions {
  units: MeshUnits;
  /** Mesh units per image pixel. */
  scale: number;
  /** The image-frame point at the mesh origin (absent: not centred). */
  origin?: [number, number, number];
}

/**
 * The mesh frame of a face's vertices (N×3, image frame) and landmarks: scale from the units and
 * origin at the bounding-box centre when centred. Defaults: millimetres, centred — so a mesh opens
 * life-size at the origin, where Blender's and three.js's default cameras look (glTF files are
 * written in metres: the GLB writer's caller scales by 1/1000, see pipeline/outputs.ts). When the
 * eye landmarks coincide (no scale can be read) the frame falls back to pixels (units 'px').
 */
export function meshFrame(vertices: Vertices, landmarks: ArrayLike<number>, options: MeshFrameOptions = {}): MeshFrame {
  checkFrame({ imageHeight: options.imageHeight });
  let units = options.units ?? 'mm';
  if (!MESH_UNITS.includes(units)) throw new RangeError(`units must be px or mm, got '${String(units)}'`);
  let scale = 1;
  if (units === 'mm') {
    // Degenerate eyes (e.g. an untrained model) give no scale: the mesh stays in pixels, and says so.
    const mm = mmPerPixel(landmarks);
    if (Number.isFinite(mm) && mm < 1e6) scale = mm;
    else units = 'px';
  }
  const frame: MeshFrame = { units, scale, imageHeight: options.imageHeight };
  if (options.center ?? true) {
    const box = new Float64Array([Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity]);
    boundingBox(vertices, box);
    if (vertices.length) frame.origin = [(box[0] + box[3]) / 2, (box[1] + box[4]) / 2, (box[2] + box[5]) / 2];
  }
  return frame;
}

/** Per-axis minimum (box 0..2) and maximum (box 3..5) of N×3 vertices, into box as it stands (NaN never counts). */
export function boundingBox(vertices: Vertices, box: Float64Array): void {
  for (let i = 0; i < vertices.length; i += 3) {
    for (let d = 0; d < 3; d++) {
      const v = vertices[i + d];
      if (v < box[d]) box[d] = v;
      if (v > box[3 + d]) box[3 + d] = v;
    }
  }
}

/**
 * Per-vertex unit normals in the model frame (y up) of image-frame vertices (N×3): the geometry
 * module's area-weighted normals with y negated; vertices on no face get (0, 0, 1), as glTF wants
 * unit normals. `imageNormals`: vertexNormals(vertices, triangles) if already computed (not changed,
 * unless `inPlace`: then the model-frame normals are written over them, and returned).
 */
export function modelFrameNormals(vertices: Vertices, triangles: Triangles, imageNormals?: Float32Array, inPlace = false): Float32Array {
  let n: Float32Array;
  // the image-frame normals (geometry's vertexNormals), when the caller has them already
  if (imageNormals && imageNormals.length === vertices.length) n = inPlace ? imageNormals : imageNormals.slice();
  else {
    const v = vertices instanceof Float32Array ? vertices : Float32Array.from(vertices);
    const t = triangles instanceof Int32Array ? triangles : new Int32Array(triangles.buffer, triangles.byteOffset, triangles.length);
    n = imageFrameNormals(v, t);
  }
  flipNormals(n);
  return n;
}

/** Image-frame unit normals to the model frame, in place: y negated, zero normals (0, 0, 1). */
function flipNormals(n: Float32Array): void {
  for (let i = 0; i < n.length; i += 3) {
    if (n[i] === 0 && n[i + 1] === 0 && n[i + 2] === 0) n[i + 2] = 1;
    else n[i + 1] = -n[i + 1];
  }
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
  // Without a branch per value first (see firstNotFinite, outOfRange), then, on failure, the first bad one for the message.
  const badVertex = firstNotFinite(vertices);
  if (badVertex >= 0) throw new InputError(`vertex ${Math.floor(badVertex / 3)} is not finite`);
  if (outOfRange(triangles, nv - 1) || nv > 2147483647) {
    for (let i = 0; i < triangles.length; i++) {
      const v = triangles[i];
      if (!(v >= 0 && v < nv)) throw new InputError(`triangle ${Math.floor(i / 3)} refers to vertex ${v}, outside 0..${nv - 1}`);
    }
  }
  for (const [name, { array, width }] of Object.entries(perVertex)) {
    if (array && array.length !== nv * width) throw new InputError(`${name}: ${array.length} values, expected ${nv} × ${width}`);
    // a NaN UV or normal made a GLB that validators reject (ACCESSOR_INVALID_FLOAT); colours are
    // written as bytes, where a NaN is 0 (documented for OBJ and PLY)
    const bad = array && name !== 'colors' ? firstNotFinite(array) : -1;
    if (bad >= 0) throw new InputError(`${name}: value ${bad} (vertex ${Math.floor(bad / width)}) is not finite`);
  }
  return nv;
}

/** Whether some index is outside 0..last: v | (last − v) is negative (as an int32) exactly then (one OR of int32s). */
function outOfRange(triangles: Triangles, last: number): boolean {
  let bad = 0;
  for (let i = 0; i < triangles.length; i += 3) bad |= triangles[i] | (last - triangles[i]) | triangles[i + 1] | (last - triangles[i + 1]) | triangles[i + 2] | (last - triangles[i + 2]);
  return bad < 0;
}

/** A 0..1 colour to a byte, rounded and clamped (NaN → 0). */
export function toByte(c: number): number {
  const v = Math.round(c * 255);
  return v > 0 ? (v < 255 ? v : 255) : 0;
}
