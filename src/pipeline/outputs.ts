/**
 * What the CLI (and a library user who wants files) writes for one image: the contents of every
 * output file, as named buffers. Pure apart from PNG encoding, which the caller supplies (sharp in
 * Node, a canvas in the browser).
 */
import { checkMesh, meshFrame, modelFrameNormals, toJson, toModelFrame, uvFromFaceIndex, type MeshUnits } from '../export/index.js';
import { glbBytes } from '../export/glb.js';
import { objBytes, objTexturedBytes } from '../export/obj.js';
import { plyBytes } from '../export/ply.js';
import { vertexNormals } from '../geometry/normals.js';
import { triangulateFaceGrid, type Layout } from '../layout/index.js';
import { clearRaster, createRaster, depthToGrey, drawLandmarks, drawMesh, drawPoseBox, rasterize, sampleTextureAtUv, type Raster } from '../render/index.js';
import type { PositionMap, RgbImage } from '../types.js';
import { faceTexture, faceToJson, TEXTURE_SIZES, type Face } from './face.js';

/** Whether the vertices are the position map's face pixels (gatherVertices of it), without gathering them. */
function verticesOfMap(vertices: Float32Array, map: PositionMap, faceIndex: Int32Array | Uint32Array): boolean {
  if (vertices.length !== 3 * faceIndex.length) return false;
  const d = map.data;
  for (let i = 0; i < faceIndex.length; i++) {
    const p = 3 * faceIndex[i];
    if (vertices[3 * i] !== d[p] || vertices[3 * i + 1] !== d[p + 1] || vertices[3 * i + 2] !== d[p + 2]) return false;
  }
  return true;
}

/**
 * The depth image's z-buffer, kept between calls for images of the same size up to
 * KEPT_RASTER_PIXELS (8 bytes a pixel: 16 MB at most held; larger images get a new one): it is
 * only used while buildOutputs runs synchronously (the depth PNG and the texture's visibility are
 * computed from it before anything is awaited).
 */
let depthRaster: Raster | undefined;
const KEPT_RASTER_PIXELS = 2_000_000;
function scratchRaster(width: number, height: number): Raster {
  if (width * height > KEPT_RASTER_PIXELS) return createRaster(width, height);
  if (depthRaster && depthRaster.width === width && depthRaster.height === height) clearRaster(depthRaster);
  else depthRaster = createRaster(width, height);
  return depthRaster;
}

