/** Small readers for the mesh files the CLI writes (OBJ, PLY, GLB), for parse-back checks. */

export interface ParsedMesh {
  /** N×3 positions. */
  positions: Float32Array;
  /** M×3 vertex indices (0-based). */
  triangles: Uint32Array;
  /** Per-vertex colour components per vertex (0 when none). */
  colorComponents: number;
}

export interface ParsedObj extends ParsedMesh {
  uvCount: number;
  mtllib?: string;
  /** Faces written as v/vt. */
  texturedFaces: number;
}

/** Reads `v`, `vt`, `f` (v or v/vt or v/vt/vn, 1-based), `mtllib`; other lines are skipped. */
export function parseObj(text: string): ParsedObj {
  const pos: number[] = [];
  const tri: number[] = [];
  let uvCount = 0;
  let colorComponents = 0;
  let texturedFaces = 0;
  let mtllib: string | undefined;
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    switch (parts[0]) {
      case 'v':
        pos.push(Number(parts[1]), Number(parts[2]), Number(parts[3]));
        colorComponents = parts.length - 4;
        break;
      case 'vt':
        uvCount++;
        break;
      case 'f': {
        if (parts.length !== 4) throw new Error(`not a triangle: ${line}`);
        if (parts[1].includes('/')) texturedFaces++;
        for (const p of parts.slice(1)) tri.push(Number(p.split('/')[0]) - 1);
        break;
      }
      case 'mtllib':
        mtllib = parts.slice(1).join(' ');
        break;
    }
  }
  return { positions: Float32Array.from(pos), triangles: Uint32Array.from(tri), colorComponents, uvCount, mtllib, texturedFaces };
}

const PLY_TYPES: Record<string, [number, (v: DataView, o: number) => number]> = {
  float: [4, (v, o) => v.getFloat32(o, true)],
  float32: [4, (v, o) => v.getFloat32(o, true)],
  uchar: [1, (v, o) => v.getUint8(o)],
  uint8: [1, (v, o) => v.getUint8(o)],
  int: [4, (v, o) => v.getInt32(o, true)],
  int32: [4, (v, o) => v.getInt32(o, true)],
  uint: [4, (v, o) => v.getUint32(o, true)],
  uint32: [4, (v, o) => v.getUint32(o, true)],
};

