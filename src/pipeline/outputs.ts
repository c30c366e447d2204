/**
 * What the CLI (and a library user who wants files) writes for one image: the contents of every
 * output file, as named buffers. Pure apart from PNG encoding, which the caller supplies (sharp in
 * Node, a canvas in the browser).
 */
import { writeGlb, writeObj, writeObjTextured, writePly, toJson, uvFromFaceIndex } from '../export/index.js';
import { triangulateFaceGrid, type Layout } from '../layout/index.js';
import { createRaster, depthToGrey, drawLandmarks, drawMesh, drawPoseBox, rasterize } from '../render/index.js';
import type { RgbImage } from '../types.js';
import { faceColors, faceTexture, faceToJson, type Face } from './face.js';

/** Output kinds; all are written by default. */
export const OUTPUT_FORMATS = ['json', 'obj', 'textured', 'ply', 'glb', 'depth', 'overlay'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export type PngEncoder = (data: Uint8Array, width: number, height: number, channels: 1 | 3) => Promise<Uint8Array>;

export interface OutputFile {
  name: string;
  data: Uint8Array | string;
}

const wireframes = new Map<number, Int32Array>();

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
 * `<stem>_<kind>.png` per image (depth and overlays show every face).
 */
export async function buildOutputs(
  stem: string,
  image: RgbImage,
  faces: Face[],
  layout: Layout,
  formats: ReadonlySet<OutputFormat>,
  encodePng: PngEncoder,
): Promise<OutputFile[]> {
  // PNGs are encoded while the rest is built (sharp compresses on its own threads); the files
  // keep their order.
  const out: (OutputFile | Promise<OutputFile>)[] = [];
  const png = (name: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<OutputFile> => {
    const file = encodePng(data, width, height, channels).then((bytes) => ({ name, data: bytes }));
    file.catch(() => {}); // reported by Promise.all below; not unhandled if something else throws first
    return file;
  };
  const uv = formats.has('textured') ? uvFromFaceIndex(layout.faceIndex, layout.size) : null;
  for (const face of faces) {
    const base = `${stem}_face${face.index}`;
    const needColors = formats.has('obj') || formats.has('ply') || formats.has('glb');
    const colors = needColors ? faceColors(image, face) : undefined;
    const frame = { imageHeight: image.height };
    if (formats.has('json')) out.push({ name: `${base}.json`, data: toJson(faceToJson(face, layout)) });
    if (formats.has('obj')) {
      out.push({ name: `${base}.obj`, data: writeObj(face.vertices, layout.triangles, colors, { ...frame, comment: 'prnet-ts face mesh with vertex colours' }) });
    }
    if (formats.has('textured') && uv) {
      const { texture } = faceTexture(image, face, layout);
      const textureFile = `${base}_texture.png`;
      const mtlFile = `${base}_textured.mtl`;
      const { obj, mtl } = writeObjTextured(face.vertices, layout.triangles, uv, { ...frame, mtlFile, textureFile, comment: 'prnet-ts face mesh with UV texture' });
      out.push({ name: `${base}_textured.obj`, data: obj }, { name: mtlFile, data: mtl });
      out.push(png(textureFile, texture.data, texture.width, texture.height, 3));
    }
    if (formats.has('ply')) out.push({ name: `${base}.ply`, data: writePly(face.vertices, layout.triangles, colors, frame) });
    if (formats.has('glb')) out.push({ name: `${base}.glb`, data: writeGlb({ vertices: face.vertices, triangles: layout.triangles, colors }, { ...frame, name: base }) });
  }
  if (formats.has('depth') && faces.length) {
    const raster = createRaster(image.width, image.height);
    for (const face of faces) rasterize(face.vertices, layout.triangles, image.width, image.height, raster);
    const grey = depthToGrey(raster);
    out.push(png(`${stem}_depth.png`, grey.data, grey.width, grey.height, 1));
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
    out.push(png(`${stem}_landmarks.png`, lm.data, lm.width, lm.height, 3));
    out.push(png(`${stem}_pose.png`, pose.data, pose.width, pose.height, 3));
    out.push(png(`${stem}_mesh.png`, mesh.data, mesh.width, mesh.height, 3));
  }
  return Promise.all(out);
}
