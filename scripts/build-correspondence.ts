/**
 * Builds assets/mediapipe-prnet.safetensors: where each of MediaPipe's 468 face-mesh vertices lies
 * on PRNet's canonical face, for turning FaceMesh landmarks into PRNet-layout targets.
 *
 * Sources (read from ../shared, not committed):
 * - MediaPipe's canonical face mesh, reference/mediapipe/canonical_face_model.obj (Apache-2.0):
 *   468 vertices in FaceMesh's landmark order, 898 triangles; read with y flipped.
 * - PRNet's canonical face, via the layout asset (assets/layout.safetensors, from PRNet's uv-data,
 *   MIT), or reference/prnet/uv-data directly while that asset is absent.
 * - The 468 → 68 table: @vladmandic/human's VTX68 (MIT), in src/data/correspondence.ts.
 *
 * Method: a similarity fitted on the 51 inner landmarks (17–67) only — MediaPipe's jaw contour is
 * a different curve from PRNet's 3D jaw and is never paired with it — then non-rigid ICP (6 rounds:
 * closest points on PRNet's triangulated surface, displacement smoothed over MediaPipe's mesh,
 * stiff to loose). Each vertex's final closest surface point is its match.
 *
 * Usage: npx tsx scripts/build-correspondence.ts [--shared ../shared] [--out assets/mediapipe-prnet.safetensors] [--png report.png]
 */
import type { TargetLayout } from '../tools/data/groundtruth.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  MEDIAPIPE_68, MEDIAPIPE_JAW_CONTOUR, applySimilarity, closestPointsOnMesh, fitSimilarity, nonRigidIcp, parseObj,
} from '../tools/data/correspondence.js';
import { triangulateFaceGrid, weightClass } from '../src/layout/derive.js';
import { f32Tensor, i32Tensor, u8Tensor, writeSafetensors, type SafeTensor } from '../src/util/safetensors.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The parts of the UV layout the ground-truth code needs (a subset of src/layout's Layout). */
export type LayoutLike = TargetLayout;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

/** Parses a little-endian float64 C-order .npy array. */
function readNpyF64(buf: Buffer): Float64Array {
  const headerLen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLen);
  if (!header.includes("'<f8'") || header.includes('True')) throw new Error(`unsupported .npy header ${header}`);
  const start = 10 + headerLen;
  const out = new Float64Array((buf.length - start) / 8);
  for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(start + 8 * i);
  return out;
}

/**
 * The layout: the committed asset through src/layout when it exists, else read from PRNet's
 * uv-data in the shared folder (same content, for bootstrapping).
 */
export async function loadLayoutForScripts(shared = resolve(REPO, '..', 'shared')): Promise<LayoutLike> {
  if (existsSync(join(REPO, 'assets', 'layout.safetensors'))) {
    const { loadLayout } = await import('../src/layout/node.js');
    return loadLayout();
  }
  const uv = join(shared, 'reference', 'prnet', 'uv-data');
  const canonical = Float32Array.from(readNpyF64(readFileSync(join(uv, 'canonical_vertices.npy'))));
  const faceIndex = Int32Array.from(readFileSync(join(uv, 'face_ind.txt'), 'utf8').trim().split(/\s+/).map((s) => Math.round(Number(s))));
  const kptRows = readFileSync(join(uv, 'uv_kpt_ind.txt'), 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const kptIndex = new Int32Array(68);
  for (let k = 0; k < 68; k++) kptIndex[k] = Math.round(kptRows[1]![k]!) * 256 + Math.round(kptRows[0]![k]!);
  const grey = await sharp(join(uv, 'uv_weight_mask.png')).greyscale().raw().toBuffer();
  const weightMask = Uint8Array.from(grey, (g) => weightClass(g));
  const faceMask = new Uint8Array(256 * 256);
  for (const p of faceIndex) faceMask[p] = 1;
  return { faceIndex, kptIndex, triangles: triangulateFaceGrid(faceIndex, 256), canonical, weightMask, faceMask };
}

/** Face-vertex index of each map pixel (−1 off the face). */
export function vertexAtPixel(faceIndex: Int32Array, size = 256): Int32Array {
  const at = new Int32Array(size * size).fill(-1);
  for (let i = 0; i < faceIndex.length; i++) at[faceIndex[i]!] = i;
  return at;
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] as number;
  return s / a.length;
}

