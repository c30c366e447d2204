/**
 * Animated glTF 2.0 (GLB) of one face over the frames of a video: a decimated face mesh whose
 * shape follows the video through morph targets, one per frame, played at the frames' times.
 *
 * Layout of the file (chosen for size and for players: Blender imports the targets as shape keys
 * with a keyframed value each, three.js as morph targets driven by an AnimationClip):
 * - mesh: the layout's face grid at every `step`-th UV pixel (decimateFaceGrid; step 3 keeps
 *   ~4,900 of the 43,867 vertices), POSITION float (the segment's mean shape), NORMAL (the mean
 *   shape's, for smooth shading), COLOR_0 (8-bit, linear), indices 16-bit when they fit;
 * - morph targets: one per frame, the frame's offset from the mean, quantised to normalised
 *   16-bit integers (KHR_mesh_quantization, required) — 8 bytes per vertex and frame with the
 *   4-byte alignment glTF wants; the node's scale (per axis, the largest offset) maps them back to
 *   pixels, so the precision is that offset / 32767 (≈ 0.003 px for a head moving 100 px);
 * - animation: the morph weights, LINEAR over the frame times: at frame k's time target k has
 *   weight 1 and every other 0, so between frames the shape blends. The weights are an n × n
 *   accessor stored sparse (its n ones), so the file grows linearly with the frames;
 * - head (with `restShape`; processVideo's default): a node NAME_head whose translation, rotation
 *   and uniform scale follow the head's pose frame by frame (`poses`, the pipeline's, else the
 *   similarity fit of the rest shape; LINEAR), its origin the rest shape's centroid, the meshes
 *   below it; the targets then hold only the face's shape in the head's own
 *   frame (upright, facing +z), so an importer gets an object that moves with the head (parent a hat
 *   or glasses to it) and shape keys for the expression. Without it the targets carry the motion too;
 * - segments: at most `segmentFrames` targets per mesh (three.js puts one uniform per target in
 *   its vertex shader and one texture layer per target: WebGL 2 guarantees 256 layers), so a
 *   long video becomes several meshes, each shown only during its frames (its parent node's
 *   scale, STEP-animated 1/0). Consecutive segments share their boundary frame;
 * - visibility (with `clipStart` before the first frame, `gaps`, or `clipEnd` after the end): a
 *   node NAME_visible above the rest whose scale, STEP-animated 0/1, hides the face outside the
 *   times it was seen, keyed from clipStart to clipEnd so that the clip spans the video (without
 *   `end`, the last frame stays shown until clipEnd).
 * Coordinates: the model frame of mesh.ts (x right, y up, z towards the viewer), in the units of
 * the FrameOptions given (pixels by default; processVideo writes metres about the track's centre),
 * a frame in millimetres written in metres (glTF's unit; units without a scale are an InputError).
 */
import { centroid, fitSimilarity, flipRotationY, intoPoseFrame, prepareSource, rotationQuaternion, transformPoint } from '../geometry/pose.js';

export { rotationQuaternion };
import { triangulateFaceGrid } from '../layout/derive.js';
import { vertexNormals } from '../geometry/normals.js';
import { srgbToLinear } from './glb.js';
import { firstNotFinite } from '../util/finite.js';
import { inGltfUnits, toModelFrame, type FrameOptions } from './mesh.js';
import { ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, FLOAT, SHORT, UNSIGNED_BYTE, UNSIGNED_INT, UNSIGNED_SHORT, accessorBounds, packGlb } from './gltf.js';

/** A face grid subset: the dense vertices it keeps and its own triangles over them. */
export interface DecimatedMesh {
  /** Indices of the kept vertices among the layout's face vertices (increasing). */
  vertexIds: Int32Array;
  /** Triangles over the kept vertices (0..vertexIds.length − 1), same winding as the layout's. */
  triangles: Uint32Array;
}

