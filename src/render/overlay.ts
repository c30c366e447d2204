/**
 * Overlays drawn on a copy of an RgbImage: landmarks, a pose box, a mesh wireframe.
 *
 * Shapes are first painted into a coverage mask (Bresenham lines stamped with a disc for
 * thickness, filled discs for points), then the mask is composited once in one colour with one
 * alpha, so overlapping strokes do not darken each other. Coordinates are image pixels
 * (x right, y down, pixel centres at integers); points off the image are clipped.
 * Default sizes scale with the image: about 1 pixel per 256–400 pixels of its shorter side.
 */
import type { RgbImage } from '../types.js';
import type { TriangleArray, VertexArray } from './rasterize.js';

/** An RGB colour, 0..255 per channel. */
export type Color = readonly [number, number, number];

export interface LandmarkStyle {
  /** Point colour (default red, as in the original demo). */
  color?: Color;
  /** Point radius in pixels (default scales with the image). */
  radius?: number;
  /** Draw the 68-point contours: jaw, brows, nose, eyes and lips (default true). */
  lines?: boolean;
  /** Contour colour (default white, as in the original demo). */
  lineColor?: Color;
  /** Contour thickness in pixels (default scales with the image). */
  thickness?: number;
  /** Numbers per point in `points`: 2 (x, y) or 3 (x, y, z); default from the length (68 points). */
  dims?: 2 | 3;
}

export interface PoseBoxStyle {
  color?: Color;
  thickness?: number;
  /** Landmarks (68 points): the box is centred on the mean of the jaw and brows (points 0–26), as in the original demo. */
  landmarks?: ArrayLike<number>;
  /** Numbers per landmark (2 or 3); default from the length. */
  dims?: 2 | 3;
  /** Half-size of the box's rear square, canonical-face units (default 90). */
  rearSize?: number;
  /** Half-size of the front square (default 105). */
  frontSize?: number;
  /** Depth of the front square, towards the camera (default 110). */
  frontDepth?: number;
}

export interface MeshStyle {
  color?: Color;
  /** Opacity of the wireframe, 0..1 (default 0.5). */
  alpha?: number;
  thickness?: number;
}

/** Where each 68-point contour ends (the last index of jaw, brows, nose bridge, nose, eyes, lips). */
const CONTOUR_ENDS = new Set([16, 21, 26, 30, 35, 41, 47, 59, 67]);
/** Closed contours: eyes and lips, [first, last]. */
const CLOSED_CONTOURS: ReadonlyArray<readonly [number, number]> = [[36, 41], [42, 47], [48, 59], [60, 67]];

/** Default stroke thickness for an image: 1 pixel up to 400² , then growing with the image. */
export function defaultThickness(image: { width: number; height: number }, pixelsPerUnit = 400): number {
  return Math.max(1, Math.round(Math.min(image.width, image.height) / pixelsPerUnit));
}

/**
 * Draws 68 (or any number of) landmarks as filled discs, with the 68-point contours as lines in
 * the original demo's style (it drew consecutive points joined within each part; eyes and lips
 * are closed here).
 */
export function drawLandmarks(image: RgbImage, points: ArrayLike<number>, style: LandmarkStyle = {}): RgbImage {
  return drawLandmarksOnto(copyImage(image), points, style);
}

/** drawLandmarks onto the image itself (changed in place; returned). */
export function drawLandmarksOnto(image: RgbImage, points: ArrayLike<number>, style: LandmarkStyle = {}): RgbImage {
  const { width, height } = image;
  const dims = style.dims ?? inferDims(points.length);
  if ((style.lines ?? true) && Math.floor(points.length / dims) === 68) {
    const mask = paintMask(width, height);
    paintContours(mask, width, height, points, dims, style.thickness ?? defaultThickness(image), 1);
    compositePainted(image, mask, style.lineColor ?? [255, 255, 255], 1);
  }
  const mask = paintMask(width, height);
  paintPoints(mask, width, height, points, dims, style.radius ?? defaultRadius(image), 1);
  compositePainted(image, mask, style.color ?? [255, 0, 0], 1);
  return image;
}

