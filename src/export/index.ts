/**
 * export: pure serialisers for every output format — OBJ (+MTL), PLY, GLB, JSON, NumPy .npy and MATLAB .mat. They return
 * strings or bytes; writing files (atomically) is the CLI's job, and PNG encoding is encodePng's
 * (src/io/image-node.ts). All 3D formats share one frame: x right, y up, z towards the viewer,
 * counter-clockwise = front, in pixel units unless a scale and origin are given (see mesh.ts).
 */
export {
  toModelFrame, modelFrameNormals, uvFromFaceIndex, checkMesh, meshFrame, mmPerPixel, MEAN_IPD_MM, MESH_UNITS,
  type FrameOptions, type MeshFrame, type MeshFrameOptions, type MeshUnits, type Vertices, type Triangles,
} from './mesh.js';
export { objSafeName, writeObj, writeObjBytes, writeObjTextured, writeObjTexturedBytes, type ObjOptions, type TexturedObjOptions } from './obj.js';
export { writePly, type PlyOptions } from './ply.js';
export { writeGlb, srgbToLinear, type GlbMesh, type GlbOptions, type HeadNode } from './glb.js';
export { roundNumber, toJson, type JsonOptions } from './json.js';
export { npyBytes } from './npy.js';
export { matBytes, type MatNumericClass, type MatVariable } from './mat.js';
