/**
 * Correspondence between MediaPipe's 468-point face mesh (FaceMesh's landmarks) and PRNet's UV
 * layout: for each MediaPipe vertex, a matched position on PRNet's canonical face surface.
 *
 * Frames: PRNet's canonical face (the layout's `canonical`, N × 3) is x right, y down, z towards
 * the viewer, in pixels of the 256² map. MediaPipe's canonical mesh (`canonical_face_model.obj`) is
 * in centimetres with y up; it is read with y flipped, then mapped by a similarity.
 *
 * Also here: the small geometry kit the correspondence needs (similarity fit, closest points on a
 * triangle mesh, a symmetric eigen solver), as pure functions over row-major typed arrays.
 * The committed asset `assets/mediapipe-prnet.safetensors` is built by
 * `scripts/build-correspondence.ts`; `loadCorrespondence()` reads it.
 */
import { asFloat32, asInt32, readSafetensors } from '../../src/util/safetensors.js';

export type Points = Float64Array | Float32Array;

/** MediaPipe landmark indices of the iBUG 68 points, from @vladmandic/human (MIT) `VTX68`. */
export const MEDIAPIPE_68: readonly number[] = [
  127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 454, 356, // jaw 0–16
  70, 63, 105, 66, 107, 336, 296, 334, 293, 300, // brows 17–26
  168, 6, 195, 4, 98, 97, 2, 326, 327, // nose 27–35
  33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380, // eyes 36–47
  57, 40, 37, 0, 267, 270, 287, 321, 314, 17, 84, 91, // outer lips 48–59
  78, 81, 13, 311, 308, 402, 14, 178, // inner lips 60–67
];

/**
 * MediaPipe's face-oval vertices below the forehead (temples, cheeks, jaw, chin): in a photo they
 * sit on the visible silhouette, not on fixed points of the face, and they are not PRNet's 3D jaw.
 * Never used as control points. (The forehead arc of the oval is kept.)
 */
export const MEDIAPIPE_JAW_CONTOUR: readonly number[] = [
  251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
  172, 58, 132, 93, 234, 127, 162, 21,
];

/** A similarity x ↦ s·R·x + t (R row-major 3 × 3, proper rotation). */
export interface Similarity {
  s: number;
  R: Float64Array;
  t: Float64Array;
}

/** Parses the `v` and `f` lines of an OBJ file (faces 0-based, first 3 corners of each face). */
export function parseObj(text: string): { vertices: Float64Array; faces: Int32Array } {
  const v: number[] = [];
  const f: number[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('v ')) {
      const p = line.trim().split(/\s+/);
      v.push(Number(p[1]), Number(p[2]), Number(p[3]));
    } else if (line.startsWith('f ')) {
      const p = line.trim().split(/\s+/).slice(1, 4);
      for (const c of p) f.push(parseInt(c.split('/')[0] as string, 10) - 1);
    }
  }
  return { vertices: Float64Array.from(v), faces: Int32Array.from(f) };
}

/** Eigen-decomposition of a symmetric n × n matrix (row-major) by cyclic Jacobi. Eigenvectors are columns of `vectors`. */
export function symmetricEigen(a: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a as ArrayLike<number>);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q]! - A[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!, akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!, aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!, vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i]!;
  return { values, vectors: V };
}

/**
 * Least-squares similarity (Horn's quaternion method with Umeyama's scale) mapping src[i] to
 * dst[i] for the listed point pairs (all points when `pairs` is omitted), with optional weights.
 * `pairs` holds [srcIndex, dstIndex] rows.
 */