/** One face's stroke sizes in image pixels (faceStrokes). */
export interface FaceStrokes {
  /** Landmark disc radius. */
  radius: number;
  /** Landmark contour lines. */
  lines: number;
  /** The pose box's lines. */
  box: number;
  /** The wireframe's lines. */
  mesh: number;
}

/**
 * The strokes for one face whose crop's side is `side` image pixels: the image's defaults (which grow
 * with the photo's shorter side), but no thicker than the face asks (side / 200: discs of radius 2,
 * contour lines of 1, the pose box 2 and the wireframe 1 at a 200-px crop). A small face in a large
 * photo (a group photo of 12 MP) had discs of 10 px that merged over its eyes and mouth.
 */
export function faceStrokes(image: { width: number; height: number }, side: number): FaceStrokes {
  const u = Math.max(0, side) / 200;
  const at = (unit: number, image: number): number => Math.max(1, Math.min(image, Math.round(unit * u)));
  return { radius: at(2, defaultRadius(image)), lines: at(1, defaultThickness(image)), box: at(2, defaultBoxThickness(image)), mesh: at(0.5, defaultThickness(image, 800)) };
}

/**
 * The UV grid step of a face's wireframe (its lines every `step` texels of a `layoutSize` layout):
 * the lines at least `spacing` image pixels and five line widths apart, at most 32 texels (a layout
 * of 256: 8 cells across). At a fixed spacing of ~5 px, a 12-MP photo's 4-px lines covered the face
 * in a white wash, and a 40-px face's step of 16 texels left its lines 2.5 px apart.
 */
export function wireframeStep(side: number, layoutSize: number, meshThickness: number, spacing = 5): number {
  const pxPerTexel = Math.max(side, 1e-3) / layoutSize;
  return Math.max(1, Math.min(32, Math.round(Math.max(spacing, 5 * meshThickness) / pxPerTexel)));
}

/** Default landmark radius: 1 pixel per 224 pixels of the shorter side. */
function defaultRadius(image: { width: number; height: number }): number {
  return Math.max(1, Math.round(Math.min(image.width, image.height) / 224));
}

/** Default pose-box thickness: 1 pixel per 225 pixels of the shorter side. */
function defaultBoxThickness(image: { width: number; height: number }): number {
  return Math.max(1, Math.round(Math.min(image.width, image.height) / 225));
}

/** The 68-point contours as lines. */
function paintContours(mask: Uint8Array, width: number, height: number, points: ArrayLike<number>, dims: number, t: number, value: number): void {
  for (let i = 0; i < 67; i++) {
    if (CONTOUR_ENDS.has(i)) continue;
    line(mask, width, height, points[i * dims], points[i * dims + 1], points[(i + 1) * dims], points[(i + 1) * dims + 1], t, value);
  }
  for (const [a, b] of CLOSED_CONTOURS) {
    line(mask, width, height, points[b * dims], points[b * dims + 1], points[a * dims], points[a * dims + 1], t, value);
  }
}

/** Points as filled discs. */
function paintPoints(mask: Uint8Array, width: number, height: number, points: ArrayLike<number>, dims: number, radius: number, value: number): void {
  const count = Math.floor(points.length / dims);
  for (let i = 0; i < count; i++) disc(mask, width, height, points[i * dims], points[i * dims + 1], radius, value);
}

/**
 * Draws the head pose as a projected 3D box (the original demo's plot_pose_box): a rear square
 * at depth 0 and a larger front square nearer the camera, joined at the corners. A box corner X
 * (canonical frame: x right, y down, z towards the camera) lands at scale·R·X + t, R row-major 3×3.
 */
export function drawPoseBox(
  image: RgbImage,
  rotation: ArrayLike<number>,
  scale: number,
  translation: ArrayLike<number>,
  style: PoseBoxStyle = {},
): RgbImage {
  return drawPoseBoxOnto(copyImage(image), rotation, scale, translation, style);
}

