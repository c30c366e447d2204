/**
 * Face.suspect: one verdict from the two quality signals a reconstruction carries
 * (Face.flipDisagreement, Face.keypointDisagreement). The thresholds were chosen on AFLW2000-3D's
 * 1,000 dev images and checked on AFW's 337 faces, which played no part in choosing them
 * (docs/evaluation.md §0.17).
 */
import { KEYPOINT_FEATURES, keypointFeatures } from '../crop/keypoint-rule.js';
import { keypointDisagreement } from '../geometry/index.js';
import type { FaceBox } from '../types.js';

/** Face.flipDisagreement above this makes a face suspect. */
export const FLIP_SUSPECT = 0.1;
/** Face.keypointDisagreement above this makes a face suspect. */
export const KEYPOINT_SUSPECT = 0.12;

/**
 * True when either signal is over its threshold or not a finite number (degenerate landmarks: the
 * worst reconstruction of all), false when the signals a face has are within them, undefined when
 * it has neither (no flip, and no BlazeFace keypoints to check against).
 */
export function suspectFace(signals: { flipDisagreement?: number; keypointDisagreement?: number }): boolean | undefined {
  const { flipDisagreement: flip, keypointDisagreement: keypoints } = signals;
  if (flip === undefined && keypoints === undefined) return undefined;
  return (flip !== undefined && !(flip <= FLIP_SUSPECT)) || (keypoints !== undefined && !(keypoints <= KEYPOINT_SUSPECT));
}

/** Why a face is suspect, for a warning: the signals over their thresholds, e.g. "flip disagreement 0.14 > 0.1". */
export function suspectReasons(signals: { flipDisagreement?: number; keypointDisagreement?: number }): string[] {
  // Two decimals, more where fewer would read as the threshold itself (0.102 → "0.102", not "0.10").
  const shown = (v: number, threshold: number): string => {
    for (let d = 2; d < 12; d++) if (Number(v.toFixed(d)) > threshold) return v.toFixed(d);
    return String(v);
  };
  const reason = (what: string, v: number | undefined, threshold: number): string | null =>
    v === undefined || v <= threshold ? null : Number.isFinite(v) ? `${what} ${shown(v, threshold)} > ${threshold}` : `${what} not a number (degenerate landmarks)`;
  return [reason('flip disagreement', signals.flipDisagreement, FLIP_SUSPECT), reason('keypoint disagreement', signals.keypointDisagreement, KEYPOINT_SUSPECT)].filter((r): r is string => r !== null);
}

/**
 * Face.keypointDisagreement is given for faces whose crop is turned by at most this (radians):
 * BlazeFace's keypoints of a face lying sideways are not to be trusted (docs/evaluation.md §0.16).
 */
export const KEYPOINT_UPRIGHT = (45 * Math.PI) / 180;

/**
 * Face.keypointDisagreement of a face BlazeFace found (`box`: its detection, with keypoints), whose
 * reconstruction has these `landmarks` (68 × 3) in a crop turned by `angle` (radians): undefined
 * where the keypoints cannot be trusted (not 6 points the crop rule can use, e.g. left behind by
 * a moved box; a crop turned past KEYPOINT_UPRIGHT, unless `seenUpright`: keypoints found in a
 * turned copy of the photo where the face was upright, mapped back); NaN for degenerate landmarks
 * (a box of no size: suspectFace calls that suspect). The caller checks that the detector is
 * BlazeFace and that no other step turned the crop.
 */
export function detectorKeypointDisagreement(landmarks: Float32Array, box: FaceBox, angle: number, scratch = new Float64Array(KEYPOINT_FEATURES), seenUpright = false): number | undefined {
  const k = box.keypoints;
  if (!k || (!seenUpright && Math.abs(angle) > KEYPOINT_UPRIGHT) || !keypointFeatures(box, k, scratch)) return undefined;
  return keypointDisagreement(landmarks, k, 3, angle);
}
