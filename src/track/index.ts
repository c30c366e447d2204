/**
 * The track module: video over the pipeline — tracking faces from frame to frame (crop from the
 * previous landmarks, detector when lost), temporal stabilisation (One-Euro filter with a
 * still-face hold) and the measures of jitter and lag. Pure TypeScript, shared by Node and the
 * browser.
 */
export { OneEuroFilter, OneEuroVector, smoothingFactor, type OneEuroOptions } from './one-euro.js';
export { IBUG68_PARTS, faceSize, landmarkBounds, partCentroids, partMotion } from './motion.js';
export { FaceStabilizer, DEFAULT_STABILIZER, MAX_FRAME_GAP_S, resolveStabilizerOptions, type StabilizerOptions, type StabilizedFace } from './stabilizer.js';
export { CropSmoother, DEFAULT_CROP_SMOOTHING, type CropSmoothingOptions } from './crop-smoother.js';
export { FaceTracker, DEFAULT_TRACKER, squareIou, type LostReason, type LostTrack, type TrackFraming, type TrackPlan, type TrackerOptions } from './tracker.js';
export { VideoTracker, resolveStabilize, type FramePipeline, type TrackedFace, type VideoFrameResult, type VideoOptions } from './video.js';
export { landmarkJitter, meanCoordinate, motionJitter, trajectoryLag, type Jitter } from './metrics.js';
export { FACE_REGIONS, faceRegions, type FaceRegion } from './regions.js';
export { selectVertices } from '../geometry/readoffs.js';
