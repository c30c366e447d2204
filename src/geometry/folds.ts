/**
 * Surface roughness as folds: two triangles that share an edge fold sharply when their normals
 * differ by more than 90° (their dot product is negative). A smooth face has almost none; a rough
 * position map gives the "waffle" look when the mesh is shaded. Pure typed-array code.
 */

/** Unit normals of the triangles (zero for a degenerate triangle). */
export function triangleNormals(vertices: ArrayLike<number>, triangles: ArrayLike<number>): Float32Array {
  const n = Math.floor(triangles.length / 3);
  const out = new Float32Array(n * 3);
  for (let t = 0; t < n; t++) {
    const a = triangles[3 * t] * 3;
    const b = triangles[3 * t + 1] * 3;
    const c = triangles[3 * t + 2] * 3;
    const ux = vertices[b] - vertices[a], uy = vertices[b + 1] - vertices[a + 1], uz = vertices[b + 2] - vertices[a + 2];
    const vx = vertices[c] - vertices[a], vy = vertices[c + 1] - vertices[a + 1], vz = vertices[c + 2] - vertices[a + 2];
    const nx = uy * vz - uz * vy;
    const ny = uz * vx - ux * vz;
    const nz = ux * vy - uy * vx;
    const len = Math.hypot(nx, ny, nz);
    if (len > 0) {
      out[3 * t] = nx / len;
      out[3 * t + 1] = ny / len;
      out[3 * t + 2] = nz / len;
    }
  }
  return out;
}

/**
 * Which triangles touch a fold: 1 where the triangle shares an edge with another whose normal
 * differs from its own by more than `maxAngleDeg` (default 90°). Degenerate triangles (zero area)
 * have no normal and fold nothing.
 */
export function foldedTriangles(vertices: ArrayLike<number>, triangles: ArrayLike<number>, maxAngleDeg = 90): Uint8Array {
  const n = Math.floor(triangles.length / 3);
  const normals = triangleNormals(vertices, triangles);
  const cosMax = Math.cos((maxAngleDeg * Math.PI) / 180);
  const folded = new Uint8Array(n);
  // Edge (min, max vertex) → the first triangle seen with it; the key fits a double exactly.
  const stride = Math.floor(vertices.length / 3);
  const firstTriangle = new Map<number, number>();
  for (let t = 0; t < n; t++) {
    for (let e = 0; e < 3; e++) {
      const p = triangles[3 * t + e];
      const q = triangles[3 * t + ((e + 1) % 3)];
      const key = p < q ? p * stride + q : q * stride + p;
      const other = firstTriangle.get(key);
      if (other === undefined) {
        firstTriangle.set(key, t);
        continue;
      }
      const dot = normals[3 * t] * normals[3 * other] + normals[3 * t + 1] * normals[3 * other + 1] + normals[3 * t + 2] * normals[3 * other + 2];
      const bothValid = (normals[3 * t] !== 0 || normals[3 * t + 1] !== 0 || normals[3 * t + 2] !== 0)
        && (normals[3 * other] !== 0 || normals[3 * other + 1] !== 0 || normals[3 * other + 2] !== 0);
      if (bothValid && dot < cosMax) {
        folded[t] = 1;
        folded[other] = 1;
      }
    }
  }
  return folded;
}

/** The fraction of triangles that touch a fold sharper than `maxAngleDeg` (default 90°). */
export function foldFraction(vertices: ArrayLike<number>, triangles: ArrayLike<number>, maxAngleDeg = 90): number {
  const f = foldedTriangles(vertices, triangles, maxAngleDeg);
  let s = 0;
  for (let i = 0; i < f.length; i++) s += f[i];
  return f.length ? s / f.length : 0;
}
