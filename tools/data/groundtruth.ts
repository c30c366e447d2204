/**
 * Pseudo ground truth in PRNet's layout: per photo, a position map of the 43,867 face pixels as a
 * smooth warp of PRNet's canonical face onto the two teachers' points (docs/ground-truth.md).
 *
 * Coefficient form (docs/training-data.md): for the face pixels' canonical positions v_i (N × 3)
 * and a FIXED set of P control points c_j (canonical frame, the same for every photo),
 *
 *     K[i, j] = −‖v_i − c_j‖ (j < P),   K[i, P..P+3] = [v_i.x, v_i.y, v_i.z, 1],   map = K · W,
 *
 * W being (P + 4) × 3 per photo: a 3D thin-plate spline with kernel −r (the +r kernel diverged)
 * plus an affine part, regularised per control point (λ / weight on the diagonal).
 *
 * Controls: the MediaPipe vertices flagged usable in the correspondence asset (not the jaw
 * contour) whose matched canonical position is ≥ 20 px from every PRNet keypoint, plus the 68
 * keypoint pixels' canonical positions. Targets: FaceMesh's points and 3DDFA_V2's 68 (weight ×10).
 *
 * Per photo: teacher z alignment (FaceMesh z rescaled to 3DDFA_V2's spread over the 51 inner
 * points; 3DDFA_V2 shifted onto FaceMesh by the median offset), a similarity canonical → photo
 * fitted on the controls, the TPS on the residuals, the similarity folded into the affine rows,
 * and finally the map shifted so that its minimum z is 0.
 *
 * Frames: photo pixels, x right, y down, z towards the camera (pixels). Arrays are row-major.
 */
import { triangulateFaceGrid } from '../../src/layout/derive.js';
import { fitSimilarity, type Correspondence, type Similarity } from './correspondence.js';

/** The parts of src/layout's Layout used here. */
export interface TargetLayout {
  faceIndex: Int32Array;
  kptIndex: Int32Array;
  triangles: Int32Array;
  canonical: Float32Array;
  weightMask: Uint8Array;
  faceMask: Uint8Array;
}

/** One photo's teachers (a LabelRecord fits). */
export interface TeacherPoints {
  /** FaceMesh 468 × 3, photo pixels, z towards the camera (pixels, arbitrary offset). */
  facemesh: Float32Array | Float64Array;
  /** 3DDFA_V2 68 × 3, photo pixels, z scaled like x, y (arbitrary offset). */
  tddfa: Float32Array | Float64Array;
}

export interface TargetOptions {
  /** Weight of 3DDFA_V2's 68 keypoints relative to FaceMesh's points (default 10). */
  keypointWeight?: number;
  /** Base regularisation λ (kernel units, px): control j gets λ / weight_j on the diagonal (default 30). */
  lambda?: number;
  /** FaceMesh controls closer than this (canonical px, 3D) to a PRNet keypoint are dropped (default 20). */
  dropRadius?: number;
}

export interface TargetSetup {
  /** N × 3 canonical face (float64 copy). */
  canonical: Float64Array;
  /** P × 3 control points, canonical frame: FaceMesh controls first, then the 68 keypoints. */
  controls: Float64Array;
  /** MediaPipe index of each FaceMesh control (length P − 68). */
  facemeshIndex: Int32Array;
  /** Face-vertex index of each of the 68 keypoints. */
  kptVertex: Int32Array;
  /** P per-control weights. */
  weights: Float64Array;
  /** 468 → 68 table. */
  table68: Int32Array;
  lambda: number;
  /** (P + 4)² inverse of the fixed TPS system matrix (row-major). */
  systemInverse: Float64Array;
  /** N × (P + 4) kernel (float32), built lazily by `kernel()`. */
  kernelMatrix?: Float32Array;
  /** T × 3 triangles (face-vertex indices) and their canonical normals (zero for degenerate ones). */
  triangles: Int32Array;
  canonicalNormals: Float64Array;
  /** The same on every 2nd row and column of the map (a quarter of the vertices), built lazily by `coarse()`. */
  coarse?: CoarseGrid;
  /** The layout's face pixels (for the coarse grid). */
  faceIndex: Int32Array;
}

