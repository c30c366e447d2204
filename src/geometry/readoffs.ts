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
  const out = new Float32Array(indices.length * 3);
  const d = map.data;
  for (let i = 0; i < indices.length; i++) {
    const p = 3 * indices[i];
    out[3 * i] = d[p];
    out[3 * i + 1] = d[p + 1];
    out[3 * i + 2] = d[p + 2];
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
