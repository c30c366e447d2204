/**
 * Head pose from dense vertices: a similarity fit of the canonical face onto the vertices.
 *
 * Frames: vertices and canonical face in image pixels (x right, y down, z towards the camera);
 * the canonical face is pose zero (frontal, upright).
 *
 * Angle convention (the same as AFLW2000-3D / 300W-LP's Pose_Para = [pitch, yaw, roll, …] in
 * radians, here in degrees; checked on AFLW2000-3D's ground truth):
 * - yaw > 0: the face turns towards the image's left (its nose points left; the subject turns
 *   to their own right); yaw in [−90°, 90°];
 * - pitch > 0: the face looks up (chin up);
 * - roll > 0: the face tilts clockwise as seen in the image (the top of the head moves right).
 * Precisely: let R be the fitted rotation (vertex = scale · R · canonical + translation, image
 * frame) and F = diag(1, −1, 1). In the right-handed frame x right, y up, z towards the camera,
 * F·R·F = Rx(−pitch) · Ry(−yaw) · Rz(−roll), with the standard right-handed rotations
 * Rx(a) = [1 0 0; 0 cos a −sin a; 0 sin a cos a], Ry(b) = [cos b 0 sin b; 0 1 0; −sin b 0 cos b],
 * Rz(c) = [cos c −sin c 0; sin c cos c 0; 0 0 1]. Hence yaw = −asin(R[0][2]),
 * pitch = −atan2(R[1][2], R[2][2]), roll = −atan2(R[0][1], R[0][0]).
 */

export interface Pose {
  /**
   * 3×3 rotation, row-major (element (r, c) at index 3r + c), det = +1: vertex ≈ scale · rotation ·
   * canonical + translation. three.js's Matrix3.fromArray reads column-major: transpose it, or
   * take `matrix` (column-major) for three.js and WebGL.
   */
  rotation: Float64Array;
  scale: number;
  translation: [number, number, number];
  /**
   * The same transform as a 4×4 matrix, column-major (element (row r, column c) at index 4c + r —
   * the order of three.js's Matrix4.fromArray/elements and of WebGL): [scale·rotation | translation;
   * 0 0 0 1], image frame. For the y-up mesh frame of the exported files see faceMesh's poseMatrix.
   */
  matrix: Float64Array;
  /** Degrees; see the module's convention. */
  yaw: number;
  pitch: number;
  roll: number;
}

const DEG = 180 / Math.PI;

/** yaw, pitch, roll (degrees) of a row-major rotation in the image frame. */
export function rotationToAngles(r: ArrayLike<number>): { yaw: number; pitch: number; roll: number } {
  const s = Math.max(-1, Math.min(1, r[2]));
  return {
    yaw: -Math.asin(s) * DEG,
    pitch: -Math.atan2(r[5], r[8]) * DEG,
    roll: -Math.atan2(r[1], r[0]) * DEG,
  };
}

/** The rotation (row-major, image frame) of the given yaw, pitch, roll in degrees: the inverse of rotationToAngles. */
export function anglesToRotation(yaw: number, pitch: number, roll: number): Float64Array {
  const a = -pitch / DEG;
  const b = -yaw / DEG;
  const c = -roll / DEG;
  const [ca, sa, cb, sb, cc, sc] = [Math.cos(a), Math.sin(a), Math.cos(b), Math.sin(b), Math.cos(c), Math.sin(c)];
  // Rx(a)·Ry(b)·Rz(c) in the y-up frame …
  const u = [
    cb * cc, -cb * sc, sb,
    ca * sc + sa * sb * cc, ca * cc - sa * sb * sc, -sa * cb,
    sa * sc - ca * sb * cc, sa * cc + ca * sb * sc, ca * cb,
  ];
  // … conjugated by F = diag(1, −1, 1): entries with exactly one index equal to 1 change sign.
  return Float64Array.from([u[0], -u[1], u[2], -u[3], u[4], -u[5], u[6], -u[7], u[8]]);
}