export function fitSimilarity(src: Points, dst: Points, pairs?: ArrayLike<number>, weights?: ArrayLike<number>): Similarity {
  const m = pairs ? pairs.length / 2 : src.length / 3;
  const si = (k: number) => (pairs ? (pairs[2 * k] as number) : k);
  const di = (k: number) => (pairs ? (pairs[2 * k + 1] as number) : k);
  let wsum = 0;
  const ms = [0, 0, 0], md = [0, 0, 0];
  for (let k = 0; k < m; k++) {
    const w = weights ? (weights[k] as number) : 1;
    wsum += w;
    for (let d = 0; d < 3; d++) {
      ms[d]! += w * src[3 * si(k) + d]!;
      md[d]! += w * dst[3 * di(k) + d]!;
    }
  }
  for (let d = 0; d < 3; d++) { ms[d]! /= wsum; md[d]! /= wsum; }
  const S = new Float64Array(9);
  let varS = 0;
  for (let k = 0; k < m; k++) {
    const w = weights ? (weights[k] as number) : 1;
    const a = [src[3 * si(k)]! - ms[0]!, src[3 * si(k) + 1]! - ms[1]!, src[3 * si(k) + 2]! - ms[2]!];
    const b = [dst[3 * di(k)]! - md[0]!, dst[3 * di(k) + 1]! - md[1]!, dst[3 * di(k) + 2]! - md[2]!];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) S[r * 3 + c]! += w * a[r]! * b[c]!;
    varS += w * (a[0]! ** 2 + a[1]! ** 2 + a[2]! ** 2);
  }
  const [Sxx, Sxy, Sxz, Syx, Syy, Syz, Szx, Szy, Szz] = S as unknown as number[];
  const N = [
    Sxx! + Syy! + Szz!, Syz! - Szy!, Szx! - Sxz!, Sxy! - Syx!,
    Syz! - Szy!, Sxx! - Syy! - Szz!, Sxy! + Syx!, Szx! + Sxz!,
    Szx! - Sxz!, Sxy! + Syx!, -Sxx! + Syy! - Szz!, Syz! + Szy!,
    Sxy! - Syx!, Szx! + Sxz!, Syz! + Szy!, -Sxx! - Syy! + Szz!,
  ];
  const { values, vectors } = symmetricEigen(N, 4);
  let best = 0;
  for (let i = 1; i < 4; i++) if (values[i]! > values[best]!) best = i;
  const q0 = vectors[best]!, qx = vectors[4 + best]!, qy = vectors[8 + best]!, qz = vectors[12 + best]!;
  const R = new Float64Array([
    q0 * q0 + qx * qx - qy * qy - qz * qz, 2 * (qx * qy - q0 * qz), 2 * (qx * qz + q0 * qy),
    2 * (qy * qx + q0 * qz), q0 * q0 - qx * qx + qy * qy - qz * qz, 2 * (qy * qz - q0 * qx),
    2 * (qz * qx - q0 * qy), 2 * (qz * qy + q0 * qx), q0 * q0 - qx * qx - qy * qy + qz * qz,
  ]);
  // Scale: Σ b·(R a) / Σ |a|².
  let num = 0;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) num += R[r * 3 + c]! * S[c * 3 + r]!;
  const s = num / varS;
  const t = new Float64Array(3);
  for (let r = 0; r < 3; r++) t[r] = md[r]! - s * (R[r * 3]! * ms[0]! + R[r * 3 + 1]! * ms[1]! + R[r * 3 + 2]! * ms[2]!);
  return { s, R, t };
}

/** Applies a similarity to N × 3 points. */
export function applySimilarity(sim: Similarity, pts: Points): Float64Array {
  const n = pts.length / 3;
  const out = new Float64Array(n * 3);
  const { s, R, t } = sim;
  for (let i = 0; i < n; i++) {
    const x = pts[3 * i]!, y = pts[3 * i + 1]!, z = pts[3 * i + 2]!;
    for (let r = 0; r < 3; r++) out[3 * i + r] = s * (R[3 * r]! * x + R[3 * r + 1]! * y + R[3 * r + 2]! * z) + t[r]!;
  }
  return out;
}

/** The inverse similarity. */
export function invertSimilarity(sim: Similarity): Similarity {
  const Rt = new Float64Array(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) Rt[r * 3 + c] = sim.R[c * 3 + r]!;
  const s = 1 / sim.s;
  const t = new Float64Array(3);
  for (let r = 0; r < 3; r++) t[r] = -s * (Rt[r * 3]! * sim.t[0]! + Rt[r * 3 + 1]! * sim.t[1]! + Rt[r * 3 + 2]! * sim.t[2]!);
  return { s, R: Rt, t };
}

/**
 * Closest point on triangle abc to p (Ericson, Real-Time Collision Detection §5.1.5).
 * Writes the point into out[0..2] and its barycentric (u, v, w) into out[3..5]; returns squared distance.
 * A degenerate triangle falls back to the nearest of its corners (never NaN).
 */
