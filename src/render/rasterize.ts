/**
 * A z-buffer triangle rasteriser over typed arrays.
 *
 * Frame: image pixels, x right, y down, pixel (i, j) has its centre at x = i, y = j (see types.ts);
 * z towards the camera, larger = nearer. Projection is orthographic: a vertex (x, y, z) lands at
 * pixel (x, y), and depth is interpolated linearly in screen space.
 *
 * Coverage: a pixel centre belongs to a triangle when it is strictly inside, or exactly on an edge
 * that is a top or left edge of that triangle (the usual top-left fill rule, stated for y down).
 * Each edge function is evaluated with the edge's endpoints in one canonical order (by x, then y),
 * so two triangles sharing an edge compute bit-identical values of opposite sign: a pixel on a
 * shared edge is drawn by exactly one of them, never by both and never by neither.
 *
 * Both windings are rasterised (no back-face culling): visibility comes from the z-buffer alone.
 * Triangles with a non-finite vertex or zero area are skipped.
 */
import type { RgbImage } from '../types.js';

/** Vertices: N×3 floats, row-major (x, y, z). */
export type VertexArray = Float32Array | Float64Array;
/** Triangles: T×3 vertex indices, row-major. */
export type TriangleArray = Int32Array | Uint32Array;

/** The result of rasterising a mesh: per pixel, the nearest surface's depth and triangle. */
export interface Raster {
  width: number;
  height: number;
  /** Interpolated z of the nearest triangle, −Infinity where no triangle covers the pixel. */
  depth: Float32Array;
  /** Index of the nearest triangle, −1 where no triangle covers the pixel. */
  triangle: Int32Array;
}

/** An 8-bit single-channel image, row-major, one byte per pixel. */
export interface GreyImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Allocates an empty raster (depth −Infinity, triangle −1). */
export function createRaster(width: number, height: number): Raster {
  checkSize(width, height);
  const depth = new Float32Array(width * height).fill(-Infinity);
  const triangle = new Int32Array(width * height).fill(-1);
  return { width, height, depth, triangle };
}

/** Resets a raster to empty, for reuse across frames. */
export function clearRaster(raster: Raster): void {
  raster.depth.fill(-Infinity);
  raster.triangle.fill(-1);
}

/**
 * Rasterises triangles into a z-buffer. With `target`, draws into it (without clearing, so
 * several meshes can share one buffer); otherwise into a new raster of width × height.
 */
