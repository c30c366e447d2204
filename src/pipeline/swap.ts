/**
 * Texture editing, as the original's texture demo: the source face's UV texture rendered with the
 * target face's geometry and blended into the target photo (Poisson blending).
 */
import type { Layout } from '../layout/index.js';
import { poissonBlend, renderTexture } from '../render/index.js';
import type { RgbImage } from '../types.js';
import { toRgbImage, type PixelImage } from '../io/pixels.js';
import { faceTexture, type Face } from './face.js';
import { checkBooleans, checkKnownOptions } from '../track/options.js';

export interface SwapOptions {
  /** Keep the target's own eyes: the photo's pixels where the layout's eye region lies on the target face. */
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
  options ??= {};
  checkKnownOptions(options, ['keepEyes', 'blend'], 'swapFaceTexture option', { eyes: 'keepEyes' });
  checkBooleans(options, ['keepEyes', 'blend'], 'swapFaceTexture option');
  // RGBA or grey bytes (as reconstruct takes) are read as RGB; the result is RGB.
  const sourceImage = toRgbImage(sourceInput);
  const targetImage = toRgbImage(targetInput);
  const { texture } = faceTexture(sourceImage, sourceFace, layout);
  const { image, mask, raster } = renderTexture(texture, layout.faceIndex, targetFace.vertices, layout.triangles, targetImage.width, targetImage.height, targetImage);
  if (options.keepEyes) keepTargetEyes(image, mask, raster.triangle, targetImage, layout);
  if (options.blend === false) return image;
  return poissonBlend(targetImage, image, mask);
}

/**
 * The target photo's own pixels where the target face's eye region lies (the triangles whose three
 * vertices are in the layout's eye mask), taken out of the blend's domain: the blend meets them as
 * it meets the face's outline. (Copying the target's eye texels into the source's texture instead
 * left the blend a colour step between the two people's skin and the eyes to carry, which turned a
 * grey target's eyes blue and a dark one's black.)
 */
function keepTargetEyes(image: RgbImage, mask: Uint8Array, triangleAt: Int32Array, target: RgbImage, layout: Layout): void {
  const { triangles, faceIndex, eyeMask } = layout;
  const eye = (v: number): boolean => eyeMask[faceIndex[v]] !== 0;
  for (let i = 0; i < mask.length; i++) {
    const t = triangleAt[i];
    if (t < 0 || !eye(triangles[3 * t]) || !eye(triangles[3 * t + 1]) || !eye(triangles[3 * t + 2])) continue;
    mask[i] = 0;
    image.data[3 * i] = target.data[3 * i];
    image.data[3 * i + 1] = target.data[3 * i + 1];
    image.data[3 * i + 2] = target.data[3 * i + 2];
  }
}
