/**
 * Regions of the face surface, defined on the UV layout (so they mean the same surface points in
 * every frame and every face), for measuring jitter where the 68 landmarks do not reach:
 *
 * - landmarks: the 68 landmark vertices (the layout's landmark pixels);
 * - ears: the sides of the head by the ears — UV columns outside the first and last jaw
 *   landmarks' columns (landmarks 0 and 16: u ≤ 15 or u ≥ 240 in the 256² layout), rows from the
 *   brows' row (landmarks 17–26, v = 49) down to as far below the jaw landmarks' row (v = 96)
 *   as that is below the brows (v ≤ 143). On the canonical face these are the most lateral and
 *   rearmost points (|x| ≈ 85–106 px of a 212 px wide face, z in the lowest third): the surface
 *   that shook from frame to frame in the original's results video;
 * - forehead: the rim at the top of the map, the first 10 rows of face pixels (v ≤ 15): the top
 *   border of the reconstructed surface, as far from the landmarks as the ears;
 * - face: every vertex.
 * Vertex ids index the layout's face vertices (faceIndex order).
 */
import type { Layout } from '../layout/index.js';

export const FACE_REGIONS = ['landmarks', 'ears', 'forehead', 'face'] as const;
export type FaceRegion = (typeof FACE_REGIONS)[number];

/** Rows of face pixels counted as the forehead rim. */
const RIM_ROWS = 10;

/** The vertex ids of each region. */
export function faceRegions(layout: Pick<Layout, 'size' | 'faceIndex' | 'kpt' | 'kptIndex'>): Record<FaceRegion, Int32Array> {
  const { size, faceIndex, kpt, kptIndex } = layout;
  const vertexAt = new Int32Array(size * size).fill(-1);
  for (let i = 0; i < faceIndex.length; i++) vertexAt[faceIndex[i]] = i;
  const landmarks = Int32Array.from(kptIndex, (p) => vertexAt[p]).filter((v) => v >= 0);
  const col = (k: number): number => kpt[2 * k];
  const row = (k: number): number => kpt[2 * k + 1];
  let browRow = Infinity;
  for (let k = 17; k <= 26; k++) browRow = Math.min(browRow, row(k));
  const jawRow = (row(0) + row(16)) / 2;
  const earTop = browRow;
  const earBottom = jawRow + (jawRow - browRow);
  const left = col(0), right = col(16);
  let topRow = size;
  for (let i = 0; i < faceIndex.length; i++) topRow = Math.min(topRow, Math.floor(faceIndex[i] / size));
  const ears: number[] = [];
  const forehead: number[] = [];
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    const c = p % size, r = (p - c) / size;
    if ((c <= left || c >= right) && r >= earTop && r <= earBottom) ears.push(i);
    if (r < topRow + RIM_ROWS) forehead.push(i);
  }
  const face = new Int32Array(faceIndex.length);
  for (let i = 0; i < face.length; i++) face[i] = i;
  return { landmarks, ears: Int32Array.from(ears), forehead: Int32Array.from(forehead), face };
}
