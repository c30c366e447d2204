/**
 * The result of one reconstructed face, and its read-offs. A `Face` holds typed arrays (the
 * library's view); `faceToJson` gives the plain object the CLI writes as `<name>.json`.
 */
import type { CropTransform } from '../crop/index.js';
import { meshFrame, modelFrameNormals, toModelFrame, uvFromFaceIndex, type MeshFrame, type MeshFrameOptions } from '../export/index.js';
import { centroid, flipRotationY, sampleColors, transformPoint, vertexNormals, type Pose } from '../geometry/index.js';
import type { Layout } from '../layout/index.js';
import { completeUvTexture, texelVisibility, uvTexture, type Raster, type TextureSources, type UvTexture } from '../render/index.js';
import type { FaceBox, PositionMap, RgbImage } from '../types.js';
import { toRgbImage, type PixelImage } from '../io/pixels.js';
import { checkBooleans, checkKnownOptions } from '../track/options.js';

export interface Face {
  /** 0-based index of the face in its image (largest first). */
  index: number;
  /** The detector's box (or the user's), image pixels. */
  box: FaceBox;
  /** The crop the network saw: image ↔ 256² crop. */
  crop: CropTransform;
  /** The position map in the image frame (x, y image pixels; z pixels towards the camera). */
  positionMap: PositionMap;
  /** 68 landmarks (iBUG order), N×3 = 68×3, image frame. */
  landmarks: Float32Array;
  /** The dense vertices (the layout's face pixels, 43,867), N×3, image frame. */
  vertices: Float32Array;
  /** Head pose: vertices ≈ scale · rotation · canonical + translation. */
  pose: Pose;
  /**
   * With test-time flip: how far the direct and the mirrored predictions of the 68 landmarks lie
   * apart (mean distance, in sides of the landmark box). A quality signal, free with flip: on
   * AFLW2000-3D's 1,000 dev images (default model) the fifth of the faces that disagree most held
   * 83 of the 94 whose 68-point NME is over 10 %; of the 52 over 0.1, 44 were such failures
   * (docs/evaluation.md §0.11). Absent without flip.
   */
  flipDisagreement?: number;
  /**
   * For a face BlazeFace found (the built-in detector, or one of yours of kind 'blazeface' whose
   * boxes carry its keypoints): how far its keypoints (eyes, nose tip, mouth) lie from the same
   * points of the reconstruction (mean distance, in sides of the landmark box in the face's own
   * frame). A second quality signal, free, with or without flip: on AFLW2000-3D's 1,000 dev images
   * (default model; median 0.03, light 0.05) 49 of the 64 faces over 0.12 were failures (68-point
   * NME over 10 %), and it found 49 of the 86 failures where flipDisagreement over 0.1 found 41
   * (docs/evaluation.md §0.16). Absent for boxes or crops you give (`--box`, `--crop`), for faces
   * of video on frames the detector did not run for (the tracker gives their crops; on its frames VideoTracker adds it), for a face whose crop the keypoints turn by more than
   * 45° and for one the orientation step turned: BlazeFace's keypoints of a face lying sideways are
   * often wrong.
   */
  keypointDisagreement?: number;
  /**
   * The two signals above in one verdict: true when flipDisagreement is over 0.1 or
   * keypointDisagreement over 0.12 (the reconstruction is likely wrong: look at it, or leave it
   * out), false when the signals the face has are within them, absent when it has neither (no flip,
   * and no BlazeFace keypoints to check). On AFLW2000-3D's 1,000 dev images, where the thresholds
   * were chosen, 57 of the default model's 80 suspect faces were failures (68-point NME over 10 %),
   * 57 of its 86 failures were suspect, and the faces not suspect scored 4.17 % against 5.20 % for
   * all (light model: 98 of 118, 98 of 159, 5.47 % against 7.29 %). On AFW's 337 faces, not used to
   * choose them, its failures are milder (10–23 %) and few are suspect; with flip the suspect ones
   * were failures (light model 6 of 6, of 17 failures; default none, its one failure 11 %), without
   * flip 1 face at 8.9 % (default) and 2 of 2 failures (light) (docs/evaluation.md §0.17). A signal
   * that is not a number (degenerate landmarks) makes a face suspect. The CLI warns of suspect faces.
   */
  suspect?: boolean;
  /**
   * The share (0..1) of the face's dense vertices that lie inside the image: 1 for a face wholly in
   * the photo, less for one that runs off an edge, whose missing part (and so its pose) the network
   * guesses. On examples/astronaut.jpg cut through its face box: 0.85 with a tenth of the box cut
   * off at the side, about 0.5 with half of it (the dense face reaches past the detector's box).
   */
  inImage: number;
}

