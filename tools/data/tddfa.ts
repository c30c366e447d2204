/**
 * The 3DDFA_V2 teacher (MobileNet-0.5, 120×120 input) on onnxruntime-node: 62 3DMM parameters from a
 * square face crop, read off as 68 3D landmarks in image pixels.
 *
 * Model files are read at run time from the shared reference folder
 * (`<shared>/reference/3ddfa_v2/mb05_120x120.onnx` and `data.json`); nothing is copied into the repo.
 *
 * Frames: the returned points are image pixels, x right, y down, z towards the camera (larger =
 * nearer) in the same pixel scale as x and y. z has an arbitrary offset: it is shifted so that the
 * smallest z of the 68 points is 0.
 */
import { pointsBounds } from '../../src/crop/rules.js';
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../../src/errors.js';
import { IBUG68_FLIP } from '../../src/layout/derive.js';
import { flipRotationY, rotationToAngles } from '../../src/geometry/pose.js';
import type { RgbImage } from '../../src/types.js';

/** The repository root: the nearest folder above this module with the project's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'prnet-ts') return dir;
      } catch { /* not ours */ }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** The shared reference-data folder: $PRNET_SHARED, else ../shared relative to the repo root. */
export function sharedDir(): string {
  return process.env.PRNET_SHARED ? resolve(process.env.PRNET_SHARED) : resolve(repoRoot(), '..', 'shared');
}

/** Side of the network's square input in pixels. */
export const TDDFA_SIZE = 120;

/** A square crop in image pixels: centre and side. */
export interface CropBox {
  cx: number;
  cy: number;
  side: number;
  /** In-plane rotation of the crop, radians (its x axis points along (cos, sin) in the image; default 0). */
  angle?: number;
}

export interface TddfaModel {
  session: ort.InferenceSession;
  mean: Float32Array;
  std: Float32Array;
  /** 204 = 68 × 3 mean-shape coordinates. */
  uBase: Float32Array;
  /** 204 × 40, row-major. */
  wShp: Float32Array;
  /** 204 × 10, row-major. */
  wExp: Float32Array;
}

export interface TddfaResult {
  /** 68 × 3 landmarks in image pixels (z towards the camera, min z = 0). */
  points: Float32Array;
  /** The 62 de-normalised parameters: [R | t] row-major 3×4, 40 shape, 10 expression. */
  params: Float32Array;
}

export interface TddfaOptions {
  /** Shared reference folder; default PRNET_SHARED or ../shared relative to the repo root. */
  shared?: string;
  /**
   * Run on the left-right mirror of the image (the crop mirrored about the image's centre) and map
   * the 68 points back: x → W − 1 − x and point k ← point IBUG68_FLIP[k]. The returned params are
   * the mirrored pass's own (they describe the mirrored face).
   */
  mirror?: boolean;
}

let modelPromise: Promise<TddfaModel> | undefined;

/** Loads the ONNX session and the landmark bases once per process. */
export function loadTddfa(options: TddfaOptions = {}): Promise<TddfaModel> {
  if (!modelPromise) {
    modelPromise = createModel(options.shared ?? sharedDir());
    modelPromise.catch(() => { modelPromise = undefined; });
  }
  return modelPromise;
}

function flat(a: unknown, expectLen: number, name: string, file: string): Float32Array {
  if (!Array.isArray(a)) throw new ModelError(`${name} is not an array`, file);
  const out = new Float32Array((a as unknown[]).flat(2) as number[]);
  if (out.length !== expectLen) throw new ModelError(`${name} has ${out.length} numbers, expected ${expectLen}`, file);
  return out;
}