async function main(): Promise<void> {
  const shared = resolve(arg('shared', join(REPO, '..', 'shared')));
  const outPath = resolve(arg('out', join(REPO, 'assets', 'mediapipe-prnet.safetensors')));
  const pngPath = arg('png', '');
  const layout = await loadLayoutForScripts(shared);
  const N = layout.faceIndex.length;
  const vat = vertexAtPixel(layout.faceIndex);
  const kptVertex = Int32Array.from(layout.kptIndex, (p) => vat[p]!);
  if (kptVertex.some((v) => v < 0)) throw new Error('a keypoint pixel is not a face pixel');
  const canon = Float64Array.from(layout.canonical);

  const obj = parseObj(readFileSync(join(shared, 'reference', 'mediapipe', 'canonical_face_model.obj'), 'utf8'));
  if (obj.vertices.length !== 468 * 3) throw new Error(`expected 468 MediaPipe vertices, got ${obj.vertices.length / 3}`);
  const mp = Float64Array.from(obj.vertices);
  for (let i = 0; i < 468; i++) mp[3 * i + 1] = -mp[3 * i + 1]!;

  // 1. Similarity on the 51 inner landmarks.
  const pairs: number[] = [];
  for (let k = 17; k < 68; k++) pairs.push(MEDIAPIPE_68[k]!, kptVertex[k]!);
  const sim = fitSimilarity(mp, canon, pairs);
  const aligned = applySimilarity(sim, mp);
  const det = sim.R[0]! * (sim.R[4]! * sim.R[8]! - sim.R[5]! * sim.R[7]!) - sim.R[1]! * (sim.R[3]! * sim.R[8]! - sim.R[5]! * sim.R[6]!) + sim.R[2]! * (sim.R[3]! * sim.R[7]! - sim.R[4]! * sim.R[6]!);
  const lmRes = (pts: Float64Array, from: number) => {
    const r: number[] = [];
    for (let k = from; k < 68; k++) {
      const a = MEDIAPIPE_68[k]!, b = kptVertex[k]!;
      r.push(Math.hypot(pts[3 * a]! - canon[3 * b]!, pts[3 * a + 1]! - canon[3 * b + 1]!, pts[3 * a + 2]! - canon[3 * b + 2]!));
    }
    return r;
  };
  const inner = lmRes(aligned, 17);
  const jaw = lmRes(aligned, 0).slice(0, 17);
  // Face size: sqrt(w·h) of the 68 canonical keypoints' x, y box.
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const v of kptVertex) {
    x0 = Math.min(x0, canon[3 * v]!); x1 = Math.max(x1, canon[3 * v]!);
    y0 = Math.min(y0, canon[3 * v + 1]!); y1 = Math.max(y1, canon[3 * v + 1]!);
  }
  const faceSize = Math.sqrt((x1 - x0) * (y1 - y0));
  console.log(`similarity: scale ${sim.s.toFixed(3)}, det(R) ${det.toFixed(3)}; inner-51 residual mean ${mean(inner).toFixed(2)} px (${(100 * mean(inner) / faceSize).toFixed(2)} % of face size ${faceSize.toFixed(1)}); jaw 0–16 (not fitted) ${mean(jaw).toFixed(2)} px`);

  // 2. Non-rigid ICP onto PRNet's surface.
  const t0 = performance.now();
  const icp = nonRigidIcp(aligned, obj.faces, canon, layout.triangles, { rounds: 6, smooth: 30, minSmooth: 2 });
  console.log(`non-rigid ICP: mean distance to PRNet's surface per round ${icp.meanDistance.map((d) => d.toFixed(2)).join(' → ')} px (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const matched = icp.closest.points;

  // Matched pixel: the corner of the closest triangle with the largest barycentric weight.
  const matchedPixel = new Int32Array(468);
  for (let i = 0; i < 468; i++) {
    const t = icp.closest.tri[i]!;
    let best = 0;
    for (let c = 1; c < 3; c++) if (icp.closest.bary[3 * i + c]! > icp.closest.bary[3 * i + best]!) best = c;
    matchedPixel[i] = layout.faceIndex[layout.triangles[3 * t + best]!]!;
  }
  const distinctPixels = new Set(matchedPixel).size;
  let minSep = Infinity;
  for (let i = 0; i < 468; i++) for (let j = i + 1; j < 468; j++) {
    minSep = Math.min(minSep, Math.hypot(matched[3 * i]! - matched[3 * j]!, matched[3 * i + 1]! - matched[3 * j + 1]!, matched[3 * i + 2]! - matched[3 * j + 2]!));
  }

  // Boundary face pixels: a 4-neighbour off the face.
  const boundary = new Uint8Array(256 * 256);
  for (const p of layout.faceIndex) {
    const r = Math.floor(p / 256), c = p % 256;
    for (const [dr, dc] of [[1, 0], [-1, 0], [0, 1], [0, -1]] as const) {
      const rr = r + dr, cc = c + dc;
      if (rr < 0 || rr >= 256 || cc < 0 || cc >= 256 || vat[rr * 256 + cc]! < 0) boundary[p] = 1;
    }
  }
  const residual = Float32Array.from(icp.closest.dist);
  const jawSet = new Set(MEDIAPIPE_JAW_CONTOUR);
  const usable = new Uint8Array(468);
  let onBoundary = 0, farOff = 0;
  for (let i = 0; i < 468; i++) {
    const b = boundary[matchedPixel[i]!] === 1;
    const far = residual[i]! > 2;
    if (b) onBoundary++;
    if (far) farOff++;
    usable[i] = jawSet.has(i) || b || far ? 0 : 1;
  }

  // Folds of MediaPipe's mesh at the matched positions (normal flips vs the aligned mesh).
  let folds = 0;
  const F = obj.faces.length / 3;
  const normal = (P: Float64Array, t: number) => {
    const a = obj.faces[3 * t]!, b = obj.faces[3 * t + 1]!, c = obj.faces[3 * t + 2]!;
    const ux = P[3 * b]! - P[3 * a]!, uy = P[3 * b + 1]! - P[3 * a + 1]!, uz = P[3 * b + 2]! - P[3 * a + 2]!;
    const vx = P[3 * c]! - P[3 * a]!, vy = P[3 * c + 1]! - P[3 * a + 1]!, vz = P[3 * c + 2]! - P[3 * a + 2]!;
    return [uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx] as const;
  };
  for (let t = 0; t < F; t++) {
    const n0 = normal(aligned, t), n1 = normal(matched, t);
    if (n0[0] * n1[0] + n0[1] * n1[1] + n0[2] * n1[2] < 0) folds++;
  }

  // 3. Coverage: face pixels within 5 px of MediaPipe's matched surface.
  const onMp = closestPointsOnMesh(canon, matched, obj.faces);
  const coverage = new Uint8Array(256 * 256);
  let covered = 0, inside = 0;
  for (let i = 0; i < N; i++) {
    if (onMp.dist[i]! <= 5) { coverage[layout.faceIndex[i]!] = 1; covered++; }
    if (onMp.dist[i]! <= 0.5) inside++;
  }
  const stats = {
    similarityScale: sim.s,
    inner51ResidualPx: mean(inner),
    jawResidualPx: mean(jaw),
    surfaceDistanceAfterSimilarityPx: icp.meanDistance[0]!,
    surfaceDistanceAfterIcpPx: icp.meanDistance[icp.meanDistance.length - 1]!,
    maxResidualPx: Math.max(...residual),
    distinctMatchedPixels: distinctPixels,
    minMatchedSeparationPx: minSep,
    foldedMediaPipeTriangles: folds,
    usable: usable.reduce((a, b) => a + b, 0),
    droppedJawContour: MEDIAPIPE_JAW_CONTOUR.length,
    droppedOnBoundary: onBoundary,
    droppedFar: farOff,
    coveragePercent: (100 * covered) / N,
    withinHalfPixelPercent: (100 * inside) / N,
    faceSizePx: faceSize,
  };
  console.log(JSON.stringify(stats, null, 1));

  const tensors: [string, SafeTensor][] = [
    ['matched', f32Tensor(Float32Array.from(matched), [468, 3])],
    ['matched_pixel', i32Tensor(matchedPixel, [468])],
    ['table68', i32Tensor(Int32Array.from(MEDIAPIPE_68), [68])],
    ['usable', u8Tensor(usable, [468])],
    ['coverage', u8Tensor(coverage, [256, 256])],
    ['residual', f32Tensor(residual, [468])],
    ['similarity', f32Tensor(Float32Array.from([sim.s, ...sim.R, ...sim.t]), [13])],
  ];
  const meta: Record<string, string> = {
    description: 'MediaPipe face-mesh vertex (468, FaceMesh landmark order) → matched position on PRNet\'s canonical face (x right, y down, z towards the viewer, pixels of the 256² map)',
    sources: 'MediaPipe canonical_face_model.obj (Apache-2.0); PRNet uv-data canonical_vertices / face_ind / uv_kpt_ind (MIT); 468→68 table: @vladmandic/human VTX68 (MIT)',
    method: 'similarity on the 51 inner landmarks (17-67), then 6 rounds of non-rigid ICP onto the triangulated canonical surface; jaw contour never paired with PRNet\'s jaw',
    similarity: 'canonical_prnet = s·R·(x, −y, z)_mediapipe + t; tensor "similarity" = [s, R (row-major 3×3), t]',
    usable: '1 = may be a control point: not on MediaPipe\'s jaw/side contour, matched pixel not on the face boundary, ICP residual ≤ 2 px',
    coverage: 'face pixels within 5 px (canonical) of MediaPipe\'s surface at the matched positions',
    stats: JSON.stringify(stats),
    script: 'scripts/build-correspondence.ts',
  };
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = `${outPath}.tmp`;
  writeFileSync(tmp, writeSafetensors(tensors, meta));
  renameSync(tmp, outPath);
  console.log(`wrote ${outPath}`);

  if (pngPath) {
    // UV picture: grey face, green coverage, red matched pixels of usable points, blue others, yellow keypoints.
    const img = Buffer.alloc(256 * 256 * 3);
    for (const p of layout.faceIndex) { img[3 * p] = 70; img[3 * p + 1] = 70; img[3 * p + 2] = 70; }
    for (let p = 0; p < 65536; p++) if (coverage[p]) { img[3 * p] = 40; img[3 * p + 1] = 120; img[3 * p + 2] = 40; }
    for (let i = 0; i < 468; i++) {
      const p = matchedPixel[i]!;
      img[3 * p] = usable[i] ? 255 : 0; img[3 * p + 1] = 0; img[3 * p + 2] = usable[i] ? 0 : 255;
    }
    for (const p of layout.kptIndex) { img[3 * p] = 255; img[3 * p + 1] = 255; img[3 * p + 2] = 0; }
    await sharp(img, { raw: { width: 256, height: 256, channels: 3 } }).resize(768, 768, { kernel: 'nearest' }).png().toFile(pngPath);
    console.log(`wrote ${pngPath}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
