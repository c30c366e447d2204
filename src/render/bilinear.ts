/** Bilinear reads of packed RGB images. */

/**
 * The colour of a packed RGB image (width × height × 3, values as stored) at (x, y) in pixel-centre
 * coordinates, bilinearly between the four nearest pixels, the point clamped to the pixel centres:
 * written unrounded to out[0..2].
 */
export function bilinearRgb(data: ArrayLike<number>, width: number, height: number, x: number, y: number, out: Float64Array | number[]): void {
  const xc = x < 0 ? 0 : x > width - 1 ? width - 1 : x;
  const yc = y < 0 ? 0 : y > height - 1 ? height - 1 : y;
  const x0 = Math.floor(xc), y0 = Math.floor(yc);
  const x1 = x0 + 1 < width ? x0 + 1 : x0;
  const y1 = y0 + 1 < height ? y0 + 1 : y0;
  const fx = xc - x0, fy = yc - y0;
  const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
  const o00 = 3 * (y0 * width + x0), o10 = 3 * (y0 * width + x1), o01 = 3 * (y1 * width + x0), o11 = 3 * (y1 * width + x1);
  for (let c = 0; c < 3; c++) out[c] = w00 * data[o00 + c] + w10 * data[o10 + c] + w01 * data[o01 + c] + w11 * data[o11 + c];
}
