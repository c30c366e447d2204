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
 * True when either signal is over its threshold, false when the signals a face has are within
 * them, undefined when it has neither (no flip, and no BlazeFace keypoints to check against).
 */
export function suspectFace(signals: { flipDisagreement?: number; keypointDisagreement?: number }): boolean | undefined {
  const { flipDisagreement: flip, keypointDisagreement: keypoints } = signals;
  if (flip === undefined && keypoints === undefined) return undefined;
  return (flip !== undefined && flip > FLIP_SUSPECT) || (keypoints !== undefined && keypoints > KEYPOINT_SUSPECT);
}

/** Why a face is suspect, for a warning: the signals over their thresholds, e.g. "flip disagreement 0.14 > 0.1". */
export function suspectReasons(signals: { flipDisagreement?: number; keypointDisagreement?: number }): string[] {
  // Two decimals, three where two would read as the threshold itself (0.102 → "0.10 > 0.1").
  const shown = (v: number, threshold: number): string => (Number(v.toFixed(2)) > threshold ? v.toFixed(2) : v.toFixed(3));
  const out: string[] = [];
  if (signals.flipDisagreement !== undefined && signals.flipDisagreement > FLIP_SUSPECT) out.push(`flip disagreement ${shown(signals.flipDisagreement, FLIP_SUSPECT)} > ${FLIP_SUSPECT}`);
  if (signals.keypointDisagreement !== undefined && signals.keypointDisagreement > KEYPOINT_SUSPECT) out.push(`keypoint disagreement ${shown(signals.keypointDisagreement, KEYPOINT_SUSPECT)} > ${KEYPOINT_SUSPECT}`);
  return out;
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
 * a moved box; a crop turned past KEYPOINT_UPRIGHT) or the value is not finite. The caller checks
 * that the detector is BlazeFace and that no other step turned the crop.
 */
export function detectorKeypointDisagreement(landmarks: Float32Array, box: FaceBox, angle: number, scratch = new Float64Array(KEYPOINT_FEATURES)): number | undefined {
  const k = box.keypoints;
  if (!k || Math.abs(angle) > KEYPOINT_UPRIGHT || !keypointFeatures(box, k, scratch)) return undefined;
  const d = keypointDisagreement(landmarks, k, 3, angle);
  return Number.isFinite(d) ? d : undefined;
}