/** The face grid with a vertex every `step` UV pixels (step 1: the full mesh). */
export function decimateFaceGrid(faceIndex: Int32Array, size: number, step: number): DecimatedMesh {
  const tri = triangulateFaceGrid(faceIndex, size, step);
  const compact = new Int32Array(faceIndex.length).fill(-1);
  for (let i = 0; i < tri.length; i++) compact[tri[i]] = 0;
  let n = 0;
  for (let i = 0; i < compact.length; i++) if (compact[i] === 0) compact[i] = n++;
  const vertexIds = new Int32Array(n);
  for (let i = 0; i < compact.length; i++) if (compact[i] >= 0) vertexIds[compact[i]] = i;
  const triangles = new Uint32Array(tri.length);
  for (let i = 0; i < tri.length; i++) triangles[i] = compact[tri[i]];
  return { vertexIds, triangles };
}

/** The kept vertices (N×3) of a dense vertex array. */
export function pickVertices(vertices: ArrayLike<number>, vertexIds: Int32Array): Float32Array {
  const out = new Float32Array(vertexIds.length * 3);
  for (let i = 0; i < vertexIds.length; i++) {
    const j = vertexIds[i] * 3;
    out[3 * i] = vertices[j];
    out[3 * i + 1] = vertices[j + 1];
    out[3 * i + 2] = vertices[j + 2];
  }
  return out;
}

export interface AnimatedMesh {
  /** One shape per frame: image-frame vertices N×3 (the same N for all). */
  frames: readonly Float32Array[];
  /** Each frame's time, seconds, strictly increasing. */
  times: readonly number[];
  /**
   * When the last frame ends, seconds (after the last time): the last frame is held until then, so
   * the animation lasts as long as the clip it came from (a 3 s clip at 30 fps: frames at 0 …
   * 2.967 s, end 3). Omitted: the animation ends at the last frame's time.
   */
  end?: number;
  /**
   * Times the face was not seen, [from, to) seconds, each inside the span between two frames (from
   * after a frame's time, to = the next frame's time): the face is hidden there (a track that
   * lost its face for a moment and took it up again).
   */
  gaps?: readonly (readonly [number, number])[];
  /**
   * The clip the face belongs to, seconds: the face is hidden from `clipStart` until its first
   * frame and from its end (`end`, else its last frame) until `clipEnd`, so every file of one video
   * spans the video and plays in step with it (a face that enters at 4 s is hidden for the first 4).
   */
  clipStart?: number;
  clipEnd?: number;
  /** Triangles T×3 over the N vertices. */
  triangles: Uint32Array | Int32Array;
  /** Per-vertex sRGB colours N×3, 0..1. */
  colors?: ArrayLike<number>;
}

export interface AnimatedGlbOptions extends FrameOptions {
  /** Node, mesh and animation name (default "face"). */
  name?: string;
  /** Most morph targets per mesh (default 240; see the file comment). */
  segmentFrames?: number;
  /**
   * The face's rest shape: N×3 in the frames' frame, frontal and upright (processVideo passes the
   * layout's canonical face at the kept vertices). Given, each frame's head pose (this shape's
   * similarity fit onto the frame) animates a node NAME_head, and the targets hold the face in
   * the head's frame (see the file comment). Omitted: no head node, the targets carry the motion.
   */
  restShape?: Float32Array | Float64Array;
  /**
   * With restShape: each frame's head pose as the pipeline gives it (Face.pose, image frame:
   * frame ≈ scale · rotation · canonical + translation), used for the head node instead of fitting
   * the rest shape to each frame, so the node follows exactly the pose of the JSON lines. One per
   * frame.
   */
  poses?: readonly FramePose[];
}

/** A head pose in the image frame (Face.pose's rotation, row-major, scale and translation). */
export interface FramePose {
  rotation: ArrayLike<number>;
  scale: number;
  translation: ArrayLike<number>;
}


/** The head node's animation: per frame a translation, a unit quaternion (x, y, z, w) and a uniform scale. */
interface HeadTrack {
  translation: Float32Array;
  rotation: Float32Array;
  scale: Float32Array;
}

