import { describe, expect, it } from 'vitest';
import {
  faceStrokes,
  wireframeStep,
  coverageMask,
  createRaster,
  drawLandmarks,
  drawMesh,
  drawPoseBox,
  interpolate,
  poissonBlend,
  rasterize,
  renderColors,
  renderDepth,
  renderTexture,
  texelVisibility,
  uniqueEdges,
  uvTexture,
  vertexVisibility,
} from '../src/render/index.js';
import type { RgbImage } from '../src/types.js';

function image(width: number, height: number, fill: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[3 * (y * width + x) + c] = fill(x, y, c);
  return { width, height, data };
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const o = 3 * (y * img.width + x);
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

/** A g×g grid of vertices over [x0, x1]² with z = zf(x, y); interior vertices moved by `jitter`. */
function grid(g: number, x0: number, x1: number, zf: (x: number, y: number) => number, jitter?: (i: number, j: number) => [number, number]) {
  const v = new Float32Array(g * g * 3);
  for (let j = 0; j < g; j++) {
    for (let i = 0; i < g; i++) {
      let x = x0 + ((x1 - x0) * i) / (g - 1);
      let y = x0 + ((x1 - x0) * j) / (g - 1);
      if (jitter && i > 0 && j > 0 && i < g - 1 && j < g - 1) {
        const [dx, dy] = jitter(i, j);
        x += dx;
        y += dy;
      }
      const k = 3 * (j * g + i);
      v[k] = x;
      v[k + 1] = y;
      v[k + 2] = zf(x, y);
    }
  }
  const t = new Int32Array((g - 1) * (g - 1) * 6);
  let o = 0;
  for (let j = 0; j < g - 1; j++) {
    for (let i = 0; i < g - 1; i++) {
      const a = j * g + i, b = a + 1, c = a + g, d = c + 1;
      // Alternate the diagonal, and the winding, to cover both.
      if ((i + j) % 2 === 0) {
        t.set([a, c, b, b, c, d], o);
      } else {
        t.set([a, d, b, a, c, d], o);
      }
      o += 6;
    }
  }
  return { vertices: v, triangles: t };
}

describe('rasterize', () => {
  it('fills a known triangle with its plane depth, leaves the outside empty, and applies the top-left rule', () => {
    // z = 8 + y on the triangle (2,2) (20,2) (2,20).
    const v = new Float32Array([2, 2, 10, 20, 2, 10, 2, 20, 28]);
    const r = rasterize(v, new Int32Array([0, 1, 2]), 32, 32);
    let inside = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const i = y * 32 + x;
        // Top edge y = 2 and left edge x = 2 are drawn; the hypotenuse x + y = 22 is not.
        const expectIn = x >= 2 && y >= 2 && x + y < 22;
        if (expectIn) {
          inside++;
          expect(r.triangle[i]).toBe(0);
          expect(r.depth[i]).toBeCloseTo(8 + y, 4);
        } else {
          expect(r.triangle[i]).toBe(-1);
          expect(r.depth[i]).toBe(-Infinity);
        }
      }
    }
    expect(inside).toBe(171);
  });

  it('lets a nearer triangle occlude a farther one whatever the drawing order', () => {
    const far = [0, 0, 5, 30, 0, 5, 0, 30, 5];
    const near = [5, 5, 100, 25, 5, 100, 5, 25, 100];
    for (const order of [[far, near], [near, far]]) {
      const v = new Float32Array([...order[0], ...order[1]]);
      const r = rasterize(v, new Int32Array([0, 1, 2, 3, 4, 5]), 32, 32);
      const nearId = order[0] === near ? 0 : 1;
      expect(r.depth[10 * 32 + 10]).toBe(100);
      expect(r.triangle[10 * 32 + 10]).toBe(nearId);
      expect(r.depth[2 * 32 + 2]).toBe(5);
      expect(r.triangle[2 * 32 + 2]).toBe(1 - nearId);
    }
  });

  it('covers every pixel of a tiled region exactly once: no cracks, no double coverage on shared edges', () => {
    // Interior vertices jittered by quarter pixels, so many pixel centres lie exactly on edges and vertices.
    const jit = (i: number, j: number): [number, number] => [(((i * 7 + j * 3) % 9) - 4) * 0.25, (((i * 5 + j * 11) % 9) - 4) * 0.25];
    const { vertices, triangles } = grid(9, 8, 40, () => 0, jit);
    const count = new Uint8Array(48 * 48);
    for (let t = 0; t < triangles.length / 3; t++) {
      const r = rasterize(vertices, triangles.subarray(3 * t, 3 * t + 3), 48, 48);
      for (let i = 0; i < count.length; i++) if (r.triangle[i] >= 0) count[i]++;
    }
    for (let y = 0; y < 48; y++) {
      for (let x = 0; x < 48; x++) {
        // The tiled square [8, 40]²: its left and top sides are drawn, its right and bottom sides are not.
        const expected = x >= 8 && x < 40 && y >= 8 && y < 40 ? 1 : 0;
        expect(count[y * 48 + x], `pixel ${x},${y}`).toBe(expected);
      }
    }
  });

  it('interpolates per-vertex attributes barycentrically and reuses a target raster', () => {
    const v = new Float32Array([0, 0, 0, 16, 0, 0, 0, 16, 0]);
    const tri = new Int32Array([0, 1, 2]);
    const r = createRaster(20, 20);
    rasterize(v, tri, 20, 20, r);
    const attr = new Float32Array([0, 16, 0]); // = x
    const out = interpolate(r, v, tri, attr, 1);
    expect(out[5 * 20 + 7]).toBeCloseTo(7, 5);
    expect(coverageMask(r)[5 * 20 + 7]).toBe(255);
    expect(coverageMask(r)[19 * 20 + 19]).toBe(0);
  });

  it('skips triangles with non-finite vertices', () => {
    const v = new Float32Array([0, 0, 0, 10, 0, 0, 0, NaN, 0]);
    const r = rasterize(v, new Int32Array([0, 1, 2]), 16, 16);
    expect(r.triangle.every((t) => t === -1)).toBe(true);
  });
});