export function closestPointOnTriangle(
  px: number, py: number, pz: number,
  ax: number, ay: number, az: number,
  bx: number, by: number, bz: number,
  cx: number, cy: number, cz: number,
  out: Float64Array,
): number {
  const abx = bx - ax, aby = by - ay, abz = bz - az;
  const acx = cx - ax, acy = cy - ay, acz = cz - az;
  const apx = px - ax, apy = py - ay, apz = pz - az;
  const set = (u: number, v: number, w: number) => {
    out[0] = u * ax + v * bx + w * cx;
    out[1] = u * ay + v * by + w * cy;
    out[2] = u * az + v * bz + w * cz;
    out[3] = u; out[4] = v; out[5] = w;
    const dx = out[0] - px, dy = out[1] - py, dz = out[2] - pz;
    return dx * dx + dy * dy + dz * dz;
  };
  const d1 = abx * apx + aby * apy + abz * apz;
  const d2 = acx * apx + acy * apy + acz * apz;
  if (d1 <= 0 && d2 <= 0) return set(1, 0, 0);
  const bpx = px - bx, bpy = py - by, bpz = pz - bz;
  const d3 = abx * bpx + aby * bpy + abz * bpz;
  const d4 = acx * bpx + acy * bpy + acz * bpz;
  if (d3 >= 0 && d4 <= d3) return set(0, 1, 0);
  const vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) {
    const v = d1 / (d1 - d3);
    if (Number.isFinite(v)) return set(1 - v, v, 0);
  }
  const cpx = px - cx, cpy = py - cy, cpz = pz - cz;
  const d5 = abx * cpx + aby * cpy + abz * cpz;
  const d6 = acx * cpx + acy * cpy + acz * cpz;
  if (d6 >= 0 && d5 <= d6) return set(0, 0, 1);
  const vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) {
    const w = d2 / (d2 - d6);
    if (Number.isFinite(w)) return set(1 - w, 0, w);
  }
  const va = d3 * d6 - d5 * d4;
  if (va <= 0 && d4 - d3 >= 0 && d5 - d6 >= 0) {
    const w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
    if (Number.isFinite(w)) return set(0, 1 - w, w);
  }
  const denom = 1 / (va + vb + vc);
  const v = vb * denom, w = vc * denom;
  if (Number.isFinite(v) && Number.isFinite(w)) return set(1 - v - w, v, w);
  // Degenerate: nearest corner.
  const da = apx * apx + apy * apy + apz * apz, db = bpx * bpx + bpy * bpy + bpz * bpz, dc = cpx * cpx + cpy * cpy + cpz * cpz;
  return da <= db && da <= dc ? set(1, 0, 0) : db <= dc ? set(0, 1, 0) : set(0, 0, 1);
}

export interface ClosestPoints {
  /** M × 3 closest surface points. */
  points: Float64Array;
  /** M distances. */
  dist: Float64Array;
  /** M triangle indices. */
  tri: Int32Array;
  /** M × 3 barycentric coordinates in that triangle. */
  bary: Float64Array;
}

/**
 * Closest points on a triangle mesh (verts V × 3, tris T × 3) for M query points. Triangles are
 * binned in a uniform grid; each query searches growing shells of cells until no closer triangle
 * can exist. Exact (no approximation), fast for the sizes here (10⁵ triangles, 10⁵ queries).
 */
