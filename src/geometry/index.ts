/** Read-offs from a position map: landmarks, vertices, colours, normals, pose. Pure; typed arrays in and out. */
export { insideShare, readLandmarks, readVertices, selectVertices } from './readoffs.js';
export { sampleColors } from './colors.js';
export { vertexNormals } from './normals.js';
export { anglesToRotation, centroid, estimatePose, fitSimilarity, flipRotationY, frontalize, intoPoseFrame, poseMatrix, prepareSource, quaternionOf, rotationQuaternion, rotationToAngles, transformPoint, type Pose, type PreparedSource } from './pose.js';
export { flipDisagreement, mirrorImage, mergeFlippedMap } from './flip.js';
export { foldFraction, foldedTriangles, triangleNormals } from './folds.js';
export { keypointDisagreement } from './keypoints.js';
export { coarseMask, MAX_SMOOTH, smoothPositionMap } from './smooth.js';