/**
 * F·R·F with F = diag(1, −1, 1): a row-major rotation taken between the image frame (y down) and
 * the y-up frame of the mesh files, glTF and three.js (the entries with exactly one index 1 change sign).
 */
export function flipRotationY(r: ArrayLike<number>): Float64Array {
  const out = new Float64Array(9);
  for (let i = 0; i < 9; i++) out[i] = (Math.floor(i / 3) === 1) !== (i % 3 === 1) ? -r[i] : r[i];
  return out;
}

/** The mean of N×3 points. */
export function centroid(points: ArrayLike<number>): [number, number, number] {
  const c: [number, number, number] = [0, 0, 0];
  const n = Math.floor(points.length / 3);
  for (let i = 0; i < 3 * n; i += 3) {
    c[0] += points[i];
    c[1] += points[i + 1];
    c[2] += points[i + 2];
  }
  return [c[0] / n, c[1] / n, c[2] / n];
}

/** scale · rotation · p + translation (rotation row-major 3×3). */
export function transformPoint(pose: { rotation: ArrayLike<number>; scale: number; translation: ArrayLike<number> }, p: ArrayLike<number>): [number, number, number] {
  const { rotation: R, scale: s, translation: t } = pose;
  const out: [number, number, number] = [0, 0, 0];
  for (let r = 0; r < 3; r++) out[r] = s * (R[3 * r] * p[0] + R[3 * r + 1] * p[1] + R[3 * r + 2] * p[2]) + t[r];
  return out;
}

/**
 * Points (N×3) in a pose's own frame: Rᵀ(x − t) / s, the inverse of x = s·R·p + t (rotation
 * row-major); into `out` (N×3, may be `points` itself).
 */
export function intoPoseFrame(points: ArrayLike<number>, pose: { rotation: ArrayLike<number>; scale: number; translation: ArrayLike<number> }, out: Float32Array | Float64Array): void {
  const R = pose.rotation, s = pose.scale, t = pose.translation;
  const tx = t[0], ty = t[1], tz = t[2];
  for (let i = 0; i + 2 < points.length; i += 3) {
    const x = points[i] - tx, y = points[i + 1] - ty, z = points[i + 2] - tz;
    out[i] = (R[0] * x + R[3] * y + R[6] * z) / s;
    out[i + 1] = (R[1] * x + R[4] * y + R[7] * z) / s;
    out[i + 2] = (R[2] * x + R[5] * y + R[8] * z) / s;
  }
}

/**
 * Points (N×3, image frame) turned to face the camera: Rᵀ(x − c) + c, the head's rotation undone
 * about `centre` (the head's centre, e.g. headCentre of the face's pose) with no change of scale or
 * place — PRNet's frontal mesh (`--isFront`), though rigid (PRNet fits an affine map to its canonical
 * face, which also takes away the face's own proportions). Into `out` (may be `points` itself).
 */
export function frontalize(points: ArrayLike<number>, rotation: ArrayLike<number>, centre: ArrayLike<number>, out: Float32Array | Float64Array): void {
  if (rotation.length !== 9) throw new RangeError(`rotation must be 3×3 (9 numbers, row-major), got ${rotation.length}`);
  if (out.length < points.length - (points.length % 3)) throw new RangeError(`out holds ${out.length} numbers, the points ${points.length}`);
  const cx = centre[0], cy = centre[1], cz = centre[2];
  intoPoseFrame(points, { rotation, scale: 1, translation: [cx, cy, cz] }, out);
  for (let i = 0; i + 2 < points.length; i += 3) {
    out[i] += cx;
    out[i + 1] += cy;
    out[i + 2] += cz;
  }
}