export function closestPointsOnMesh(queries: Points, verts: Points, tris: Int32Array | Uint32Array): ClosestPoints {
  const T = tris.length / 3;
  const M = queries.length / 3;
  let lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < verts.length / 3; i++) {
    for (let d = 0; d < 3; d++) {
      lo[d] = Math.min(lo[d]!, verts[3 * i + d]!);
      hi[d] = Math.max(hi[d]!, verts[3 * i + d]!);
    }
  }
  const ext = Math.max(hi[0]! - lo[0]!, hi[1]! - lo[1]!, hi[2]! - lo[2]!, 1e-9);
  const cells = Math.max(1, Math.min(64, Math.round(Math.cbrt(T / 2))));
  const h = ext / cells + 1e-9;
  const dims = [0, 1, 2].map((d) => Math.max(1, Math.ceil((hi[d]! - lo[d]!) / h) + 1));
  lo = lo.map((v) => v - 1e-9);
  hi = hi.map((v) => v + 1e-9);
  const [nx, ny, nz] = dims as [number, number, number];
  const buckets: number[][] = Array.from({ length: nx * ny * nz }, () => []);
  const cellOf = (v: number, d: number) => Math.min(dims[d]! - 1, Math.max(0, Math.floor((v - lo[d]!) / h)));
  for (let t = 0; t < T; t++) {
    const a = tris[3 * t]!, b = tris[3 * t + 1]!, c = tris[3 * t + 2]!;
    const r0 = [0, 1, 2].map((d) => cellOf(Math.min(verts[3 * a + d]!, verts[3 * b + d]!, verts[3 * c + d]!), d));
    const r1 = [0, 1, 2].map((d) => cellOf(Math.max(verts[3 * a + d]!, verts[3 * b + d]!, verts[3 * c + d]!), d));
    for (let i = r0[0]!; i <= r1[0]!; i++) for (let j = r0[1]!; j <= r1[1]!; j++) for (let k = r0[2]!; k <= r1[2]!; k++) buckets[(i * ny + j) * nz + k]!.push(t);
  }
  const points = new Float64Array(M * 3), dist = new Float64Array(M), tri = new Int32Array(M), bary = new Float64Array(M * 3);
  const tmp = new Float64Array(6);
  const stamp = new Int32Array(T).fill(-1);
  for (let q = 0; q < M; q++) {
    const px = queries[3 * q]!, py = queries[3 * q + 1]!, pz = queries[3 * q + 2]!;
    const ci = [px, py, pz].map((v, d) => Math.floor((v - lo[d]!) / h));
    let best = Infinity;
    let bt = -1;
    const bp = new Float64Array(6);
    // Distance from the query to the outside of the grid box (cells beyond are empty).
    for (let ring = 0; ; ring++) {
      // All cells at Chebyshev distance `ring` from the query's cell.
      let any = false;
      for (let i = ci[0]! - ring; i <= ci[0]! + ring; i++) {
        if (i < 0 || i >= nx) continue;
        for (let j = ci[1]! - ring; j <= ci[1]! + ring; j++) {
          if (j < 0 || j >= ny) continue;
          for (let k = ci[2]! - ring; k <= ci[2]! + ring; k++) {
            if (k < 0 || k >= nz) continue;
            if (Math.max(Math.abs(i - ci[0]!), Math.abs(j - ci[1]!), Math.abs(k - ci[2]!)) !== ring) continue;
            any = true;
            for (const t of buckets[(i * ny + j) * nz + k]!) {
              if (stamp[t] === q) continue;
              stamp[t] = q;
              const a = tris[3 * t]!, b = tris[3 * t + 1]!, c = tris[3 * t + 2]!;
              const d2 = closestPointOnTriangle(px, py, pz,
                verts[3 * a]!, verts[3 * a + 1]!, verts[3 * a + 2]!,
                verts[3 * b]!, verts[3 * b + 1]!, verts[3 * b + 2]!,
                verts[3 * c]!, verts[3 * c + 1]!, verts[3 * c + 2]!, tmp);
              if (d2 < best) { best = d2; bt = t; bp.set(tmp); }
            }
          }
        }
      }
      // Any triangle in a cell at ring r+1 or further is at least (ring) · h away from the query
      // when the query lies inside the grid; outside it, keep going until every cell was visited.
      const inside = ci.every((c, d) => c >= 0 && c < dims[d]!);
      const lower = inside ? ring * h : (ring - Math.max(...ci.map((c, d) => (c < 0 ? -c : c >= dims[d]! ? c - dims[d]! + 1 : 0)))) * h;
      if (bt >= 0 && lower > 0 && lower * lower >= best) break;
      if (!any && ring > Math.max(nx, ny, nz) + Math.max(...ci.map((c) => Math.abs(c)))) break;
    }
    points.set(bp.subarray(0, 3), 3 * q);
    bary.set(bp.subarray(3, 6), 3 * q);
    dist[q] = Math.sqrt(best);
    tri[q] = bt;
  }
  return { points, dist, tri, bary };
}

/** Vertex neighbours (adjacency lists) of a triangle mesh with V vertices. */
export function meshNeighbours(tris: Int32Array | Uint32Array, V: number): number[][] {
  const nb: Set<number>[] = Array.from({ length: V }, () => new Set<number>());
  for (let t = 0; t < tris.length; t += 3) {
    const a = tris[t]!, b = tris[t + 1]!, c = tris[t + 2]!;
    nb[a]!.add(b); nb[a]!.add(c); nb[b]!.add(a); nb[b]!.add(c); nb[c]!.add(a); nb[c]!.add(b);
  }
  return nb.map((s) => [...s]);
}

export interface NonRigidIcpOptions {
  rounds?: number;
  /** Laplacian smoothing passes of the displacement field per round (decreasing linearly to `minSmooth`). */
  smooth?: number;
  minSmooth?: number;
  /** Vertices whose own closest-point pull is ignored (they only follow their neighbours). */
  passive?: ArrayLike<number>;
}

/**
 * Non-rigid ICP of a source mesh onto a target surface: each round moves every source vertex
 * towards its closest target point, with the displacement field smoothed over the source mesh
 * (stiff first, looser later), so the mesh slides onto the surface without tearing or clustering.
 * Returns the deformed source vertices and the closest target points of the last round.
 */
