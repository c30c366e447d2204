/**
 * What the CLI (and a library user who wants files) writes for one image: the contents of every
 * output file, as named buffers. Pure apart from PNG encoding, which the caller supplies (sharp in
 * Node, a canvas in the browser).
 */
import { checkMesh, meshFrame, modelFrameNormals, toJson, toModelFrame, uvFromFaceIndex, type MeshUnits } from '../export/index.js';
import { glbBytes, type HeadNode } from '../export/glb.js';
import type { FrameOptions } from '../export/mesh.js';
import { objBytes, objSafeName, objTexturedBytes } from '../export/obj.js';
import { plyBytes } from '../export/ply.js';
import { npyBytes } from '../export/npy.js';
import { matBytes } from '../export/mat.js';
import { vertexNormals } from '../geometry/normals.js';
import { flipRotationY, frontalize, rotationQuaternion } from '../geometry/pose.js';
import { triangulateFaceGrid, type Layout } from '../layout/index.js';
import { createRaster, depthToGreyIn, drawEdgesOnto, drawLandmarksOnto, drawPoseBoxOnto, faceStrokes, intoWindow, pixelWindow, rasterize, sampleTextureAtUv, uniqueEdges, wireframeStep, type Raster } from '../render/index.js';
import type { PositionMap, RgbImage } from '../types.js';
import { InputError, shownValue } from '../errors.js';
import { toRgbImage, type PixelImage } from '../io/pixels.js';
import { markPng } from '../io/png-mark.js';
import { faceTexture, faceToJson, headCentre, TEXTURE_SIZES, type Face, type FaceJson, type ProducerJson } from './face.js';
import { checkBooleans, checkKnownOptions } from '../track/options.js';
import { faceFileBase } from './output-names.js';

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
 * computed from it before anything is awaited). Only the rectangle drawn last is cleared.
 */
let depthRaster: Raster | undefined;
const depthDrawn = new Int32Array(4);
const KEPT_RASTER_PIXELS = 2_000_000;
/**
 * Photos above this many pixels get their overlay PNGs one after the other, from one copy of the
 * photo, instead of three copies encoded at once (48 MB of copies at this size).
 */
const SEQUENTIAL_OVERLAY_PIXELS = 16_000_000;
function scratchRaster(width: number, height: number): Raster {
  if (width * height > KEPT_RASTER_PIXELS) return createRaster(width, height);
  if (depthRaster && depthRaster.width === width && depthRaster.height === height) {
    const [x0, y0, x1, y1] = depthDrawn;
    for (let y = y0; y <= y1; y++) {
      depthRaster.depth.fill(-Infinity, y * width + x0, y * width + x1 + 1);
      depthRaster.triangle.fill(-1, y * width + x0, y * width + x1 + 1);
    }
  } else depthRaster = createRaster(width, height);
  return depthRaster;
}

/**
 * The depth image of a large photo (see buildOutputs): the faces rasterised into a z-buffer over
 * their own pixels (pixelWindow of all their vertices), its grey levels written into `out` (the
 * photo's size, cleared here) at that window's place. The same picture as the full z-buffer gives.
 */
function windowedDepth(faces: readonly Face[], layout: Layout, width: number, height: number, out: Uint8Array): Uint8Array {
  out.fill(0);
  const win = pixelWindow(faces.map((f) => f.vertices), width, height);
  if (!win) return out;
  const raster = createRaster(win.width, win.height);
  for (const face of faces) rasterize(intoWindow(face.vertices, win), layout.triangles, win.width, win.height, raster);
  const grey = depthToGreyIn(raster, 0, 0, win.width - 1, win.height - 1, new Uint8Array(win.width * win.height));
  for (let r = 0; r < win.height; r++) out.set(grey.subarray(r * win.width, (r + 1) * win.width), (win.y + r) * width + win.x);
  return out;
}

/**
 * Pixel buffers of the image PNGs (depth, overlays), reused: one goes back to the pool when its
 * PNG's promise has settled (the encoder reads the pixels until then), so overlapping calls each
 * take their own; at most POOL_BYTES are kept (the oldest make room for the newest). The files
 * returned are the encoder's own new bytes, never these.
 */
