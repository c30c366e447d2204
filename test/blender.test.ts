/**
 * The mesh files `prnet reconstruct` writes, imported into Blender 3.4 (Debian's `blender`, which
 * `.ci/run` installs) the way a user imports them: File → Import → glTF / Wavefront OBJ / Stanford
 * PLY. The script INSPECT below reports what Blender built; this file checks that it is what
 * the README promises: every dense vertex and triangle, smooth shading from the file's normals,
 * UVs and the texture straight on the material's base colour (GLB, textured OBJ), vertex colours (PLY),
 * a face-sized object at the origin that looks at Blender's front view, upright.
 */
import { spawn } from 'node:child_process';
import { access, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decimateFaceGrid, pickVertices, writeAnimatedGlb } from '../src/export/glb-animation.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { runCli } from './helpers/cli.js';
import { REPO, SHARED } from './helpers/paths.js';
import { TempDirs } from './helpers/tmp.js';

/**
 * Blender's side, in Blender's own Python (its only scripting language), run with
 * `blender -b --factory-startup --python-expr INSPECT -- FILE...`: imports each file into an
 * empty scene and prints one line `INSPECT {json}` per file — counts, UVs, normals, colours, the
 * material's texture, size and orientation in Blender's frame (z up; the front view looks along
 * +y, so a face turned to the front view has normals along −y).
 */
const INSPECT = String.raw`import json
import os
import sys

import bpy
import numpy as np

# Debian's Blender 3.4 runs on the system numpy (1.24), where the alias np.bool that its glTF
# importer uses (io_scene_gltf2 set_poly_smoothing) was removed; Blender's own builds bundle an
# older numpy that still has it. Restore the alias so the importer runs as it does for users.
if 'bool' in getattr(np, '__former_attrs__', {}):
    np.bool = bool


def import_file(path):
    if not os.path.isfile(path):
        raise SystemExit(f'no such file: {path}')
    ext = path.rsplit('.', 1)[-1].lower()
    if ext in ('glb', 'gltf'):
        bpy.ops.import_scene.gltf(filepath=path)
    elif ext == 'obj':
        bpy.ops.wm.obj_import(filepath=path)
    elif ext == 'ply':
        bpy.ops.import_mesh.ply(filepath=path)
    else:
        raise SystemExit(f'unknown extension: {path}')


def material_info(m):
    entry = {'name': m.name, 'baseColorLinked': False, 'images': []}
    if not m.use_nodes:
        return entry
    bsdf = next((nd for nd in m.node_tree.nodes if nd.type == 'BSDF_PRINCIPLED'), None)
    entry['baseColorLinked'] = bool(bsdf and bsdf.inputs['Base Color'].is_linked)
    entry['baseColorFrom'] = bsdf.inputs['Base Color'].links[0].from_node.type if entry['baseColorLinked'] else None
    for nd in m.node_tree.nodes:
        if nd.type == 'TEX_IMAGE' and nd.image is not None:
            img = nd.image
            px = np.empty(img.size[0] * img.size[1] * img.channels, dtype=np.float32)
            img.pixels.foreach_get(px)
            entry['images'].append({'size': list(img.size), 'meanRgb': float(px.reshape(-1, img.channels)[:, :3].mean())})
    return entry


def inspect(path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    import_file(path)
    objs = [o for o in bpy.context.scene.objects if o.type == 'MESH']
    out = {'file': path, 'meshObjects': len(objs)}
    if not objs:
        return out
    o = objs[0]
    me = o.data
    world = np.array(o.matrix_world)
    n = len(me.vertices)
    co = np.empty(n * 3)
    me.vertices.foreach_get('co', co)
    co = co.reshape(n, 3) @ world[:3, :3].T + world[:3, 3]
    me.calc_normals_split()
    ln = np.empty(len(me.loops) * 3)
    me.loops.foreach_get('normal', ln)
    ln = ln.reshape(-1, 3)
    pn = np.empty(len(me.polygons) * 3)
    me.polygons.foreach_get('normal', pn)
    pn = pn.reshape(-1, 3)
    totals = np.empty(len(me.polygons), dtype=np.int32)
    me.polygons.foreach_get('loop_total', totals)
    loop_poly = np.repeat(np.arange(len(me.polygons)), totals)
    smooth = np.zeros(len(me.polygons), dtype=bool)
    me.polygons.foreach_get('use_smooth', smooth)
    mean_n = (pn @ world[:3, :3].T).mean(axis=0)
    mean_n /= np.linalg.norm(mean_n)
    # Upright: a face is wider across the temples than across the chin.
    z = co[:, 2]
    lo, hi = np.quantile(z, [0.15, 0.85])
    width = lambda sel: float(co[sel, 0].max() - co[sel, 0].min())
    colors = [a.name for a in me.color_attributes]
    out.update({
        'vertices': n,
        'polygons': len(me.polygons),
        'triangles': int((totals == 3).sum()),
        'uvLayers': [u.name for u in me.uv_layers],
        'colorAttributes': colors,
        'hasCustomNormals': bool(me.has_custom_normals),
        'smoothFraction': float(smooth.mean()),
        # Corner normals that agree with their polygon's winding normal (shading not inverted).
        'loopNormalsAgree': float((np.einsum('ij,ij->i', ln, pn[loop_poly]) > 0).mean()),
        'size': [float(x) for x in (co.max(axis=0) - co.min(axis=0))],
        'center': [float(x) for x in (co.max(axis=0) + co.min(axis=0)) / 2],
        'meanNormal': [float(x) for x in mean_n],
        'topWidth': width(z >= hi),
        'bottomWidth': width(z <= lo),
        'materials': [material_info(s.material) for s in o.material_slots if s.material is not None],
        'meanVertex': [float(x) for x in co.mean(axis=0)],
        # Empties (the GLB's head node): where they sit, and where their glTF +z (out of the face)
        # points in Blender's world (the importer's y-up → z-up turns glTF's local +z into -y).
        'empties': [
            {'name': e.name, 'location': list(e.matrix_world.translation),
             'out': list((e.matrix_world.to_3x3() @ __import__('mathutils').Vector((0, -1, 0))).normalized())}
            for e in bpy.context.scene.objects if e.type == 'EMPTY'
        ],
    })
    return out


for p in sys.argv[sys.argv.index('--') + 1:]:
    print('INSPECT ' + json.dumps(inspect(p)), flush=True)
`;