/** drawPoseBox onto the image itself (changed in place; returned). */
export function drawPoseBoxOnto(
  image: RgbImage,
  rotation: ArrayLike<number>,
  scale: number,
  translation: ArrayLike<number>,
  style: PoseBoxStyle = {},
): RgbImage {
  const { width, height } = image;
  const mask = paintMask(width, height);
  const [px, py] = poseBoxCorners(rotation, scale, translation, style);
  paintPoseBox(mask, width, height, px, py, style.thickness ?? defaultBoxThickness(image), 1);
  compositePainted(image, mask, style.color ?? [0, 255, 0], 1);
  return image;
}

/** The pose box's 8 corners in the image (x, y): rear square 0–3, front square 4–7. */
function poseBoxCorners(rotation: ArrayLike<number>, scale: number, translation: ArrayLike<number>, style: PoseBoxStyle): [Float64Array, Float64Array] {
  const rear = style.rearSize ?? 90;
  const front = style.frontSize ?? 105;
  const depth = style.frontDepth ?? 110;
  const corners = [
    [-rear, -rear, 0], [-rear, rear, 0], [rear, rear, 0], [rear, -rear, 0],
    [-front, -front, depth], [-front, front, depth], [front, front, depth], [front, -front, depth],
  ];
  const px = new Float64Array(8);
  const py = new Float64Array(8);
  const R = rotation;
  for (let k = 0; k < 8; k++) {
    const [X, Y, Z] = corners[k];
    px[k] = scale * (R[0] * X + R[1] * Y + R[2] * Z) + translation[0];
    py[k] = scale * (R[3] * X + R[4] * Y + R[5] * Z) + translation[1];
  }
  if (style.landmarks) {
    const lm = style.landmarks;
    const dims = style.dims ?? inferDims(lm.length);
    const n = Math.min(27, Math.floor(lm.length / dims));
    let mx = 0, my = 0;
    for (let i = 0; i < n; i++) { mx += lm[i * dims]; my += lm[i * dims + 1]; }
    mx /= n; my /= n;
    const rx = (px[0] + px[1] + px[2] + px[3]) / 4;
    const ry = (py[0] + py[1] + py[2] + py[3]) / 4;
    for (let k = 0; k < 8; k++) { px[k] += mx - rx; py[k] += my - ry; }
  }
  return [px, py];
}

function paintPoseBox(mask: Uint8Array, width: number, height: number, px: Float64Array, py: Float64Array, t: number, value: number): void {
  for (let k = 0; k < 4; k++) {
    const k1 = (k + 1) % 4;
    line(mask, width, height, px[k], py[k], px[k1], py[k1], t, value);
    line(mask, width, height, px[k + 4], py[k + 4], px[k1 + 4], py[k1 + 4], t, value);
    line(mask, width, height, px[k], py[k], px[k + 4], py[k + 4], t, value);
  }
}

/**
 * Draws a mesh's wireframe (vertices N×3 or N×2 by `dims`, image pixels; triangles T×3). Each
 * edge is drawn once, even when two triangles share it.
 */
export function drawMesh(
  image: RgbImage,
  vertices: VertexArray,
  triangles: TriangleArray,
  style: MeshStyle & { dims?: 2 | 3 } = {},
): RgbImage {
  const dims = style.dims ?? 3;
  return drawEdgesOnto(copyImage(image), vertices, uniqueEdges(triangles, Math.floor(vertices.length / dims)), style);
}

/**
 * drawMesh onto the image itself (changed in place; returned), from the mesh's distinct edges
 * (uniqueEdges of its triangles: compute them once for a mesh drawn often).
 */
export function drawEdgesOnto(image: RgbImage, vertices: VertexArray, edges: Uint32Array, style: MeshStyle & { dims?: 2 | 3 } = {}): RgbImage {
  const { width, height } = image;
  const mask = paintMask(width, height);
  paintEdges(mask, width, height, vertices, style.dims ?? 3, edges, style.thickness ?? defaultThickness(image, 800), 1);
  compositePainted(image, mask, style.color ?? [255, 255, 255], style.alpha ?? 0.5);
  return image;
}