/**
 * Per-vertex colours (N×3, 0..1), sampled from the image at each vertex (bilinear). The image may
 * be RGB, RGBA or grey bytes, as `reconstruct` takes (io/pixels.ts).
 */
export function faceColors(image: RgbImage | PixelImage, face: Face): Float32Array {
  return sampleColors(toRgbImage(image), face.vertices);
}

/** Texture sides `--texture-size` offers. */
export const TEXTURE_SIZES = [256, 512, 1024, 2048] as const;

export interface FaceTextureOptions {
  /**
   * Texture side in texels, a whole number from 16 to 8192 (default 256, the layout's; 512, 1024 and
   * 2048, TEXTURE_SIZES, the ones the CLI and buildOutputs take, sample the photo more finely).
   */
  size?: number;
  /**
   * Fill the texels the photo does not show (default true): from the mirrored side of the face
   * where that is seen, else smoothly from around (see render/texture-complete.ts). false: the
   * photo only, unseen texels black (256² only).
   */
  complete?: boolean;
  /** The face's vertex normals (geometry's vertexNormals of face.vertices), when the caller has them already. */
  normals?: Float32Array;
  /**
   * The face's z-buffer at the image's size (rasterize of its position map's face vertices and the
   * layout's triangles), when the caller has drawn it already (the depth output of a one-face image).
   */
  raster?: Raster;
  /**
   * The position map's face vertices (render's gatherVertices of it: face.vertices as reconstructed),
   * when the caller has checked they still are (the texture's visibility test reads them).
   */
  mapVertices?: Float32Array;
}

export interface FaceTexture extends UvTexture {
  /** Where the face's texels came from (complete textures only). */
  sources?: TextureSources;
}

/**
 * The face's UV texture: the image sampled at every texel's surface point (bilinear). By default
 * complete — texels the camera does not see (occluded by the face itself, or outside the image)
 * are taken from the mirrored side or filled smoothly; `mask` is 255 where the photo shows the
 * texel itself. With `complete: false` those texels are black (mask 0), as PRNet's original.
 */
export function faceTexture(input: RgbImage | PixelImage, face: Face, layout: Layout, options: FaceTextureOptions = {}): FaceTexture {
  options ??= {}; // null as well, as faceMesh and buildOutputs take it
  checkKnownOptions(options, ['size', 'complete', 'normals', 'raster', 'mapVertices'], 'faceTexture option', { textureSize: 'size' });
  checkBooleans(options, ['complete'], 'faceTexture option');
  const image = toRgbImage(input);
  const size = options.size ?? layout.size;
  const complete = options.complete ?? true;
  if (!complete && size !== layout.size) throw new RangeError(`a texture of ${size}² needs complete: true (the plain texture is ${layout.size}²)`);
  // Tolerance: 2 % of the face crop side (a few pixels), so the surface's own small folds do not hide it.
  const tolerance = Math.max(1, 0.02 * face.crop.square.side);
  const visibility = texelVisibility(face.positionMap, layout.faceIndex, layout.triangles, image.width, image.height, tolerance, options.raster, options.mapVertices);
  if (!complete) return uvTexture(image, face.positionMap, visibility);
  const normals = options.normals?.length === face.vertices.length ? options.normals : vertexNormals(face.vertices, layout.triangles);
  const facing = new Float32Array(layout.vertexCount);
  for (let i = 0; i < facing.length; i++) facing[i] = normals[3 * i + 2];
  const { texture, mask, sources } = completeUvTexture(image, face.positionMap, visibility, layout, { size, facing });
  return { texture, mask, sources };
}

/** A face as a renderable mesh in the y-up mesh frame: what three.js's BufferGeometry takes. */
export interface FaceMesh {
  /** N×3 vertex positions in the mesh frame (x right, y up, z towards the viewer; frame.units). */
  positions: Float32Array;
  /** N×3 unit vertex normals in the mesh frame, pointing out of the face. */
  normals: Float32Array;
  /** N×2 texture coordinates (u right, v down: glTF's and three.js-with-flipY-false convention; OBJ's v is 1 − v). */
  uv: Float32Array;
  /** T×3 triangle indices (layout.indices), counter-clockwise seen from the front. */
  indices: Uint32Array;
  /** The frame: units, mesh units per image pixel, the image point at the origin. */
  frame: MeshFrame;
  /**
   * Head pose in the mesh frame, 4×4 column-major (three.js Matrix4.fromArray order): maps the
   * canonical face with its y flipped (layout.canonical with y → −y: x right, y up, z towards the
   * viewer, canonical pixels) onto `positions`. Its translation is where the canonical frame's
   * origin lands (272 canonical pixels from the face's centre, above and behind it), and its scale ~0.8 mm per
   * canonical pixel: for placing things on the head use `headMatrix`.
   */
  poseMatrix: Float64Array;
  /**
   * The head's frame in the mesh frame, 4×4 column-major, rigid (rotation and translation, no
   * scale): its origin is the face's centre (where the canonical face's centroid lands), its axes the
   * face's (x to the image's right on a frontal face, y up, z out of the face), its units the mesh's
   * (millimetres by default). An object modelled life-size in those units about the face's centre is
   * put on the head by this matrix (in three.js: `obj.matrix.fromArray(headMatrix)` as a child of
   * the mesh). The animated video GLB's head node uses the same origin and axes.
   */
  headMatrix: Float64Array;
}

