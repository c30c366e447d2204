/**
 * Texture warps between the image and the UV layout.
 *
 * - uvTexture: image → UV texture. Each texel of the position map holds a surface point
 *   (x, y, z) in image pixels; the texel's colour is the image sampled bilinearly at (x, y).
 * - texelVisibility: which texels see the camera (the face mesh's own z-buffer).
 * - renderTexture: UV texture → image, on any geometry (texture swapping): each vertex takes the
 *   texel at its UV pixel, and the mesh is rendered with those colours.
 *
 * Vertex i of the dense face sits at UV pixel (faceIndex[i] % size, floor(faceIndex[i] / size)).
 */
import { bilinearRgb } from './bilinear.js';
import type { PositionMap, RgbImage } from '../types.js';
import { rasterize, renderColors, vertexVisibility, type Raster, type TriangleArray, type VertexArray } from './rasterize.js';

/** A UV texture and which of its texels hold a seen surface point (255) or none (0). */
export interface UvTexture {
  texture: RgbImage;
  mask: Uint8Array;
}

/**
 * Samples the image at every texel's (x, y) (image frame, bilinear). A texel is masked (black in
 * the texture, 0 in the mask) when its point lies outside the image, is not finite, or, with
 * `visibility` (size² values, non-zero = visible), is occluded.
 */
export function uvTexture(image: RgbImage, map: PositionMap, visibility?: Uint8Array | null): UvTexture {
  const size = map.size;
  const n = size * size;
  if (map.data.length < n * 3) throw new RangeError(`position map holds ${map.data.length} floats, expected ${n * 3}`);
  if (visibility && visibility.length !== n) throw new RangeError(`visibility has ${visibility.length} texels, expected ${n}`);
  const { width, height, data: src } = image;
  const tex = new Uint8Array(n * 3);
  const mask = new Uint8Array(n);
  const pos = map.data;
  const rgb = new Float64Array(3);
  for (let i = 0; i < n; i++) {
    if (visibility && visibility[i] === 0) continue;
    const x = pos[3 * i], y = pos[3 * i + 1];
    // Inside the image's pixel centres, with half a pixel's grace at the borders (clamped).
    if (!(x >= -0.5 && y >= -0.5 && x <= width - 0.5 && y <= height - 0.5)) continue;
    bilinearRgb(src, width, height, x, y, rgb);
    for (let k = 0; k < 3; k++) tex[3 * i + k] = Math.round(rgb[k]);
    mask[i] = 255;
  }
  return { texture: { width: size, height: size, data: tex }, mask };
}

/** The dense vertices (N×3, the map's frame) at the face pixels of a position map. */
export function gatherVertices(map: PositionMap, faceIndex: Int32Array | Uint32Array): Float32Array {
  const n = faceIndex.length;
  const out = new Float32Array(n * 3);
  const d = map.data;
  for (let i = 0; i < n; i++) {
    const p = 3 * faceIndex[i];
    out[3 * i] = d[p];
    out[3 * i + 1] = d[p + 1];
    out[3 * i + 2] = d[p + 2];
  }
  return out;
}

/**
 * Per-texel visibility (size² bytes, 1 = seen by the camera) of an image-frame position map:
 * the face mesh (faceIndex, triangles) is rasterised at the image's size and each face texel is
 * tested as a vertex (see vertexVisibility). Texels off the face are 0. `raster`: that z-buffer
 * (rasterize of the map's face vertices and `triangles` at width × height), if already drawn;
 * `vertices`: the map's face vertices (gatherVertices of map and faceIndex), if already gathered.
 */
export function texelVisibility(
  map: PositionMap,
  faceIndex: Int32Array | Uint32Array,
  triangles: TriangleArray,
  width: number,
  height: number,
  tolerance = 1,
  raster?: Raster,
  vertices: Float32Array = gatherVertices(map, faceIndex),
): Uint8Array {
  // a raster of these vertices and triangles at this size, when the caller has drawn one already;
  // else one over the face's own pixels only (the same answer: every vertex inside the image lies in
  // that window), not the whole image (8 bytes a pixel: 800 MB for a 100-megapixel photo)
  let vis: Uint8Array;
  if (raster && raster.width === width && raster.height === height) vis = vertexVisibility(vertices, triangles, width, height, tolerance, raster);
  else {
    const win = pixelWindow([vertices], width, height);
    vis = win ? vertexVisibility(intoWindow(vertices, win), triangles, win.width, win.height, tolerance) : new Uint8Array(faceIndex.length);
  }
  const out = new Uint8Array(map.size * map.size);
  for (let i = 0; i < faceIndex.length; i++) out[faceIndex[i]] = vis[i];
  return out;
}

/** A rectangle of whole pixels: its top-left pixel and size. */
export interface PixelWindow {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The whole pixels around the finite vertices' extent (of every mesh given: N×3 image-frame
 * vertices each) that lie in the image, with a margin of one pixel: every pixel a triangle of
 * them can cover is inside. null when no vertex is near the image.
 */
export function pixelWindow(meshes: readonly ArrayLike<number>[], width: number, height: number): PixelWindow | null {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const vertices of meshes) {
    for (let i = 0; i < vertices.length; i += 3) {
      const x = vertices[i], y = vertices[i + 1];
      if (!(Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(vertices[i + 2]))) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  const left = Math.max(0, Math.floor(x0) - 1), top = Math.max(0, Math.floor(y0) - 1);
  const right = Math.min(width - 1, Math.ceil(x1) + 1), bottom = Math.min(height - 1, Math.ceil(y1) + 1);
  return right >= left && bottom >= top ? { x: left, y: top, width: right - left + 1, height: bottom - top + 1 } : null;
}

/** A copy of image-frame vertices (N×3) in the window's frame (x, y less its origin), to rasterise at its size. */
export function intoWindow(vertices: ArrayLike<number>, win: PixelWindow): Float32Array {
  const out = Float32Array.from(vertices);
  for (let i = 0; i < out.length; i += 3) {
    out[i] -= win.x;
    out[i + 1] -= win.y;
  }
  return out;
}

/** Per-vertex colours (N×3, 0..1) read from a UV texture at each vertex's UV pixel. */
export function textureColors(texture: RgbImage, faceIndex: Int32Array | Uint32Array): Float32Array {
  const n = faceIndex.length;
  const size = texture.width * texture.height;
  const out = new Float32Array(n * 3);
  const d = texture.data;
  for (let i = 0; i < n; i++) {
    const p = faceIndex[i];
    if (p < 0 || p >= size) continue;
    out[3 * i] = d[3 * p] / 255;
    out[3 * i + 1] = d[3 * p + 1] / 255;
    out[3 * i + 2] = d[3 * p + 2] / 255;
  }
  return out;
}

/**
 * Renders a UV texture onto a geometry: vertices (N×3, image pixels of the output), the face
 * triangles, and faceIndex giving each vertex's UV pixel. Returns the image (background copied
 * where the face does not cover, else black) and the covered-pixel mask (255 = face).
 */
export function renderTexture(
  texture: RgbImage,
  faceIndex: Int32Array | Uint32Array,
  vertices: VertexArray,
  triangles: TriangleArray,
  width: number,
  height: number,
  background?: RgbImage,
): { image: RgbImage; mask: Uint8Array; raster: Raster } {
  const colors = textureColors(texture, faceIndex);
  const raster = rasterize(vertices, triangles, width, height);
  const image = renderColors(vertices, triangles, colors, width, height, background, raster);
  const mask = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) if (raster.triangle[i] >= 0) mask[i] = 255;
  return { image, mask, raster };
}