export function rasterize(
  vertices: VertexArray,
  triangles: TriangleArray,
  width: number,
  height: number,
  target?: Raster,
): Raster {
  const raster = target ?? createRaster(width, height);
  if (raster.width !== width || raster.height !== height) {
    throw new RangeError(`raster is ${raster.width}×${raster.height}, expected ${width}×${height}`);
  }
  const depth = raster.depth;
  const triId = raster.triangle;
  const nv = Math.floor(vertices.length / 3);
  const nt = Math.floor(triangles.length / 3);
  const xMaxPix = width - 1;
  const yMaxPix = height - 1;

  for (let t = 0; t < nt; t++) {
    const ia = triangles[3 * t];
    const ib = triangles[3 * t + 1];
    const ic = triangles[3 * t + 2];
    if (ia >= nv || ib >= nv || ic >= nv || ia < 0 || ib < 0 || ic < 0) continue;
    const ax = vertices[3 * ia], ay = vertices[3 * ia + 1], az = vertices[3 * ia + 2];
    const bx = vertices[3 * ib], by = vertices[3 * ib + 1], bz = vertices[3 * ib + 2];
    const cx = vertices[3 * ic], cy = vertices[3 * ic + 1], cz = vertices[3 * ic + 2];
    // Rejects NaN and ±Infinity in one test (x − x is NaN for both).
    if ((ax - ax) + (ay - ay) + (az - az) + (bx - bx) + (by - by) + (bz - bz) + (cx - cx) + (cy - cy) + (cz - cz) !== 0) continue;

    let minX = ax < bx ? ax : bx; if (cx < minX) minX = cx;
    let maxX = ax > bx ? ax : bx; if (cx > maxX) maxX = cx;
    let minY = ay < by ? ay : by; if (cy < minY) minY = cy;
    let maxY = ay > by ? ay : by; if (cy > maxY) maxY = cy;
    const x0 = minX > 0 ? Math.ceil(minX) : 0;
    const x1 = maxX < xMaxPix ? Math.floor(maxX) : xMaxPix;
    const y0 = minY > 0 ? Math.ceil(minY) : 0;
    const y1 = maxY < yMaxPix ? Math.floor(maxY) : yMaxPix;
    if (x0 > x1 || y0 > y1) continue;

    // Edge 0 (b, c) is opposite a, edge 1 (c, a) opposite b, edge 2 (a, b) opposite c.
    // Each in canonical order P < Q (by x, then y); E(x, y) = dx·(y − Py) − dy·(x − Px).
    let p0x: number, p0y: number, d0x: number, d0y: number;
    if (bx < cx || (bx === cx && by < cy)) { p0x = bx; p0y = by; d0x = cx - bx; d0y = cy - by; } else { p0x = cx; p0y = cy; d0x = bx - cx; d0y = by - cy; }
    let p1x: number, p1y: number, d1x: number, d1y: number;
    if (cx < ax || (cx === ax && cy < ay)) { p1x = cx; p1y = cy; d1x = ax - cx; d1y = ay - cy; } else { p1x = ax; p1y = ay; d1x = cx - ax; d1y = cy - ay; }
    let p2x: number, p2y: number, d2x: number, d2y: number;
    if (ax < bx || (ax === bx && ay < by)) { p2x = ax; p2y = ay; d2x = bx - ax; d2y = by - ay; } else { p2x = bx; p2y = by; d2x = ax - bx; d2y = ay - by; }

    // Sign of each edge function at the opposite vertex: the inside of the triangle.
    const o0 = d0x * (ay - p0y) - d0y * (ax - p0x);
    const o1 = d1x * (by - p1y) - d1y * (bx - p1x);
    const o2 = d2x * (cy - p2y) - d2y * (cx - p2x);
    if (o0 === 0 || o1 === 0 || o2 === 0) continue; // degenerate
    const s0 = o0 > 0 ? 1 : -1;
    const s1 = o1 > 0 ? 1 : -1;
    const s2 = o2 > 0 ? 1 : -1;
    // Top-left rule (y down): an edge owns its on-edge pixels when the inward normal
    // s·(−dy, dx) points down, or exactly right for a horizontal inward normal.
    const own0 = s0 * d0x > 0 || (d0x === 0 && s0 * d0y < 0);
    const own1 = s1 * d1x > 0 || (d1x === 0 && s1 * d1y < 0);
    const own2 = s2 * d2x > 0 || (d2x === 0 && s2 * d2y < 0);

    for (let y = y0; y <= y1; y++) {
      const e0y = d0x * (y - p0y);
      const e1y = d1x * (y - p1y);
      const e2y = d2x * (y - p2y);
      const row = y * width;
      for (let x = x0; x <= x1; x++) {
        const w0 = s0 * (e0y - d0y * (x - p0x));
        if (w0 < 0 || (w0 === 0 && !own0)) continue;
        const w1 = s1 * (e1y - d1y * (x - p1x));
        if (w1 < 0 || (w1 === 0 && !own1)) continue;
        const w2 = s2 * (e2y - d2y * (x - p2x));
        if (w2 < 0 || (w2 === 0 && !own2)) continue;
        const sum = w0 + w1 + w2;
        if (!(sum > 0)) continue;
        const z = (w0 * az + w1 * bz + w2 * cz) / sum;
        const i = row + x;
        if (z > depth[i]) {
          depth[i] = z;
          triId[i] = t;
        }
      }
    }
  }
  return raster;
}

/**
 * Interpolates per-vertex attributes (N × channels floats) over the covered pixels of a raster
 * with the barycentric weights of each pixel's triangle. Returns width × height × channels
 * floats; empty pixels are left as they are in `out` (zero in a new array).
 */
