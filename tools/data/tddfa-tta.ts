/**
 * Test-time augmentation for the 3DDFA_V2 teacher: several passes over one face, their 68 points
 * combined into one set.
 *
 * The passes (each one 120² network call, ~1.5 ms on one core):
 * 1. re-crop: 3DDFA_V2's own second step — a first pass on the given crop, then the landmark crop
 *    rule (`cropFromLandmarks`: √2 × the larger side of the points' box) on its 68 points, `recrop`
 *    times; the last crop is the centre crop;
 * 2. the centre crop, and crop jitters around it (shift in fractions of the side, scale factor);
 * 3. with `flip`, each of those crops also on the mirrored image, its points mapped back
 *    (x → W − 1 − x, iBUG left-right permutation; tddfa.ts `mirror`).
 * The points of the passes in 2–3 are combined per coordinate (`mean`, `median`, or a `trimmed`
 * mean that drops the lowest and highest fifth); each pass's z is first shifted to zero mean over
 * its 68 points (3DDFA_V2's z offset is arbitrary), and the result's smallest z is shifted to 0.
 *
 * Presets (`TDDFA_TTA_PRESETS`) are named after what they add; the labeller's default is chosen by
 * measurement on the AFLW2000-3D dev images (`scripts/tddfa-tta-eval.ts`, docs/ground-truth.md).
 */
import type { RgbImage } from '../../src/types.js';
import { cropFromLandmarks, runTddfaFull, type CropBox, type TddfaOptions } from './tddfa.js';

/** A crop jitter: centre shifted by (dx, dy) × side, side × scale, turned by `angle` radians (default 0). */
export interface CropJitter {
  dx: number;
  dy: number;
  scale: number;
  angle?: number;
}

export type TtaAggregate = 'mean' | 'median' | 'trimmed';

export interface TddfaTtaOptions {
  /** Re-crop rounds from the previous pass's landmarks before the final passes (default 1; 0 = use the given crop). */
  recrop?: number;
  /** Also run each crop on the mirrored image (default true). */
  flip?: boolean;
  /** Extra crops around the centre crop (default none). */
  jitter?: readonly CropJitter[];
  /** How the final passes' points are combined (default 'mean'). */
  aggregate?: TtaAggregate;
}

/** Shifts ±5 % of the side in x and y, and scales 0.9 and 1.1: six jitters. */
export const TTA_JITTERS: readonly CropJitter[] = Object.freeze([
  { dx: -0.05, dy: 0, scale: 1 }, { dx: 0.05, dy: 0, scale: 1 },
  { dx: 0, dy: -0.05, scale: 1 }, { dx: 0, dy: 0.05, scale: 1 },
  { dx: 0, dy: 0, scale: 0.9 }, { dx: 0, dy: 0, scale: 1.1 },
]);

/** In-plane rotations of ±10°. */
export const TTA_ROTATIONS: readonly CropJitter[] = Object.freeze([
  { dx: 0, dy: 0, scale: 1, angle: -Math.PI / 18 }, { dx: 0, dy: 0, scale: 1, angle: Math.PI / 18 },
]);

/** Named TTA settings. 'plain' is one pass on the given crop (the labeller's behaviour before TTA). */
export const TDDFA_TTA_PRESETS = {
  plain: { recrop: 0, flip: false, jitter: [], aggregate: 'mean' },
  flip: { recrop: 0, flip: true, jitter: [], aggregate: 'mean' },
  recrop: { recrop: 1, flip: false, jitter: [], aggregate: 'mean' },
  'recrop-flip': { recrop: 1, flip: true, jitter: [], aggregate: 'mean' },
  'recrop-flip-rot': { recrop: 1, flip: true, jitter: TTA_ROTATIONS, aggregate: 'mean' },
  'recrop-flip-jitter-rot': { recrop: 1, flip: true, jitter: [...TTA_JITTERS, ...TTA_ROTATIONS], aggregate: 'mean' },
} as const satisfies Record<string, Required<TddfaTtaOptions>>;

export type TddfaTtaPreset = keyof typeof TDDFA_TTA_PRESETS;

/**
 * The labeller's default, chosen by measurement (docs/ground-truth.md §3): 7 passes; on the 1,000
 * AFLW2000-3D dev images within 0.01 % NME of the 15–36-pass variants, 0.17 % (FaceMesh crop) and
 * 0.46 % (BlazeFace box crop) below one pass.
 */
export const DEFAULT_TDDFA_TTA: TddfaTtaPreset = 'recrop-flip-rot';