/** A quarter-resolution copy of the face grid for quick checks (folds, min z) on many photos. */
export interface CoarseGrid {
  /** Face-vertex indices of the coarse vertices. */
  vertices: Int32Array;
  kernelMatrix: Float32Array;
  /** Triangles over coarse-vertex positions (0..M−1), and their canonical normals. */
  triangles: Int32Array;
  canonicalNormals: Float64Array;
}

export interface ControlResidual {
  /** Mean 3D distance (px) between the map and 3DDFA_V2's 68 at the keypoint controls. */
  keypoints: number;
  /** Mean 3D distance (px) between the map and FaceMesh at its controls. */
  facemesh: number;
  /** Largest of all. */
  max: number;
  /** Face size sqrt(w·h) of the target's 68 x, y box (px), for relative thresholds. */
  faceSize: number;
}

export interface FittedTarget {
  /** (P + 4) × 3 coefficients W: map = K · W (photo pixels, min z = 0). */
  coeffs: Float64Array;
  /** Triangles whose normal flips against the similarity-rotated canonical normal. */
  foldedTriangles: number;
  /** Triangles checked for folds (all, or the coarse grid's; 0 when not evaluated). */
  checkedTriangles: number;
  controlResidual: ControlResidual;
  /** The map at the face pixels, N × 3 (when evaluated). */
  map?: Float32Array;
  /** The 68 keypoint pixels' positions, 68 × 3 (the target's landmarks). */
  keypoints: Float64Array;
  /** Canonical → photo similarity fitted on the controls. */
  similarity: Similarity;
  /** FaceMesh z factor applied (to 3DDFA_V2's spread) and the z shift applied to 3DDFA_V2. */
  zScale: number;
  zShift: number;
}

function dist3(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const dx = (a[3 * i] as number) - (b[3 * j] as number);
  const dy = (a[3 * i + 1] as number) - (b[3 * j + 1] as number);
  const dz = (a[3 * i + 2] as number) - (b[3 * j + 2] as number);
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

/** Inverse of a dense n × n matrix (Gauss–Jordan with partial pivoting). */
export function invertMatrix(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a as ArrayLike<number>);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[piv * n + col]!)) piv = r;
    const pv = m[piv * n + col]!;
    if (Math.abs(pv) < 1e-12) throw new Error(`singular matrix (column ${col})`);
    if (piv !== col) {
      for (let k = 0; k < n; k++) {
        let t = m[col * n + k]!; m[col * n + k] = m[piv * n + k]!; m[piv * n + k] = t;
        t = inv[col * n + k]!; inv[col * n + k] = inv[piv * n + k]!; inv[piv * n + k] = t;
      }
    }
    const s = 1 / pv;
    for (let k = 0; k < n; k++) { m[col * n + k]! *= s; inv[col * n + k]! *= s; }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        m[r * n + k]! -= f * m[col * n + k]!;
        inv[r * n + k]! -= f * inv[col * n + k]!;
      }
    }
  }
  return inv;
}

/** The kernel K (N × (P + 4), float32) of the points `canonical` against the control points. */
export function buildKernel(canonical: ArrayLike<number>, controls: ArrayLike<number>): Float32Array {
  const N = canonical.length / 3;
  const P = controls.length / 3;
  const C = P + 4;
  const K = new Float32Array(N * C);
  for (let i = 0; i < N; i++) {
    const x = canonical[3 * i] as number, y = canonical[3 * i + 1] as number, z = canonical[3 * i + 2] as number;
    const row = i * C;
    for (let j = 0; j < P; j++) {
      const dx = x - (controls[3 * j] as number), dy = y - (controls[3 * j + 1] as number), dz = z - (controls[3 * j + 2] as number);
      K[row + j] = -Math.sqrt(dx * dx + dy * dy + dz * dz);
    }
    K[row + P] = x; K[row + P + 1] = y; K[row + P + 2] = z; K[row + P + 3] = 1;
  }
  return K;
}