async function createModel(shared: string): Promise<TddfaModel> {
  const dir = join(shared, 'reference', '3ddfa_v2');
  const onnxPath = join(dir, 'mb05_120x120.onnx');
  const dataPath = join(dir, 'data.json');
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(await readFile(dataPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ModelError(`cannot read 3DDFA_V2 data (${(e as Error).message})`, dataPath);
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  } catch (e) {
    throw new ModelError(`cannot load 3DDFA_V2 model (${(e as Error).message})`, onnxPath);
  }
  return {
    session,
    mean: flat(data.mean, 62, 'mean', dataPath),
    std: flat(data.std, 62, 'std', dataPath),
    uBase: flat(data.u_base, 204, 'u_base', dataPath),
    wShp: flat(data.w_shp_base, 204 * 40, 'w_shp_base', dataPath),
    wExp: flat(data.w_exp_base, 204 * 10, 'w_exp_base', dataPath),
  };
}

/**
 * The network input for a crop: 1×3×120×120, BGR planes, (x − 127.5) / 128. Pixel i of the crop
 * samples the image at x = cx − side/2 + (i + 0.5)·side/120 − 0.5 (bilinear, black outside the image),
 * the same sampling as resizing the cut-out square; a rotated crop (`angle`) turns the offsets
 * from the centre: x = cx − 0.5 + R(angle)·((i + 0.5)·side/120 − side/2, …). With `mirror` the image is read mirrored
 * (pixel x of the mirror is pixel W − 1 − x of the image); the crop is then in the mirror's frame.
 */
export function tddfaInput(image: RgbImage, crop: CropBox, mirror = false): Float32Array {
  const n = TDDFA_SIZE;
  const out = new Float32Array(3 * n * n);
  const s = crop.side / n;
  const cos = Math.cos(crop.angle ?? 0);
  const sin = Math.sin(crop.angle ?? 0);
  const half = crop.side / 2;
  const { width: w, height: h, data } = image;
  const plane = n * n;
  for (let j = 0; j < n; j++) {
    const b0 = (j + 0.5) * s - half;
    for (let i = 0; i < n; i++) {
      const a0 = (i + 0.5) * s - half;
      const sx = crop.cx - 0.5 + cos * a0 - sin * b0;
      const sy = crop.cy - 0.5 + sin * a0 + cos * b0;
      const ix = Math.floor(sx);
      const fx = sx - ix;
      const iy = Math.floor(sy);
      const fy = sy - iy;
      let r = 0, g = 0, b = 0;
      for (let dy = 0; dy < 2; dy++) {
        const yy = iy + dy;
        if (yy < 0 || yy >= h) continue;
        const wy = dy ? fy : 1 - fy;
        for (let dx = 0; dx < 2; dx++) {
          const xx = ix + dx;
          if (xx < 0 || xx >= w) continue;
          const wgt = wy * (dx ? fx : 1 - fx);
          const p = (yy * w + (mirror ? w - 1 - xx : xx)) * 3;
          r += wgt * data[p];
          g += wgt * data[p + 1];
          b += wgt * data[p + 2];
        }
      }
      const o = j * n + i;
      out[o] = (b - 127.5) / 128;
      out[plane + o] = (g - 127.5) / 128;
      out[2 * plane + o] = (r - 127.5) / 128;
    }
  }
  return out;
}

/**
 * 68 landmarks from de-normalised parameters, in the crop's 120² pixel frame (x right, y down,
 * z towards the camera, crop pixels, raw offset).
 */
export function tddfaLandmarksCrop(model: TddfaModel, p: Float32Array): Float32Array {
  const out = new Float32Array(68 * 3);
  const v = [0, 0, 0];
  for (let k = 0; k < 68; k++) {
    for (let c = 0; c < 3; c++) {
      const row = 3 * k + c;
      let s = model.uBase[row];
      for (let q = 0; q < 40; q++) s += model.wShp[row * 40 + q] * p[12 + q];
      for (let q = 0; q < 10; q++) s += model.wExp[row * 10 + q] * p[52 + q];
      v[c] = s;
    }
    const X0 = p[0] * v[0] + p[1] * v[1] + p[2] * v[2] + p[3];
    const X1 = p[4] * v[0] + p[5] * v[1] + p[6] * v[2] + p[7];
    const X2 = p[8] * v[0] + p[9] * v[1] + p[10] * v[2] + p[11];
    out[3 * k] = X0 - 1;
    out[3 * k + 1] = TDDFA_SIZE - X1;
    out[3 * k + 2] = X2;
  }
  return out;
}

/** Runs 3DDFA_V2 on a square crop of the image; returns 68 landmarks in image pixels and the params. */
export async function runTddfaFull(image: RgbImage, crop: CropBox, options: TddfaOptions = {}): Promise<TddfaResult> {
  const model = await loadTddfa(options);
  const mirror = options.mirror === true;
  // In the mirror's frame the crop's centre is W − 1 − cx and its rotation is −angle.
  if (mirror) crop = { ...crop, cx: image.width - 1 - crop.cx, angle: -(crop.angle ?? 0) };
  const input = new ort.Tensor('float32', tddfaInput(image, crop, mirror), [1, 3, TDDFA_SIZE, TDDFA_SIZE]);
  const res = await model.session.run({ [model.session.inputNames[0]]: input });
  const raw = res[model.session.outputNames[0]].data as Float32Array;
  if (raw.length !== 62) throw new ModelError(`3DDFA_V2 returned ${raw.length} numbers, expected 62`);
  const params = new Float32Array(62);
  for (let i = 0; i < 62; i++) params[i] = raw[i] * model.std[i] + model.mean[i];
  const pts = tddfaLandmarksCrop(model, params);
  const s = crop.side / TDDFA_SIZE;
  const cos = Math.cos(crop.angle ?? 0);
  const sin = Math.sin(crop.angle ?? 0);
  const half = crop.side / 2;
  let zmin = Infinity;
  for (let k = 0; k < 68; k++) {
    const a = pts[3 * k] * s - half;
    const b = pts[3 * k + 1] * s - half;
    pts[3 * k] = crop.cx + cos * a - sin * b;
    pts[3 * k + 1] = crop.cy + sin * a + cos * b;
    pts[3 * k + 2] *= s;
    zmin = Math.min(zmin, pts[3 * k + 2]);
  }
  for (let k = 0; k < 68; k++) pts[3 * k + 2] -= zmin;
  if (!mirror) return { points: pts, params };
  const back = new Float32Array(68 * 3);
  for (let k = 0; k < 68; k++) {
    const m = IBUG68_FLIP[k]!;
    back[3 * k] = image.width - 1 - pts[3 * m];
    back[3 * k + 1] = pts[3 * m + 1];
    back[3 * k + 2] = pts[3 * m + 2];
  }
  return { points: back, params };
}

/**
 * 3DDFA_V2's head pose from its de-normalised parameters, in the convention of the product's pose
 * (src/geometry/pose.ts, that of AFLW2000-3D's Pose_Para), degrees. The parameters' 3 × 4 camera
 * maps the 3DMM's frame (x right, y up, z towards the camera) into the crop with y up; its first
 * two rows, normalised, and their cross product are the rotation R (3DDFA_V2's own P2sRt). In the
 * image frame (y down) that is F·R·F with F = diag(1, −1, 1), then turned by the crop's angle.
 * For parameters of an unmirrored run only: runTddfaFull's `mirror` returns the mirrored input's
 * parameters (its yaw and roll would come out with the wrong sign).
 */
export function tddfaPose(params: ArrayLike<number>, cropAngle = 0): { yaw: number; pitch: number; roll: number } {
  const r0 = [params[0], params[1], params[2]];
  const r1 = [params[4], params[5], params[6]];
  const n0 = Math.hypot(r0[0], r0[1], r0[2]) || 1, n1 = Math.hypot(r1[0], r1[1], r1[2]) || 1;
  for (let k = 0; k < 3; k++) {
    r0[k] /= n0;
    r1[k] /= n1;
  }
  const r2 = [r0[1] * r1[2] - r0[2] * r1[1], r0[2] * r1[0] - r0[0] * r1[2], r0[0] * r1[1] - r0[1] * r1[0]];
  const img = flipRotationY([...r0, ...r1, ...r2]);
  const c = Math.cos(cropAngle), s = Math.sin(cropAngle);
  const out = new Float64Array(9);
  for (let j = 0; j < 3; j++) {
    out[j] = c * img[j] - s * img[3 + j];
    out[3 + j] = s * img[j] + c * img[3 + j];
    out[6 + j] = img[6 + j];
  }
  return rotationToAngles(out);
}

/** 68 × 3 landmarks in image pixels (z towards the camera, same pixel scale, min z = 0). */
export async function runTddfa(image: RgbImage, crop: CropBox, options: TddfaOptions = {}): Promise<Float32Array> {
  return (await runTddfaFull(image, crop, options)).points;
}

/**
 * 3DDFA_V2's crop rule for a set of landmarks (its "landmark" crop policy): a square around the
 * centre of the points' box with side √2 × the box's larger side, times `scale` (default 1).
 */
export function cropFromLandmarks(points: Float32Array, count = points.length / 3, scale = 1): CropBox {
  const [x0, y0, x1, y1] = pointsBounds(points.subarray(0, 3 * count), 3);
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, side: Math.SQRT2 * Math.max(x1 - x0, y1 - y0) * scale };
}