/** The unit quaternion (w, x, y, z) of a row-major rotation matrix. */
export function quaternionOf(m: ArrayLike<number>): Float64Array {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]];
  const q = new Float64Array(4);
  const tr = m00 + m11 + m22;
  if (tr > 0) {
    const S = Math.sqrt(tr + 1) * 2;
    q[0] = 0.25 * S; q[1] = (m21 - m12) / S; q[2] = (m02 - m20) / S; q[3] = (m10 - m01) / S;
  } else if (m00 > m11 && m00 > m22) {
    const S = Math.sqrt(1 + m00 - m11 - m22) * 2;
    q[0] = (m21 - m12) / S; q[1] = 0.25 * S; q[2] = (m01 + m10) / S; q[3] = (m02 + m20) / S;
  } else if (m11 > m22) {
    const S = Math.sqrt(1 + m11 - m00 - m22) * 2;
    q[0] = (m02 - m20) / S; q[1] = (m01 + m10) / S; q[2] = 0.25 * S; q[3] = (m12 + m21) / S;
  } else {
    const S = Math.sqrt(1 + m22 - m00 - m11) * 2;
    q[0] = (m10 - m01) / S; q[1] = (m02 + m20) / S; q[2] = (m12 + m21) / S; q[3] = 0.25 * S;
  }
  return q;
}

/** Unit quaternion (x, y, z, w: glTF's and three.js's order) of a row-major 3×3 rotation. */
export function rotationQuaternion(r: ArrayLike<number>): [number, number, number, number] {
  const [w, x, y, z] = quaternionOf(r);
  const n = Math.hypot(x, y, z, w);
  return [x / n, y / n, z / n, w / n];
}