export function interpolate(
  raster: Raster,
  vertices: VertexArray,
  triangles: TriangleArray,
  attributes: ArrayLike<number>,
  channels: number,
  out?: Float32Array,
): Float32Array {
  const { width, height, triangle } = raster;
  const n = width * height;
  const result = out ?? new Float32Array(n * channels);
  if (result.length < n * channels) throw new RangeError('output array too small');
  for (let i = 0; i < n; i++) {
    const t = triangle[i];
    if (t < 0) continue;
    const x = i % width;
    const y = (i - x) / width;
    const ia = triangles[3 * t], ib = triangles[3 * t + 1], ic = triangles[3 * t + 2];
    const ax = vertices[3 * ia], ay = vertices[3 * ia + 1];
    const bx = vertices[3 * ib], by = vertices[3 * ib + 1];
    const cx = vertices[3 * ic], cy = vertices[3 * ic + 1];
    const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    const la = ((bx - x) * (cy - y) - (by - y) * (cx - x)) / area;
    const lb = ((cx - x) * (ay - y) - (cy - y) * (ax - x)) / area;
    const lc = 1 - la - lb;
    const o = i * channels;
    for (let k = 0; k < channels; k++) {
      result[o + k] = la * attributes[ia * channels + k] + lb * attributes[ib * channels + k] + lc * attributes[ic * channels + k];
    }
  }
  return result;
}

/** 255 where a triangle covers the pixel, 0 elsewhere. */
export function coverageMask(raster: Raster): Uint8Array {
  const n = raster.width * raster.height;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (raster.triangle[i] >= 0) mask[i] = 255;
  return mask;
}

/**
 * Renders a depth image: near = bright. Depth is normalised over the face (the covered pixels):
 * the nearest covered pixel is 255, the farthest 1, so the face stays distinct from the black (0)
 * background. Like the original's depth output, but without its loss of the farthest points.
 */
export function renderDepth(vertices: VertexArray, triangles: TriangleArray, width: number, height: number): GreyImage {
  const raster = rasterize(vertices, triangles, width, height);
  return depthToGrey(raster);
}

/** Converts a raster's depth to an 8-bit image as in renderDepth. */
export function depthToGrey(raster: Raster): GreyImage {
  return { width: raster.width, height: raster.height, data: depthToGreyIn(raster, 0, 0, raster.width - 1, raster.height - 1, new Uint8Array(raster.width * raster.height)) };
}

/**
 * depthToGrey's pixels into `out` (width × height bytes, any contents: all are written), when every
 * covered pixel of the raster lies in the rectangle x0..x1 × y0..y1 (inclusive, clamped to the
 * raster): the rectangle alone is read, the rest of `out` set to 0.
 */
export function depthToGreyIn(raster: Raster, x0: number, y0: number, x1: number, y1: number, out: Uint8Array): Uint8Array {
  const { width, height, depth } = raster;
  if (out.length !== width * height) throw new RangeError(`output holds ${out.length} pixels, expected ${width * height}`);
  out.fill(0);
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  x1 = Math.min(width - 1, x1);
  y1 = Math.min(height - 1, y1);
  const range = depthRange(depth, width, x0, y0, x1, y1);
  const lo = range[0], hi = range[1];
  if (lo === Infinity) return out;
  greyLevels(depth, width, x0, y0, x1, y1, lo, hi, out);
  return out;
}

const RANGE = new Float64Array(2);
/** The least and greatest finite depth in the rectangle (Infinity, −Infinity when none is covered). */
function depthRange(depth: Float32Array, width: number, x0: number, y0: number, x1: number, y1: number): Float64Array {
  let lo = Infinity, hi = -Infinity;
  for (let y = y0; y <= y1; y++) {
    for (let i = y * width + x0, end = y * width + x1; i <= end; i++) {
      const z = depth[i];
      if (z === -Infinity) continue;
      if (z < lo) lo = z;
      if (z > hi) hi = z;
    }
  }
  RANGE[0] = lo;
  RANGE[1] = hi;
  return RANGE;
}