function paintEdges(mask: Uint8Array, width: number, height: number, vertices: VertexArray, dims: number, edges: Uint32Array, t: number, value: number): void {
  for (let e = 0; e < edges.length; e += 2) {
    const a = edges[e] * dims, b = edges[e + 1] * dims;
    line(mask, width, height, vertices[a], vertices[a + 1], vertices[b], vertices[b + 1], t, value);
  }
}

/** What an OverlayLayers layer draws: 1 mesh, 2 pose box, 3 landmark contours, 4 landmark points (later layers on top). */
const LAYER_MESH = 1, LAYER_BOX = 2, LAYER_CONTOURS = 3, LAYER_POINTS = 4;

export interface OverlayLayerStyle {
  mesh?: MeshStyle;
  poseBox?: Pick<PoseBoxStyle, 'color' | 'thickness'>;
  landmarks?: Pick<LandmarkStyle, 'color' | 'radius' | 'lineColor' | 'thickness'>;
}

/**
 * Overlays for a stream of frames of one size (video): the shapes of every face are painted into
 * one reusable label mask (each pixel keeps its topmost layer: mesh, pose box, landmark contours,
 * landmark points), and `composite` blends the mask into a frame once, only over the rectangle the
 * shapes touched, clearing it for the next frame. The same pictures as drawMesh, drawPoseBox and
 * drawLandmarks one after the other, without their full-frame copies, masks and blends.
 */
export class OverlayLayers {
  private readonly mask: Uint8Array;
  private x0 = Infinity;
  private y0 = Infinity;
  private x1 = -Infinity;
  private y1 = -Infinity;
  /** Per layer: kept fraction of the frame and the premultiplied colour. */
  private readonly keep = new Float64Array(5);
  private readonly add = new Float64Array(15);
  private readonly meshThickness: number;
  private readonly boxThickness: number;
  private readonly lineThickness: number;
  private readonly radius: number;

  constructor(readonly width: number, readonly height: number, style: OverlayLayerStyle = {}) {
    this.mask = new Uint8Array(width * height);
    const size = { width, height };
    this.meshThickness = style.mesh?.thickness ?? defaultThickness(size, 800);
    this.boxThickness = style.poseBox?.thickness ?? defaultBoxThickness(size);
    this.lineThickness = style.landmarks?.thickness ?? defaultThickness(size);
    this.radius = style.landmarks?.radius ?? defaultRadius(size);
    const set = (layer: number, color: Color, alpha: number): void => {
      const a = alpha < 0 ? 0 : alpha > 1 ? 1 : alpha;
      this.keep[layer] = 1 - a;
      for (let c = 0; c < 3; c++) this.add[3 * layer + c] = color[c] * a;
    };
    set(LAYER_MESH, style.mesh?.color ?? [255, 255, 255], style.mesh?.alpha ?? 0.5);
    set(LAYER_BOX, style.poseBox?.color ?? [0, 255, 0], 1);
    set(LAYER_CONTOURS, style.landmarks?.lineColor ?? [255, 255, 255], 1);
    set(LAYER_POINTS, style.landmarks?.color ?? [255, 0, 0], 1);
  }

  /** A mesh's wireframe from its distinct edges (uniqueEdges of its triangles: compute them once); `thickness` for this one (faceStrokes). */
  mesh(vertices: VertexArray, edges: Uint32Array, dims: 2 | 3 = 3, thickness = this.meshThickness): this {
    this.grow(vertices, dims, thickness);
    paintEdges(this.mask, this.width, this.height, vertices, dims, edges, thickness, LAYER_MESH);
    return this;
  }

  /** The pose box (drawPoseBox's geometry and options); `thickness` for this one. */
  poseBox(rotation: ArrayLike<number>, scale: number, translation: ArrayLike<number>, style: Omit<PoseBoxStyle, 'color' | 'thickness'> = {}, thickness = this.boxThickness): this {
    const [px, py] = poseBoxCorners(rotation, scale, translation, style);
    for (let k = 0; k < 8; k++) this.growPoint(px[k], py[k], thickness);
    paintPoseBox(this.mask, this.width, this.height, px, py, thickness, LAYER_BOX);
    return this;
  }