export interface TddfaTtaResult {
  /** 68 × 3 combined landmarks, image pixels (z towards the camera, min z = 0). */
  points: Float32Array;
  /** The parameters of the un-mirrored pass on the centre crop. */
  params: Float32Array;
  /** The centre crop (after re-cropping). */
  crop: CropBox;
  /** Network calls made. */
  passes: number;
}

/** The crop moved by a jitter. */
export function jitterCrop(c: CropBox, j: CropJitter): CropBox {
  const angle = (c.angle ?? 0) + (j.angle ?? 0);
  return { cx: c.cx + j.dx * c.side, cy: c.cy + j.dy * c.side, side: c.side * j.scale, ...(angle ? { angle } : {}) };
}

/**
 * Combines several 68 × 3 point sets per coordinate. Each set's z is shifted to zero mean first;
 * the result's smallest z is 0. `trimmed` drops floor(n / 5) values at each end (the mean for n < 5).
 */
export function aggregatePoints(sets: readonly ArrayLike<number>[], mode: TtaAggregate = 'mean'): Float32Array {
  const n = sets.length;
  if (n === 0) throw new Error('aggregatePoints: no point sets');
  const len = sets[0]!.length;
  const zMean = sets.map((s) => {
    let z = 0;
    for (let i = 2; i < len; i += 3) z += s[i] as number;
    return z / (len / 3);
  });
  const out = new Float32Array(len);
  const vals = new Float64Array(n);
  const cut = mode === 'trimmed' ? Math.floor(n / 5) : 0;
  for (let i = 0; i < len; i++) {
    const dz = i % 3 === 2;
    for (let k = 0; k < n; k++) vals[k] = (sets[k]![i] as number) - (dz ? zMean[k]! : 0);
    if (mode === 'mean' || n < 3) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vals[k]!;
      out[i] = s / n;
      continue;
    }
    vals.sort();
    if (mode === 'median') out[i] = n % 2 ? vals[(n - 1) / 2]! : (vals[n / 2 - 1]! + vals[n / 2]!) / 2;
    else {
      let s = 0;
      for (let k = cut; k < n - cut; k++) s += vals[k]!;
      out[i] = s / (n - 2 * cut);
    }
  }
  let zmin = Infinity;
  for (let i = 2; i < len; i += 3) zmin = Math.min(zmin, out[i]!);
  for (let i = 2; i < len; i += 3) out[i]! -= zmin;
  return out;
}

/** Resolves a preset name or options to complete options. */
export function ttaOptions(tta: TddfaTtaPreset | TddfaTtaOptions = DEFAULT_TDDFA_TTA): Required<TddfaTtaOptions> {
  if (typeof tta === 'string') {
    const p = TDDFA_TTA_PRESETS[tta];
    if (!p) throw new Error(`unknown 3DDFA_V2 TTA preset "${tta}" (known: ${Object.keys(TDDFA_TTA_PRESETS).join(', ')})`);
    return p;
  }
  return { recrop: tta.recrop ?? 1, flip: tta.flip ?? true, jitter: tta.jitter ?? [], aggregate: tta.aggregate ?? 'mean' };
}

/** 3DDFA_V2 with test-time augmentation on a face whose first crop is `crop` (see the module doc). */
export async function runTddfaTta(
  image: RgbImage,
  crop: CropBox,
  tta: TddfaTtaPreset | TddfaTtaOptions = DEFAULT_TDDFA_TTA,
  options: Omit<TddfaOptions, 'mirror'> = {},
): Promise<TddfaTtaResult> {
  const o = ttaOptions(tta);
  let passes = 0;
  let centre = crop;
  for (let r = 0; r < o.recrop; r++) {
    const first = await runTddfaFull(image, centre, options);
    passes++;
    centre = cropFromLandmarks(first.points, 68);
  }
  const main = await runTddfaFull(image, centre, options);
  passes++;
  const sets: Float32Array[] = [main.points];
  const crops = [centre, ...o.jitter.map((j) => jitterCrop(centre, j))];
  for (let i = 0; i < crops.length; i++) {
    if (i > 0) {
      sets.push((await runTddfaFull(image, crops[i]!, options)).points);
      passes++;
    }
    if (o.flip) {
      sets.push((await runTddfaFull(image, crops[i]!, { ...options, mirror: true })).points);
      passes++;
    }
  }
  const points = sets.length === 1 ? main.points : aggregatePoints(sets, o.aggregate);
  return { points, params: main.params, crop: centre, passes };
}
