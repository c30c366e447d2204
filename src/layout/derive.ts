/**
 * Pure rules that derive parts of the UV layout from PRNet's uv-data: the grid triangulation, the
 * left-right mirror map, the iBUG-68 mirror permutation and the loss-weight classes. Used by
 * scripts/build-layout.ts (which writes assets/layout.safetensors) and by parseLayout (triangles
 * are derived at load time, not stored). No I/O, no Node imports.
 */

/** Side of PRNet's UV position map, in pixels. */
export const LAYOUT_SIZE = 256;

/**
 * The iBUG 68-point mirror permutation: point i of a face is point IBUG68_FLIP[i] of its
 * left-right mirror image. Jaw 0↔16 …, brows 17↔26 …, nose bridge 27–30 and 33 fixed, nostrils
 * 31↔35, 32↔34, eyes 36↔45, 37↔44, 38↔43, 39↔42, 40↔47, 41↔46, outer lips 48↔54, 49↔53, 50↔52,
 * 51 and 57 fixed, 55↔59, 56↔58, inner lips 60↔64, 61↔63, 62 and 66 fixed, 65↔67.
 */
export const IBUG68_FLIP: readonly number[] = Object.freeze([
  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, // jaw
  26, 25, 24, 23, 22, 21, 20, 19, 18, 17, // brows
  27, 28, 29, 30, // nose bridge
  35, 34, 33, 32, 31, // nostrils
  45, 44, 43, 42, 47, 46, // right eye (image left) → left eye
  39, 38, 37, 36, 41, 40, // left eye → right eye
  54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, // outer lips
  64, 63, 62, 61, 60, 67, 66, 65, // inner lips
]);

/**
 * Triangulates the face pixels on the UV grid. For every 2×2 cell (TL, TR, BL, BR = pixels
 * (r, c), (r, c+1), (r+1, c), (r+1, c+1)):
 * - all 4 pixels are face pixels: two triangles [TL, BL, TR] and [TR, BL, BR] (diagonal TR–BL);
 * - exactly 3 are: one triangle over those 3, so the boundary has no staircase notches;
 * - fewer: none.
 * Cells are visited row-major, and indices are face-vertex indices (positions in faceIndex).
 * With `step` > 1 the cells are step × step pixels (corners (r, c) … (r+step, c+step), r and c
 * multiples of step): a coarser wireframe over the same vertices, for drawing.
 * Winding: counter-clockwise in a right-handed frame with x right (u), y up (−v), z towards the
 * viewer, so (b−a)×(c−a) points towards the viewer for a frontal face (in the image frame, y down,
 * the same triangles are clockwise on screen).
 */
export function triangulateFaceGrid(faceIndex: Int32Array, size = LAYOUT_SIZE, step = 1): Int32Array {
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`step must be a positive integer, got ${step}`);
  const down = step * size;
  const vertexAt = new Int32Array(size * size).fill(-1);
  for (let i = 0; i < faceIndex.length; i++) vertexAt[faceIndex[i]] = i;
  // Count first to allocate once.
  let count = 0;
  for (let r = 0; r + step < size; r += step) {
    for (let c = 0; c + step < size; c += step) {
      const p = r * size + c;
      const n = +(vertexAt[p] >= 0) + +(vertexAt[p + step] >= 0) + +(vertexAt[p + down] >= 0) + +(vertexAt[p + down + step] >= 0);
      if (n === 4) count += 2;
      else if (n === 3) count += 1;
    }
  }
  const out = new Int32Array(count * 3);
  let k = 0;
  const put = (a: number, b: number, c: number): void => {
    out[k++] = a;
    out[k++] = b;
    out[k++] = c;
  };
  for (let r = 0; r + step < size; r += step) {
    for (let c = 0; c + step < size; c += step) {
      const p = r * size + c;
      const tl = vertexAt[p];
      const tr = vertexAt[p + step];
      const bl = vertexAt[p + down];
      const br = vertexAt[p + down + step];
      const n = +(tl >= 0) + +(tr >= 0) + +(bl >= 0) + +(br >= 0);
      if (n === 4) {
        put(tl, bl, tr);
        put(tr, bl, br);
      } else if (n === 3) {
        if (tl < 0) put(tr, bl, br);
        else if (tr < 0) put(tl, bl, br);
        else if (bl < 0) put(tl, br, tr);
        else put(tl, bl, tr);
      }
    }
  }
  return out;
}