const pixelPool: Uint8Array[] = [];
/** Bytes the pool may hold: a call's four buffers for photos up to ~1.3 MP, or two calls' at 640×480. */
const POOL_BYTES = 16_000_000;
let pooledBytes = 0;
function takePixels(length: number): Uint8Array {
  for (let i = pixelPool.length - 1; i >= 0; i--) {
    if (pixelPool[i].length === length) {
      pooledBytes -= length;
      return pixelPool.splice(i, 1)[0];
    }
  }
  return new Uint8Array(length);
}
function givePixels(pixels: Uint8Array): void {
  if (pixels.length > POOL_BYTES || pixelPool.includes(pixels)) return;
  // the oldest buffers make room (other photo sizes, most likely)
  while (pooledBytes + pixels.length > POOL_BYTES) pooledBytes -= pixelPool.shift()!.length;
  pixelPool.push(pixels);
  pooledBytes += pixels.length;
}

/** The output kinds the CLI writes by default (buildOutputs writes those it is given). */
export const OUTPUT_FORMATS = ['json', 'obj', 'textured', 'ply', 'glb', 'depth', 'overlay'] as const;
/**
 * Output kinds written only when asked for, as the original PRNet demo's options: `posmap` the
 * position map as NumPy .npy (`pos`, 256×256×3 float32, image frame), `mask` the UV texture's
 * visibility (255 where the photo shows the texel; `--isMask`), `frontal` an OBJ of the face with
 * its head pose undone (`--isFront`), `mat` the mesh as a MATLAB .mat file (`--isMat`: `vertices`,
 * `colors`, `triangles`, and the 68 landmarks as `kpt`; image frame).
 */
export const EXTRA_OUTPUT_FORMATS = ['posmap', 'mask', 'frontal', 'mat'] as const;
export { FACE_FILE_SUFFIXES, faceFileBase, IMAGE_FILE_SUFFIXES } from './output-names.js';
export type OutputFormat = (typeof OUTPUT_FORMATS)[number] | (typeof EXTRA_OUTPUT_FORMATS)[number];
/** Every output kind buildOutputs knows: the default ones, then those written only when asked for. */
export const ALL_OUTPUT_FORMATS: readonly OutputFormat[] = [...OUTPUT_FORMATS, ...EXTRA_OUTPUT_FORMATS];

/**
 * Encodes raw pixels as PNG bytes. buildOutputs may reuse `data` for a later call once the promise
 * has settled, so the bytes returned must be new memory, not a view of `data` (a view is detected
 * and its pixels then not reused).
 */
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
  /**
   * The image's file name, written into each face's JSON as `image.file` (the CLI writes the
   * input's base name), so a JSON read apart from its photo still says which photo it describes.
   */
  source?: string;
  /** Written into each face's JSON as `producer`: what made it (producerJson in pipeline/node.ts). */
  producer?: ProducerJson;
}

export interface OutputFile {
  name: string;
  data: Uint8Array | string;
}

const wireframes = new WeakMap<object, Map<number, Uint32Array>>();
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
 * The dense mesh's distinct edges on a coarser UV grid for drawing (a grid line every `step`
 * texels: wireframeStep, so that the wireframe stays readable; the full mesh has a vertex every
 * ~0.5 px). Cached per layout and step.
 */
export function wireframeEdges(layout: Layout, step: number): Uint32Array {
  let bySteps = wireframes.get(layout.faceIndex);
  if (!bySteps) wireframes.set(layout.faceIndex, (bySteps = new Map()));
  let edges = bySteps.get(step);
  if (!edges) {
    const t = step === 1 ? layout.triangles : triangulateFaceGrid(layout.faceIndex, layout.size, step);
    edges = uniqueEdges(t, layout.vertexCount);
    bySteps.set(step, edges);
  }
  return edges;
}

/**
 * Output files for the faces of one image, named `<stem>_face<i>.<ext>` per face and
 * `<stem>_<kind>.png` per image (depth and overlays show every face), `stem` as objSafeName makes
 * it (the textured OBJ names its MTL and texture: `#`, spaces at the ends or doubled and other
 * whitespace as `_`, which OBJ readers read back). Text files are strings, except the (large)
 * OBJs, which are UTF-8 bytes.
 *
 * Every mesh file has normals; colours and texture agree: the UV texture is complete (texels the
 * photo does not show are filled from the mirrored side or smoothly, see faceTexture) and the
 * vertex colours are read from it. The GLB embeds the texture (baseColorTexture) with UVs and normals,
 * and no vertex colours (glTF would multiply them into the texture). The JSON stays in image pixels and says how the mesh files relate to them.
 */
