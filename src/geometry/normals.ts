/** Surface normals of a triangulated vertex set. */

let accumulator = new Float64Array(0);

/**
 * Unit vertex normals, N×3, in the vertices' own frame (image or crop pixels: x right, y down,
 * z towards the camera), pointing out of the face: towards the camera (z > 0) where the face is
 * seen from the front. Each vertex's normal is the area-weighted sum of its triangles' normals.
 *
 * The layout's triangles are counter-clockwise in a y-up frame; the image frame (y down) is a
 * mirror of it, so the outward normal there is (c−a)×(b−a) (the y-up normal (b−a)×(c−a), with its
 * y negated). Vertices that touch only zero-area triangles get the zero vector.
 */
export function vertexNormals(vertices: Float32Array, triangles: Int32Array): Float32Array {
  const n = Math.floor(vertices.length / 3);
  // the sums in a buffer kept between calls (1 MB for a face: garbage after every call otherwise)
  if (accumulator.length < n * 3) accumulator = new Float64Array(n * 3);
  const acc = accumulator.fill(0, 0, n * 3);
  const v = vertices;
  for (let k = 0; k + 2 < triangles.length; k += 3) {
    const a = 3 * triangles[k];
    const b = 3 * triangles[k + 1];
    const c = 3 * triangles[k + 2];
    const ux = v[c] - v[a];
    const uy = v[c + 1] - v[a + 1];
    const uz = v[c + 2] - v[a + 2];
    const wx = v[b] - v[a];
    const wy = v[b + 1] - v[a + 1];
    const wz = v[b + 2] - v[a + 2];
    const nx = uy * wz - uz * wy;
    const ny = uz * wx - ux * wz;
    const nz = ux * wy - uy * wx;
    if (!Number.isFinite(nx + ny + nz)) continue;
    acc[a] += nx;
    acc[a + 1] += ny;
    acc[a + 2] += nz;
    acc[b] += nx;
    acc[b + 1] += ny;
    acc[b + 2] += nz;
    acc[c] += nx;
    acc[c + 1] += ny;
    acc[c + 2] += nz;
  }
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const x = acc[3 * i];
    const y = acc[3 * i + 1];
    const z = acc[3 * i + 2];
    const len = Math.sqrt(x * x + y * y + z * z);
    if (len > 0) {
      out[3 * i] = x / len;
      out[3 * i + 1] = y / len;
      out[3 * i + 2] = z / len;
    }
  }
  return out;
}