describe('renderDepth, renderColors, vertexVisibility', () => {
  it('renders depth as grey: nearest 255, farthest 1, background 0', () => {
    const v = new Float32Array([2, 2, 0, 30, 2, 0, 2, 30, 100, 30, 30, 100]);
    const g = renderDepth(v, new Int32Array([0, 2, 1, 1, 2, 3]), 32, 32);
    expect(g.data[0]).toBe(0);
    expect(g.data[2 * 32 + 10]).toBe(1); // y = 2: farthest
    expect(g.data[29 * 32 + 10]).toBeGreaterThan(240);
    expect(g.data[20 * 32 + 10]).toBeGreaterThan(g.data[10 * 32 + 10]);
  });

  it('marks a vertex behind another surface as hidden, and vertices in front or off-image correctly', () => {
    // A back plane (z = 0, steep in y to exercise the plane evaluation) and a near quad over part of it.
    const { vertices: back, triangles: bt } = grid(5, 0, 40, (_x, y) => y * 2);
    const front = new Float32Array([15, 15, 200, 35, 15, 200, 15, 35, 200, 35, 35, 200]);
    const nb = back.length / 3;
    const v = new Float32Array([...back, ...front, 100, 100, 0]);
    const t = new Int32Array([...bt, nb, nb + 2, nb + 1, nb + 1, nb + 2, nb + 3]);
    const vis = vertexVisibility(v, t, 64, 64);
    for (let i = 0; i < nb; i++) {
      const x = back[3 * i], y = back[3 * i + 1];
      const hidden = x >= 15 && x < 35 && y >= 15 && y < 35;
      expect(vis[i], `vertex ${i} at ${x},${y}`).toBe(hidden ? 0 : 1);
    }
    for (let i = nb; i < nb + 4; i++) expect(vis[i]).toBe(1);
    expect(vis[nb + 4]).toBe(0); // off the image
  });

  it('renders interpolated vertex colours over a background', () => {
    const bg = image(16, 16, () => 77);
    const v = new Float32Array([0, 0, 0, 12, 0, 0, 0, 12, 0, 12, 12, 0]);
    const colors = new Float32Array([1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1]);
    const out = renderColors(v, new Int32Array([0, 2, 1, 1, 2, 3]), colors, 16, 16, bg);
    expect(pixel(out, 5, 0)).toEqual([255, 0, 0]);
    expect(pixel(out, 5, 3)).toEqual([191, 0, 64]);
    expect(pixel(out, 14, 14)).toEqual([77, 77, 77]);
    expect(pixel(bg, 5, 0)).toEqual([77, 77, 77]);
  });
});