/** Eigenvector of the largest eigenvalue of a symmetric 4×4 matrix (row-major, modified in place), by Jacobi rotations. */
function largestEigenvector4(m: Float64Array): { vector: Float64Array; value: number } {
  const v = new Float64Array(16);
  v[0] = v[5] = v[10] = v[15] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < 4; p++) {
      diag += m[p * 5] * m[p * 5];
      for (let q = p + 1; q < 4; q++) off += m[p * 4 + q] * m[p * 4 + q];
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < 3; p++) {
      for (let q = p + 1; q < 4; q++) {
        const apq = m[p * 4 + q];
        if (apq === 0) continue;
        const theta = (m[q * 5] - m[p * 5]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < 4; k++) {
          // Columns p, q of m.
          const mkp = m[k * 4 + p];
          const mkq = m[k * 4 + q];
          m[k * 4 + p] = c * mkp - s * mkq;
          m[k * 4 + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < 4; k++) {
          // Rows p, q of m.
          const mpk = m[p * 4 + k];
          const mqk = m[q * 4 + k];
          m[p * 4 + k] = c * mpk - s * mqk;
          m[q * 4 + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < 4; k++) {
          const vkp = v[k * 4 + p];
          const vkq = v[k * 4 + q];
          v[k * 4 + p] = c * vkp - s * vkq;
          v[k * 4 + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let p = 1; p < 4; p++) if (m[p * 5] > m[best * 5]) best = p;
  return { vector: Float64Array.from([v[best], v[4 + best], v[8 + best], v[12 + best]]), value: m[best * 5] };
}

/**
 * Least-squares similarity (Umeyama / Horn's quaternion method, always a proper rotation) taking
 * `source` onto `target`: target ≈ scale · R · source + translation. Both N×3 row-major with the
 * same N ≥ 3; rows with a non-finite coordinate in either are skipped. `fixed`: the source
 * prepared (prepareSource) for many fits, the same result in less time.
 */
export function fitSimilarity(source: ArrayLike<number>, target: ArrayLike<number>, fixed?: PreparedSource | null): { rotation: Float64Array; scale: number; translation: [number, number, number] } {
  if (source.length !== target.length || source.length % 3 !== 0) {
    throw new RangeError(`fitSimilarity: source has ${source.length} numbers and target ${target.length}; both must be N×3 with the same N`);
  }
  const n = source.length / 3;
  if (fixed) {
    if (fixed.centred.length !== source.length) throw new RangeError(`fitSimilarity: the prepared source has ${fixed.centred.length} numbers, the source ${source.length}`);
    const fit = fitFixedSource(fixed, target, n);
    if (fit) return fit;
  }
  // Two passes (means, then centred sums) over the rows whose six numbers are all finite (x − x is
  // 0 exactly for finite x, NaN otherwise); scalar sums, no per-row allocation or call.
  const usable = new Uint8Array(n);
  let count = 0;
  let msx = 0, msy = 0, msz = 0, mdx = 0, mdy = 0, mdz = 0;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const sx = source[j], sy = source[j + 1], sz = source[j + 2];
    const dx = target[j], dy = target[j + 1], dz = target[j + 2];
    if (sx - sx !== 0 || sy - sy !== 0 || sz - sz !== 0 || dx - dx !== 0 || dy - dy !== 0 || dz - dz !== 0) continue;
    usable[i] = 1;
    count++;
    msx += sx; msy += sy; msz += sz;
    mdx += dx; mdy += dy; mdz += dz;
  }
  if (count < 3) throw new RangeError(`fitSimilarity: ${count} usable point pairs, at least 3 needed`);
  msx /= count; msy /= count; msz /= count;
  mdx /= count; mdy /= count; mdz /= count;
  // S[a][b] = Σ s'_a d'_b; varS = Σ |s'|².
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0;
  let varS = 0;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    if (!usable[i]) continue;
    const sx = source[j] - msx;
    const sy = source[j + 1] - msy;
    const sz = source[j + 2] - msz;
    const dx = target[j] - mdx;
    const dy = target[j + 1] - mdy;
    const dz = target[j + 2] - mdz;
    s0 += sx * dx; s1 += sx * dy; s2 += sx * dz;
    s3 += sy * dx; s4 += sy * dy; s5 += sy * dz;
    s6 += sz * dx; s7 += sz * dy; s8 += sz * dz;
    varS += sx * sx + sy * sy + sz * sz;
  }
  return similarityFromSums(Float64Array.of(s0, s1, s2, s3, s4, s5, s6, s7, s8), varS, [msx, msy, msz], [mdx, mdy, mdz]);
}

/**
 * A source (the canonical face) whose every row is finite, prepared for many fits: its means,
 * centred rows and Σ |s'|², worked out once (prepareSource).
 */
export interface PreparedSource {
  mean: [number, number, number];
  centred: Float64Array;
  varS: number;
}

/**
 * A source prepared for fitSimilarity / estimatePose (null when a row is not finite or there are
 * under 3): the pose of every face is fitted from the same canonical face. Its sums are
 * fitSimilarity's, in their order, so a fit from it is bit for bit the plain fit (when every target
 * row is finite; otherwise the plain fit runs). The source must not change afterwards.
 */
export function prepareSource(source: ArrayLike<number>): PreparedSource | null {
  const n = Math.floor(source.length / 3);
  let msx = 0, msy = 0, msz = 0;
  let finite = true;
  for (let j = 0; j < 3 * n; j += 3) {
    const sx = source[j], sy = source[j + 1], sz = source[j + 2];
    if (sx - sx !== 0 || sy - sy !== 0 || sz - sz !== 0) finite = false;
    msx += sx; msy += sy; msz += sz;
  }
  let f: PreparedSource | null = null;
  if (finite && n >= 3) {
    msx /= n; msy /= n; msz /= n;
    const centred = new Float64Array(3 * n);
    let varS = 0;
    for (let j = 0; j < 3 * n; j += 3) {
      const sx = source[j] - msx;
      const sy = source[j + 1] - msy;
      const sz = source[j + 2] - msz;
      centred[j] = sx;
      centred[j + 1] = sy;
      centred[j + 2] = sz;
      varS += sx * sx + sy * sy + sz * sz;
    }
    f = { mean: [msx, msy, msz], centred, varS };
  }
  return f;
}

/** fitSimilarity from a fixed source when every target row is finite (else null: the general form). */
function fitFixedSource(fixed: PreparedSource, target: ArrayLike<number>, n: number): ReturnType<typeof fitSimilarity> | null {
  let mdx = 0, mdy = 0, mdz = 0;
  for (let j = 0; j < 3 * n; j += 3) {
    const dx = target[j], dy = target[j + 1], dz = target[j + 2];
    if (dx - dx !== 0 || dy - dy !== 0 || dz - dz !== 0) return null;
    mdx += dx; mdy += dy; mdz += dz;
  }
  mdx /= n; mdy /= n; mdz /= n;
  const c = fixed.centred;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0;
  for (let j = 0; j < 3 * n; j += 3) {
    const sx = c[j];
    const sy = c[j + 1];
    const sz = c[j + 2];
    const dx = target[j] - mdx;
    const dy = target[j + 1] - mdy;
    const dz = target[j + 2] - mdz;
    s0 += sx * dx; s1 += sx * dy; s2 += sx * dz;
    s3 += sy * dx; s4 += sy * dy; s5 += sy * dz;
    s6 += sz * dx; s7 += sz * dy; s8 += sz * dz;
  }
  return similarityFromSums(Float64Array.of(s0, s1, s2, s3, s4, s5, s6, s7, s8), fixed.varS, fixed.mean, [mdx, mdy, mdz]);
}

/** The similarity from the centred cross sums S (row-major 3 × 3), Σ |s'|² and the two means (Horn's quaternion method). */
function similarityFromSums(S: Float64Array, varS: number, ms: readonly number[], md: readonly number[]): ReturnType<typeof fitSimilarity> {
  if (!(varS > 0)) throw new RangeError('fitSimilarity: the source points all coincide');
  const [xx, xy, xz, yx, yy, yz, zx, zy, zz] = S;
  const N = Float64Array.from([
    xx + yy + zz, yz - zy, zx - xz, xy - yx,
    yz - zy, xx - yy - zz, xy + yx, zx + xz,
    zx - xz, xy + yx, -xx + yy - zz, yz + zy,
    xy - yx, zx + xz, yz + zy, -xx - yy + zz,
  ]);
  const { vector: q } = largestEigenvector4(N);
  const qn = Math.hypot(q[0], q[1], q[2], q[3]);
  const [w, x, y, z] = [q[0] / qn, q[1] / qn, q[2] / qn, q[3] / qn];
  const R = Float64Array.from([
    w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (y * x + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x),
    2 * (z * x - w * y), 2 * (z * y + w * x), w * w - x * x - y * y + z * z,
  ]);
  // scale = Σ d'·(R s') / Σ |s'|² = trace(R · S) / varS.
  let tr = 0;
  for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) tr += R[a * 3 + b] * S[b * 3 + a];
  const scale = tr / varS;
  const translation: [number, number, number] = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    translation[a] = md[a] - scale * (R[a * 3] * ms[0] + R[a * 3 + 1] * ms[1] + R[a * 3 + 2] * ms[2]);
  }
  return { rotation: R, scale, translation };
}

/**
 * Head pose of `vertices` (N×3, image or crop frame) from the similarity fit of `canonical`
 * (N×3, the same points on the canonical face, e.g. layout.canonical for readVertices' output, or
 * its 68 keypoint rows for readLandmarks' output) onto them. `prepared`: prepareSource(canonical),
 * for many poses from the same canonical face.
 */
export function estimatePose(vertices: ArrayLike<number>, canonical: ArrayLike<number>, prepared?: PreparedSource | null): Pose {
  const { rotation, scale, translation } = fitSimilarity(canonical, vertices, prepared);
  return { rotation, scale, translation, matrix: poseMatrix(rotation, scale, translation), ...rotationToAngles(rotation) };
}

/**
 * The column-major 4×4 matrix (three.js Matrix4.fromArray order: index 4·column + row) of
 * p ↦ scale · rotation · p + translation, rotation row-major 3×3.
 */
export function poseMatrix(rotation: ArrayLike<number>, scale: number, translation: ArrayLike<number>): Float64Array {
  const m = new Float64Array(16);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) m[4 * c + r] = scale * rotation[3 * r + c];
    m[12 + r] = translation[r];
  }
  m[15] = 1;
  return m;
}