  /** 68 (or any number of) landmarks with their contours (drawLandmarks); `strokes` for these ones. */
  landmarks(points: ArrayLike<number>, dims: 2 | 3 = inferDims(points.length), strokes: { radius?: number; thickness?: number } = {}): this {
    const radius = strokes.radius ?? this.radius, lines = strokes.thickness ?? this.lineThickness;
    this.grow(points, dims, Math.max(radius + 1, lines));
    if (Math.floor(points.length / dims) === 68) paintContours(this.mask, this.width, this.height, points, dims, lines, LAYER_CONTOURS);
    paintPoints(this.mask, this.width, this.height, points, dims, radius, LAYER_POINTS);
    return this;
  }

  /** Blends what was painted into `image` (in place; same size) and clears the layers. */
  composite(image: RgbImage): RgbImage {
    if (image.width !== this.width || image.height !== this.height) throw new RangeError('image size differs from the overlay layers');
    const x0 = Math.max(0, Math.floor(this.x0)), x1 = Math.min(this.width - 1, Math.ceil(this.x1));
    const y0 = Math.max(0, Math.floor(this.y0)), y1 = Math.min(this.height - 1, Math.ceil(this.y1));
    const d = image.data, mask = this.mask, keep = this.keep, add = this.add, w = this.width;
    for (let y = y0; y <= y1; y++) {
      for (let i = y * w + x0, end = y * w + x1; i <= end; i++) {
        const m = mask[i];
        if (m === 0) continue;
        mask[i] = 0;
        const o = 3 * i, k = keep[m], c = 3 * m;
        d[o] = Math.round(d[o] * k + add[c]);
        d[o + 1] = Math.round(d[o + 1] * k + add[c + 1]);
        d[o + 2] = Math.round(d[o + 2] * k + add[c + 2]);
      }
    }
    this.x0 = this.y0 = Infinity;
    this.x1 = this.y1 = -Infinity;
    return image;
  }

  private growPoint(x: number, y: number, pad: number): void {
    if (!(Number.isFinite(x) && Number.isFinite(y))) return;
    if (x - pad < this.x0) this.x0 = x - pad;
    if (x + pad > this.x1) this.x1 = x + pad;
    if (y - pad < this.y0) this.y0 = y - pad;
    if (y + pad > this.y1) this.y1 = y + pad;
  }

  private grow(points: ArrayLike<number>, dims: number, pad: number): void {
    for (let i = 0; i + 1 < points.length; i += dims) this.growPoint(points[i], points[i + 1], pad + 1);
  }
}

/**
 * The distinct edges of a triangle list as pairs (a < b), ordered by a; indices outside [0, nv)
 * are dropped. Linear time: edges are bucketed by their smaller vertex, and each (small) bucket
 * is deduplicated in place.
 */
export function uniqueEdges(triangles: TriangleArray, nv: number): Uint32Array {
  const nt = Math.floor(triangles.length / 3);
  const start = new Int32Array(nv + 1);
  const valid = (a: number, b: number) => a >= 0 && b >= 0 && a < nv && b < nv && a !== b;
  for (let t = 0; t < nt; t++) {
    for (let k = 0; k < 3; k++) {
      const a = triangles[3 * t + k], b = triangles[3 * t + (k === 2 ? 0 : k + 1)];
      if (valid(a, b)) start[(a < b ? a : b) + 1]++;
    }
  }
  for (let v = 0; v < nv; v++) start[v + 1] += start[v];
  const fill = start.slice(0, nv);
  const other = new Int32Array(start[nv]);
  for (let t = 0; t < nt; t++) {
    for (let k = 0; k < 3; k++) {
      const a = triangles[3 * t + k], b = triangles[3 * t + (k === 2 ? 0 : k + 1)];
      if (!valid(a, b)) continue;
      if (a < b) other[fill[a]++] = b; else other[fill[b]++] = a;
    }
  }
  const out = new Uint32Array(2 * start[nv]);
  let n = 0;
  for (let v = 0; v < nv; v++) {
    const s0 = start[v], s1 = start[v + 1];
    for (let i = s0; i < s1; i++) {
      const b = other[i];
      let seen = false;
      for (let j = s0; j < i; j++) if (other[j] === b) { seen = true; break; }
      if (seen) continue;
      out[n++] = v;
      out[n++] = b;
    }
  }
  return out.slice(0, n);
}