export function nonRigidIcp(
  source: Points, sourceTris: Int32Array | Uint32Array,
  targetVerts: Points, targetTris: Int32Array | Uint32Array,
  options: NonRigidIcpOptions = {},
): { deformed: Float64Array; closest: ClosestPoints; meanDistance: number[] } {
  const rounds = options.rounds ?? 6;
  const smooth0 = options.smooth ?? 30;
  const smooth1 = options.minSmooth ?? 2;
  const V = source.length / 3;
  const nb = meshNeighbours(sourceTris, V);
  const passive = new Uint8Array(V);
  if (options.passive) for (let i = 0; i < options.passive.length; i++) passive[options.passive[i] as number] = 1;
  const cur = Float64Array.from(source);
  const meanDistance: number[] = [];
  let closest = closestPointsOnMesh(cur, targetVerts, targetTris);
  meanDistance.push(closest.dist.reduce((a, b) => a + b, 0) / V);
  for (let r = 0; r < rounds; r++) {
    const passes = Math.round(smooth0 + (smooth1 - smooth0) * (rounds > 1 ? r / (rounds - 1) : 1));
    let disp = new Float64Array(V * 3);
    const known = new Uint8Array(V);
    for (let i = 0; i < V; i++) {
      if (passive[i]) continue;
      known[i] = 1;
      for (let d = 0; d < 3; d++) disp[3 * i + d] = closest.points[3 * i + d]! - cur[3 * i + d]!;
    }
    // Smooth: each pass averages a vertex with its neighbours (passive vertices take their neighbours' mean).
    for (let p = 0; p < Math.max(passes, 1); p++) {
      const next = new Float64Array(V * 3);
      for (let i = 0; i < V; i++) {
        let wsum = known[i] ? 1 : 0;
        let sx = known[i] ? disp[3 * i]! : 0, sy = known[i] ? disp[3 * i + 1]! : 0, sz = known[i] ? disp[3 * i + 2]! : 0;
        for (const j of nb[i]!) {
          wsum += 1;
          sx += disp[3 * j]!; sy += disp[3 * j + 1]!; sz += disp[3 * j + 2]!;
        }
        next[3 * i] = sx / wsum; next[3 * i + 1] = sy / wsum; next[3 * i + 2] = sz / wsum;
      }
      disp = next;
      if (passes === 0) break;
    }
    for (let i = 0; i < V * 3; i++) cur[i]! += disp[i]!;
    closest = closestPointsOnMesh(cur, targetVerts, targetTris);
    meanDistance.push(closest.dist.reduce((a, b) => a + b, 0) / V);
  }
  return { deformed: cur, closest, meanDistance };
}

/** The committed correspondence asset. */
export interface Correspondence {
  /** 468 × 3: each MediaPipe vertex's matched position on PRNet's canonical surface (canonical frame). */
  matched: Float32Array;
  /** 468: the face pixel (index into the row-major 256² map) nearest to the matched position. */
  matchedPixel: Int32Array;
  /** 68: MediaPipe indices of the iBUG 68 landmarks. */
  table68: Int32Array;
  /** 468: 1 where the vertex may serve as a control point (not on the jaw contour, surface match good). */
  usable: Uint8Array;
  /** 256 × 256: 1 at face pixels within 5 px (canonical) of MediaPipe's matched surface. */
  coverage: Uint8Array;
  /** 468: distance (canonical px) from the non-rigidly aligned MediaPipe vertex to PRNet's surface. */
  residual: Float32Array;
  metadata: Record<string, string>;
}

export function parseCorrespondence(buf: Uint8Array): Correspondence {
  const f = readSafetensors(buf);
  const get = (name: string) => {
    const t = f.tensors.get(name);
    if (!t) throw new Error(`correspondence asset: no tensor ${name}`);
    return t;
  };
  const u8 = (name: string) => Uint8Array.from(get(name).bytes);
  return {
    matched: asFloat32(get('matched')),
    matchedPixel: asInt32(get('matched_pixel')),
    table68: asInt32(get('table68')),
    usable: u8('usable'),
    coverage: u8('coverage'),
    residual: asFloat32(get('residual')),
    metadata: f.metadata,
  };
}

/** Reads `assets/mediapipe-prnet.safetensors` (or another path). */
export async function loadCorrespondence(path?: string): Promise<Correspondence> {
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const p = path ?? fileURLToPath(new URL('../../assets/mediapipe-prnet.safetensors', import.meta.url));
  return parseCorrespondence(new Uint8Array(await readFile(p)));
}