interface Inspected {
  file: string;
  meshObjects: number;
  vertices: number;
  polygons: number;
  triangles: number;
  uvLayers: string[];
  colorAttributes: string[];
  hasCustomNormals: boolean;
  smoothFraction: number;
  loopNormalsAgree: number;
  size: [number, number, number];
  center: [number, number, number];
  meanNormal: [number, number, number];
  topWidth: number;
  bottomWidth: number;
  materials: { name: string; baseColorLinked: boolean; baseColorFrom: string | null; images: { size: [number, number]; meanRgb: number }[] }[];
  meanVertex: [number, number, number];
  empties: { name: string; location: [number, number, number]; out: [number, number, number] }[];
}

const VERTICES = 43_867;
const TRIANGLES = 86_964;
const FRONTAL = resolve(REPO, 'examples/astronaut.jpg');
const TURNED = resolve(SHARED, 'eval/aflw2000-3d/image00475.jpg'); // yaw ≈ 66°
const BLENDER = process.env.BLENDER ?? '/usr/bin/blender';

/**
 * Runs Blender headless on a script that prints one `TAG {json}` line per file; the records in
 * order, or an error with Blender's last words when fewer came.
 */
function runBlender<T>(script: string, tag: string, args: string[], files: string[]): Promise<T[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(BLENDER, ['-b', '--factory-startup', '--python-expr', script, '--', ...args, ...files], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const records = out.split('\n').filter((l) => l.startsWith(`${tag} `)).map((l) => JSON.parse(l.slice(tag.length + 1)) as T);
      if (records.length !== files.length) reject(new Error(`blender exited ${code} with ${records.length}/${files.length} reports:\n${(out + err).slice(-3000)}`));
      else resolvePromise(records);
    });
  });
}

/** Runs Blender headless on the inspection script; one record per file, in order. */
const inspectInBlender = (files: string[]): Promise<Inspected[]> => runBlender<Inspected>(INSPECT, 'INSPECT', [], files);