describe('texture warps', () => {
  it('samples the image bilinearly at each texel and masks invisible or off-image texels', () => {
    const img = image(10, 10, (x, y, c) => (c === 0 ? x * 20 : c === 1 ? y * 20 : 5));
    const size = 4;
    const data = new Float32Array(size * size * 3);
    for (let i = 0; i < size * size; i++) {
      data[3 * i] = 1.5 + (i % 4);
      data[3 * i + 1] = 2.25 + Math.floor(i / 4);
    }
    data[3 * 15] = 50; // off the image
    const vis = new Uint8Array(16).fill(1);
    vis[3] = 0;
    const { texture, mask } = uvTexture(img, { size, data }, vis);
    expect(pixel(texture, 0, 0)).toEqual([30, 45, 5]);
    expect(pixel(texture, 2, 1)).toEqual([70, 65, 5]);
    expect(mask[0]).toBe(255);
    expect(mask[3]).toBe(0);
    expect(pixel(texture, 3, 0)).toEqual([0, 0, 0]);
    expect(mask[15]).toBe(0);
    expect(pixel(texture, 3, 3)).toEqual([0, 0, 0]);
  });

  it('finds occluded texels through the face mesh z-buffer', () => {
    // UV rows 0–7: a back plane over image x 0..30, y 0..14 at z = 0;
    // rows 8–15: a front plane at z = 50 over image x 0..14 (in front of the back plane's left half).
    const size = 16;
    const data = new Float32Array(size * size * 3);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const i = 3 * (r * size + c);
        if (r < 8) { data[i] = c * 2; data[i + 1] = r * 2; data[i + 2] = 0; } else { data[i] = c; data[i + 1] = (r - 8) * 2; data[i + 2] = 50; }
      }
    }
    const faceIndex = Int32Array.from({ length: size * size }, (_, i) => i);
    const tris: number[] = [];
    for (let r = 0; r < size - 1; r++) {
      if (r === 7) continue; // no triangles between the two planes
      for (let c = 0; c < size - 1; c++) {
        const a = r * size + c;
        tris.push(a, a + size, a + 1, a + 1, a + size, a + size + 1);
      }
    }
    const vis = texelVisibility({ size, data }, faceIndex, new Int32Array(tris), 40, 40);
    expect(vis[2 * size + 3]).toBe(0); // back texel at image (6, 4): behind the front plane
    expect(vis[2 * size + 10]).toBe(1); // back texel at image (20, 4): clear
    expect(vis[10 * size + 3]).toBe(1); // front texel
  });

  it('renders a UV texture onto a geometry with each vertex taking its texel', () => {
    const tex = image(4, 4, (x, _y, c) => (c === 0 ? (x < 2 ? 200 : 10) : 0));
    const v = new Float32Array([0, 0, 0, 10, 0, 0, 0, 10, 0, 10, 10, 0]);
    const faceIndex = new Int32Array([0, 1, 4, 5]); // all texels with x < 2
    const { image: out, mask } = renderTexture(tex, faceIndex, v, new Int32Array([0, 2, 1, 1, 2, 3]), 12, 12);
    expect(pixel(out, 4, 4)).toEqual([200, 0, 0]);
    expect(mask[4 * 12 + 4]).toBe(255);
    expect(mask[11 * 12 + 11]).toBe(0);
  });
});