/**
 * The head's pose per frame (model frame), the frames turned into the head's own frame in place:
 * frame k ≈ t_k + R_k · (s_k · local_k), with s_k the pose's scale over the frames' median one
 * (about 1), so the local shapes are life-size in the model's units. The poses are `given` (the
 * pipeline's, the rest shape's centroid's image as translation) or fitted: the rest shape, about
 * its centroid, onto each frame. Quaternions kept in one hemisphere (each within 90° of the one
 * before), so LINEAR playback turns the short way.
 */
function headTrack(model: Float32Array[], restModel: Float32Array, given: FramePose[] | null): HeadTrack {
  let prepared = null;
  if (!given) {
    // About the rest shape's centroid: the head node then sits at the face's centre.
    const c = centroid(restModel);
    for (let i = 0; i < restModel.length; i++) restModel[i] -= c[i % 3];
    prepared = prepareSource(restModel);
  }
  const fitted = model.map((m, k) => {
    const f = given ? given[k] : fitSimilarity(restModel, m, prepared);
    return f.scale > 0 && Number.isFinite(f.scale) && firstNotFinite(f.rotation) < 0 && firstNotFinite(f.translation) < 0 ? f : null;
  });
  // A frame whose shape gives no pose (degenerate: all its points at one place) takes the nearest
  // earlier frame's (the first good one's at the start): its shape keys then hold it exactly.
  const first = fitted.find((f) => f !== null);
  if (!first) throw new RangeError('no frame gives a head pose (every shape is degenerate)');
  let last = first;
  const fits = fitted.map((f) => (last = f ?? last));
  const sorted = fits.map((f) => f.scale).sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1];
  const n = model.length;
  const head: HeadTrack = { translation: new Float32Array(3 * n), rotation: new Float32Array(4 * n), scale: new Float32Array(3 * n) };
  model.forEach((m, k) => {
    const { rotation: R, translation: t } = fits[k];
    const s = fits[k].scale / median;
    intoPoseFrame(m, { rotation: R, scale: s, translation: t }, m);
    const q = rotationQuaternion(R);
    if (k > 0) {
      const p = head.rotation.subarray(4 * (k - 1), 4 * k);
      if (p[0] * q[0] + p[1] * q[1] + p[2] * q[2] + p[3] * q[3] < 0) for (let c = 0; c < 4; c++) q[c] = -q[c];
    }
    head.rotation.set(q, 4 * k);
    head.translation.set(t, 3 * k);
    head.scale.fill(s, 3 * k, 3 * k + 3);
  });
  return head;
}


type Json = Record<string, unknown>;

/** Binary buffer and JSON arrays of a glTF file under construction. */
class GltfBuilder {
  readonly parts: Uint8Array[] = [];
  readonly bufferViews: Json[] = [];
  readonly accessors: Json[] = [];
  byteLength = 0;

  view(bytes: Uint8Array, target?: number, byteStride?: number): number {
    const v: Json = { buffer: 0, byteOffset: this.byteLength, byteLength: bytes.byteLength };
    if (byteStride !== undefined) v.byteStride = byteStride;
    if (target !== undefined) v.target = target;
    this.bufferViews.push(v);
    this.parts.push(bytes);
    this.byteLength += bytes.byteLength;
    const pad = (4 - (this.byteLength % 4)) % 4;
    if (pad) {
      this.parts.push(new Uint8Array(pad));
      this.byteLength += pad;
    }
    return this.bufferViews.length - 1;
  }

  accessor(a: Json): number {
    this.accessors.push(a);
    return this.accessors.length - 1;
  }

  /** A float accessor over its own view, with min/max when asked. */
  floats(data: Float32Array, type: 'SCALAR' | 'VEC3' | 'VEC4', target?: number, minMax = false): number {
    const width = type === 'SCALAR' ? 1 : type === 'VEC3' ? 3 : 4;
    const a: Json = { bufferView: this.view(bytesOf(data), target), componentType: FLOAT, count: data.length / width, type };
    if (minMax) Object.assign(a, accessorBounds(data, width));
    return this.accessor(a);
  }

  glb(gltf: Json): Uint8Array {
    gltf.accessors = this.accessors;
    gltf.bufferViews = this.bufferViews;
    gltf.buffers = [{ byteLength: this.byteLength }];
    return packGlb(gltf, this.parts, this.byteLength);
  }
}