export interface MirrorMap {
  /** For each face vertex, the face vertex that is its mirror image. */
  flip: Int32Array;
  /** x of the canonical face's symmetry plane (x = centreX), fitted on the UV-mirrored pairs. */
  centreX: number;
  /** Vertices whose UV mirror (column size−1−c, same row) is a face pixel. */
  uvPaired: number;
  /** Vertices without a UV mirror, mapped to the nearest face vertex (3D) to their mirrored point. */
  fallback: number;
  /** Distances (canonical units, pixels) between each vertex's mirrored canonical point and its partner. */
  meanError: number;
  maxError: number;
}

/**
 * The left-right mirror map of the face vertices. PRNet's UV layout is symmetric about
 * u = (size−1)/2: vertex (r, c) mirrors to (r, size−1−c). Where that pixel is not a face pixel
 * (a few pixels on the boundary), the partner is the face vertex nearest (in 3D) to the vertex's
 * canonical position reflected about the fitted symmetry plane x = centreX. Pure and deterministic
 * (ties go to the lower index).
 */
export function mirrorFaceVertices(faceIndex: Int32Array, canonical: Float32Array, size = LAYOUT_SIZE): MirrorMap {
  const n = faceIndex.length;
  const vertexAt = new Int32Array(size * size).fill(-1);
  for (let i = 0; i < n; i++) vertexAt[faceIndex[i]] = i;
  const flip = new Int32Array(n).fill(-1);
  let uvPaired = 0;
  let sumMid = 0;
  for (let i = 0; i < n; i++) {
    const p = faceIndex[i];
    const r = Math.floor(p / size);
    const c = p - r * size;
    const j = vertexAt[r * size + (size - 1 - c)];
    if (j >= 0) {
      flip[i] = j;
      uvPaired++;
      sumMid += 0.5 * (canonical[3 * i] + canonical[3 * j]);
    }
  }
  const centreX = uvPaired > 0 ? sumMid / uvPaired : 0;
  let fallback = 0;
  for (let i = 0; i < n; i++) {
    if (flip[i] >= 0) continue;
    fallback++;
    const mx = 2 * centreX - canonical[3 * i];
    const my = canonical[3 * i + 1];
    const mz = canonical[3 * i + 2];
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < n; j++) {
      const dx = canonical[3 * j] - mx;
      const dy = canonical[3 * j + 1] - my;
      const dz = canonical[3 * j + 2] - mz;
      const d = dx * dx + dy * dy + dz * dz;
      if (d < bestD) {
        bestD = d;
        best = j;
      }
    }
    flip[i] = best;
  }
  let sumErr = 0;
  let maxError = 0;
  for (let i = 0; i < n; i++) {
    const j = flip[i];
    const dx = canonical[3 * j] - (2 * centreX - canonical[3 * i]);
    const dy = canonical[3 * j + 1] - canonical[3 * i + 1];
    const dz = canonical[3 * j + 2] - canonical[3 * i + 2];
    const e = Math.sqrt(dx * dx + dy * dy + dz * dz);
    sumErr += e;
    if (e > maxError) maxError = e;
  }
  return { flip, centreX, uvPaired, fallback, meanError: n > 0 ? sumErr / n : 0, maxError };
}

/**
 * Loss-weight class of a uv_weight_mask.png grey level: the nearest of the mask's four levels
 * 0, 48, 64, 255, mapped to PRNet's weights 0 / 3 (other face area) / 4 (eyes, nose, mouth) / 16
 * (the 68 landmarks). The PNG also holds anti-aliased levels (53, 58 at region borders; 117, 122,
 * 128 around landmarks): they go to the nearest level (53 → 3; 58, 117, 122, 128 → 4).
 */
export function weightClass(grey: number): number {
  if (grey < 24) return 0;
  if (grey < 56) return 3;
  if (grey < 159.5) return 4;
  return 16;
}
