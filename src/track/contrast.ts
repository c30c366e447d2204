/**
 * How much picture a face's region holds: a frame gone black (a cut, a fade, a lens cap) or a flat
 * wall where a face was leaves a tracked crop without contrast, and the network still draws a
 * face there. Pure typed-array code (Node and the browser).
 */
import type { RgbImage } from '../types.js';
import { landmarkBounds } from './motion.js';

/** Samples per side of the grid read inside the landmarks' box. */
const GRID = 16;

/**
 * Below this standard deviation of the luma (0..255) inside the landmarks' box, the region is
 * blank: a black frame reads 0–0.5 (its compression noise), a face in dim light 10 or more.
 */
export const BLANK_CONTRAST = 2;

/**
 * The standard deviation of the luma (0..255, Rec. 601 weights) over a GRID × GRID grid of pixels
 * inside the bounding box of a face's landmarks (x, y first of each `dims` numbers), clipped to the
 * image; NaN when the box lies outside the image or the landmarks are not finite.
 */
export function faceContrast(image: RgbImage, landmarks: ArrayLike<number>, dims = 3): number {
  const [l, t, r, b] = landmarkBounds(landmarks, dims);
  const x0 = Math.max(0, Math.floor(l));
  const y0 = Math.max(0, Math.floor(t));
  const x1 = Math.min(image.width - 1, Math.ceil(r));
  const y1 = Math.min(image.height - 1, Math.ceil(b));
  if (!(x1 >= x0 && y1 >= y0)) return NaN;
  const { data, width } = image;
  let sum = 0;
  let sq = 0;
  for (let j = 0; j < GRID; j++) {
    const y = Math.round(y0 + ((y1 - y0) * (j + 0.5)) / GRID);
    for (let i = 0; i < GRID; i++) {
      const x = Math.round(x0 + ((x1 - x0) * (i + 0.5)) / GRID);
      const k = (y * width + x) * 3;
      const v = 0.299 * data[k] + 0.587 * data[k + 1] + 0.114 * data[k + 2];
      sum += v;
      sq += v * v;
    }
  }
  const n = GRID * GRID;
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sq / n - mean * mean));
}