function bytesOf(a: Float32Array | Uint32Array | Uint16Array | Int16Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}


/** The GLB bytes of an animated face (see the file comment). */
export function writeAnimatedGlb(mesh: AnimatedMesh, options: AnimatedGlbOptions = {}): Uint8Array {
  // As writeGlb: a millimetre frame is written in metres, units without a scale are refused.
  options = inGltfUnits(options ?? {});
  const { frames, times, triangles, colors, end, gaps = [], clipStart, clipEnd } = mesh;
  const n = frames.length;
  if (n === 0) throw new RangeError('an animation needs at least one frame');
  if (times.length !== n) throw new RangeError(`${n} frames but ${times.length} times`);
  const nv = frames[0].length / 3;
  if (!Number.isInteger(nv) || nv === 0) throw new RangeError('frames must hold N×3 vertices');
  for (let k = 0; k < n; k++) {
    if (frames[k].length !== nv * 3) throw new RangeError(`frame ${k} has ${frames[k].length / 3} vertices, expected ${nv}`);
    // glTF's animation input: finite, ≥ 0, increasing (Infinity or a negative time made a file validators reject)
    if (!(Number.isFinite(times[k]) && times[k] >= 0)) throw new RangeError(`frame times must be finite seconds ≥ 0 (frame ${k}: ${times[k]})`);
    if (k > 0 && !(times[k] > times[k - 1])) throw new RangeError(`frame times must increase (frame ${k})`);
    const bad = firstNotFinite(frames[k]);
    if (bad >= 0) throw new RangeError(`frame ${k}: vertex ${Math.floor(bad / 3)} is not finite`);
  }
  if (end !== undefined && !(Number.isFinite(end) && end > times[n - 1])) throw new RangeError(`end must be a finite time after the last frame's (${times[n - 1]} s), got ${String(end)}`);
  const last = end ?? times[n - 1];
  if (clipStart !== undefined && !(Number.isFinite(clipStart) && clipStart >= 0 && clipStart <= times[0])) throw new RangeError(`clipStart must be a finite time ≥ 0, not after the first frame's (${times[0]} s), got ${String(clipStart)}`);
  if (clipEnd !== undefined && !(Number.isFinite(clipEnd) && clipEnd >= last)) throw new RangeError(`clipEnd must be a finite time not before the last frame's end (${last} s), got ${String(clipEnd)}`);
  {
    let k = 0;
    let before = -Infinity;
    for (const g of gaps) {
      const [from, to] = g ?? [];
      while (k < n && times[k] < to) k++;
      // to is a frame's time (k ≥ 1), from after the frame before and after the previous gap
      if (!(Number.isFinite(from) && from > before && k > 0 && k < n && times[k] === to && Math.fround(from) > Math.fround(times[k - 1]) && Math.fround(from) < Math.fround(to))) throw new RangeError(`gaps must be [from, to) between a frame's time and the next one's (to = that frame's time), in order: [${String(from)}, ${String(to)}]`);
      before = to;
    }
  }
  if (triangles.length % 3 !== 0) throw new RangeError(`triangles: length ${triangles.length} is not a multiple of 3`);
  if (options.segmentFrames !== undefined && !(Number.isInteger(options.segmentFrames) && options.segmentFrames >= 2)) throw new RangeError(`segmentFrames must be a whole number ≥ 2, got ${options.segmentFrames}`);
  for (let i = 0; i < triangles.length; i++) if (!(triangles[i] >= 0 && triangles[i] < nv)) throw new RangeError(`triangle index ${triangles[i]} out of range`);
  if (colors && colors.length !== nv * 3) throw new RangeError('colors must be N×3');
  const name = options.name ?? 'face';
  const segmentFrames = Math.max(2, Math.floor(options.segmentFrames ?? 240));

  const rest = options.restShape;
  if (options.poses !== undefined && rest === undefined) throw new RangeError('poses need restShape (the canonical face at these vertices)');
  if (rest !== undefined) {
    if (rest.length !== nv * 3) throw new RangeError(`restShape has ${rest.length / 3} vertices, expected ${nv}`);
    const bad = firstNotFinite(rest);
    if (bad >= 0) throw new RangeError(`restShape: vertex ${Math.floor(bad / 3)} is not finite`);
  }

  const b = new GltfBuilder();
  const model = frames.map((f) => toModelFrame(f, options));
  let head: HeadTrack | null = null;
  if (rest !== undefined) {
    let given: FramePose[] | null = null;
    if (options.poses) {
      if (options.poses.length !== n) throw new RangeError(`${n} frames but ${options.poses.length} poses`);
      // A pose in the model frame: rotation F·R·F (F = diag(1, −1, 1): toModelFrame flips y), the
      // same scale, and the rest shape's centroid put where the pose puts it (the node's origin).
      const c = centroid(rest);
      given = options.poses.map((pose) => ({ rotation: flipRotationY(pose.rotation), scale: pose.scale, translation: toModelFrame(Float64Array.from(transformPoint(pose, c)), options) }));
    }
    head = headTrack(model, toModelFrame(rest, options), given);
  }
  // Shared by every segment: indices and colours.
  const indices = nv <= 65535
    ? b.accessor({ bufferView: b.view(bytesOf(Uint16Array.from(triangles)), ELEMENT_ARRAY_BUFFER), componentType: UNSIGNED_SHORT, count: triangles.length, type: 'SCALAR' })
    : b.accessor({ bufferView: b.view(bytesOf(Uint32Array.from(triangles)), ELEMENT_ARRAY_BUFFER), componentType: UNSIGNED_INT, count: triangles.length, type: 'SCALAR' });
  let color: number | undefined;
  if (colors) {
    const rgba = new Uint8Array(nv * 4);
    for (let i = 0; i < nv; i++) for (let c = 0; c < 3; c++) rgba[4 * i + c] = Math.round(255 * srgbToLinear(colors[3 * i + c]));
    color = b.accessor({ bufferView: b.view(rgba, ARRAY_BUFFER, 4), componentType: UNSIGNED_BYTE, normalized: true, count: nv, type: 'VEC3' });
  }

  // Segments [a, e] (inclusive), consecutive ones sharing their boundary frame.
  const segments: [number, number][] = [];
  if (n === 1) segments.push([0, 0]);
  for (let a = 0; a < n - 1; a += segmentFrames - 1) segments.push([a, Math.min(n - 1, a + segmentFrames - 1)]);

  const nodes: Json[] = [];
  const meshes: Json[] = [];
  const channels: Json[] = [];
  const samplers: Json[] = [];
  const rootChildren: number[] = [];
  // Key times of frames from..to; through the last frame, also `end` (the last frame held).
  const held = (to: number): boolean => end !== undefined && to === n - 1;
  const timeAccessor = (from: number, to: number): number => b.floats(Float32Array.from(held(to) ? [...times.slice(from, to + 1), end as number] : times.slice(from, to + 1)), 'SCALAR', undefined, true);
  const triangleIndices = Int32Array.from(triangles);
  segments.forEach(([a, e], s) => {
    const count = e - a + 1;
    // The segment's mean shape and the offsets' largest magnitude per axis.
    const mean = new Float64Array(nv * 3);
    for (let k = a; k <= e; k++) for (let i = 0; i < mean.length; i++) mean[i] += model[k][i];
    for (let i = 0; i < mean.length; i++) mean[i] /= count;
    const scale = [0, 0, 0];
    for (let k = a; k <= e; k++) {
      const f = model[k];
      for (let i = 0; i < mean.length; i++) scale[i % 3] = Math.max(scale[i % 3], Math.abs(f[i] - mean[i]));
    }
    for (let c = 0; c < 3; c++) scale[c] = scale[c] > 1e-6 ? scale[c] : 1;
    const base = new Float32Array(nv * 3);
    for (let i = 0; i < base.length; i++) base[i] = mean[i] / scale[i % 3];
    const attributes: Record<string, number> = { POSITION: b.floats(base, 'VEC3', ARRAY_BUFFER, true) };
    // The mean shape's normals (in the stored frame: a viewer maps them through the node's scale):
    // without NORMAL, glTF viewers shade flat (Blender and three.js showed the facets). The
    // geometry module's normals are the image frame's; in this y-up (mirrored) frame they point
    // the other way, so they are turned to face as the triangles' winding does.
    const normals = vertexNormals(base, triangleIndices);
    for (let i = 0; i < normals.length; i += 3) {
      if (normals[i] === 0 && normals[i + 1] === 0 && normals[i + 2] === 0) normals[i + 2] = 1;
      else for (let c = 0; c < 3; c++) normals[i + c] = -normals[i + c];
    }
    attributes.NORMAL = b.floats(normals, 'VEC3', ARRAY_BUFFER);
    if (color !== undefined) attributes.COLOR_0 = color;
    // All targets of the segment in one view: 8 bytes per vertex (x, y, z, pad) as int16.
    const q = new Int16Array(count * nv * 4);
    const targetBounds: { min: number[]; max: number[] }[] = [];
    for (let k = a; k <= e; k++) {
      const f = model[k];
      const o = (k - a) * nv * 4;
      const min = [32767, 32767, 32767];
      const max = [-32767, -32767, -32767];
      for (let i = 0; i < nv; i++) {
        for (let c = 0; c < 3; c++) {
          const v = Math.max(-32767, Math.min(32767, Math.round(((f[3 * i + c] - mean[3 * i + c]) / scale[c]) * 32767)));
          q[o + 4 * i + c] = v;
          if (v < min[c]) min[c] = v;
          if (v > max[c]) max[c] = v;
        }
      }
      targetBounds.push({ min, max }); // integer domain, as glTF wants for normalised accessors
    }
    const targetView = b.view(bytesOf(q), ARRAY_BUFFER, 8);
    const targets = targetBounds.map((bb, j) => ({
      POSITION: b.accessor({ bufferView: targetView, byteOffset: j * nv * 8, componentType: SHORT, normalized: true, count: nv, type: 'VEC3', ...bb }),
    }));
    const meshIndex = meshes.length;
    meshes.push({
      name: `${name}_${s}`,
      primitives: [{ attributes, indices, material: 0, mode: 4, targets }],
      weights: new Array<number>(count).fill(0),
      extras: { targetNames: Array.from({ length: count }, (_, j) => `frame${a + j}`) },
    });
    // Weights: an n × n accessor whose only non-zeros (stored sparse) are its diagonal ones (and,
    // with the last frame held, a last key repeating the last frame's weights).
    const input = timeAccessor(a, e);
    const keys = held(e) ? count + 1 : count;
    const diag = new Uint32Array(keys);
    for (let j = 0; j < count; j++) diag[j] = j * count + j;
    if (keys > count) diag[count] = count * count + count - 1;
    const output = b.accessor({
      componentType: FLOAT,
      count: keys * count,
      type: 'SCALAR',
      sparse: {
        count: keys,
        indices: { bufferView: b.view(bytesOf(diag)), componentType: UNSIGNED_INT },
        values: { bufferView: b.view(bytesOf(new Float32Array(keys).fill(1))) },
      },
    });
    const meshNode = nodes.length;
    nodes.push({ name: `${name}_${s}_mesh`, mesh: meshIndex, scale });
    const segNode = nodes.length;
    nodes.push({ name: `${name}_${s}`, children: [meshNode] });
    rootChildren.push(segNode);
    samplers.push({ input, output, interpolation: 'LINEAR' });
    channels.push({ sampler: samplers.length - 1, target: { node: meshNode, path: 'weights' } });
    if (segments.length > 1) {
      // Visible (scale 1) from the segment's first frame until the next segment starts.
      const keyTimes: number[] = [];
      const values: number[] = [];
      if (a > 0) { keyTimes.push(times[0]); values.push(0, 0, 0); }
      keyTimes.push(times[a]); values.push(1, 1, 1);
      if (s < segments.length - 1) { keyTimes.push(times[e]); values.push(0, 0, 0); }
      const vin = b.floats(Float32Array.from(keyTimes), 'SCALAR', undefined, true);
      const vout = b.floats(Float32Array.from(values), 'VEC3');
      samplers.push({ input: vin, output: vout, interpolation: 'STEP' });
      channels.push({ sampler: samplers.length - 1, target: { node: segNode, path: 'scale' } });
    }
  });
  let top = rootChildren;
  if (head) {
    // The head node between the root and the segments, its TRS keyed at every frame time.
    const headNode = nodes.length;
    nodes.push({
      name: `${name}_head`,
      children: rootChildren,
      translation: Array.from(head.translation.subarray(0, 3)),
      rotation: Array.from(head.rotation.subarray(0, 4)),
      scale: Array.from(head.scale.subarray(0, 3)),
    });
    const input = timeAccessor(0, n - 1);
    for (const [path, data, type] of [['translation', head.translation, 'VEC3'], ['rotation', head.rotation, 'VEC4'], ['scale', head.scale, 'VEC3']] as const) {
      // the last frame's values once more at `end`
      const values = held(n - 1) ? Float32Array.from([...data, ...data.subarray(data.length - data.length / n)]) : data;
      samplers.push({ input, output: b.floats(values, type), interpolation: 'LINEAR' });
      channels.push({ sampler: samplers.length - 1, target: { node: headNode, path } });
    }
    top = [headNode];
  }
  // Hidden outside the times the face was seen (keys from clipStart to clipEnd: the clip's span).
  // (as the file stores them: float32 key times must increase)
  const f = Math.fround;
  const hideBefore = clipStart !== undefined && f(clipStart) < f(times[0]);
  const hideAfter = clipEnd !== undefined && f(clipEnd) > f(last);
  // Hidden after the face's end only when it has one past its last frame's time (`end`): without
  // it the last frame stays shown to clipEnd (hiding it at its own time would never show it).
  if (hideBefore || hideAfter || gaps.length) {
    const keyTimes: number[] = [];
    const values: number[] = [];
    const key = (t: number, v: number): void => {
      keyTimes.push(t);
      values.push(v, v, v);
    };
    if (hideBefore) key(clipStart, 0);
    key(times[0], 1);
    for (const [from, to] of gaps) {
      key(from, 0);
      key(to, 1);
    }
    if (hideAfter) {
      const ends = end !== undefined && f(end) > f(times[n - 1]);
      if (ends) key(end, 0);
      key(clipEnd, ends ? 0 : 1);
    }
    const visibleNode = nodes.length;
    nodes.push({ name: `${name}_visible`, children: top });
    samplers.push({ input: b.floats(Float32Array.from(keyTimes), 'SCALAR', undefined, true), output: b.floats(Float32Array.from(values), 'VEC3'), interpolation: 'STEP' });
    channels.push({ sampler: samplers.length - 1, target: { node: visibleNode, path: 'scale' } });
    top = [visibleNode];
  }
  const root = nodes.length;
  // Where the file sits in the video's image (Blender shows node extras as custom properties,
  // three.js as userData): image pixels from the file's units, x = ox + x'/s, y = oy − y'/s, z = oz + z'/s.
  const unitsPerPixel = options.scale ?? 1;
  const imageFrame: Json = options.origin
    ? { units: options.units ?? 'px', unitsPerPixel, origin: Array.from(options.origin).slice(0, 3) }
    : { units: options.units ?? 'px', unitsPerPixel, ...(options.imageHeight !== undefined ? { imageHeight: options.imageHeight } : {}) };
  nodes.push({ name, children: top, extras: { prnet: { imageFrame } } });

  const gltf: Json = {
    asset: { version: '2.0', generator: 'prnet-ts' },
    extensionsUsed: ['KHR_mesh_quantization'],
    extensionsRequired: ['KHR_mesh_quantization'],
    scene: 0,
    scenes: [{ nodes: [root] }],
    nodes,
    meshes,
    materials: [{ name, pbrMetallicRoughness: { baseColorFactor: [1, 1, 1, 1], metallicFactor: 0, roughnessFactor: 1 }, doubleSided: true }],
    animations: [{ name, channels, samplers }],
  };
  return b.glb(gltf);
}