describe('the mesh files in Blender 3.4', () => {
  const dirs = new TempDirs('prnet-blender-');
  const byName = new Map<string, Inspected>();

  beforeAll(async () => {
    await access(BLENDER).catch(() => {
      throw new Error(`${BLENDER} not found: install Debian's blender (apt-get install blender), as .ci/run does`);
    });
    const out = await dirs.make();
    for (const photo of [FRONTAL, TURNED]) {
      const r = await runCli(['reconstruct', photo, '--out', out, '--formats', 'glb,obj,textured,ply', '--model', 'default']);
      expect(r.code, r.stderr).toBe(0);
    }
    const names = ['astronaut_face0.glb', 'astronaut_face0_textured.obj', 'astronaut_face0.obj', 'astronaut_face0.ply', 'image00475_face0.glb', 'image00475_face0_textured.obj'];
    const records = await inspectInBlender(names.map((n) => join(out, n)));
    names.forEach((n, i) => byName.set(n, records[i]));
  }, 300_000);
  afterAll(() => dirs.cleanup());

  const get = (name: string): Inspected => {
    const r = byName.get(name);
    if (!r) throw new Error(`${name} was not inspected`);
    return r;
  };

  it('imports every dense vertex and triangle as one smooth-shaded mesh object, shading not inverted', () => {
    for (const [name, r] of byName) {
      expect(r.meshObjects, name).toBe(1);
      expect(r.vertices, name).toBe(VERTICES);
      expect([r.polygons, r.triangles], name).toEqual([TRIANGLES, TRIANGLES]);
      // Blender 3.4's PLY importer reads no normals (its own TODO), so the PLY imports flat-shaded.
      if (name.endsWith('.ply')) continue;
      expect(r.hasCustomNormals, name).toBe(true);
      expect(r.smoothFraction, name).toBe(1);
      expect(r.loopNormalsAgree, name).toBeGreaterThan(0.98);
    }
  });

  it('GLB: UVs and the texture straight on the base colour; a face in metres at the origin, facing the front view, upright', () => {
    for (const name of ['astronaut_face0.glb', 'image00475_face0.glb']) {
      const r = get(name);
      expect(r.uvLayers.length, name).toBe(1);
      // No vertex colours beside the texture: Blender (as glTF says) would multiply them into it.
      expect(r.colorAttributes, name).toEqual([]);
      expect(r.materials, name).toHaveLength(1);
      const m = r.materials[0];
      expect(m.baseColorLinked, name).toBe(true);
      expect(m.baseColorFrom, name).toBe('TEX_IMAGE');
      expect(m.images.map((i) => i.size), name).toEqual([[256, 256]]);
      expect(m.images[0].meanRgb, name).toBeGreaterThan(0.1); // a photo, not a black or missing image
      // Units mm in the file become metres in glTF: a face is 0.1–0.25 m across, not 100 m.
      for (const s of r.size) expect(s, name).toBeGreaterThan(0.05);
      for (const s of r.size) expect(s, name).toBeLessThan(0.3);
      for (const c of r.center) expect(Math.abs(c), name).toBeLessThan(1e-3);
      expect(r.topWidth, name).toBeGreaterThan(r.bottomWidth); // temples wider than the chin: upright
    }
    // The head node imports as an empty at the face's centre (the vertices' mean, to a millimetre),
    // its out-of-the-face axis along the face's mean normal.
    for (const [name, stem] of [['astronaut_face0.glb', 'astronaut_face0'], ['image00475_face0.glb', 'image00475_face0']]) {
      const r = get(name);
      expect(r.empties.map((e) => e.name), name).toEqual([`${stem}_head`]);
      const [e] = r.empties;
      expect(Math.hypot(...e.location.map((c, k) => c - r.meanVertex[k])), name).toBeLessThan(1e-3);
      expect(e.out.reduce((a, c, k) => a + c * r.meanNormal[k], 0), name).toBeGreaterThan(0.7);
    }
    // The frontal face looks at Blender's front view (along −y); the turned one turns away from it.
    expect(get('astronaut_face0.glb').meanNormal[1]).toBeLessThan(-0.8);
    expect(get('image00475_face0.glb').meanNormal[1]).toBeGreaterThan(-0.8);
    expect(get('image00475_face0.glb').meanNormal[1]).toBeLessThan(0);
  });

  it('OBJ: the textured OBJ brings its MTL and PNG; both OBJs sit as the GLB does, in millimetres', () => {
    const glb = get('astronaut_face0.glb');
    for (const name of ['astronaut_face0_textured.obj', 'astronaut_face0.obj']) {
      const r = get(name);
      for (let k = 0; k < 3; k++) {
        expect(r.size[k] / 1000, name).toBeCloseTo(glb.size[k], 4);
        expect(r.meanNormal[k], name).toBeCloseTo(glb.meanNormal[k], 3);
        expect(Math.abs(r.center[k]), name).toBeLessThan(0.01);
      }
    }
    const textured = get('astronaut_face0_textured.obj');
    expect(textured.uvLayers.length).toBe(1);
    expect(textured.materials).toHaveLength(1);
    expect(textured.materials[0].baseColorLinked).toBe(true);
    expect(textured.materials[0].images.map((i) => i.size)).toEqual([[256, 256]]);
    expect(textured.materials[0].images[0].meanRgb).toBeCloseTo(glb.materials[0].images[0].meanRgb, 3);
    expect(get('image00475_face0_textured.obj').materials[0].images).toHaveLength(1);
  });

  it('PLY: vertex colours and the same size (Blender 3.4 reads it with no axis conversion, z up)', () => {
    const r = get('astronaut_face0.ply');
    const obj = get('astronaut_face0.obj');
    expect(r.colorAttributes.length).toBe(1);
    // The PLY's y-up coordinates land as they are: Blender's y and z swap places against the OBJ import.
    expect(r.size[0]).toBeCloseTo(obj.size[0], 2);
    expect(r.size[1]).toBeCloseTo(obj.size[2], 2);
    expect(r.size[2]).toBeCloseTo(obj.size[1], 2);
  });
});