/** Near = bright: 1..255 over lo..hi at the covered pixels of the rectangle (255 when lo = hi). */
function greyLevels(depth: Float32Array, width: number, x0: number, y0: number, x1: number, y1: number, lo: number, hi: number, out: Uint8Array): void {
  const scale = hi > lo ? 254 / (hi - lo) : 0;
  for (let y = y0; y <= y1; y++) {
    for (let i = y * width + x0, end = y * width + x1; i <= end; i++) {
      const z = depth[i];
      if (z === -Infinity) continue;
      out[i] = hi > lo ? 1 + Math.round((z - lo) * scale) : 255;
    }
  }
}

/**
 * Per-vertex visibility: 1 when no surface of the mesh lies in front of the vertex, 0 when it is
 * occluded or falls outside the image. A vertex is compared with the surface the z-buffer holds at
 * its nearest pixel: visible when that is one of its own triangles, or when that triangle's plane,
 * evaluated at the vertex's exact (x, y), is not nearer than the vertex by more than `tolerance`
 * (pixel units). Evaluating the plane at the vertex rather than at the pixel centre keeps steep
 * surfaces (the cheeks of a frontal face) from hiding their own vertices.
 */
export function vertexVisibility(
  vertices: VertexArray,
  triangles: TriangleArray,
  width: number,
  height: number,
  tolerance = 1,
  raster?: Raster,
): Uint8Array {
  const r = raster ?? rasterize(vertices, triangles, width, height);
  const nv = Math.floor(vertices.length / 3);
  const vis = new Uint8Array(nv);
  for (let v = 0; v < nv; v++) {
    const x = vertices[3 * v], y = vertices[3 * v + 1], z = vertices[3 * v + 2];
    if (!(Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(z))) continue;
    const px = Math.round(x), py = Math.round(y);
    if (px < 0 || py < 0 || px >= width || py >= height) continue;
    const t = r.triangle[py * width + px];
    if (t < 0) { vis[v] = 1; continue; }
    const ia = triangles[3 * t], ib = triangles[3 * t + 1], ic = triangles[3 * t + 2];
    if (ia === v || ib === v || ic === v) { vis[v] = 1; continue; }
    const ax = vertices[3 * ia], ay = vertices[3 * ia + 1], az = vertices[3 * ia + 2];
    const bx = vertices[3 * ib], by = vertices[3 * ib + 1], bz = vertices[3 * ib + 2];
    const cx = vertices[3 * ic], cy = vertices[3 * ic + 1], cz = vertices[3 * ic + 2];
    const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    let front: number;
    if (Math.abs(area) > 1e-9) {
      const la = ((bx - x) * (cy - y) - (by - y) * (cx - x)) / area;
      const lb = ((cx - x) * (ay - y) - (cy - y) * (ax - x)) / area;
      front = la * az + lb * bz + (1 - la - lb) * cz;
    } else {
      front = r.depth[py * width + px];
    }
    if (z >= front - tolerance) vis[v] = 1;
  }
  return vis;
}

/**
 * Renders per-vertex colours (N×3, 0..1) with barycentric interpolation over the nearest
 * surface. Uncovered pixels take the background image's pixels (copied), or black.
 */
export function renderColors(
  vertices: VertexArray,
  triangles: TriangleArray,
  colors: ArrayLike<number>,
  width: number,
  height: number,
  background?: RgbImage,
  raster?: Raster,
): RgbImage {
  if (background && (background.width !== width || background.height !== height)) {
    throw new RangeError(`background is ${background.width}×${background.height}, expected ${width}×${height}`);
  }
  const r = raster ?? rasterize(vertices, triangles, width, height);
  const data = background ? new Uint8Array(background.data) : new Uint8Array(width * height * 3);
  const rgb = interpolate(r, vertices, triangles, colors, 3);
  const tri = r.triangle;
  const n = width * height;
  for (let i = 0; i < n; i++) {
    if (tri[i] < 0) continue;
    for (let k = 0; k < 3; k++) {
      const c = rgb[3 * i + k] * 255;
      data[3 * i + k] = c <= 0 ? 0 : c >= 255 ? 255 : Math.round(c);
    }
  }
  return { width, height, data };
}

function checkSize(width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`bad raster size ${width}×${height}`);
  }
}
