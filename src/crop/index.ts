/** The crop module: box → square crop → 256² and back. Pure; shared by Node and the browser. */
export { CROP_SIZE, applyAffine, cropTransform, invertAffine } from './transform.js';
export type { Affine, CropSquare, CropTransform } from './transform.js';
export {
  BOX_RULES,
  LANDMARK_CROP_FACTOR,
  MIN_CROP_ROLL,
  cropFromBox,
  cropFromLandmarks,
  cropFromUserBox,
  landmarkRoll,
  pointsBounds,
  rolledSquareFromLandmarks,
  squareFromBox,
  squareFromLandmarks,
} from './rules.js';
export type { BoxKind, BoxLike, BoxToCropRule, Points } from './rules.js';
export { wrapAngle } from './keypoint-rule.js';
export { uncropEnlarged, uncropPoint, uncropPositionMap, warpCrop, writeCropInput } from './warp.js';
