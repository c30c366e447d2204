/**
 * prnet-ts for Node.js: PRNet 3D face reconstruction and dense alignment.
 *
 *   import { createPrnet, decodeImageFile } from 'prnet-ts';
 *   const prnet = await createPrnet();                 // bundled default model, built-in detector
 *   const { faces } = await prnet.reconstruct(await decodeImageFile('photo.jpg'));
 *   faces[0].landmarks; faces[0].vertices; faces[0].pose.yaw;
 */
export { createPrnet, producerJson, reconstructFile, resolveModel, BUNDLED_MODELS, type PrnetOptions } from './pipeline/node.js';
export { Prnet, type BoxInput, type ReconstructOptions, type ReconstructResult, type StageTimings, type TestTimeOptions } from './pipeline/prnet.js';
export {
  faceColors, faceMesh, faceTexture, faceToJson, headCentre, POSE_CONVENTION, TEXTURE_SIZES,
  type Face, type FaceJson, type ProducerJson, type FaceMesh, type FaceTexture, type FaceTextureOptions,
} from './pipeline/face.js';
export { ALL_OUTPUT_FORMATS, buildOutputs, EXTRA_OUTPUT_FORMATS, OUTPUT_FORMATS, type OutputFormat, type OutputFile, type OutputOptions, type PngEncoder } from './pipeline/outputs.js';
export { toRgbImage, isPixelImage, type PixelImage } from './io/pixels.js';
export { swapFaceTexture, type SwapOptions } from './pipeline/swap.js';
export { decodeImageFile, decodeImageBuffer, encodePng, MAX_IMAGE_PIXELS, type DecodedImage } from './io/image-node.js';
export { AbortedError, DisposedError, InputError, ModelError, NoFaceError, OutputError, PrnetError, UnsupportedImageError, escapeControl } from './errors.js';
export type { RgbImage, FloatImage, FaceBox, PositionMap } from './types.js';
export { loadLayout } from './layout/node.js';
export { parseLayout, type Layout } from './layout/index.js';
export * from './geometry/index.js';
export * from './crop/index.js';
export * from './render/index.js';
export {
  writeObj, writeObjBytes, writeObjTextured, writeObjTexturedBytes, writePly, writeGlb, npyBytes, matBytes, toJson, toModelFrame, uvFromFaceIndex, meshFrame, mmPerPixel, MEAN_IPD_MM,
  type GlbMesh, type GlbOptions, type HeadNode, type MeshFrame, type MeshFrameOptions, type MeshUnits, type FrameOptions, type ObjOptions,
  type TexturedObjOptions, type PlyOptions, type JsonOptions, type Vertices, type Triangles, type MatVariable, type MatNumericClass,
} from './export/index.js';
export type { DecodeOptions as ImageDecodeOptions, PngOptions } from './io/image-node.js';
export { createDetector, type Detector, type DetectorKind, type DetectorOptions } from './detect/index.js';
export { MIN_SCORE_FLOOR } from './detect/detector.js';
export type { Orientation, OrientationReading } from './detect/orientation.js';
export { createSession, graphCacheDir, PrnetSession, type GraphSource, type SessionOptions } from './runtime/index.js';
export {
  importCheckpoint, parseModelFile, serializeModel, randomWeights, readModelFile, writeModelFile, RESFCN256, multiplyAdds,
  type ModelWeights, type ResfcnConfig, type Precision, type Architecture,
} from './model/index.js';
export type { ModelCard, SerializeOptions } from './model/weights.js';
export type { ImportOptions } from './model/import-checkpoint.js';
export type { ProbeOptions, DecodeOptions as VideoDecodeOptions, DecodedFrame, DecodeReport, EncoderOptions, AudioMuxOptions } from './video/ffmpeg.js';
export { processVideo, probeVideo, decodeFrames, VideoEncoder, muxAudio, overlayRate, FfmpegMissingError, VideoAbortError, MAX_VIDEO_PIXELS, type VideoInfo, type VideoRunOptions, type VideoRunResult } from './video/index.js';
export * from './track/index.js'; // the same list as the browser entry's
export { VideoOverlay } from './video/index.js';
export { writeAnimatedGlb, decimateFaceGrid, pickVertices, rotationQuaternion, type AnimatedMesh, type AnimatedGlbOptions, type DecimatedMesh, type FramePose } from './export/glb-animation.js';
export { TrackAnimation, type TrackAnimationOptions, type TrackAnimationInfo } from './export/track-animation.js';