function inferDims(length: number): 2 | 3 {
  if (length === 68 * 2) return 2;
  if (length === 68 * 3) return 3;
  if (length % 3 === 0 && length % 2 !== 0) return 3;
  return 2;
}

function copyImage(image: RgbImage): RgbImage {
  return { width: image.width, height: image.height, data: new Uint8Array(image.data) };
}

/**
 * The coverage mask the draw functions paint into: all zeros, kept between calls for images of
 * up to KEPT_MASK_PIXELS (a new one for larger images), with the painted rectangle reset. The
 * painters (line, disc) grow the rectangle; compositePainted blends the mask within it and zeroes
 * it again. Only used synchronously, so one is enough.
 */
let keptMask = new Uint8Array(0);
const KEPT_MASK_PIXELS = 4_000_000;
/** The painted rectangle: x0, y0, x1, y1 (inclusive; empty when x0 > x1). */
const PAINTED = new Int32Array(4);
function paintMask(width: number, height: number): Uint8Array {
  PAINTED[0] = PAINTED[1] = 2147483647;
  PAINTED[2] = PAINTED[3] = -1;
  const n = width * height;
  if (n > KEPT_MASK_PIXELS) return new Uint8Array(n);
  if (keptMask.length !== n) keptMask = new Uint8Array(n);
  return keptMask;
}

/** Grows the painted rectangle by x0..x1 × y0..y1 (clamped to the image by the caller or here). */
function painted(x0: number, y0: number, x1: number, y1: number): void {
  if (x0 < PAINTED[0]) PAINTED[0] = x0;
  if (y0 < PAINTED[1]) PAINTED[1] = y0;
  if (x1 > PAINTED[2]) PAINTED[2] = x1;
  if (y1 > PAINTED[3]) PAINTED[3] = y1;
}

/**
 * Blends `color` into the image where the mask is set, within the painted rectangle (the mask is
 * zero outside it), and zeroes the mask there for the next use: the pixels of a blend over the
 * whole mask, without visiting the rest of the image.
 */
function compositePainted(image: RgbImage, mask: Uint8Array, color: Color, alpha: number): void {
  const w = image.width;
  const x0 = Math.max(0, PAINTED[0]), y0 = Math.max(0, PAINTED[1]);
  const x1 = Math.min(w - 1, PAINTED[2]), y1 = Math.min(image.height - 1, PAINTED[3]);
  const a = alpha < 0 ? 0 : alpha > 1 ? 1 : alpha;
  const d = image.data;
  const r = color[0] * a, g = color[1] * a, b = color[2] * a, k = 1 - a;
  for (let y = y0; y <= y1; y++) {
    for (let i = y * w + x0, end = y * w + x1; i <= end; i++) {
      if (mask[i] === 0) continue;
      mask[i] = 0;
      const o = 3 * i;
      d[o] = Math.round(d[o] * k + r);
      d[o + 1] = Math.round(d[o + 1] * k + g);
      d[o + 2] = Math.round(d[o + 2] * k + b);
    }
  }
}

/** A filled disc: pixels whose centre is within radius + 0.5 of (cx, cy). */
function disc(mask: Uint8Array, w: number, h: number, cx: number, cy: number, radius: number, value = 1): void {
  if (!(Number.isFinite(cx) && Number.isFinite(cy))) return;
  const r = Math.max(0, radius) + 0.5;
  const r2 = r * r;
  const x0 = Math.max(0, Math.ceil(cx - r)), x1 = Math.min(w - 1, Math.floor(cx + r));
  const y0 = Math.max(0, Math.ceil(cy - r)), y1 = Math.min(h - 1, Math.floor(cy + r));
  painted(x0, y0, x1, y1);
  for (let y = y0; y <= y1; y++) {
    const dy = y - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x - cx;
      if (dx * dx + dy * dy <= r2 && mask[y * w + x] < value) mask[y * w + x] = value;
    }
  }
}

