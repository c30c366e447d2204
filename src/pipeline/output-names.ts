/**
 * The names of the files `prnet reconstruct` (buildOutputs) writes for an image named `stem`: one
 * table for the writer, the rerun's clean-up, the batch worker's sweep of temporaries and the
 * input listing that skips our own images.
 */

/**
 * The endings of a face's files after `stem_face<i>`: JSON, OBJ, textured OBJ + MTL + PNG, PLY, GLB,
 * and those written only when asked for (position map, texture mask, frontal OBJ, MATLAB mesh).
 */
export const FACE_FILE_SUFFIXES = ['.json', '.obj', '_textured.obj', '_textured.mtl', '_texture.png', '.ply', '.glb', '_posmap.npy', '_texture_mask.png', '_frontal.obj', '_mesh.mat'] as const;

/** The endings of an image's own files after `stem`: the depth image and the three overlays. */
export const IMAGE_FILE_SUFFIXES = ['_depth.png', '_landmarks.png', '_pose.png', '_mesh.png'] as const;

/** The prefix of face `index`'s files of the image named `stem`: `stem_face<index>`. */
export function faceFileBase(stem: string, index: number): string {
  return `${stem}_face${index}`;
}

/** A string as a regular expression that matches it literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A regular expression source matching what follows `stem` in any of its output files' names
 * (`_face<i>` and a face ending, or an image ending); `pngOnly` keeps the PNG images only.
 */
export function outputSuffixPattern(pngOnly = false): string {
  const face = FACE_FILE_SUFFIXES.filter((s) => !pngOnly || s.endsWith('.png'));
  const image = IMAGE_FILE_SUFFIXES.filter((s) => !pngOnly || s.endsWith('.png'));
  return `(?:_face\\d+(?:${face.map(escapeRegExp).join('|')})|${image.map(escapeRegExp).join('|')})`;
}

/**
 * A regular expression matching the names of the PNG images a job of these formats writes for the
 * image named `stem` (the depth image for `depth`, the three overlays for `overlay`, each face's
 * texture for `textured` and its mask for `mask`), in any case; null when it writes none.
 */
export function pngOutputPattern(stem: string, formats: Iterable<string>): RegExp | null {
  const f = new Set(formats);
  const image = [...(f.has('depth') ? ['_depth.png'] : []), ...(f.has('overlay') ? ['_landmarks.png', '_pose.png', '_mesh.png'] : [])];
  const face = [...(f.has('textured') ? ['_texture.png'] : []), ...(f.has('mask') ? ['_texture_mask.png'] : [])];
  const parts = [...image.map(escapeRegExp), ...(face.length ? [`_face\\d+(?:${face.map(escapeRegExp).join('|')})`] : [])];
  // (case-blind: on a case-folding file system Y_MESH.png is y_mesh.png)
  return parts.length ? new RegExp(`^${escapeRegExp(stem)}(?:${parts.join('|')})$`, 'i') : null;
}