/** Reads a binary little-endian or ASCII PLY with a `vertex` element (x, y, z, …) and a `face` list. */
export function parsePly(bytes: Uint8Array): ParsedMesh & { format: string } {
  const headerEnd = Buffer.from(bytes).indexOf('end_header\n');
  if (headerEnd < 0) throw new Error('no end_header');
  const header = new TextDecoder().decode(bytes.subarray(0, headerEnd)).split('\n');
  if (header[0] !== 'ply') throw new Error('not a PLY file');
  const format = (header.find((l) => l.startsWith('format ')) ?? '').split(' ')[1];
  const elements: { name: string; count: number; props: { name: string; type: string; list?: [string, string] }[] }[] = [];
  for (const l of header) {
    const p = l.split(' ');
    if (p[0] === 'element') elements.push({ name: p[1], count: Number(p[2]), props: [] });
    if (p[0] === 'property') {
      const el = elements[elements.length - 1];
      if (p[1] === 'list') el.props.push({ name: p[4], type: '', list: [p[2], p[3]] });
      else el.props.push({ name: p[2], type: p[1] });
    }
  }
  const vertexEl = elements.find((e) => e.name === 'vertex');
  const faceEl = elements.find((e) => e.name === 'face');
  if (!vertexEl || !faceEl) throw new Error('PLY without vertex or face element');
  const positions = new Float32Array(vertexEl.count * 3);
  const tri: number[] = [];
  const colorComponents = vertexEl.props.filter((p) => ['red', 'green', 'blue'].includes(p.name)).length;
  const xyz = ['x', 'y', 'z'].map((n) => vertexEl.props.findIndex((p) => p.name === n));
  if (format === 'ascii') {
    const lines = new TextDecoder().decode(bytes.subarray(headerEnd + 'end_header\n'.length)).split('\n');
    let li = 0;
    for (const el of elements) {
      for (let i = 0; i < el.count; i++) {
        const vals = lines[li++].trim().split(/\s+/).map(Number);
        if (el === vertexEl) xyz.forEach((k, c) => (positions[3 * i + c] = vals[k]));
        else if (el === faceEl) {
          if (vals[0] !== 3) throw new Error('not a triangle');
          tri.push(vals[1], vals[2], vals[3]);
        }
      }
    }
  } else {
    if (format !== 'binary_little_endian') throw new Error(`unsupported PLY format ${format}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let o = headerEnd + 'end_header\n'.length;
    for (const el of elements) {
      for (let i = 0; i < el.count; i++) {
        el.props.forEach((p, k) => {
          if (p.list) {
            const [cs, cr] = PLY_TYPES[p.list[0]];
            const n = cr(view, o);
            o += cs;
            const [is, ir] = PLY_TYPES[p.list[1]];
            if (el === faceEl && n !== 3) throw new Error('not a triangle');
            for (let j = 0; j < n; j++, o += is) if (el === faceEl) tri.push(ir(view, o));
          } else {
            const [s, r] = PLY_TYPES[p.type];
            if (el === vertexEl) {
              const c = xyz.indexOf(k);
              if (c >= 0) positions[3 * i + c] = r(view, o);
            }
            o += s;
          }
        });
      }
    }
    if (o !== bytes.length) throw new Error(`PLY has ${bytes.length - o} trailing bytes`);
  }
  return { positions, triangles: Uint32Array.from(tri), colorComponents, format };
}

interface GltfJson {
  asset: { version: string };
  meshes: { primitives: { attributes: Record<string, number>; indices?: number; mode?: number }[] }[];
  accessors: { bufferView: number; byteOffset?: number; componentType: number; count: number; type: string }[];
  bufferViews: { buffer: number; byteOffset?: number; byteLength: number }[];
  buffers: { byteLength: number }[];
  images?: unknown[];
}

/** Reads a GLB: its JSON, and the first primitive's positions, indices and whether it has colours. */
export function parseGlb(bytes: Uint8Array): ParsedMesh & { json: GltfJson } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== 0x46546c67) throw new Error('not a GLB (magic)');
  if (view.getUint32(4, true) !== 2) throw new Error('not glTF 2');
  if (view.getUint32(8, true) !== bytes.length) throw new Error('GLB length mismatch');
  const jsonLen = view.getUint32(12, true);
  if (view.getUint32(16, true) !== 0x4e4f534a) throw new Error('first chunk is not JSON');
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + jsonLen))) as GltfJson;
  const binStart = 20 + jsonLen;
  const binLen = view.getUint32(binStart, true);
  if (view.getUint32(binStart + 4, true) !== 0x004e4942) throw new Error('second chunk is not BIN');
  const bin = bytes.subarray(binStart + 8, binStart + 8 + binLen);
  const binView = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const read = (index: number): number[] => {
    const a = json.accessors[index];
    const bv = json.bufferViews[a.bufferView];
    const comps = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4 }[a.type] ?? 1;
    const start = (bv.byteOffset ?? 0) + (a.byteOffset ?? 0);
    const out: number[] = [];
    for (let i = 0; i < a.count * comps; i++) {
      if (a.componentType === 5126) out.push(binView.getFloat32(start + 4 * i, true));
      else if (a.componentType === 5125) out.push(binView.getUint32(start + 4 * i, true));
      else if (a.componentType === 5123) out.push(binView.getUint16(start + 2 * i, true));
      else throw new Error(`component type ${a.componentType}`);
    }
    return out;
  };
  const prim = json.meshes[0].primitives[0];
  const positions = Float32Array.from(read(prim.attributes.POSITION));
  const triangles = Uint32Array.from(prim.indices === undefined ? [] : read(prim.indices));
  const colorComponents = prim.attributes.COLOR_0 === undefined ? 0 : { VEC3: 3, VEC4: 4 }[json.accessors[prim.attributes.COLOR_0].type] ?? 0;
  return { positions, triangles, colorComponents, json };
}