const CLIP_P = new Float64Array(4);
const CLIP_Q = new Float64Array(4);

/**
 * A line of the given thickness: Bresenham between the rounded endpoints, after clipping the
 * segment to the image (grown by the pen's radius), each step stamped with a square pen for
 * thickness 2–3 and a disc above.
 */
function line(mask: Uint8Array, w: number, h: number, xa: number, ya: number, xb: number, yb: number, thickness: number, value = 1): void {
  if (!(Number.isFinite(xa) && Number.isFinite(ya) && Number.isFinite(xb) && Number.isFinite(yb))) return;
  const pen = Math.max(1, Math.round(thickness));
  const lo = -(pen >> 1) - 1;
  // Liang–Barsky clip to [lo, w − 1 − lo] × [lo, h − 1 − lo].
  let t0 = 0, t1 = 1;
  const dx = xb - xa, dy = yb - ya;
  // A segment with both ends inside the box keeps t0 = 0, t1 = 1: the clip only for the others.
  const hiX = w - 1 - lo, hiY = h - 1 - lo;
  if (!(xa >= lo && xa <= hiX && xb >= lo && xb <= hiX && ya >= lo && ya <= hiY && yb >= lo && yb <= hiY)) {
    const p = CLIP_P, q = CLIP_Q;
    p[0] = -dx; p[1] = dx; p[2] = -dy; p[3] = dy;
    q[0] = xa - lo; q[1] = w - 1 - lo - xa; q[2] = ya - lo; q[3] = h - 1 - lo - ya;
    for (let k = 0; k < 4; k++) {
      if (p[k] === 0) {
        if (q[k] < 0) return;
      } else {
        const r = q[k] / p[k];
        if (p[k] < 0) { if (r > t1) return; if (r > t0) t0 = r; } else { if (r < t0) return; if (r < t1) t1 = r; }
      }
    }
  }
  let x = Math.round(xa + t0 * dx), y = Math.round(ya + t0 * dy);
  const x1 = Math.round(xa + t1 * dx), y1 = Math.round(ya + t1 * dy);
  const sx = x < x1 ? 1 : -1, sy = y < y1 ? 1 : -1;
  const adx = Math.abs(x1 - x), ady = -Math.abs(y1 - y);
  let err = adx + ady;
  const half = (pen - 1) / 2;
  // every pixel stamped lies within a pen's width of the segment's box
  painted(Math.max(0, Math.min(x, x1) - pen), Math.max(0, Math.min(y, y1) - pen), Math.min(w - 1, Math.max(x, x1) + pen), Math.min(h - 1, Math.max(y, y1) + pen));
  if (pen === 1) {
    thinLine(mask, w, h, x, y, x1, y1, value);
    return;
  }
  while (true) {
    if (pen <= 3) {
      const a = Math.floor(half), b = pen - 1 - a;
      for (let yy = Math.max(0, y - a); yy <= Math.min(h - 1, y + b); yy++) {
        for (let xx = Math.max(0, x - a); xx <= Math.min(w - 1, x + b); xx++) if (mask[yy * w + xx] < value) mask[yy * w + xx] = value;
      }
    } else {
      disc(mask, w, h, x, y, half, value);
    }
    if (x === x1 && y === y1) break;
    const e2 = 2 * err;
    if (e2 >= ady) { err += ady; x += sx; }
    if (e2 <= adx) { err += adx; y += sy; }
  }
}

/** line's Bresenham walk for a 1-pixel pen, from (x, y) to (x1, y1) (rounded, clipped ends). */
function thinLine(mask: Uint8Array, w: number, h: number, x: number, y: number, x1: number, y1: number, value: number): void {
  const sx = x < x1 ? 1 : -1, sy = y < y1 ? 1 : -1;
  const adx = Math.abs(x1 - x), ady = -Math.abs(y1 - y);
  let err = adx + ady;
  while (true) {
    if (x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x] < value) mask[y * w + x] = value;
    if (x === x1 && y === y1) break;
    const e2 = 2 * err;
    if (e2 >= ady) { err += ady; x += sx; }
    if (e2 <= adx) { err += adx; y += sy; }
  }
}