const layoutUvs = new WeakMap<object, Float32Array>();
/** The canonical face's centroid (image frame, canonical pixels), per layout. */
const canonicalCentres = new WeakMap<object, [number, number, number]>();

function canonicalCentre(layout: Pick<Layout, 'canonical'>): [number, number, number] {
  let c = canonicalCentres.get(layout.canonical);
  if (!c) canonicalCentres.set(layout.canonical, (c = centroid(layout.canonical)));
  return c;
}

/**
 * The face as a mesh for renderers (three.js, WebGL): positions and normals in the mesh frame of
 * the exported files — by default millimetres, centred at the origin (options as meshFrame: units
 * 'mm' | 'px', center, imageHeight for the y flip when not centred) — UVs, Uint32 indices, and
 * the pose as a matrix in that frame. The arrays are new (positions, normals) or shared (uv,
 * indices: do not modify them).
 */
export function faceMesh(face: Face, layout: Layout, options: MeshFrameOptions = {}): FaceMesh {
  options ??= {};
  checkKnownOptions(options, ['units', 'center', 'imageHeight'], 'faceMesh option', { centre: 'center' });
  checkBooleans(options, ['center'], 'faceMesh option');
  // A face of another layout (or a cut vertex array) gave positions whose indices point past them.
  if (face.vertices.length !== 3 * layout.vertexCount) throw new RangeError(`the face has ${face.vertices.length / 3} vertices, the layout ${layout.vertexCount}: not this layout's face`);
  const frame = meshFrame(face.vertices, face.landmarks, options);
  let uv = layoutUvs.get(layout.faceIndex);
  if (!uv) layoutUvs.set(layout.faceIndex, (uv = uvFromFaceIndex(layout.faceIndex, layout.size)));
  // Mesh frame: p_m = u·F·(p − o) with F = diag(1, −1, 1) (o = (0, h − 1, 0) when not centred);
  // p = s·R·c + t, c = F·c_m  ⇒  p_m = u·s·(F·R·F)·c_m + u·F·(t − o).
  const { scale: s, translation: t } = face.pose;
  const Rm = flipRotationY(face.pose.rotation);
  const u = frame.scale;
  const o = frame.origin ?? [0, frame.imageHeight === undefined ? 0 : frame.imageHeight - 1, 0];
  const f = [1, -1, 1];
  // The head frame: the same rotation without the scale, at the face's centre p̄ (headCentre), in
  // the mesh frame u·F·(p̄ − o).
  const centre = headCentre(face.pose, layout);
  const m = new Float64Array(16);
  const head = new Float64Array(16);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      m[4 * c + r] = u * s * Rm[3 * r + c];
      head[4 * c + r] = Rm[3 * r + c];
    }
    m[12 + r] = u * f[r] * (t[r] - o[r]);
    head[12 + r] = u * f[r] * (centre[r] - o[r]);
  }
  m[15] = head[15] = 1;
  return {
    positions: toModelFrame(face.vertices, frame),
    normals: modelFrameNormals(face.vertices, layout.triangles),
    uv,
    indices: layout.indices,
    frame,
    poseMatrix: m,
    headMatrix: head,
  };
}

/**
 * What made a result (the front ends' JSON): the package version, the model (a bundled model's
 * name or the model file's base name), the network's precision and the test-time options, so a
 * JSON file read apart from its run still says how it was made.
 */
export interface ProducerJson {
  prnet: string;
  model: string;
  precision: string;
  flip: boolean;
  /** σ of the position-map smoothing in UV pixels (the model's default when not given). */
  smooth: number;
}

