/**
 * Builds assets/layout.safetensors from PRNet's uv-data (MIT licence, github.com/YadiraF/PRNet,
 * read from ../shared/reference/prnet/uv-data). Deterministic: the same inputs give the same bytes.
 *
 *   npx tsx scripts/build-layout.ts [uv-data folder] [output file]
 *
 * Tensors (little-endian): face_index I32 [N], kpt I32 [68, 2] (x = column, y = row),
 * canonical F32 [N, 3], weight_mask U8 [256, 256] (classes 16/4/3/0), face_mask U8 [256, 256],
 * eye_mask U8 [256, 256], flip I32 [N], kpt_flip I32 [68]. Triangles are not stored (they would
 * double the file): parseLayout derives them with triangulateFaceGrid (rule in the metadata).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { IBUG68_FLIP, LAYOUT_SIZE, mirrorFaceVertices, triangulateFaceGrid, weightClass } from '../src/layout/derive.js';
import { f32Tensor, i32Tensor, u8Tensor, writeSafetensors, type SafeTensor } from '../src/util/safetensors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZE = LAYOUT_SIZE;
/** A pixel of uv_face_eyes.png belongs to the eye regions when a channel differs from uv_face.png by more than this. */
export const EYE_DIFF_THRESHOLD = 8;

/** Reads a little-endian float64 / float32, C-order .npy array (format versions 1–3). */
export function readNpyFloat(bytes: Uint8Array): { data: Float64Array; shape: number[] } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new Error('not a .npy file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`unreadable .npy header: ${header}`);
  if (fortran !== 'False') throw new Error('Fortran-order .npy arrays are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const data = new Float64Array(count);
  if (descr === '<f8') for (let i = 0; i < count; i++) data[i] = view.getFloat64(dataStart + 8 * i, true);
  else if (descr === '<f4') for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, true);
  else throw new Error(`unsupported .npy dtype ${descr}`);
  return { data, shape };
}

/** Whitespace-separated numbers of a text file. */
export function readNumbers(text: string): number[] {
  return text.split(/\s+/).filter((s) => s.length > 0).map(Number);
}

/** First channel of an 8-bit PNG (grey masks). */
async function readGrey(path: string): Promise<Uint8Array> {
  const { data, info } = await sharp(path).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  if (info.width !== SIZE || info.height !== SIZE) throw new Error(`${path}: ${info.width}×${info.height}, expected ${SIZE}×${SIZE}`);
  return new Uint8Array(data);
}

/** RGB of an 8-bit PNG (alpha dropped). */
async function readRgb(path: string): Promise<Uint8Array> {
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.width !== SIZE || info.height !== SIZE || info.channels !== 3) throw new Error(`${path}: unexpected ${info.width}×${info.height}×${info.channels}`);
  return new Uint8Array(data);
}

function histogram(values: Uint8Array): string {
  const h = new Map<number, number>();
  for (const v of values) h.set(v, (h.get(v) ?? 0) + 1);
  return [...h.entries()].sort((a, b) => a[0] - b[0]).map(([v, c]) => `${v}:${c}`).join(' ');
}

export interface BuiltLayout {
  bytes: Uint8Array;
  report: string[];
}

