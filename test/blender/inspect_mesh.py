"""Import mesh files into an empty Blender scene, one at a time, and print what a user would see.

Run by test/blender.test.ts:
  blender -b --factory-startup --python test/blender/inspect_mesh.py -- FILE...
Prints one line `INSPECT {json}` per file: counts, UVs, normals, colours, the material's texture,
size and orientation of the imported mesh in Blender's frame (z up; the front view looks along +y,
so a face turned to the front view has normals along -y).
"""
import json
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
    })
    return out


for p in sys.argv[sys.argv.index('--') + 1:]:
    print('INSPECT ' + json.dumps(inspect(p)), flush=True)