/** map = K · W: N × 3 (float32) from K (N × C) and coefficients (C × 3). */
export function evaluateMap(K: Float32Array, coeffs: ArrayLike<number>): Float32Array {
  const C = coeffs.length / 3;
  const N = K.length / C;
  const out = new Float32Array(N * 3);
  const w = Float64Array.from(coeffs as ArrayLike<number>);
  for (let i = 0; i < N; i++) {
    let x = 0, y = 0, z = 0;
    const row = i * C;
    for (let j = 0; j < C; j++) {
      const k = K[row + j]!;
      x += k * w[3 * j]!; y += k * w[3 * j + 1]!; z += k * w[3 * j + 2]!;
    }
    out[3 * i] = x; out[3 * i + 1] = y; out[3 * i + 2] = z;
  }
  return out;
}

/** Direct evaluation of the TPS (no K) at arbitrary canonical points, float64. */
export function evaluateTps(points: ArrayLike<number>, controls: ArrayLike<number>, coeffs: ArrayLike<number>): Float64Array {
  const M = points.length / 3;
  const P = controls.length / 3;
  const out = new Float64Array(M * 3);
  for (let i = 0; i < M; i++) {
    const x = points[3 * i] as number, y = points[3 * i + 1] as number, z = points[3 * i + 2] as number;
    for (let d = 0; d < 3; d++) {
      let s = (coeffs[3 * P + d] as number) * x + (coeffs[3 * (P + 1) + d] as number) * y + (coeffs[3 * (P + 2) + d] as number) * z + (coeffs[3 * (P + 3) + d] as number);
      for (let j = 0; j < P; j++) s -= (coeffs[3 * j + d] as number) * dist3(points, i, controls, j);
      out[3 * i + d] = s;
    }
  }
  return out;
}

/** The fixed TPS system [[K_cc + diag(λ / w), P], [Pᵀ, 0]] for controls and weights, and its inverse. */
export function tpsSystemInverse(controls: ArrayLike<number>, weights: ArrayLike<number>, lambda: number): Float64Array {
  const P = controls.length / 3;
  const n = P + 4;
  const L = new Float64Array(n * n);
  for (let i = 0; i < P; i++) {
    for (let j = 0; j < P; j++) L[i * n + j] = i === j ? lambda / (weights[i] as number) : -dist3(controls, i, controls, j);
    for (let d = 0; d < 3; d++) {
      L[i * n + P + d] = controls[3 * i + d] as number;
      L[(P + d) * n + i] = controls[3 * i + d] as number;
    }
    L[i * n + P + 3] = 1;
    L[(P + 3) * n + i] = 1;
  }
  return invertMatrix(L, n);
}

function triangleNormals(canonical: ArrayLike<number>, tris: Int32Array): Float64Array {
  const T = tris.length / 3;
  const out = new Float64Array(T * 3);
  for (let t = 0; t < T; t++) {
    const a = tris[3 * t]!, b = tris[3 * t + 1]!, c = tris[3 * t + 2]!;
    const ux = (canonical[3 * b] as number) - (canonical[3 * a] as number), uy = (canonical[3 * b + 1] as number) - (canonical[3 * a + 1] as number), uz = (canonical[3 * b + 2] as number) - (canonical[3 * a + 2] as number);
    const vx = (canonical[3 * c] as number) - (canonical[3 * a] as number), vy = (canonical[3 * c + 1] as number) - (canonical[3 * a + 1] as number), vz = (canonical[3 * c + 2] as number) - (canonical[3 * a + 2] as number);
    const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const len = Math.hypot(nx, ny, nz);
    // Degenerate grid triangles (area ≈ 0) get a zero normal and are never counted.
    if (len > 1e-6) { out[3 * t] = nx / len; out[3 * t + 1] = ny / len; out[3 * t + 2] = nz / len; }
  }
  return out;
}