/**
 * The animated GLB of `prnet video`, played in Blender: imported as it is (File → Import → glTF),
 * the scene set to each of `--frames`, the evaluated meshes (shape keys and the nodes' animated
 * scale applied) measured in world space. One line `ANIMATED {json}` per file.
 */
const ANIMATED = String.raw`import json
import sys

import bpy
import numpy as np

if 'bool' in getattr(np, '__former_attrs__', {}):
    np.bool = bool

args = sys.argv[sys.argv.index('--') + 1:]
frames = [int(f) for f in args[0].split(',')]
for path in args[1:]:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=path)
    scene = bpy.context.scene
    meshes = sorted((o for o in bpy.data.objects if o.type == 'MESH'), key=lambda o: o.name)
    record = {
        'fps': scene.render.fps / scene.render.fps_base,
        'shapeKeys': [len(o.data.shape_keys.key_blocks) if o.data.shape_keys else 0 for o in meshes],
        'actionEnds': sorted(a.frame_range[1] for a in bpy.data.actions),
        'heads': sorted(o.name for o in bpy.data.objects if o.name.endswith('_head')),
        'frames': [],
    }
    for f in frames:
        scene.frame_set(f)
        dg = bpy.context.evaluated_depsgraph_get()
        shown = []
        for i, o in enumerate(meshes):
            ev = o.evaluated_get(dg)
            if max(abs(c) for c in ev.matrix_world.to_scale()) < 1e-6:
                continue
            m = ev.to_mesh()
            pts = np.array([(ev.matrix_world @ v.co)[:] for v in m.vertices])
            ev.to_mesh_clear()
            shown.append({'mesh': i, 'min': pts.min(0).tolist(), 'max': pts.max(0).tolist(), 'mean': pts.mean(0).tolist()})
        heads = [o for o in bpy.data.objects if o.name.endswith('_head')]
        head = [list(h.matrix_world.to_quaternion()) + list(h.matrix_world.to_translation()) for h in heads]
        record['frames'].append({'frame': f, 'shown': shown, 'head': head})
    print('ANIMATED ' + json.dumps(record), flush=True)
`;

interface Animated {
  fps: number;
  shapeKeys: number[];
  actionEnds: number[];
  heads: string[];
  /** head: per head object, its world rotation (w, x, y, z) then location. */
  frames: { frame: number; shown: { mesh: number; min: number[]; max: number[]; mean: number[] }[]; head: number[][] }[];
}

/** Plays each file in Blender at the given scene frames (the ANIMATED script). */
const playInBlender = (frames: number[], files: string[]): Promise<Animated[]> => runBlender<Animated>(ANIMATED, 'ANIMATED', [frames.join(',')], files);

