/**
 * The UV layout module (browser-safe). Node code loads the committed asset with
 * loadLayout() from './node.js'; browsers fetch the asset's bytes and call parseLayout().
 */
export { parseLayout, type Layout } from './layout.js';
export { IBUG68_FLIP, LAYOUT_SIZE, mirrorFaceVertices, triangulateFaceGrid, weightClass, type MirrorMap } from './derive.js';
