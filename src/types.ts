/**
 * The nouns of the data flow (see DESIGN in the README):
 * image ─detect→ FaceBox ─crop→ CropTransform + 256² crop ─network→ PositionMap ─read-offs→ Face.
 *
 * Frames and units, everywhere in the library:
 * - image pixels: x right, y down, origin at the top-left pixel's centre (pixel (i, j) has its
 *   centre at x = i, y = j): landmarks, vertices, position maps, crop centres; a FaceBox alone
 *   spans pixel edges (x .. x + width covers the pixels it holds);
 * - z: towards the camera, larger = nearer, in the same pixel units as x and y;
 * - angles in results: degrees (pose, FaceJson), except the radians of a crop square's `angle`
 *   (Face.crop.square.angle; FaceJson's crop.angle is in degrees).
 */

/** An 8-bit RGB image, row-major, 3 bytes per pixel, no padding. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A float RGB image, row-major, 3 floats per pixel (values 0..1 unless stated). */
export interface FloatImage {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * An axis-aligned face box in image pixels, pixel-edge coordinates (x .. x + width covers the
 * pixels it holds), with the detector's confidence 0..1 (1 for user boxes).
 */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
  /**
   * The detector's keypoints when it gives them, flat x, y in the image's pixels, as pixel centres
   * (as the landmarks; the box's x..x+width are pixel edges): moving or scaling the box must move
   * them too (keypoints more than a box side from the box's centre are not used). The crop's
   * centre and Face.keypointDisagreement use them. BlazeFace: 6 points, the subject's right eye,
   * left eye, nose tip, mouth, right ear, left ear.
   */
  keypoints?: Float32Array;
}

/**
 * A PRNet position map: size × size × 3 floats, row-major over the UV layout, each pixel holding
 * the x, y, z of one surface point. The frame (crop or image) is said by whoever holds one.
 */
export interface PositionMap {
  size: number;
  data: Float32Array;
}
