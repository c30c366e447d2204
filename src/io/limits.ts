/** The image limits, in a module without packages (the CLI's serve command reads them before loading any). */

/** Largest image, in pixels, that is decoded (about 100 megapixels, e.g. 10000 × 10000). */
export const MAX_IMAGE_PIXELS = 100_000_000;

/**
 * Largest image file read (512 MiB): checked on the file's size before it is read, so a huge file
 * is refused without reading it. A 100-megapixel 8-bit RGB image is at most 300 MB uncompressed.
 */
export const MAX_IMAGE_BYTES = 512 * 2 ** 20;