export async function buildLayout(uvData: string): Promise<BuiltLayout> {
  const report: string[] = [];
  // face_ind.txt: N indices (written as floats) into the row-major 256×256 map.
  const faceNums = readNumbers(await readFile(join(uvData, 'face_ind.txt'), 'utf8'));
  const faceIndex = new Int32Array(faceNums.length);
  faceNums.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v >= SIZE * SIZE) throw new Error(`face_ind.txt: entry ${i} = ${v} is not a pixel index`);
    faceIndex[i] = v;
  });
  const n = faceIndex.length;
  report.push(`face vertices N = ${n}`);

  // uv_kpt_ind.txt: 2×68, row 0 = x (column), row 1 = y (row).
  const kptNums = readNumbers(await readFile(join(uvData, 'uv_kpt_ind.txt'), 'utf8'));
  if (kptNums.length !== 136) throw new Error(`uv_kpt_ind.txt: ${kptNums.length} numbers, expected 136`);
  const kpt = new Int32Array(136);
  let rounded = 0;
  for (let i = 0; i < 68; i++) {
    const x = kptNums[i];
    const y = kptNums[68 + i];
    if (!Number.isInteger(x) || !Number.isInteger(y)) rounded++;
    kpt[2 * i] = Math.round(x);
    kpt[2 * i + 1] = Math.round(y);
  }
  report.push(`keypoints: 68, ${rounded === 0 ? 'all integer in the source (no rounding)' : `${rounded} rounded to the nearest pixel`}`);
  const isFace = new Uint8Array(SIZE * SIZE);
  for (const p of faceIndex) isFace[p] = 1;
  for (let i = 0; i < 68; i++) {
    if (!isFace[kpt[2 * i + 1] * SIZE + kpt[2 * i]]) throw new Error(`keypoint ${i} is not a face pixel`);
  }

  // canonical_vertices.npy: float64 (N, 3), stored as float32.
  const npy = readNpyFloat(new Uint8Array(await readFile(join(uvData, 'canonical_vertices.npy'))));
  if (npy.shape.length !== 2 || npy.shape[0] !== n || npy.shape[1] !== 3) throw new Error(`canonical_vertices.npy: shape (${npy.shape.join(', ')}), expected (${n}, 3)`);
  const canonical = Float32Array.from(npy.data);

  // Masks.
  const faceGrey = await readGrey(join(uvData, 'uv_face_mask.png'));
  const faceMask = new Uint8Array(SIZE * SIZE);
  let maskMismatch = 0;
  for (let p = 0; p < faceMask.length; p++) {
    faceMask[p] = faceGrey[p] >= 128 ? 1 : 0;
    if (faceMask[p] !== isFace[p]) maskMismatch++;
  }
  report.push(`uv_face_mask.png histogram ${histogram(faceGrey)}; pixels disagreeing with face_ind.txt: ${maskMismatch}`);

  const weightGrey = await readGrey(join(uvData, 'uv_weight_mask.png'));
  const weightMask = new Uint8Array(SIZE * SIZE);
  let weightOutside = 0;
  for (let p = 0; p < weightMask.length; p++) {
    weightMask[p] = weightClass(weightGrey[p]);
    if (weightMask[p] > 0 && !faceMask[p]) weightOutside++;
  }
  report.push(`uv_weight_mask.png histogram ${histogram(weightGrey)} → classes ${histogram(weightMask)}; nonzero outside the face mask: ${weightOutside}`);

  const face = await readRgb(join(uvData, 'uv_face.png'));
  const eyes = await readRgb(join(uvData, 'uv_face_eyes.png'));
  const eyeMask = new Uint8Array(SIZE * SIZE);
  let differ = 0;
  let black = 0;
  for (let p = 0; p < eyeMask.length; p++) {
    let d = 0;
    for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(face[3 * p + c] - eyes[3 * p + c]));
    if (d > 0) differ++;
    if (d > 0 && eyes[3 * p] + eyes[3 * p + 1] + eyes[3 * p + 2] === 0) black++;
    eyeMask[p] = d > EYE_DIFF_THRESHOLD && faceMask[p] ? 1 : 0;
  }
  report.push(`eye regions: ${differ} pixels differ between uv_face.png and uv_face_eyes.png (${black} pure black), ${histogram(eyeMask).split(' ')[1] ?? '1:0'} kept (difference > ${EYE_DIFF_THRESHOLD}, inside the face mask)`);

  const triangles = triangulateFaceGrid(faceIndex, SIZE);
  report.push(`triangles T = ${triangles.length / 3}`);

  const mirror = mirrorFaceVertices(faceIndex, canonical, SIZE);
  let notInvolution = 0;
  for (let i = 0; i < n; i++) if (mirror.flip[mirror.flip[i]] !== i) notInvolution++;
  report.push(
    `flip: ${mirror.uvPaired} vertices by the UV rule (r, c) → (r, ${SIZE - 1} − c), ${mirror.fallback} by nearest mirrored canonical point; ` +
      `symmetry plane x = ${mirror.centreX.toFixed(4)}; mirror error mean ${mirror.meanError.toFixed(4)} px, max ${mirror.maxError.toFixed(4)} px; ` +
      `not involutive: ${notInvolution}`,
  );
  const kptFlip = Int32Array.from(IBUG68_FLIP);

  const metadata: Record<string, string> = {
    format: 'prnet-ts UV layout v1',
    source: 'PRNet uv-data (github.com/YadiraF/PRNet, Data/uv-data): face_ind.txt, uv_kpt_ind.txt, canonical_vertices.npy, uv_face_mask.png, uv_weight_mask.png, uv_face.png, uv_face_eyes.png',
    licence: 'MIT (PRNet, Copyright (c) 2018 Yao Feng)',
    script: 'scripts/build-layout.ts',
    size: String(SIZE),
    vertex_count: String(n),
    triangle_count: String(triangles.length / 3),
    triangles:
      'not stored; per 2x2 cell (TL,TR,BL,BR) of face pixels, row-major: 4 face pixels -> [TL,BL,TR],[TR,BL,BR]; exactly 3 -> one triangle over them ' +
      '(missing TL: [TR,BL,BR]; TR: [TL,BL,BR]; BL: [TL,BR,TR]; BR: [TL,BL,TR]); face-vertex indices, counter-clockwise with y up',
    kpt: 'x = column, y = row of the 68 landmark pixels, iBUG order',
    canonical: 'frontal mean face, x right, y down, z towards the viewer, float64 source stored as float32',
    weight_mask: 'nearest grey level of uv_weight_mask.png: 0 -> 0, 48 -> 3, 64 -> 4, 255 -> 16 (thresholds 24, 56, 159.5); the PNG has class 3 outside the face mask too',
    face_mask: 'uv_face_mask.png >= 128',
    eye_mask: `uv_face_eyes.png differs from uv_face.png by more than ${EYE_DIFF_THRESHOLD} in a channel, inside the face mask`,
    flip: `vertex (r, c) -> vertex (r, ${SIZE - 1} - c); ${mirror.fallback} vertices without one -> nearest vertex to their canonical point mirrored about x = ${mirror.centreX.toFixed(4)}`,
    kpt_flip: 'iBUG 68-point mirror permutation',
  };
  const tensors: [string, SafeTensor][] = [
    ['face_index', i32Tensor(faceIndex, [n])],
    ['kpt', i32Tensor(kpt, [68, 2])],
    ['canonical', f32Tensor(canonical, [n, 3])],
    ['weight_mask', u8Tensor(weightMask, [SIZE, SIZE])],
    ['face_mask', u8Tensor(faceMask, [SIZE, SIZE])],
    ['eye_mask', u8Tensor(eyeMask, [SIZE, SIZE])],
    ['flip', i32Tensor(mirror.flip, [n])],
    ['kpt_flip', i32Tensor(kptFlip, [68])],
  ];
  const bytes = writeSafetensors(tensors, metadata);
  report.push(`file size ${bytes.byteLength} bytes`);
  return { bytes, report };
}

async function main(): Promise<void> {
  const uvData = resolve(process.argv[2] ?? join(ROOT, '../shared/reference/prnet/uv-data'));
  const out = resolve(process.argv[3] ?? join(ROOT, 'assets/layout.safetensors'));
  const { bytes, report } = await buildLayout(uvData);
  const tmp = `${out}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, out);
  for (const line of report) console.log(line);
  console.log(`wrote ${out}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