/** Face-vertex index of each keypoint pixel. */
export function keypointVertices(layout: Pick<TargetLayout, 'faceIndex' | 'kptIndex'>): Int32Array {
  const at = new Map<number, number>();
  layout.faceIndex.forEach((p, i) => at.set(p, i));
  return Int32Array.from(layout.kptIndex, (p) => {
    const v = at.get(p);
    if (v === undefined) throw new Error(`keypoint pixel ${p} is not a face pixel`);
    return v;
  });
}

/** Chooses the fixed control set and precomputes the system inverse. */
export function createTargetSetup(layout: TargetLayout, corr: Pick<Correspondence, 'matched' | 'usable' | 'table68'>, options: TargetOptions = {}): TargetSetup {
  const kw = options.keypointWeight ?? 10;
  const lambda = options.lambda ?? 30;
  const radius = options.dropRadius ?? 20;
  const canonical = Float64Array.from(layout.canonical);
  const kptVertex = keypointVertices(layout);
  const kptPos = new Float64Array(68 * 3);
  for (let k = 0; k < 68; k++) for (let d = 0; d < 3; d++) kptPos[3 * k + d] = canonical[3 * kptVertex[k]! + d]!;
  const fm: number[] = [];
  for (let i = 0; i < 468; i++) {
    if (!corr.usable[i]) continue;
    let near = false;
    for (let k = 0; k < 68 && !near; k++) if (dist3(corr.matched, i, kptPos, k) < radius) near = true;
    if (!near) fm.push(i);
  }
  const P = fm.length + 68;
  const controls = new Float64Array(P * 3);
  const weights = new Float64Array(P);
  fm.forEach((i, j) => {
    for (let d = 0; d < 3; d++) controls[3 * j + d] = corr.matched[3 * i + d]!;
    weights[j] = 1;
  });
  controls.set(kptPos, 3 * fm.length);
  weights.fill(kw, fm.length);
  return {
    canonical,
    controls,
    facemeshIndex: Int32Array.from(fm),
    kptVertex,
    weights,
    table68: Int32Array.from(corr.table68),
    lambda,
    systemInverse: tpsSystemInverse(controls, weights, lambda),
    triangles: layout.triangles,
    canonicalNormals: triangleNormals(canonical, layout.triangles),
    faceIndex: layout.faceIndex,
  };
}

/** The setup's coarse grid (face pixels on even rows and columns, triangulated on the 128² grid). */
export function coarse(setup: TargetSetup): CoarseGrid {
  if (setup.coarse) return setup.coarse;
  const verts: number[] = [];
  const coarseIndex: number[] = [];
  setup.faceIndex.forEach((p, i) => {
    const r = Math.floor(p / 256), c = p % 256;
    if (r % 2 === 0 && c % 2 === 0) { verts.push(i); coarseIndex.push((r / 2) * 128 + c / 2); }
  });
  const vertices = Int32Array.from(verts);
  const pos = new Float64Array(vertices.length * 3);
  vertices.forEach((v, k) => { for (let d = 0; d < 3; d++) pos[3 * k + d] = setup.canonical[3 * v + d]!; });
  const triangles = triangulateFaceGrid(Int32Array.from(coarseIndex), 128);
  setup.coarse = {
    vertices,
    kernelMatrix: buildKernel(pos, setup.controls),
    triangles,
    canonicalNormals: triangleNormals(pos, triangles),
  };
  return setup.coarse;
}

