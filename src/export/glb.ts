/**
 * glTF 2.0 binary (GLB) writer: one scene, one node, one mesh with one triangle primitive.
 *
 * Attributes: POSITION (float VEC3, model frame — see mesh.ts — with the min/max glTF requires),
 * NORMAL (optional, float VEC3), COLOR_0 (optional, float VEC3, linear: the sRGB vertex colours
 * are decoded, as glTF specifies), TEXCOORD_0 (optional, float VEC2, u right, v down) with an
 * embedded PNG as the material's baseColorTexture. With a texture the vertex colours are left
 * out: glTF multiplies COLOR_0 into the base colour, so a texture and colours read from it would
 * show each colour squared (darker and more saturated in Blender and three.js). Indices are UNSIGNED_INT. Every bufferView
 * starts on a 4-byte boundary; the JSON chunk is padded with spaces, the BIN chunk with zeros.
 * The material is unlit-looking PBR (metallic 0, roughness 1) and double-sided, since the face is
 * an open surface.
 */
import { InputError } from '../errors.js';
import { firstNotFinite } from '../util/finite.js';
import { checkMesh, FRAME_OPTIONS, inGltfUnits, resolveNormals, toModelFrame, type FrameOptions, type Triangles, type Vertices } from './mesh.js';
import { ARRAY_BUFFER, CLAMP_TO_EDGE, ELEMENT_ARRAY_BUFFER, FLOAT, LINEAR, UNSIGNED_INT, accessorBounds, packGlb } from './gltf.js';
import { checkKnownOptions } from '../track/options.js';

export interface GlbMesh {
  /** Image-frame vertices N×3 (converted to the model frame). */
  vertices: Vertices;
  /** Triangles T×3, counter-clockwise seen from the front in a y-up frame. */
  triangles: Triangles;
  /** Per-vertex sRGB colours N×3, 0..1 (written only without a texture: glTF multiplies them into it). */
  colors?: ArrayLike<number>;
  /** Per-vertex texture coordinates N×2 (u right, v down, 0..1); needed with texturePng. */
  uv?: ArrayLike<number>;
  /** PNG bytes of the texture (e.g. the UV texture encoded by encodePng). */
  texturePng?: Uint8Array;
}

export interface GlbOptions extends FrameOptions {
  /** Vertex normals: true (default) computes them, or pass model-frame unit normals N×3; false: none. */
  normals?: boolean | Float32Array;
  /** Mesh and node name (default "face"). */
  name?: string;
  /**
   * A node NAME_head beside the mesh, for attaching things: the head's frame in the file's frame
   * (buildOutputs: faceMesh's headMatrix in metres, its origin at the face's centre).
   */
  head?: HeadNode;
}

/**
 * The head's frame as a glTF node: translation in the frame's units (with units 'mm' given in
 * millimetres and written in metres, as the mesh) and rotation (unit quaternion x, y, z, w).
 */
export interface HeadNode {
  translation: ArrayLike<number>;
  rotation: ArrayLike<number>;
}


/** The GLB bytes of a mesh. */
export function writeGlb(mesh: GlbMesh, options: GlbOptions = {}): Uint8Array {
  options ??= {};
  checkKnownOptions(options, [...FRAME_OPTIONS, 'normals', 'name', 'head'], 'writeGlb option');
  const { vertices, triangles, colors, uv, texturePng } = mesh;
  const nv = checkMesh(vertices, triangles, { colors: { array: colors, width: 3 }, uv: { array: uv, width: 2 } });
  checkGlb(nv, triangles, uv, texturePng);
  // glTF's unit is the metre: a frame in millimetres (faceMesh's, meshFrame's default) is written
  // in metres, and so is the head node's translation, given in the frame's units.
  const frame = inGltfUnits(options);
  const mm = options.units === 'mm';
  const head = mm && options.head ? { translation: Array.from(options.head.translation, (t) => t / 1000), rotation: options.head.rotation } : options.head;
  return glbBytes(toModelFrame(vertices, frame), resolveNormals(options.normals, true, vertices, triangles), triangles, colors, uv, texturePng, options.name ?? 'face', head);
}

/**
 * writeGlb of a mesh already checked (checkMesh, with the colours, uv and normals) and in the
 * model frame (positions: toModelFrame of the vertices with the options' frame; normals: model-frame
 * unit normals or none). The positions and normals are copied into the file, not kept.
 */
