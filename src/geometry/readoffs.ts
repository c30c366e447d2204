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
