/** The image limits, in a module without packages (the CLI's serve command reads them before loading any). */

/** Largest image, in pixels, that is decoded (about 100 megapixels, e.g. 10000 × 10000). */
export const MAX_IMAGE_PIXELS = 100_000_000;

/**
 * Longest side of an image that is decoded (65,535 pixels: JPEG's own limit). A sliver within the
 * pixel limit (a 214 KB PNG of 10 × 10,000,000) took libvips 10 s to decode, a row at a time.
 */
export const MAX_IMAGE_SIDE = 65_535;

/** The refusal of an image whose long side is over MAX_IMAGE_SIDE. */
export function sideMessage(w: number, h: number): string {
  return `image is ${w}×${h}: its long side is above the limit of ${MAX_IMAGE_SIDE.toLocaleString('en-US')} pixels`;
}

/**
 * Largest image file read (512 MiB): checked on the file's size before it is read, so a huge file
 * is refused without reading it. A 100-megapixel 8-bit RGB image is at most 300 MB uncompressed.
 */
export const MAX_IMAGE_BYTES = 512 * 2 ** 20;