/** Output kinds; all are written by default. */
export const OUTPUT_FORMATS = ['json', 'obj', 'textured', 'ply', 'glb', 'depth', 'overlay'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export type PngEncoder = (data: Uint8Array, width: number, height: number, channels: 1 | 3) => Promise<Uint8Array>;

export interface OutputOptions {
  /**
   * Mesh units (default 'mm'): millimetres from the mean interpupillary distance (see
   * export/mesh.ts meshFrame), so a face is ~165 mm wide (ears included) whatever the photo's resolution — OBJ and
   * PLY in millimetres, GLB in metres (glTF's unit); 'px': image pixels in every mesh file.
   */
  units?: MeshUnits;
  /** Mesh centred at the origin (its bounding-box centre; default true). false: image placement, y' = height − 1 − y. */
  center?: boolean;
  /** UV texture side (default 256; TEXTURE_SIZES). */
  textureSize?: number;
}

export interface OutputFile {
  name: string;
  data: Uint8Array | string;
}

const wireframes = new Map<number, Int32Array>();
const uvs = new WeakMap<object, Float32Array>();

/** The layout's per-vertex texture coordinates (cached per layout). */
function layoutUv(layout: Layout): Float32Array {
  let uv = uvs.get(layout.faceIndex);
  if (!uv) uvs.set(layout.faceIndex, (uv = uvFromFaceIndex(layout.faceIndex, layout.size)));
  return uv;
}

/** The JSON's account of the mesh files' frame. */
function meshJson(frame: ReturnType<typeof meshFrame>): MeshJson {
  return {
    units: frame.units,
    unitsPerPixel: frame.scale,
    origin: frame.origin ?? null,
    frame:
      `mesh files (OBJ, PLY; GLB in ${frame.units === 'mm' ? 'metres' : 'pixel units'}): x right, y up, z towards the viewer; ` +
      (frame.origin ? 'p = unitsPerPixel · (x − ox, oy − y, z − oz) for an image-frame point (x, y, z)' : 'p = unitsPerPixel · (x, height − 1 − y, z) for an image-frame point (x, y, z)'),
  };
}

/** How the mesh files relate to the JSON's image-frame numbers. */
export interface MeshJson {
  units: MeshUnits;
  /** Mesh units per image pixel (the GLB's metres: this / 1000 when units are mm). */
  unitsPerPixel: number;
  /** The image-frame point at the mesh origin; null when the mesh is not centred. */
  origin: [number, number, number] | null;
  frame: string;
}

/**
 * The dense mesh's triangles on a coarser UV grid for drawing: one grid line every ~5 image
 * pixels, so the wireframe stays readable (the full mesh has a vertex every ~0.5 px).
 */
function wireframe(layout: Layout, cropSide: number): Int32Array {
  const pxPerTexel = cropSide / layout.size;
  const step = Math.max(1, Math.min(16, Math.round(5 / Math.max(pxPerTexel, 1e-3))));
  let t = wireframes.get(step);
  if (!t) {
    t = step === 1 ? layout.triangles : triangulateFaceGrid(layout.faceIndex, layout.size, step);
    wireframes.set(step, t);
  }
  return t;
}

/**
 * Output files for the faces of one image, named `<stem>_face<i>.<ext>` per face and
 * `<stem>_<kind>.png` per image (depth and overlays show every face). Text files are strings,
 * except the (large) OBJs, which are UTF-8 bytes.
 *
 * Every mesh file has normals; colours and texture agree: the UV texture is complete (texels the
 * photo does not show are filled from the mirrored side or smoothly, see faceTexture) and the
 * vertex colours are read from it. The GLB embeds the texture (baseColorTexture) with UVs, normals
 * and vertex colours. The JSON stays in image pixels and says how the mesh files relate to them.
 */
export async function buildOutputs(
  stem: string,
  image: RgbImage,
  faces: Face[],
  layout: Layout,
  formats: ReadonlySet<OutputFormat>,
  encodePng: PngEncoder,
  options: OutputOptions = {},
): Promise<OutputFile[]> {
  const textureSize = options.textureSize ?? layout.size;
  if (!(TEXTURE_SIZES as readonly number[]).includes(textureSize)) throw new RangeError(`texture size must be one of ${TEXTURE_SIZES.join(', ')}, got ${textureSize}`);
  // PNGs are encoded while the rest is built (sharp compresses on its own threads); the files
  // keep their order.
  const out: (OutputFile | Promise<OutputFile>)[] = [];
  const encode = (data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Uint8Array> => {
    const bytes = encodePng(data, width, height, channels);
    bytes.catch(() => {}); // reported by Promise.all below; not unhandled if something else throws first
    return bytes;
  };
  const png = (name: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<OutputFile> =>
    encode(data, width, height, channels).then((bytes) => ({ name, data: bytes }));
  const needMesh = formats.has('obj') || formats.has('textured') || formats.has('ply') || formats.has('glb');
  const uv = needMesh ? layoutUv(layout) : null;
  // The image-level PNGs (depth, overlays) are drawn first, so that sharp compresses them on its
  // threads while the meshes are written here; they still come last in the list.
  const imageFiles: Promise<OutputFile>[] = [];
  /** The z-buffer of a one-face image's depth output: also its texture's visibility test. */
  let faceRaster: Raster | undefined;
  if (formats.has('depth') && faces.length) {
    const raster = scratchRaster(image.width, image.height);
    for (const face of faces) rasterize(face.vertices, layout.triangles, image.width, image.height, raster);
    if (faces.length === 1 && verticesOfMap(faces[0].vertices, faces[0].positionMap, layout.faceIndex)) faceRaster = raster;
    const grey = depthToGrey(raster);
    imageFiles.push(png(`${stem}_depth.png`, grey.data, grey.width, grey.height, 1));
  }
  if (formats.has('overlay') && faces.length) {
    let lm = image;
    let pose = image;
    let mesh = image;
    for (const face of faces) {
      lm = drawLandmarks(lm, face.landmarks, { dims: 3 });
      pose = drawPoseBox(pose, face.pose.rotation, face.pose.scale, face.pose.translation, { landmarks: face.landmarks, dims: 3 });
      mesh = drawMesh(mesh, face.vertices, wireframe(layout, face.crop.square.side), { alpha: 0.6 });
    }
    imageFiles.push(png(`${stem}_landmarks.png`, lm.data, lm.width, lm.height, 3));
    imageFiles.push(png(`${stem}_pose.png`, pose.data, pose.width, pose.height, 3));
    imageFiles.push(png(`${stem}_mesh.png`, mesh.data, mesh.width, mesh.height, 3));
  }
  for (const face of faces) {
    const base = `${stem}_face${face.index}`;
    const frame = meshFrame(face.vertices, face.landmarks, { units: options.units, center: options.center, imageHeight: image.height });
    if (formats.has('json')) {
      const json = { ...faceToJson(face, layout), mesh: meshJson(frame) };
      out.push({ name: `${base}.json`, data: toJson(json) });
    }
    if (!needMesh || !uv) continue;
    const imageNormals = vertexNormals(face.vertices, layout.triangles);
    const { texture } = faceTexture(image, face, layout, { size: textureSize, normals: imageNormals, raster: faceRaster });
    const colors = sampleTextureAtUv(texture, uv);
    const normals = modelFrameNormals(face.vertices, layout.triangles, imageNormals);
    const textureBytes = formats.has('textured') || formats.has('glb') ? encode(texture.data, texture.width, texture.height, 3) : null;
    const meshOptions = { scale: frame.scale, origin: frame.origin, imageHeight: frame.imageHeight, units: frame.units, normals };
    // One check and one model-frame conversion for every mesh file of the face.
    checkMesh(face.vertices, layout.triangles, { colors: { array: colors, width: 3 }, uv: { array: uv, width: 2 }, normals: { array: normals, width: 3 } });
    const positions = toModelFrame(face.vertices, meshOptions);
    // OBJ text: 4 decimals of a pixel, 3 of a millimetre (1 µm) — far below the network's precision.
    const decimals = frame.units === 'mm' ? 3 : 4;
    if (formats.has('obj')) {
      out.push({ name: `${base}.obj`, data: objBytes(positions, normals, layout.triangles, colors, { ...meshOptions, decimals, comment: 'prnet-ts face mesh with vertex colours' }) });
    }
    if (formats.has('textured') && textureBytes) {
      const textureFile = `${base}_texture.png`;
      const mtlFile = `${base}_textured.mtl`;
      const { obj, mtl } = objTexturedBytes(positions, normals, layout.triangles, uv, { ...meshOptions, decimals, mtlFile, textureFile, comment: 'prnet-ts face mesh with UV texture' });
      out.push({ name: `${base}_textured.obj`, data: obj }, { name: mtlFile, data: mtl });
      out.push(textureBytes.then((bytes) => ({ name: textureFile, data: bytes })));
    }
    if (formats.has('ply')) out.push({ name: `${base}.ply`, data: plyBytes(positions, normals, layout.triangles, colors, meshOptions) });
    if (formats.has('glb') && textureBytes) {
      // glTF's unit is the metre.
      const glbFrame = frame.units === 'mm' ? { ...meshOptions, scale: frame.scale / 1000, units: 'm' } : meshOptions;
      const glb = textureBytes.then((texturePng) => ({
        name: `${base}.glb`,
        data: glbBytes(glbFrame === meshOptions ? positions : toModelFrame(face.vertices, glbFrame), normals, layout.triangles, colors, uv, texturePng, base),
      }));
      glb.catch(() => {});
      out.push(glb);
    }
  }
  out.push(...imageFiles);
  return Promise.all(out);
}
