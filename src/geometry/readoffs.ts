/**
 * Read-offs of a position map at the layout's pixels. The output frame is the map's frame (crop or
 * image pixels: x right, y down, z towards the camera).
 */
import { InputError } from '../errors.js';
import type { Layout } from '../layout/index.js';
import type { PositionMap } from '../types.js';

function gather(map: PositionMap, size: number, indices: Int32Array, what: string): Float32Array {
  if (map.size !== size || map.data.length !== size * size * 3) {
    throw new InputError(`position map is ${map.size}×${map.size} with ${map.data.length} floats, the layout needs ${size}×${size}×3`, what);
  }
  return selectVertices(map.data, indices);
}

/** The given points (ids) of a flat N×3 array, as a flat K×3 array. */
export function selectVertices(vertices: ArrayLike<number>, ids: Int32Array): Float32Array {
  const out = new Float32Array(ids.length * 3);
  for (let i = 0; i < ids.length; i++) {
    const j = 3 * ids[i];
    out[3 * i] = vertices[j];
    out[3 * i + 1] = vertices[j + 1];
    out[3 * i + 2] = vertices[j + 2];
  }
  return out;
}

/** The 68 landmarks (iBUG order), 68×3: the map's values at the layout's keypoint pixels. */
export function readLandmarks(map: PositionMap, layout: Pick<Layout, 'size' | 'kptIndex'>): Float32Array {
  return gather(map, layout.size, layout.kptIndex, 'landmarks');
}

/** The dense face vertices, N×3: the map's values at the layout's face pixels (vertex order). */
export function readVertices(map: PositionMap, layout: Pick<Layout, 'size' | 'faceIndex'>): Float32Array {
  return gather(map, layout.size, layout.faceIndex, 'vertices');
}

/**
 * The share (0..1) of the points (a flat N×3 array in image pixels) that lie inside a width ×
 * height image: x in [-0.5, width − 0.5] and y in [-0.5, height − 0.5] (pixel centres at
 * integers). 1 for a face wholly in the photo; below 1 where it runs off an edge. 0 for no points.
 */
export function insideShare(points: ArrayLike<number>, width: number, height: number): number {
  const n = Math.floor(points.length / 3);
  if (n === 0) return 0;
  const x1 = width - 0.5;
  const y1 = height - 0.5;
  let inside = 0;
  for (let i = 0; i < 3 * n; i += 3) {
    const x = points[i];
    const y = points[i + 1];
    // NaN fails every comparison: counted outside.
    if (x >= -0.5 && x <= x1 && y >= -0.5 && y <= y1) inside++;
  }
  return inside / n;
}