describe('overlays', () => {
  const blank = () => image(200, 200, () => 0);

  it('draws landmarks as red points with white contours, on a copy', () => {
    const img = blank();
    const pts = new Float32Array(68 * 2);
    for (let i = 0; i < 68; i++) { pts[2 * i] = 20 + (i % 17) * 10; pts[2 * i + 1] = 20 + Math.floor(i / 17) * 40; }
    const out = drawLandmarks(img, pts);
    expect(pixel(out, 20, 20)).toEqual([255, 0, 0]);
    expect(pixel(out, 25, 20)).toEqual([255, 255, 255]); // jaw line between points 0 and 1
    expect(pixel(out, 100, 180)).toEqual([0, 0, 0]);
    expect(img.data.every((b) => b === 0)).toBe(true);
  });

  it('draws a projected pose box', () => {
    const out = drawPoseBox(blank(), [1, 0, 0, 0, 1, 0, 0, 0, 1], 0.5, [100, 100, 0], { thickness: 1 });
    expect(pixel(out, 55, 80)).toEqual([0, 255, 0]); // rear square's left side, x = 100 − 45
    expect(pixel(out, 48, 120)).toEqual([0, 255, 0]); // front square's left side, x = 100 − 52.5
    expect(pixel(out, 100, 100)).toEqual([0, 0, 0]);
  });

  it('a face\'s strokes follow its size, capped by the photo\'s defaults; its wireframe\'s lines stay apart (a 12-MP photo drew a white wash)', () => {
    // a 512² photo and its 153-px face, as before: discs of 2, lines of 1, box 2, wireframe 1
    expect(faceStrokes({ width: 512, height: 512 }, 153)).toEqual({ radius: 2, lines: 1, box: 2, mesh: 1 });
    // a 190-px face in a 2640 × 2298 group photo: discs of 2, not the photo's 10
    expect(faceStrokes({ width: 2640, height: 2298 }, 190)).toEqual({ radius: 2, lines: 1, box: 2, mesh: 1 });
    // a face filling a 4000 × 3000 photo keeps the photo's defaults (radius 13, lines 8, box 13; the wireframe's 4 as its 830-px face asks: 2)
    expect(faceStrokes({ width: 4000, height: 3000 }, 3000)).toEqual({ radius: 13, lines: 8, box: 13, mesh: 4 });
    expect(faceStrokes({ width: 4000, height: 3000 }, 830)).toMatchObject({ mesh: 2 });
    // grid lines ≥ 5 px and ≥ 5 line widths apart: 830-px crop, 2-px lines → every 10 px (3 texels of 3.24 px)
    expect(wireframeStep(830, 256, 2)).toBe(3);
    expect(wireframeStep(153, 256, 1)).toBe(8);
    // a 40-px face: 32 texels (5 px), not 16 (2.5 px)
    expect(wireframeStep(40, 256, 1)).toBe(32);
  });

  it('draws each mesh edge once with alpha and leaves triangle interiors untouched', () => {
    const v = new Float32Array([20, 20, 0, 180, 20, 0, 20, 180, 0, 180, 180, 0]);
    const tri = new Int32Array([0, 2, 1, 1, 2, 3]);
    expect(uniqueEdges(tri, 4).length / 2).toBe(5);
    const g = grid(9, 0, 8, () => 0).triangles;
    const edges = uniqueEdges(g, 81);
    expect(edges.length / 2).toBe(8 * 9 * 2 + 64); // rows, columns and one diagonal per cell
    const keys = new Set<number>();
    for (let e = 0; e < edges.length; e += 2) { expect(edges[e]).toBeLessThan(edges[e + 1]); keys.add(edges[e] * 81 + edges[e + 1]); }
    expect(keys.size).toBe(edges.length / 2);
    const out = drawMesh(image(200, 200, () => 100), v, tri, { color: [200, 200, 200], alpha: 0.5, thickness: 1 });
    expect(pixel(out, 100, 20)).toEqual([150, 150, 150]);
    expect(pixel(out, 100, 100)).toEqual([150, 150, 150]); // the shared diagonal, blended once
    expect(pixel(out, 60, 40)).toEqual([100, 100, 100]);
  });
});

describe('poissonBlend', () => {
  const W = 96, H = 80;
  const mask = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (((x - 48) / 30) ** 2 + ((y - 40) / 25) ** 2 < 1) mask[y * W + x] = 255;

  it('keeps pixels outside the mask unchanged', () => {
    const target = image(W, H, (x, y, c) => (x * 3 + y * 5 + c * 40) % 256);
    const source = image(W, H, (x, y, c) => (x * y + c * 17) % 256);
    const out = poissonBlend(target, source, mask);
    for (let i = 0; i < W * H; i++) {
      if (mask[i]) continue;
      for (let c = 0; c < 3; c++) expect(out.data[3 * i + c]).toBe(target.data[3 * i + c]);
    }
  });

  it('reproduces the target when the source differs from it by a constant (same gradients)', () => {
    const target = image(W, H, (x, y, c) => 20 + ((x + y) >> 1) + c * 10);
    const source = image(W, H, (x, y, c) => 80 + ((x + y) >> 1) + c * 10);
    const out = poissonBlend(target, source, mask);
    let maxErr = 0;
    for (let i = 0; i < out.data.length; i++) maxErr = Math.max(maxErr, Math.abs(out.data[i] - target.data[i]));
    expect(maxErr).toBeLessThanOrEqual(1);
  });

  it('keeps the source detail inside while matching the target at the border', () => {
    const target = image(W, H, () => 150);
    const source = image(W, H, (x, _y) => (x % 8 < 4 ? 40 : 80));
    const out = poissonBlend(target, source, mask);
    const at = (x: number, y: number) => out.data[3 * (y * W + x)];
    expect(Math.abs(at(49, 40) - at(45, 40))).toBeGreaterThan(30); // stripes survive
    let sum = 0, n = 0;
    for (let i = 0; i < W * H; i++) if (mask[i]) { sum += out.data[3 * i]; n++; }
    expect(Math.abs(sum / n - 150)).toBeLessThan(10); // brought to the target's level
  });
});