export async function buildOutputs(
  stem: string,
  input: RgbImage | PixelImage,
  faces: Face[],
  layout: Layout,
  formatList: ReadonlySet<OutputFormat> | readonly OutputFormat[],
  encodePng: PngEncoder,
  options: OutputOptions = {},
): Promise<OutputFile[]> {
  // A Set or an array; a name this version does not write is an error, not silently nothing.
  if (formatList === null || typeof formatList !== 'object' || typeof (formatList as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new InputError('formats must be a Set or an array of output formats');
  }
  const formats = new Set<OutputFormat>(formatList);
  for (const f of formats) {
    if (!ALL_OUTPUT_FORMATS.includes(f)) throw new InputError(`unknown output format ${shownValue(f)} (known: ${ALL_OUTPUT_FORMATS.join(', ')})`);
  }
  options ??= {};
  checkKnownOptions(options, ['units', 'center', 'textureSize', 'source', 'producer'], 'buildOutputs option', { centre: 'center', unit: 'units' });
  checkBooleans(options, ['center'], 'buildOutputs option');
  if (typeof encodePng !== 'function') throw new InputError('encodePng must be a function (data, width, height, channels) → PNG bytes: encodePng from the package');
  if (typeof stem !== 'string' || !stem) throw new InputError(`stem must be a non-empty file name stem, got ${shownValue(stem)}`);
  // (a folder in the stem went into the MTL's and OBJ's references, which then pointed nowhere from where the files lie)
  // (a backslash is a file name's character on POSIX: the CLI's stems keep it)
  if (stem.includes('/')) throw new InputError(`stem must be a file name stem, not a path, got ${shownValue(stem)}: write the files into the folder yourself`);
  if (!Array.isArray(faces)) throw new InputError(`faces must be an array of faces (a ReconstructResult's faces), got ${faces === null ? 'null' : typeof faces}`);
  if (!layout || typeof layout !== 'object' || !(layout.faceIndex instanceof Int32Array) || !Number.isInteger(layout.size)) throw new InputError('layout must be the pipeline\'s layout (prnet.layout)');
  // Files are named by each face's index: two faces of one index (faces of separate reconstruct calls) would get the same names.
  const indices = new Set<number>();
  for (const f of faces) {
    if (indices.has(f.index)) throw new InputError(`two faces have the index ${shownValue(f.index)}, which names their files (NAME_face${shownValue(f.index)}.*): give each its own (faces of separate reconstruct calls all have 0)`);
    indices.add(f.index);
  }
  stem = objSafeName(stem);
  // RGBA or grey bytes (as reconstruct takes) are read as RGB once here.
  const image = toRgbImage(input);
  const textureSize = options.textureSize ?? layout.size;
  if (!(TEXTURE_SIZES as readonly number[]).includes(textureSize)) throw new InputError(`textureSize must be one of ${TEXTURE_SIZES.join(', ')}, got ${shownValue(textureSize)}`);
  if (options.source !== undefined && typeof options.source !== 'string') throw new InputError(`source must be the image's file name (a string), got ${shownValue(options.source)}`);
  // PNGs are encoded while the rest is built (sharp compresses on its own threads); the files
  // keep their order.
  const out: (OutputFile | Promise<OutputFile>)[] = [];
  // Every PNG carries prnet-ts's mark (io/png-mark.ts): a later run into the same folder tells its
  // own outputs from a photo of the same name by it.
  const version = typeof options.producer?.prnet === 'string' ? options.producer.prnet : undefined;
  const encode = (data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Uint8Array> => {
    const bytes = Promise.resolve(encodePng(data, width, height, channels)).then((png) => (png instanceof Uint8Array ? markPng(png, version) : png));
    bytes.catch(() => {}); // reported by Promise.all below; not unhandled if something else throws first
    return bytes;
  };
  const png = (name: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<OutputFile> =>
    encode(data, width, height, channels).then((bytes) => ({ name, data: bytes }));
  /** png of pixels from the pool, given back when encoded. */
  const pooledPng = (name: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<OutputFile> => {
    const file = png(name, data, width, height, channels);
    // (not when the encoder's bytes are the pixels' memory: the file would change with the next call)
    file.then((f) => typeof f.data !== 'string' && f.data.buffer !== data.buffer && givePixels(data), () => givePixels(data));
    return file;
  };
  // (the texture mask and the frontal OBJ's colours come from the texture, as the meshes' do)
  const needMesh = formats.has('obj') || formats.has('textured') || formats.has('ply') || formats.has('glb') || formats.has('mask') || formats.has('frontal') || formats.has('mat');
  const uv = needMesh ? layoutUv(layout) : null;
  // The image-level PNGs (depth, overlays) are drawn first, so that sharp compresses them on its
  // threads while the meshes are written here; they still come last in the list.
  const imageFiles: Promise<OutputFile>[] = [];
  /** The z-buffer of a one-face image's depth output: also its texture's visibility test. */
  let faceRaster: Raster | undefined;
  const { width, height } = image;
  if (formats.has('depth') && faces.length && width * height > KEPT_RASTER_PIXELS) {
    // A large photo: the z-buffer covers the faces' pixels only (8 bytes a pixel over the whole of a
    // 100-megapixel photo is 800 MB), and the grey depth goes into the full-size image at its place.
    imageFiles.push(pooledPng(`${stem}_depth.png`, windowedDepth(faces, layout, width, height, takePixels(width * height)), width, height, 1));
  } else if (formats.has('depth') && faces.length) {
    const raster = scratchRaster(width, height);
    // the pixels the faces can cover (empty: x0 > x1)
    const win = pixelWindow(faces.map((f) => f.vertices), width, height);
    const drawn = win ? Int32Array.of(win.x, win.y, win.x + win.width - 1, win.y + win.height - 1) : Int32Array.of(width, height, -1, -1);
    // the whole raster is cleared next time unless the drawing ends
    if (raster === depthRaster) depthDrawn.set([0, 0, width - 1, height - 1]);
    for (const face of faces) rasterize(face.vertices, layout.triangles, width, height, raster);
    if (raster === depthRaster) depthDrawn.set(drawn);
    if (faces.length === 1 && verticesOfMap(faces[0].vertices, faces[0].positionMap, layout.faceIndex)) faceRaster = raster;
    const grey = depthToGreyIn(raster, drawn[0], drawn[1], drawn[2], drawn[3], takePixels(width * height));
    imageFiles.push(pooledPng(`${stem}_depth.png`, grey, width, height, 1));
  }
  if (formats.has('overlay') && faces.length) {
    // Each overlay is drawn onto its own copy of the photo, face after face.
    const overlays: [string, (onto: RgbImage, face: Face) => void][] = [
      ['landmarks', (onto, face) => {
        const s = faceStrokes(onto, face.crop.square.side);
        drawLandmarksOnto(onto, face.landmarks, { dims: 3, radius: s.radius, thickness: s.lines });
      }],
      ['pose', (onto, face) => drawPoseBoxOnto(onto, face.pose.rotation, face.pose.scale, face.pose.translation, { landmarks: face.landmarks, dims: 3, thickness: faceStrokes(onto, face.crop.square.side).box })],
      ['mesh', (onto, face) => {
        const side = face.crop.square.side, thickness = faceStrokes(onto, side).mesh;
        drawEdgesOnto(onto, face.vertices, wireframeEdges(layout, wireframeStep(side, layout.size, thickness)), { alpha: 0.6, thickness });
      }],
    ];
    const drawCopy = (data: Uint8Array, draw: (onto: RgbImage, face: Face) => void): Uint8Array => {
      data.set(image.data);
      const onto = { width, height, data };
      for (const face of faces) draw(onto, face);
      return data;
    };
    if (width * height <= SEQUENTIAL_OVERLAY_PIXELS) {
      // Three copies at once, compressed side by side on sharp's threads.
      for (const [kind, draw] of overlays) imageFiles.push(pooledPng(`${stem}_${kind}.png`, drawCopy(takePixels(image.data.length), draw), width, height, 3));
    } else {
      // A large photo: one copy at a time (three of a 100-megapixel photo are 900 MB), each drawn
      // once the previous one's PNG is encoded.
      let pixels: Uint8Array | undefined;
      let previous: Promise<OutputFile | undefined> = Promise.resolve(undefined);
      for (const [kind, draw] of overlays) {
        const file = previous.then((last) => {
          // (a new copy when the encoder's bytes were the pixels' memory: that file must not change)
          if (!pixels || (last && typeof last.data !== 'string' && last.data.buffer === pixels.buffer)) pixels = new Uint8Array(image.data.length);
          return png(`${stem}_${kind}.png`, drawCopy(pixels, draw), width, height, 3);
        });
        file.catch(() => {}); // reported by Promise.all below
        imageFiles.push(file);
        previous = file;
      }
    }
  }
  for (const face of faces) {
    const base = faceFileBase(stem, face.index);
    const frame = meshFrame(face.vertices, face.landmarks, { units: options.units, center: options.center, imageHeight: image.height });
    if (formats.has('json')) {
      const json: FaceJson = { ...faceToJson(face, layout), image: { ...(options.source !== undefined ? { file: options.source } : {}), width, height }, mesh: meshJson(frame), ...(options.producer ? { producer: options.producer } : {}) };
      out.push({ name: `${base}.json`, data: toJson(json) });
    }
    if (formats.has('posmap')) {
      const map = face.positionMap;
      out.push({ name: `${base}_posmap.npy`, data: npyBytes(map.data, [map.size, map.size, 3]) });
    }
    if (!needMesh || !uv) continue;
    const imageNormals = vertexNormals(face.vertices, layout.triangles);
    const { texture, mask } = faceTexture(image, face, layout, { size: textureSize, normals: imageNormals, raster: faceRaster, mapVertices: faceRaster && face.vertices });
    const colors = sampleTextureAtUv(texture, uv);
    const normals = modelFrameNormals(face.vertices, layout.triangles, imageNormals, true);
    const textureBytes = formats.has('textured') || formats.has('glb') ? encode(texture.data, texture.width, texture.height, 3) : null;
    const meshOptions = writerFrame(frame, normals);
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
    if (formats.has('mask')) out.push(png(`${base}_texture_mask.png`, mask, texture.width, texture.height, 1));
    if (formats.has('mat')) {
      // As the original's `--isMat` (scipy.io.savemat of vertices, colors, triangles): the image
      // frame (pixels, y down, z towards the camera, as the JSON), colours 0..1 as the other meshes',
      // triangles 0-based as PRNet's; the landmarks as its `_kpt.txt` held them.
      const n = face.vertices.length / 3;
      out.push({
        name: `${base}_mesh.mat`,
        data: matBytes([
          { name: 'vertices', shape: [n, 3], data: face.vertices },
          { name: 'colors', shape: [n, 3], data: colors },
          { name: 'triangles', shape: [layout.triangles.length / 3, 3], data: layout.triangles, class: 'int32' },
          { name: 'kpt', shape: [68, 3], data: face.landmarks },
        ]),
      });
    }
    if (formats.has('frontal')) {
      // The face turned to the camera about the head's centre, in the image frame, then written as
      // the other meshes are (its own centring; the same scale: the eye distance does not turn).
      const front = new Float32Array(face.vertices.length);
      frontalize(face.vertices, face.pose.rotation, headCentre(face.pose, layout), front);
      const frontFrame = meshFrame(front, face.landmarks, { units: options.units, center: options.center, imageHeight: image.height });
      const frontOptions = writerFrame(frontFrame, modelFrameNormals(front, layout.triangles));
      out.push({ name: `${base}_frontal.obj`, data: objBytes(toModelFrame(front, frontOptions), frontOptions.normals, layout.triangles, colors, { ...frontOptions, decimals, comment: 'prnet-ts face mesh with vertex colours, head pose undone (frontal)' }) });
    }
    if (formats.has('glb') && textureBytes) {
      // glTF's unit is the metre.
      const glbFrame = frame.units === 'mm' ? { ...meshOptions, scale: frame.scale / 1000, units: 'm' } : meshOptions;
      const glb = textureBytes.then((texturePng) => ({
        name: `${base}.glb`,
        data: glbBytes(glbFrame === meshOptions ? positions : toModelFrame(face.vertices, glbFrame), normals, layout.triangles, colors, uv, texturePng, base, headNode(face, layout, glbFrame)),
      }));
      glb.catch(() => {});
      out.push(glb);
    }
  }
  out.push(...imageFiles);
  return Promise.all(out);
}

/** A mesh frame and its model-frame normals as the mesh writers take them. */
function writerFrame(frame: ReturnType<typeof meshFrame>, normals: Float32Array) {
  return { scale: frame.scale, origin: frame.origin, imageHeight: frame.imageHeight, units: frame.units, normals };
}

/**
 * The photo GLB's head node: faceMesh's headMatrix in the GLB's frame — its origin the face's
 * centre (headCentre), its rotation the pose's with y flipped (F·R·F), no scale.
 */
function headNode(face: Face, layout: Layout, frame: FrameOptions): HeadNode {
  return {
    translation: Array.from(toModelFrame(Float64Array.from(headCentre(face.pose, layout)), frame)),
    rotation: rotationQuaternion(flipRotationY(face.pose.rotation)),
  };
}
