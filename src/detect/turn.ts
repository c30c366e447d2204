/**
 * Images turned by quarter turns, and boxes found in a turned image mapped back: the looks at a
 * photo turned without its EXIF tag (pipeline/prnet.ts). Pure typed-array code (shared with the
 * browser).
 */
import type { FaceBox, RgbImage } from '../types.js';

/** Clockwise quarter turns: 1 is 90°, 2 is 180°, 3 is 270°. */
export type QuarterTurns = 1 | 2 | 3;

/** The image turned clockwise by `q` quarter turns (a new image; 1 and 3 swap width and height). */
export function turnImage(image: RgbImage, q: QuarterTurns): RgbImage {
  const { width: W, height: H, data: src } = image;
  const w = q === 2 ? W : H;
  const h = q === 2 ? H : W;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0, o = 0; y < h; y++) {
    for (let x = 0; x < w; x++, o += 3) {
      // The source pixel of turned pixel (x, y).
      const sx = q === 1 ? y : q === 2 ? W - 1 - x : W - 1 - y;
      const sy = q === 1 ? H - 1 - x : q === 2 ? H - 1 - y : x;
      const i = (sy * W + sx) * 3;
      data[o] = src[i];
      data[o + 1] = src[i + 1];
      data[o + 2] = src[i + 2];
    }
  }
  return { width: w, height: h, data };
}

/**
 * A point of the turned image back in the unturned one's frame, in edge coordinates (a pixel's
 * corners at whole numbers, as boxes are): W and H are the unturned image's size.
 */
function edgePointBack(u: number, v: number, q: QuarterTurns, W: number, H: number): [number, number] {
  return q === 1 ? [v, H - u] : q === 2 ? [W - u, H - v] : [W - v, u];
}

/**
 * A box found in the image turned by `q` (turnImage), back in the frame of the unturned image
 * (`width` × `height`), then scaled by `scaleX`, `scaleY` (from a downscaled copy to the photo,
 * as downscaleToFit gives them): the box around its turned corners, the keypoints (pixel centres)
 * turned and scaled alike. The score is kept.
 */
export function boxFromTurned(box: FaceBox, q: QuarterTurns, width: number, height: number, scaleX = 1, scaleY = 1): FaceBox {
  const [ax, ay] = edgePointBack(box.x, box.y, q, width, height);
  const [bx, by] = edgePointBack(box.x + box.width, box.y + box.height, q, width, height);
  const x = Math.min(ax, bx), y = Math.min(ay, by);
  const out: FaceBox = { x: x * scaleX, y: y * scaleY, width: Math.abs(bx - ax) * scaleX, height: Math.abs(by - ay) * scaleY, score: box.score };
  if (box.keypoints) {
    const k = box.keypoints;
    const back = new Float32Array(k.length);
    for (let i = 0; i + 1 < k.length; i += 2) {
      // pixel centres: the point half a pixel in, turned as an edge point, half a pixel back
      const [u, v] = edgePointBack(k[i] + 0.5, k[i + 1] + 0.5, q, width, height);
      back[i] = u * scaleX - 0.5;
      back[i + 1] = v * scaleY - 0.5;
    }
    out.keypoints = back;
  }
  return out;
}
