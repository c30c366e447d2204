/**
 * render: the z-buffer rasteriser and what is built on it — depth images, visibility, colour
 * and texture rendering, texture warps, overlays and Poisson blending. Pure functions over typed
 * arrays and RgbImage; no files.
 */
export {
  rasterize,
  createRaster,
  clearRaster,
  interpolate,
  coverageMask,
  renderDepth,
  depthToGrey,
  depthToGreyIn,
  vertexVisibility,
  renderColors,
  type Raster,
  type GreyImage,
  type VertexArray,
  type TriangleArray,
} from './rasterize.js';
export { uvTexture, texelVisibility, gatherVertices, pixelWindow, intoWindow, textureColors, renderTexture, type PixelWindow, type UvTexture } from './texture.js';
export {
  drawLandmarks,
  drawPoseBox,
  drawMesh,
  drawLandmarksOnto,
  drawPoseBoxOnto,
  drawEdgesOnto,
  uniqueEdges,
  OverlayLayers,
  type OverlayLayerStyle,
  defaultThickness,
  faceStrokes,
  wireframeStep,
  type FaceStrokes,
  type Color,
  type LandmarkStyle,
  type PoseBoxStyle,
  type MeshStyle,
} from './overlay.js';
export {
  completeUvTexture, pullPush, sampleTextureAtUv,
  type CompleteTextureOptions, type CompletedTexture, type TextureLayout, type TextureSources,
} from './texture-complete.js';
export { poissonBlend, type PoissonOptions } from './blend.js';