export function glbBytes(
  positions: Float32Array,
  normals: Float32Array | undefined,
  triangles: Triangles,
  colors: ArrayLike<number> | undefined,
  uv: ArrayLike<number> | undefined,
  texturePng: Uint8Array | undefined,
  name: string,
  head?: HeadNode,
): Uint8Array {
  const nv = positions.length / 3;
  if (head && !(head.translation.length === 3 && head.rotation.length === 4 && firstNotFinite(head.translation) < 0 && firstNotFinite(head.rotation) < 0)) {
    throw new RangeError('head: a translation of 3 and a rotation of 4 finite numbers');
  }
  checkGlb(nv, triangles, uv, texturePng);

  const parts: Uint8Array[] = [];
  const bufferViews: Record<string, unknown>[] = [];
  const accessors: Record<string, unknown>[] = [];
  let byteLength = 0;
  const addView = (bytes: Uint8Array, target?: number): number => {
    const view: Record<string, unknown> = { buffer: 0, byteOffset: byteLength, byteLength: bytes.byteLength };
    if (target !== undefined) view.target = target;
    bufferViews.push(view);
    parts.push(bytes);
    byteLength += bytes.byteLength;
    const pad = (4 - (byteLength % 4)) % 4;
    if (pad) { parts.push(new Uint8Array(pad)); byteLength += pad; }
    return bufferViews.length - 1;
  };
  const addAccessor = (data: Float32Array | Uint32Array, type: 'SCALAR' | 'VEC2' | 'VEC3', target: number, minMax = false): number => {
    const view = addView(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), target);
    const width = type === 'SCALAR' ? 1 : type === 'VEC2' ? 2 : 3;
    const accessor: Record<string, unknown> = {
      bufferView: view,
      byteOffset: 0,
      componentType: data instanceof Float32Array ? FLOAT : UNSIGNED_INT,
      count: data.length / width,
      type,
    };
    if (minMax) Object.assign(accessor, accessorBounds(data, width));
    accessors.push(accessor);
    return accessors.length - 1;
  };

  const attributes: Record<string, number> = {};
  attributes.POSITION = addAccessor(positions, 'VEC3', ARRAY_BUFFER, true);
  if (normals) attributes.NORMAL = addAccessor(normals, 'VEC3', ARRAY_BUFFER);
  if (colors && !texturePng) attributes.COLOR_0 = addAccessor(linearColours(colors, new Float32Array(nv * 3)), 'VEC3', ARRAY_BUFFER);
  if (uv) attributes.TEXCOORD_0 = addAccessor(uv instanceof Float32Array ? uv : Float32Array.from(uv), 'VEC2', ARRAY_BUFFER);
  // Indices are checked non-negative (checkMesh): an Int32Array's bytes are the Uint32Array's.
  const indexArray = triangles instanceof Uint32Array ? triangles : new Uint32Array(triangles.buffer, triangles.byteOffset, triangles.length);
  const indices = addAccessor(indexArray, 'SCALAR', ELEMENT_ARRAY_BUFFER, true);

  const pbr: Record<string, unknown> = { baseColorFactor: [1, 1, 1, 1], metallicFactor: 0, roughnessFactor: 1 };
  const gltf: Record<string, unknown> = {
    asset: { version: '2.0', generator: 'prnet-ts' },
    scene: 0,
    scenes: [{ nodes: head ? [0, 1] : [0] }],
    nodes: [
      { mesh: 0, name },
      ...(head ? [{ name: `${name}_head`, translation: Array.from(head.translation), rotation: Array.from(head.rotation) }] : []),
    ],
    meshes: [{ name, primitives: [{ attributes, indices, material: 0, mode: 4 }] }],
    materials: [{ name, pbrMetallicRoughness: pbr, doubleSided: true }],
    accessors,
    bufferViews,
  };
  if (texturePng) {
    const imageView = addView(texturePng);
    gltf.images = [{ bufferView: imageView, mimeType: 'image/png' }];
    gltf.samplers = [{ magFilter: LINEAR, minFilter: LINEAR, wrapS: CLAMP_TO_EDGE, wrapT: CLAMP_TO_EDGE }];
    gltf.textures = [{ source: 0, sampler: 0 }];
    pbr.baseColorTexture = { index: 0, texCoord: 0 };
  }
  gltf.buffers = [{ byteLength }];

  return packGlb(gltf, parts, byteLength);
}

/** What glTF needs beyond checkMesh: a mesh that is not empty, and uv with a texture, which must be a PNG. */
function checkGlb(nv: number, triangles: Triangles, uv: ArrayLike<number> | undefined, texturePng: Uint8Array | undefined): void {
  if (nv === 0 || triangles.length === 0) throw new InputError('an empty mesh cannot be written as glTF');
  if (texturePng && !uv) throw new InputError('a texture needs uv coordinates');
  if (texturePng && !isPng(texturePng)) throw new InputError('texture is not a PNG');
}

/** sRGB colours (0..1) → linear, into lin: colours read from 8-bit textures are k/255 (a table); anything else: the formula. */
function linearColours(colors: ArrayLike<number>, lin: Float32Array): Float32Array {
  for (let i = 0; i < lin.length; i++) {
    const c = colors[i];
    const k = c * 255;
    const r = Math.round(k);
    lin[i] = r >= 0 && r <= 255 && Math.abs(k - r) < 1e-4 ? SRGB_TO_LINEAR[r] : srgbToLinear(c);
  }
  return lin;
}

/** srgbToLinear(k / 255) for the 256 byte values. */
const SRGB_TO_LINEAR = Float32Array.from({ length: 256 }, (_, k) => srgbToLinear(k / 255));

/** sRGB-encoded 0..1 → linear 0..1 (clamped; NaN → 0). */
export function srgbToLinear(c: number): number {
  const x = c > 0 ? (c < 1 ? c : 1) : 0;
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}

function isPng(b: Uint8Array): boolean {
  return b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a;
}
