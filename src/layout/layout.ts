/**
 * PRNet's 256×256 UV layout: which pixels of a position map are face vertices and landmarks, how
 * the face vertices are triangulated, the canonical (frontal mean) face, the loss-weight, face and
 * eye masks, and the left-right mirror maps. Parsed from assets/layout.safetensors (written by
 * scripts/build-layout.ts; see assets/README.md). Pure: works in the browser and in Node.
 */
import { ModelError } from '../errors.js';
import { asFloat32, asInt32, readSafetensors, type SafeTensor } from '../util/safetensors.js';
import { LAYOUT_SIZE, triangulateFaceGrid } from './derive.js';

export interface Layout {
  /** Side of the position map (256). */
  size: number;
  /** Number of face vertices N (43,867). */
  vertexCount: number;
  /** Number of triangles T. */
  triangleCount: number;
  /** N indices into the row-major size×size map: the face pixels, in vertex order. */
  faceIndex: Int32Array;
  /** 68×2 (x = column, y = row) of the 68 landmark pixels, iBUG order. */
  kpt: Int32Array;
  /** 68 indices into the row-major size×size map (y·size + x), iBUG order. */
  kptIndex: Int32Array;
  /**
   * T×3 face-vertex indices (0..N−1), counter-clockwise seen from the front in a right-handed
   * frame (x right, y up, z towards the viewer): see triangulateFaceGrid.
   */
  triangles: Int32Array;
  /**
   * The same triangles as a Uint32Array (a view of the same memory, no copy): what WebGL and
   * three.js's BufferGeometry.setIndex(new THREE.BufferAttribute(layout.indices, 1)) take.
   */
  indices: Uint32Array;
  /** N×3 canonical frontal mean face at the face pixels: x right, y down, z towards the viewer (pixels). */
  canonical: Float32Array;
  /** size×size loss-weight classes: 16 landmarks, 4 eyes/nose/mouth, 3 rest, 0 none. */
  weightMask: Uint8Array;
  /** size×size, 1 on face pixels. */
  faceMask: Uint8Array;
  /** size×size, 1 on the eye regions (blacked out in uv_face_eyes.png). */
  eyeMask: Uint8Array;
  /** N: for each face vertex, the face vertex that is its left-right mirror image. */
  flip: Int32Array;
  /** 68: the iBUG mirror permutation (landmark i ↔ kptFlip[i]). */
  kptFlip: Int32Array;
  /** The asset's string metadata (source, licence, derivation). */
  metadata: Record<string, string>;
}

const SOURCE = 'layout.safetensors';

function tensor(tensors: Map<string, SafeTensor>, name: string, shape: number[]): SafeTensor {
  const t = tensors.get(name);
  if (!t) throw new ModelError(`missing tensor "${name}"`, SOURCE);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => shape[i] >= 0 && d !== shape[i])) {
    throw new ModelError(`tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.map((d) => (d < 0 ? 'N' : d)).join(', ')}]`, SOURCE);
  }
  return t;
}

function u8(t: SafeTensor, name: string): Uint8Array {
  if (t.dtype !== 'U8') throw new ModelError(`tensor "${name}" is ${t.dtype}, expected U8`, SOURCE);
  return t.bytes.slice();
}

/**
 * Parses the bytes of assets/layout.safetensors. Throws ModelError when the file does not fit,
 * naming `source` (the URL or path it came from; default 'layout.safetensors').
 */
export function parseLayout(bytes: Uint8Array, source?: string): Layout {
  if (source === undefined || source === SOURCE) return parseLayoutBytes(bytes);
  try {
    return parseLayoutBytes(bytes);
  } catch (e) {
    if (!(e instanceof ModelError) || e.source !== SOURCE) throw e;
    throw new ModelError(e.message.slice(SOURCE.length + 2), source, { cause: e.cause ?? e });
  }
}

function parseLayoutBytes(bytes: Uint8Array): Layout {
  let file;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    throw new ModelError((e as Error).message, SOURCE, { cause: e });
  }
  const { tensors, metadata } = file;
  const size = LAYOUT_SIZE;
  const faceIndex = asInt32(tensor(tensors, 'face_index', [-1]));
  const n = faceIndex.length;
  const kpt = asInt32(tensor(tensors, 'kpt', [68, 2]));
  const canonical = asFloat32(tensor(tensors, 'canonical', [n, 3]));
  const weightMask = u8(tensor(tensors, 'weight_mask', [size, size]), 'weight_mask');
  const faceMask = u8(tensor(tensors, 'face_mask', [size, size]), 'face_mask');
  const eyeMask = u8(tensor(tensors, 'eye_mask', [size, size]), 'eye_mask');
  const flip = asInt32(tensor(tensors, 'flip', [n]));
  const kptFlip = asInt32(tensor(tensors, 'kpt_flip', [68]));
  for (let i = 0; i < n; i++) {
    if (faceIndex[i] < 0 || faceIndex[i] >= size * size) throw new ModelError(`face_index[${i}] = ${faceIndex[i]} is outside the ${size}×${size} map`, SOURCE);
    if (flip[i] < 0 || flip[i] >= n) throw new ModelError(`flip[${i}] = ${flip[i]} is not a vertex index`, SOURCE);
  }
  const kptIndex = new Int32Array(68);
  for (let i = 0; i < 68; i++) {
    const x = kpt[2 * i];
    const y = kpt[2 * i + 1];
    if (x < 0 || x >= size || y < 0 || y >= size) throw new ModelError(`kpt ${i} = (${x}, ${y}) is outside the map`, SOURCE);
    if (kptFlip[i] < 0 || kptFlip[i] >= 68) throw new ModelError(`kpt_flip[${i}] = ${kptFlip[i]} is not a landmark index`, SOURCE);
    kptIndex[i] = y * size + x;
  }
  const triangles = triangulateFaceGrid(faceIndex, size);
  return {
    size,
    vertexCount: n,
    triangleCount: triangles.length / 3,
    faceIndex,
    kpt,
    kptIndex,
    triangles,
    indices: new Uint32Array(triangles.buffer, triangles.byteOffset, triangles.length),
    canonical,
    weightMask,
    faceMask,
    eyeMask,
    flip,
    kptFlip,
    metadata,
  };
}
