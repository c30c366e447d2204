/**
 * Overlays on the input view, drawn with a 2D canvas over the frame (the CLI's overlays, in
 * src/render, paint pixels into a copy of the image; here the browser draws vectors): the 68
 * landmarks with their contours, the head-pose box of the original demo, and the dense mesh's
 * wireframe (grid edges between face vertices, every `step` texels of the UV layout).
 */
import type { FaceMessage } from './protocol.js';

export interface OverlayOptions {
  landmarks: boolean;
  pose: boolean;
  mesh: boolean;
}

/** iBUG-68 contours: [first, last, closed]. */
const CONTOURS: ReadonlyArray<readonly [number, number, boolean]> = [
  [0, 16, false], [17, 21, false], [22, 26, false], [27, 30, false], [31, 35, false],
  [36, 41, true], [42, 47, true], [48, 59, true], [60, 67, true],
];

/**
 * Pairs of vertex indices joining face vertices `step` texels apart along the UV layout's rows and
 * columns: a wireframe of the dense mesh that costs 1/step² of the full one to draw.
 */
export function gridEdges(faceIndex: Int32Array, size: number, step: number): Uint32Array {
  const vertexAt = new Int32Array(size * size).fill(-1);
  faceIndex.forEach((p, i) => (vertexAt[p] = i));
  const pairs: number[] = [];
  for (let v = 0; v < size; v += step) {
    for (let u = 0; u < size; u += step) {
      const a = vertexAt[v * size + u];
      if (a < 0) continue;
      if (u + step < size && vertexAt[v * size + u + step] >= 0) pairs.push(a, vertexAt[v * size + u + step]);
      if (v + step < size && vertexAt[(v + step) * size + u] >= 0) pairs.push(a, vertexAt[(v + step) * size + u]);
    }
  }
  return Uint32Array.from(pairs);
}

export function drawOverlays(ctx: CanvasRenderingContext2D, faces: readonly FaceMessage[], edges: Uint32Array, options: OverlayOptions): void {
  const { width, height } = ctx.canvas;
  ctx.clearRect(0, 0, width, height);
  const unit = Math.max(1, Math.min(width, height) / 400);
  for (const face of faces) {
    if (options.mesh) drawMesh(ctx, face.vertices, edges, unit);
    if (options.pose) drawPoseBox(ctx, face, unit);
    if (options.landmarks) drawLandmarks(ctx, face.landmarks, unit, face.suspect === true);
  }
}

function drawMesh(ctx: CanvasRenderingContext2D, v: Float32Array, edges: Uint32Array, unit: number): void {
  ctx.beginPath();
  for (let e = 0; e < edges.length; e += 2) {
    const a = 3 * edges[e], b = 3 * edges[e + 1];
    ctx.moveTo(v[a], v[a + 1]);
    ctx.lineTo(v[b], v[b + 1]);
  }
  ctx.strokeStyle = 'rgba(255, 255, 255, 0.35)';
  ctx.lineWidth = 0.5 * unit;
  ctx.stroke();
}

/** The landmark contours' colour: white, amber for a face likely wrong (FaceMessage.suspect). */
export const CONTOUR_COLOUR = { ok: 'rgba(255, 255, 255, 0.9)', suspect: 'rgba(255, 176, 0, 0.95)' } as const;

function drawLandmarks(ctx: CanvasRenderingContext2D, lm: Float32Array, unit: number, suspect: boolean): void {
  ctx.beginPath();
  for (const [a, b, closed] of CONTOURS) {
    ctx.moveTo(lm[3 * a], lm[3 * a + 1]);
    for (let i = a + 1; i <= b; i++) ctx.lineTo(lm[3 * i], lm[3 * i + 1]);
    if (closed) ctx.closePath();
  }
  ctx.strokeStyle = suspect ? CONTOUR_COLOUR.suspect : CONTOUR_COLOUR.ok;
  ctx.lineWidth = unit;
  ctx.stroke();
  ctx.fillStyle = '#ff3030';
  const r = 1.6 * unit;
  ctx.beginPath();
  for (let i = 0; i < 68; i++) {
    ctx.moveTo(lm[3 * i] + r, lm[3 * i + 1]);
    ctx.arc(lm[3 * i], lm[3 * i + 1], r, 0, 2 * Math.PI);
  }
  ctx.fill();
}

/**
 * The original demo's pose box (as src/render's drawPoseBox): a rear square at depth 0 and a
 * larger front square towards the camera, in canonical-face units, placed by scale·R·X and
 * centred on the mean of landmarks 0–26.
 */
function drawPoseBox(ctx: CanvasRenderingContext2D, face: FaceMessage, unit: number): void {
  const corners = [
    [-90, -90, 0], [-90, 90, 0], [90, 90, 0], [90, -90, 0],
    [-105, -105, 110], [-105, 105, 110], [105, 105, 110], [105, -105, 110],
  ];
  const R = face.rotation;
  const s = face.scale;
  const px = corners.map(([x, y, z]) => s * (R[0] * x + R[1] * y + R[2] * z));
  const py = corners.map(([x, y, z]) => s * (R[3] * x + R[4] * y + R[5] * z));
  let mx = 0, my = 0;
  for (let i = 0; i < 27; i++) {
    mx += face.landmarks[3 * i];
    my += face.landmarks[3 * i + 1];
  }
  mx /= 27;
  my /= 27;
  const rx = (px[0] + px[1] + px[2] + px[3]) / 4;
  const ry = (py[0] + py[1] + py[2] + py[3]) / 4;
  ctx.beginPath();
  for (let k = 0; k < 4; k++) {
    const k1 = (k + 1) % 4;
    for (const [a, b] of [[k, k1], [k + 4, k1 + 4], [k, k + 4]]) {
      ctx.moveTo(px[a] + mx - rx, py[a] + my - ry);
      ctx.lineTo(px[b] + mx - rx, py[b] + my - ry);
    }
  }
  ctx.strokeStyle = '#30ff60';
  ctx.lineWidth = 1.5 * unit;
  ctx.stroke();
}