/** The setup's kernel K (built once, N × (P + 4) float32, ~29 MB). */
export function kernel(setup: TargetSetup): Float32Array {
  setup.kernelMatrix ??= buildKernel(setup.canonical, setup.controls);
  return setup.kernelMatrix;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Teacher z alignment: FaceMesh's z rescaled (about its mean over the 51 inner points) so its
 * spread matches 3DDFA_V2's there; 3DDFA_V2's z shifted onto FaceMesh's by the median offset.
 * Returns copies (float64) and the factors.
 */
export function alignTeacherZ(t: TeacherPoints, table68: ArrayLike<number>): { facemesh: Float64Array; tddfa: Float64Array; zScale: number; zShift: number } {
  const fmz: number[] = [], tdz: number[] = [];
  for (let k = 17; k < 68; k++) {
    fmz.push(t.facemesh[3 * (table68[k] as number) + 2] as number);
    tdz.push(t.tddfa[3 * k + 2] as number);
  }
  const mf = fmz.reduce((a, b) => a + b, 0) / fmz.length;
  const mt = tdz.reduce((a, b) => a + b, 0) / tdz.length;
  let sff = 0, stt = 0, sft = 0;
  for (let i = 0; i < fmz.length; i++) {
    const a = fmz[i]! - mf, b = tdz[i]! - mt;
    sff += a * a; stt += b * b; sft += a * b;
  }
  let zScale = sff > 0 && sft > 0 ? Math.sqrt(stt / sff) : 1;
  zScale = Math.min(2, Math.max(0.5, zScale));
  const facemesh = Float64Array.from(t.facemesh);
  for (let i = 0; i < facemesh.length / 3; i++) facemesh[3 * i + 2] = mf + zScale * (facemesh[3 * i + 2]! - mf);
  const offsets: number[] = [];
  for (let k = 17; k < 68; k++) offsets.push(facemesh[3 * (table68[k] as number) + 2]! - (t.tddfa[3 * k + 2] as number));
  const zShift = median(offsets);
  const tddfa = Float64Array.from(t.tddfa);
  for (let k = 0; k < 68; k++) tddfa[3 * k + 2] = tddfa[3 * k + 2]! + zShift;
  return { facemesh, tddfa, zScale, zShift };
}

/** The control targets (P × 3, photo pixels) of one photo after z alignment. */
export function controlTargets(setup: TargetSetup, aligned: { facemesh: Float64Array; tddfa: Float64Array }): Float64Array {
  const F = setup.facemeshIndex.length;
  const Y = new Float64Array((F + 68) * 3);
  for (let j = 0; j < F; j++) for (let d = 0; d < 3; d++) Y[3 * j + d] = aligned.facemesh[3 * setup.facemeshIndex[j]! + d]!;
  Y.set(aligned.tddfa.subarray(0, 68 * 3), 3 * F);
  return Y;
}

/** Solves W for control targets Y: similarity first, TPS on the residuals, similarity folded into the affine rows. */
export function solveCoefficients(setup: TargetSetup, Y: Float64Array): { coeffs: Float64Array; similarity: Similarity } {
  const P = setup.controls.length / 3;
  const n = P + 4;
  const sim = fitSimilarity(setup.controls, Y, undefined, setup.weights);
  const { s, R, t } = sim;
  const rhs = new Float64Array(n * 3);
  for (let j = 0; j < P; j++) {
    const x = setup.controls[3 * j]!, y = setup.controls[3 * j + 1]!, z = setup.controls[3 * j + 2]!;
    for (let d = 0; d < 3; d++) rhs[3 * j + d] = Y[3 * j + d]! - (s * (R[3 * d]! * x + R[3 * d + 1]! * y + R[3 * d + 2]! * z) + t[d]!);
  }
  const W = new Float64Array(n * 3);
  const inv = setup.systemInverse;
  for (let r = 0; r < n; r++) {
    let a = 0, b = 0, c = 0;
    for (let k = 0; k < P; k++) {
      const m = inv[r * n + k]!;
      a += m * rhs[3 * k]!; b += m * rhs[3 * k + 1]!; c += m * rhs[3 * k + 2]!;
    }
    W[3 * r] = a; W[3 * r + 1] = b; W[3 * r + 2] = c;
  }
  // Affine rows: map += [x y z 1] · [(sR)ᵀ; tᵀ].
  for (let c = 0; c < 3; c++) {
    for (let d = 0; d < 3; d++) W[3 * (P + c) + d]! += s * R[3 * d + c]!;
  }
  for (let d = 0; d < 3; d++) W[3 * (P + 3) + d]! += t[d]!;
  return { coeffs: W, similarity: sim };
}

/** Triangles of `map` whose normal points against the canonical normal rotated by R. */
export function countFolds(map: ArrayLike<number>, triangles: Int32Array, canonicalNormals: Float64Array, R: ArrayLike<number>): number {
  let folds = 0;
  const T = triangles.length / 3;
  for (let t = 0; t < T; t++) {
    const cx = canonicalNormals[3 * t]!, cy = canonicalNormals[3 * t + 1]!, cz = canonicalNormals[3 * t + 2]!;
    if (cx === 0 && cy === 0 && cz === 0) continue;
    const rx = (R[0] as number) * cx + (R[1] as number) * cy + (R[2] as number) * cz;
    const ry = (R[3] as number) * cx + (R[4] as number) * cy + (R[5] as number) * cz;
    const rz = (R[6] as number) * cx + (R[7] as number) * cy + (R[8] as number) * cz;
    const a = triangles[3 * t]!, b = triangles[3 * t + 1]!, c = triangles[3 * t + 2]!;
    const ux = (map[3 * b] as number) - (map[3 * a] as number), uy = (map[3 * b + 1] as number) - (map[3 * a + 1] as number), uz = (map[3 * b + 2] as number) - (map[3 * a + 2] as number);
    const vx = (map[3 * c] as number) - (map[3 * a] as number), vy = (map[3 * c + 1] as number) - (map[3 * a + 1] as number), vz = (map[3 * c + 2] as number) - (map[3 * a + 2] as number);
    const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    if (nx * rx + ny * ry + nz * rz < 0) folds++;
  }
  return folds;
}

/**
 * Fits one photo's target: z alignment, controls, solve, map (for folds and the min-z shift).
 * `evaluate`: 'full' (default) builds the whole map (returned as `map`); 'coarse' evaluates a
 * quarter of the vertices (folds counted on the coarse triangles, min z over them: 4× faster);
 * 'none' builds nothing (folds −1, min z over the controls).
 */
export function fitTargets(labels: TeacherPoints, setup: TargetSetup, opts: { evaluate?: 'full' | 'coarse' | 'none' } = {}): FittedTarget {
  const evaluate = opts.evaluate ?? 'full';
  const aligned = alignTeacherZ(labels, setup.table68);
  const Y = controlTargets(setup, aligned);
  const { coeffs, similarity } = solveCoefficients(setup, Y);
  const P = setup.controls.length / 3;
  // Map at the controls (TPS evaluated there) for the residuals.
  const atControls = evaluateTps(setup.controls, setup.controls, coeffs);
  const F = setup.facemeshIndex.length;
  let fmSum = 0, kpSum = 0, max = 0;
  for (let j = 0; j < P; j++) {
    const d = dist3(atControls, j, Y, j);
    if (j < F) fmSum += d; else kpSum += d;
    max = Math.max(max, d);
  }
  let map: Float32Array | undefined;
  let folded = -1;
  let checked = 0;
  let minZ = Infinity;
  if (evaluate === 'full') {
    map = evaluateMap(kernel(setup), coeffs);
    for (let i = 2; i < map.length; i += 3) if (map[i]! < minZ) minZ = map[i]!;
    folded = countFolds(map, setup.triangles, setup.canonicalNormals, similarity.R);
    checked = setup.triangles.length / 3;
  } else if (evaluate === 'coarse') {
    const g = coarse(setup);
    const m = evaluateMap(g.kernelMatrix, coeffs);
    for (let i = 2; i < m.length; i += 3) if (m[i]! < minZ) minZ = m[i]!;
    folded = countFolds(m, g.triangles, g.canonicalNormals, similarity.R);
    checked = g.triangles.length / 3;
  } else {
    for (let j = 0; j < P; j++) minZ = Math.min(minZ, atControls[3 * j + 2]!);
  }
  coeffs[3 * (P + 3) + 2]! -= minZ;
  if (map) for (let i = 2; i < map.length; i += 3) map[i]! -= minZ;
  const keypoints = new Float64Array(68 * 3);
  for (let k = 0; k < 68; k++) {
    for (let d = 0; d < 3; d++) keypoints[3 * k + d] = atControls[3 * (F + k) + d]!;
    keypoints[3 * k + 2]! -= minZ;
  }
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let k = 0; k < 68; k++) {
    x0 = Math.min(x0, keypoints[3 * k]!); x1 = Math.max(x1, keypoints[3 * k]!);
    y0 = Math.min(y0, keypoints[3 * k + 1]!); y1 = Math.max(y1, keypoints[3 * k + 1]!);
  }
  return {
    coeffs,
    foldedTriangles: folded,
    checkedTriangles: checked,
    controlResidual: { keypoints: kpSum / 68, facemesh: F ? fmSum / F : 0, max, faceSize: Math.sqrt(Math.max(0, (x1 - x0) * (y1 - y0))) },
    map,
    keypoints,
    similarity,
    zScale: aligned.zScale,
    zShift: aligned.zShift,
  };
}

