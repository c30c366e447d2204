/**
 * Texture editing, as the original's texture demo: the source face's UV texture rendered with the
 * target face's geometry and blended into the target photo (Poisson blending).
 */
import type { Layout } from '../layout/index.js';
import { poissonBlend, renderTexture } from '../render/index.js';
import type { RgbImage } from '../types.js';
import { toRgbImage, type PixelImage } from '../io/pixels.js';
import { faceTexture, type Face } from './face.js';

export interface SwapOptions {
  /** Keep the target's own eyes (the layout's eye region of the target's texture). */
  keepEyes?: boolean;
  /** Poisson blending (default true); false pastes the rendered face as it is. */
  blend?: boolean;
}

/**
 * Puts `source`'s face texture onto `target`'s face: the source's complete texture (faceTexture's
 * default), so texels the source photo does not show (a turned face's far side, occluded or outside
 * the photo) come from the source's mirrored side or its smooth fill, never from the target's own
 * skin: a patchwork of two people's colours and lighting that blending cannot hide (a 62°-turned
 * source left a quarter of the face the target's).
 */
export function swapFaceTexture(
  sourceInput: RgbImage | PixelImage,
  sourceFace: Face,
  targetInput: RgbImage | PixelImage,
  targetFace: Face,
  layout: Layout,
  options: SwapOptions = {},
): RgbImage {
  // RGBA or grey bytes (as reconstruct takes) are read as RGB; the result is RGB.
  const sourceImage = toRgbImage(sourceInput);
  const targetImage = toRgbImage(targetInput);
  const src = faceTexture(sourceImage, sourceFace, layout);
  const tex = src.texture.data;
  if (options.keepEyes) {
    // The target's own eyes: the eye region of its (complete) texture.
    const dst = faceTexture(targetImage, targetFace, layout).texture.data;
    for (let i = 0; i < layout.eyeMask.length; i++) {
      if (layout.eyeMask[i] !== 0) tex.set(dst.subarray(3 * i, 3 * i + 3), 3 * i);
    }
  }
  const texture = { width: layout.size, height: layout.size, data: tex };
  const { image, mask } = renderTexture(texture, layout.faceIndex, targetFace.vertices, layout.triangles, targetImage.width, targetImage.height, targetImage);
  if (options.blend === false) return image;
  return poissonBlend(targetImage, image, mask);
}