/** The JSON written for a face (numbers rounded by the writer). */
export interface FaceJson {
  index: number;
  box: { x: number; y: number; width: number; height: number; score: number };
  /** The square the network saw: centre and side in image pixels, crop pixels per image pixel, and its turn in degrees (a rolled face's crop turns with it; 0: upright). */
  crop: { centerX: number; centerY: number; side: number; scale: number; angle: number };
  landmarks: { '2d': number[][]; '3d': number[][] };
  pose: {
    yaw: number;
    pitch: number;
    roll: number;
    rotation: number[][];
    /** 4×4 column-major [scale·rotation | translation], image frame. */
    matrix: number[];
    scale: number;
    translation: number[];
    /** The face's centre (headCentre): the head's position in the image frame. */
    center: number[];
    convention: string;
  };
  vertexCount: number;
  triangleCount: number;
  /** Face.flipDisagreement, with test-time flip only. */
  flipDisagreement?: number;
  /** Face.keypointDisagreement, for a face BlazeFace found (see there for where it is absent). */
  keypointDisagreement?: number;
  /** Face.suspect: a quality signal over its threshold (absent where the face has no signal). */
  suspect?: boolean;
  /** Face.inImage: the share of the dense vertices inside the image. */
  inImage: number;
  frame: string;
  /** The photo these numbers are in: its size in pixels, and its file name where known (buildOutputs adds it; OutputOptions.source). */
  image?: { file?: string; width: number; height: number };
  /** How the mesh files relate to these image-frame numbers (buildOutputs adds it). */
  mesh?: { units: string; unitsPerPixel: number; origin: [number, number, number] | null; frame: string };
  /** How the result was made (OutputOptions.producer; the CLI's, batch's and server's JSON). */
  producer?: ProducerJson;
}

export const POSE_CONVENTION =
  'degrees; yaw > 0: face turned towards the image left; pitch > 0: looking up; roll > 0: tilted clockwise in the image; vertices ≈ scale·rotation·canonical + translation; matrix: the same 4×4, column-major (index 4·column + row)';

/**
 * The face's centre in the image frame: where the pose puts the canonical face's centroid
 * (scale · rotation · centroid + translation). The head's position for attaching things: the
 * origin of faceMesh's headMatrix and of the video GLB's head node; the pose's `translation` is
 * where the canonical frame's origin lands, far above the face.
 */
export function headCentre(pose: Pick<Pose, 'rotation' | 'scale' | 'translation'>, layout: Pick<Layout, 'canonical'>): [number, number, number] {
  return transformPoint(pose, canonicalCentre(layout));
}

/**
 * A face as the plain object of its JSON file (angles in degrees, matrices as arrays): box, crop,
 * landmarks, pose, counts; buildOutputs adds `image`, `mesh` and `producer`. toJson writes it.
 */
export function faceToJson(face: Face, layout: Pick<Layout, 'triangleCount' | 'canonical'>): FaceJson {
  const lm = face.landmarks;
  const l2: number[][] = [];
  const l3: number[][] = [];
  for (let i = 0; i < lm.length / 3; i++) {
    l2.push([lm[3 * i], lm[3 * i + 1]]);
    l3.push([lm[3 * i], lm[3 * i + 1], lm[3 * i + 2]]);
  }
  const R = face.pose.rotation;
  return {
    index: face.index,
    box: { x: face.box.x, y: face.box.y, width: face.box.width, height: face.box.height, score: face.box.score },
    crop: { centerX: face.crop.square.cx, centerY: face.crop.square.cy, side: face.crop.square.side, scale: face.crop.scale, angle: ((face.crop.square.angle ?? 0) * 180) / Math.PI },
    landmarks: { '2d': l2, '3d': l3 },
    pose: {
      yaw: face.pose.yaw,
      pitch: face.pose.pitch,
      roll: face.pose.roll,
      rotation: [[R[0], R[1], R[2]], [R[3], R[4], R[5]], [R[6], R[7], R[8]]],
      matrix: Array.from(face.pose.matrix),
      scale: face.pose.scale,
      translation: [...face.pose.translation],
      center: headCentre(face.pose, layout),
      convention: POSE_CONVENTION,
    },
    vertexCount: face.vertices.length / 3,
    triangleCount: layout.triangleCount,
    ...(face.flipDisagreement !== undefined ? { flipDisagreement: face.flipDisagreement } : {}),
    ...(face.keypointDisagreement !== undefined ? { keypointDisagreement: face.keypointDisagreement } : {}),
    ...(face.suspect !== undefined ? { suspect: face.suspect } : {}),
    inImage: face.inImage,
    frame: 'image pixels: x right, y down, origin at the top-left pixel centre; z towards the camera (larger = nearer), same pixel units',
  };
}
