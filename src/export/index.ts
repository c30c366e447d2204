/**
 * export: pure serialisers for every output format — OBJ (+MTL), PLY, GLB and JSON. They return
 * strings or bytes; writing files (atomically) is the CLI's job, and PNG encoding is encodePng's
 * (src/io/image-node.ts). All 3D formats share one frame: x right, y up, z towards the viewer,
 * pixel units, counter-clockwise = front (see mesh.ts).
 */
export { toModelFrame, modelFrameNormals, uvFromFaceIndex, checkMesh, type FrameOptions, type Vertices, type Triangles } from './mesh.js';
export { writeObj, writeObjTextured, type ObjOptions, type TexturedObjOptions } from './obj.js';
export { writePly, type PlyOptions } from './ply.js';
export { writeGlb, srgbToLinear, type GlbMesh, type GlbOptions } from './glb.js';
export { roundNumber, toJson, type JsonOptions } from './json.js';