describe('the animated GLB of prnet video in Blender 3.4', () => {
  const dirs = new TempDirs('prnet-blender-video-');
  afterAll(() => dirs.cleanup());

  it('plays: one shape key per video frame, a life-size face moving about the origin; a long video\'s segments shown one at a time', async () => {
    const out = await dirs.make();
    const video = await runCli(['video', resolve(SHARED, 'eval/video/driving_d3.mp4'), '--out', out, '--model', 'light', '--frames', '30', '--no-jsonl', '--no-overlay', '--quiet']);
    expect(video.code, video.stderr).toBe(0);
    // A segmented file: 30 frames of a real face moving 10 px a frame, at most 12 targets per mesh.
    const prnet = await createPrnet({ model: 'light' });
    const { faces } = await prnet.reconstruct(await decodeImageFile(FRONTAL), { maxFaces: 1 });
    const grid = decimateFaceGrid(prnet.layout.faceIndex, prnet.layout.size, 3);
    await prnet.dispose();
    const first = pickVertices(faces[0].vertices, grid.vertexIds);
    const moving = Array.from({ length: 30 }, (_, k) => first.map((v, i) => (i % 3 === 0 ? v + 10 * k : v)));
    const segmented = join(out, 'segmented.glb');
    await writeFile(segmented, writeAnimatedGlb({ frames: moving, times: moving.map((_, k) => k / 24), triangles: grid.triangles }, { imageHeight: 512, scale: 0.001, units: 'm', segmentFrames: 12 }));
    const sampled = [0, 5, 11, 12, 20, 25, 29];
    const [clip, segments] = await playInBlender(sampled, [join(out, 'driving_d3.glb'), segmented]);

    // The clip: one mesh with a basis and 30 shape keys, played at the video's 30 frames/s, the
    // last frame held to the clip's end (1 s).
    expect(clip.shapeKeys).toEqual([31]);
    expect(clip.actionEnds.at(-1)! / clip.fps).toBeCloseTo(1, 2);
    for (const { frame, shown } of clip.frames) {
      expect(shown.map((s) => s.mesh), `frame ${frame}`).toEqual([0]);
      const size = shown[0].max.map((m, k) => m - shown[0].min[k]);
      // A face, life-size: 10–35 cm on each axis, within 10 cm of the origin.
      for (const d of size) expect(d, `frame ${frame}`).toBeGreaterThan(0.08);
      for (const d of size) expect(d, `frame ${frame}`).toBeLessThan(0.35);
      for (const c of shown[0].mean) expect(Math.abs(c), `frame ${frame}`).toBeLessThan(0.1);
    }
    // …and it moves: the shape at frame 20 is not the shape at frame 0.
    const at = (f: number) => clip.frames.find((x) => x.frame === f)!.shown[0];
    expect(Math.max(...at(0).mean.map((c, k) => Math.abs(c - at(20).mean[k])), ...at(0).max.map((c, k) => Math.abs(c - at(20).max[k])))).toBeGreaterThan(1e-3);
    // The head's pose is an object of its own (the mesh its child), keyed per frame: it sits at the
    // face (within 3 cm of the mesh's centre) and turns with it.
    expect(clip.heads).toEqual(['driving_d3_track1_head']);
    for (const { frame, shown, head } of clip.frames) {
      const where = head[0].slice(4);
      for (let k = 0; k < 3; k++) expect(Math.abs(where[k] - shown[0].mean[k]), `frame ${frame}`).toBeLessThan(0.03);
    }
    const q = (f: number) => clip.frames.find((x) => x.frame === f)!.head[0].slice(0, 4);
    const turn = Math.max(...clip.frames.map((f) => 2 * Math.acos(Math.min(1, Math.abs(q(f.frame).reduce((a, c, k) => a + c * q(0)[k], 0))))));
    expect(turn).toBeGreaterThan(0.01); // radians: the head turns over the second

    // Segments [0, 11], [11, 22], [22, 29] (they share their boundary frames): each frame shows one,
    // and the face is where frame k puts it, 1 cm further right per frame.
    expect(segments.shapeKeys).toEqual([13, 13, 9]);
    expect(segments.heads).toEqual([]); // written without a rest shape
    const x0 = segments.frames[0].shown[0].mean[0];
    for (const { frame, shown } of segments.frames) {
      expect(shown, `frame ${frame}`).toHaveLength(1);
      expect(shown[0].mesh, `frame ${frame}`).toBe(frame < 11 ? 0 : frame < 22 ? 1 : 2);
      expect(shown[0].mean[0] - x0, `frame ${frame}`).toBeCloseTo(0.01 * frame, 3);
    }
  }, 300_000);
});