export interface TargetQuality {
  /** Largest fraction of triangles allowed to fold (default 0.01). */
  maxFoldFraction?: number;
  /** Largest mean keypoint residual, as a fraction of face size (default 0.01). */
  maxKeypointResidual?: number;
  /** Largest mean FaceMesh residual, as a fraction of face size (default 0.03). */
  maxFacemeshResidual?: number;
}

/** Why a target is dropped ('' when kept). */
export function judgeTarget(t: FittedTarget, q: TargetQuality = {}): '' | 'folds' | 'keypoint-residual' | 'facemesh-residual' | 'degenerate' {
  const fs = t.controlResidual.faceSize;
  if (!(fs > 0) || !t.coeffs.every(Number.isFinite)) return 'degenerate';
  if (t.checkedTriangles > 0 && t.foldedTriangles > (q.maxFoldFraction ?? 0.01) * t.checkedTriangles) return 'folds';
  if (t.controlResidual.keypoints > (q.maxKeypointResidual ?? 0.01) * fs) return 'keypoint-residual';
  if (t.controlResidual.facemesh > (q.maxFacemeshResidual ?? 0.03) * fs) return 'facemesh-residual';
  return '';
}

/** Loss-weight classes of the pack: which pixels the teachers cover, and how much each counts. */
export interface LossWeights {
  /** 256 × 256 U8: 16/4/3 (layout classes) inside the coverage area and at keypoints, 1 on extrapolated face pixels, 0 elsewhere. */
  weights: Uint8Array;
  counts: Record<number, number>;
}

/**
 * The pack's loss weights: the layout's classes 16/4/3 where MediaPipe covers the face (the 68
 * keypoint pixels keep 16 everywhere: 3DDFA_V2 places them), 1 on face pixels the warp
 * extrapolates, 0 off the face.
 */
export function lossWeights(layout: Pick<TargetLayout, 'weightMask' | 'faceMask' | 'kptIndex'>, coverage: Uint8Array): LossWeights {
  const n = layout.faceMask.length;
  const w = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    if (!layout.faceMask[p]) continue;
    const cls = layout.weightMask[p]!;
    w[p] = coverage[p] ? (cls > 0 ? cls : 3) : 1;
  }
  for (const p of layout.kptIndex) w[p] = 16;
  const counts: Record<number, number> = {};
  for (const v of w) counts[v] = (counts[v] ?? 0) + 1;
  return { weights: w, counts };
}
