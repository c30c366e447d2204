/** Where things are: the repository root and the read-only reference data next to it. */
import { resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const SHARED = resolve(REPO, '../shared');
export const EVAL = resolve(SHARED, 'eval');
/** 512×512 portrait, one face. */
export const ASTRONAUT = resolve(EVAL, 'portraits/astronaut.png');
/** A photo with three faces (dlib example). */
export const GROUP_PHOTO = resolve(EVAL, 'ibug68/2008_001322.jpg');
/** A 450×450 AFLW2000-3D photo, one face. */
export const AFLW_PHOTO = resolve(EVAL, 'aflw2000-3d/image00050.jpg');
