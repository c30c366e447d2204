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
 * Puts `source`'s face texture onto `target`'s face. Texels the source photo does not show
 * (occluded or outside it) are taken from the target's own texture.
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
  const src = faceTexture(sourceImage, sourceFace, layout, { complete: false });
  const dst = faceTexture(targetImage, targetFace, layout, { complete: false });
  const n = layout.size * layout.size;
  const tex = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const useTarget = src.mask[i] === 0 || (options.keepEyes && layout.eyeMask[i] !== 0);
    const from = useTarget ? dst.texture.data : src.texture.data;
    tex[3 * i] = from[3 * i];
    tex[3 * i + 1] = from[3 * i + 1];
    tex[3 * i + 2] = from[3 * i + 2];
  }
  const texture = { width: layout.size, height: layout.size, data: tex };
  const { image, mask } = renderTexture(texture, layout.faceIndex, targetFace.vertices, layout.triangles, targetImage.width, targetImage.height, targetImage);
  if (options.blend === false) return image;
  return poissonBlend(targetImage, image, mask);
}
