import { describe, expect, it } from 'vitest';
import { KEYPOINT_FEATURES, MAX_KEYPOINT_SHIFT, keypointFeatures, keypointRoll } from '../src/crop/keypoint-rule.js';
import {
  BOX_RULES,
  applyAffine,
  cropFromBox,
  squareFromBox,
  cropFromLandmarks,
  cropFromUserBox,
  cropTransform,
  invertAffine,
  landmarkRoll,
  MIN_CROP_ROLL,
  rolledSquareFromLandmarks,
  squareFromLandmarks,
  uncropPoint,
  uncropEnlarged,
  uncropPositionMap,
  warpCrop,
  writeCropInput,
  type CropTransform,
} from '../src/crop/index.js';
import { mirrorImage } from '../src/geometry/index.js';
import { hwcToChw, resizeSquare } from '../src/runtime/resample.js';
import type { RgbImage } from '../src/types.js';

describe('CropTransform', () => {
  it('maps the square corners to crop pixels 0 and 255 and round-trips through its inverse', () => {
    const t = cropTransform({ cx: 200, cy: 150, side: 100 });
    expect(t.scale).toBeCloseTo(255 / 100, 12);
    const [u0, v0] = applyAffine(t.forward, 150, 100);
    const [u1, v1] = applyAffine(t.forward, 250, 200);
    expect([u0, v0, u1, v1].map((n) => +n.toFixed(9))).toEqual([0, 0, 255, 255]);
    for (const [x, y] of [[0, 0], [123.4, -56.7], [1e4, 3.25]]) {
      const [u, v] = applyAffine(t.forward, x, y);
      const [x2, y2] = applyAffine(t.inverse, u, v);
      expect(x2).toBeCloseTo(x, 9);
      expect(y2).toBeCloseTo(y, 9);
    }
  });

  it('rejects a degenerate square', () => {
    expect(() => cropTransform({ cx: 0, cy: 0, side: 0 })).toThrow(RangeError);
    expect(() => cropTransform({ cx: NaN, cy: 0, side: 10 })).toThrow(RangeError);
  });
});

describe('crop rules', () => {
  it('a BlazeFace box with keypoints gets its centre from them: mirror-symmetric, bounded, the box rule without usable keypoints', () => {
    const box = { x: 200, y: 100, width: 120, height: 124, score: 0.9 };
    // a face turned to one side: nose and mouth left of the eyes' midpoint, one ear hidden behind
    const kp = Float32Array.from([235, 150, 285, 152, 248, 185, 252, 205, 205, 165, 320, 160]);
    const s = (box.width + box.height) / 2;
    const plain = { cx: box.x + box.width / 2, cy: box.y + box.height / 2 + BOX_RULES.blazeface.dy * s };
    const sq = squareFromBox({ ...box, keypoints: kp }, 'blazeface');
    expect(sq.side).toBeCloseTo(BOX_RULES.blazeface.k * s, 9);
    expect(Math.abs(sq.cx - plain.cx)).toBeGreaterThan(0.005 * s);   // the keypoints move it
    // mirrored about x = 500: the box, the keypoints (eyes and ears swap) and the centre
    const W = 1000;
    const mk = Float32Array.from([0, 1, 2, 3, 4, 5].flatMap((i) => { const j = [1, 0, 2, 3, 5, 4][i]!; return [W - kp[2 * j]!, kp[2 * j + 1]!]; }));
    const m = squareFromBox({ ...box, x: W - box.x - box.width, keypoints: mk }, 'blazeface');
    expect(m.cx).toBeCloseTo(W - sq.cx, 9);
    expect(m.cy).toBeCloseTo(sq.cy, 9);
    expect(m.side).toBeCloseTo(sq.side, 9);
    // without keypoints, with unusable ones, and for the other kinds: the box rule
    expect(squareFromBox(box, 'blazeface')).toEqual({ ...plain, side: BOX_RULES.blazeface.k * s });
    expect(squareFromBox({ ...box, keypoints: kp.subarray(0, 10) }, 'blazeface').cx).toBe(plain.cx);
    expect(squareFromBox({ ...box, keypoints: Float32Array.from(kp).fill(NaN, 4, 5) }, 'blazeface').cx).toBe(plain.cx);
    expect(squareFromBox({ ...box, keypoints: kp }, 'ssd-mobilenet').cx).toBe(box.x + box.width / 2);
    // an extreme but possible layout (nose and mouth at opposite sides of the box) moves the centre
    // at most MAX_KEYPOINT_SHIFT sides; a keypoint beyond a box side from the centre (left behind
    // when a box was moved) is not used at all
    const extreme = Float32Array.from(kp);
    extreme[4] = 260 + 0.9 * s; // the nose far aside (the mouth aside would also roll the face)
    const wild = squareFromBox({ ...box, keypoints: extreme }, 'blazeface');
    expect(Math.abs(wild.cx - plain.cx)).toBeCloseTo(MAX_KEYPOINT_SHIFT * s, 6);
    expect(squareFromBox({ ...box, keypoints: Float32Array.from(kp).fill(5000, 4, 5) }, 'blazeface').cx).toBe(plain.cx);
    expect(squareFromBox({ ...box, x: box.x + 3 * s, keypoints: kp }, 'blazeface').cx).toBe(plain.cx + 3 * s);
    // the features: 1, then offsets in box sides
    const f = new Float64Array(KEYPOINT_FEATURES);
    expect(keypointFeatures(box, kp, f)).toBe(true);
    expect(f[0]).toBe(1);
    expect(f[1]).toBeCloseTo((248 - 260) / s, 6);   // nose x − the eyes' midpoint x
    expect(f[5]).toBeCloseTo((205 - 320) / s, 6);   // right ear x − left ear x
  });

  it('a rolled face (from MIN_CROP_ROLL on) gets a square turned with it: the rule in its own frame, turned back', () => {
    const box = { x: 200, y: 100, width: 120, height: 124, score: 0.9 };
    const bx = 260, by = 162;
    // an upright face turned a little to one side: the eyes level, the mouth straight below them
    const kp = [235, 150, 285, 150, 270, 185, 260, 205, 205, 165, 320, 160];
    expect(keypointRoll(kp)).toBe(0);
    const upright = squareFromBox({ ...box, keypoints: kp }, 'blazeface');
    expect(upright.angle).toBeUndefined();
    const turned = (deg: number) => {
      const a = (deg * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a);
      const k = kp.map((v, i) => (i % 2 ? by + s * (kp[i - 1]! - bx) + c * (v - by) : bx + c * (v - bx) - s * (kp[i + 1]! - by)));
      return { a, c, s, sq: squareFromBox({ ...box, keypoints: k }, 'blazeface'), roll: keypointRoll(k)! };
    };
    for (const deg of [25, 60, 90, -75]) {
      const { a, c, s, sq, roll } = turned(deg);
      expect(roll).toBeCloseTo(a, 9);
      expect(sq.angle).toBeCloseTo(a, 9);
      expect(sq.side).toBeCloseTo(upright.side, 9);
      // the centre is the upright face's, turned about the box's centre
      expect(sq.cx).toBeCloseTo(bx + c * (upright.cx - bx) - s * (upright.cy - by), 6);
      expect(sq.cy).toBeCloseTo(by + s * (upright.cx - bx) + c * (upright.cy - by), 6);
    }
    // under the threshold: the upright crop as before (the networks learned rolls up to ±45°)
    expect(MIN_CROP_ROLL).toBeCloseTo((20 * Math.PI) / 180, 12);
    expect(turned(15).sq.angle).toBeUndefined();
    // keypoints with no direction: upright
    expect(keypointRoll(new Array(12).fill(7))).toBeNull();
  });

  it('a turned square\'s transform: its centre to the crop\'s, the face\'s right to +x and down to +y; angle 0 is the upright transform', () => {
    const a = 0.7, side = 180;
    const t = cropTransform({ cx: 300, cy: 200, side, angle: a });
    const mid = 127.5, k = 255 / side;
    const at = (x: number, y: number) => applyAffine(t.forward, x, y);
    expect(at(300, 200)[0]).toBeCloseTo(mid, 9);
    expect(at(300, 200)[1]).toBeCloseTo(mid, 9);
    const [rx, ry] = at(300 + 50 * Math.cos(a), 200 + 50 * Math.sin(a));
    expect(rx).toBeCloseTo(mid + 50 * k, 9);
    expect(ry).toBeCloseTo(mid, 9);
    const [dx, dy] = at(300 - 50 * Math.sin(a), 200 + 50 * Math.cos(a));
    expect(dx).toBeCloseTo(mid, 9);
    expect(dy).toBeCloseTo(mid + 50 * k, 9);
    expect(t.inverse).toEqual(invertAffine(t.forward));
    expect(t.square.angle).toBe(a);
    expect(cropTransform({ cx: 300, cy: 200, side, angle: 0 })).toEqual(cropTransform({ cx: 300, cy: 200, side }));
    expect(() => cropTransform({ cx: 300, cy: 200, side, angle: NaN })).toThrow(RangeError);
    // the resampled crop of a turned image is the upright crop of the upright image
    const W = 64;
    const img: RgbImage = { width: W, height: W, data: new Uint8Array(W * W * 3) };
    for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) img.data.set([x * 4, y * 4, (x * y) & 255], 3 * (y * W + x));
    const turned: RgbImage = { width: W, height: W, data: new Uint8Array(W * W * 3) };
    for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) turned.data.set(img.data.subarray(3 * ((W - 1 - x) * W + y), 3 * ((W - 1 - x) * W + y) + 3), 3 * (y * W + x));
    // turned by +90° (clockwise on screen): the upright pixel (u, v) lies at (W − 1 − v, u), so (x, y) holds (y, W − 1 − x)
    const plain = warpCrop(img, cropTransform({ cx: 31.5, cy: 31.5, side: 40 }, 32));
    const rolled = warpCrop(turned, cropTransform({ cx: 31.5, cy: 31.5, side: 40, angle: Math.PI / 2 }, 32));
    let worst = 0;
    for (let i = 0; i < plain.data.length; i++) worst = Math.max(worst, Math.abs(plain.data[i]! - rolled.data[i]!));
    expect(worst).toBeLessThan(1e-5);
  });

  it('68 landmarks give the roll and a square in the face\'s frame: turning the points turns both', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pts = new Float32Array(68 * 3).map((_, i) => (i % 3 === 2 ? 10 * rnd() : 100 + 80 * rnd()));
    const r0 = landmarkRoll(pts)!;
    const sq0 = rolledSquareFromLandmarks(pts, 3, 0);
    expect(sq0).toEqual(squareFromLandmarks(pts, 3));
    const b0 = rolledSquareFromLandmarks(pts, 3, r0);
    const a = 1.1, c = Math.cos(a), s = Math.sin(a);
    const moved = pts.map((v, i) => (i % 3 === 0 ? c * v - s * pts[i + 1]! : i % 3 === 1 ? s * pts[i - 1]! + c * v : v));
    const r1 = landmarkRoll(moved)!;
    expect(Math.atan2(Math.sin(r1 - r0 - a), Math.cos(r1 - r0 - a))).toBeCloseTo(0, 6);
    const b1 = rolledSquareFromLandmarks(moved, 3);
    expect(b1.angle).toBeCloseTo(r1, 9);
    expect(b1.side).toBeCloseTo(b0.side, 3);
    expect(b1.cx).toBeCloseTo(c * b0.cx - s * b0.cy, 3);
    expect(b1.cy).toBeCloseTo(s * b0.cx + c * b0.cy, 3);
    expect(landmarkRoll(pts.subarray(0, 60))).toBeNull();
    // a stride that is not a whole number ≥ 2 is refused (0 looped for ever), as squareFromLandmarks does
    for (const stride of [0, -3, 1, 2.5]) expect(() => rolledSquareFromLandmarks(pts, stride, 0.5)).toThrow(RangeError);
    expect(() => rolledSquareFromLandmarks(pts, 3, NaN)).toThrow(RangeError);
  });

  it('dlib boxes and user boxes follow the original rule: 1.58 × mean side, centre 0.14 × mean side lower', () => {
    const box = { x: 100, y: 50, width: 80, height: 120, score: 1 };
    const t = cropFromBox(box, 'dlib');
    expect(t.square.cx).toBeCloseTo(140, 9);
    expect(t.square.cy).toBeCloseTo(110 + 0.14 * 100, 9);
    expect(t.square.side).toBeCloseTo(158, 9);
    expect(cropFromUserBox(100, 50, 80, 120).square).toEqual(t.square);
    expect(() => cropFromUserBox(0, 0, 0, 10)).toThrow(RangeError);
  });

  it('landmarks give the centre of their box and 1.6 × its mean side, flat or as pairs', () => {
    const pts = [[10, 20], [50, 20], [30, 80], [20, 60]];
    const a = cropFromLandmarks(pts);
    expect(a.square).toEqual({ cx: 30, cy: 50, side: 1.6 * 50 });
    const flat3 = new Float32Array([10, 20, 5, 50, 20, 1, 30, 80, 0, 20, 60, 9]);
    expect(cropFromLandmarks(flat3, 3).square).toEqual(a.square);
  });

  it('a face\'s landmarks (68 × x, y, z, flat) are read as 3 numbers a point without being told', () => {
    // 68 points on a 100 × 140 box at (200, 300), z far outside it (as a face's z, up to hundreds of pixels).
    const lm = new Float32Array(68 * 3);
    for (let k = 0; k < 68; k++) lm.set([200 + (k % 11) * 10, 300 + (k % 15) * 10, -400 + 13 * k], 3 * k);
    const want = { cx: 250, cy: 370, side: 1.6 * (100 + 140) / 2 };
    expect(cropFromLandmarks(lm).square).toEqual(want);
    expect(cropFromLandmarks(lm, 3).square).toEqual(want);
    // Read as x, y pairs (the former default) the z values became points: another crop, no error.
    expect(cropFromLandmarks(lm, 2).square).not.toEqual(want);
    // 68 points in 2D stay pairs; a flat array that is not whole points is an error.
    const xy = new Float32Array(68 * 2);
    for (let k = 0; k < 68; k++) xy.set([lm[3 * k], lm[3 * k + 1]], 2 * k);
    expect(cropFromLandmarks(xy).square).toEqual(want);
    expect(() => cropFromLandmarks(lm.subarray(0, 203), 3)).toThrow(/203 numbers is not points of 3/);
    // FaceMesh's 478 points with irises (x, y, z) too.
    const mesh = new Float32Array(478 * 3);
    for (let k = 0; k < 478; k++) mesh.set([200 + (k % 11) * 10, 300 + (k % 15) * 10, -400 + k], 3 * k);
    expect(cropFromLandmarks(mesh).square).toEqual(want);
    expect(() => cropFromLandmarks(lm, 1)).toThrow(/stride must be a whole number ≥ 2/);
  });
});

describe('warpCrop', () => {
  // A 4×3 image whose pixel (i, j) has red 10·i + 50·j, green 200, blue 255.
  const img: RgbImage = { width: 4, height: 3, data: new Uint8Array(4 * 3 * 3) };
  for (let j = 0; j < 3; j++) {
    for (let i = 0; i < 4; i++) {
      const o = (j * 4 + i) * 3;
      img.data[o] = 10 * i + 50 * j;
      img.data[o + 1] = 200;
      img.data[o + 2] = 255;
    }
  }

  it('samples bilinearly in 0..1: crop pixel (u, v) reads image point inverse(u, v)', () => {
    // Square centred at (1.5, 1), side 3 → 4×4 crop: scale 1, crop (u, v) = image (u, v − 0.5).
    const t = cropTransform({ cx: 1.5, cy: 1, side: 3 }, 4);
    const c = warpCrop(img, t);
    expect(c.width).toBe(4);
    // crop (1, 2) ← image (1, 1.5): red = 10·1 + 50·1.5 = 85 (hand-computed), green 200, blue 255.
    const o = (2 * 4 + 1) * 3;
    expect(c.data[o] * 255).toBeCloseTo(85, 3);
    expect(c.data[o + 1]).toBeCloseTo(200 / 255, 6);
    expect(c.data[o + 2]).toBeCloseTo(1, 6);
    // crop (2, 1) ← image (2, 0.5): red = 20 + 25 = 45.
    expect(c.data[(1 * 4 + 2) * 3] * 255).toBeCloseTo(45, 3);
  });

  it('is black outside the image and fades at the border like skimage (constant mode)', () => {
    // Square centred at (0, 0), side 3 → 4×4 crop: crop (u, v) = image (u − 1.5, v − 1.5).
    const t = cropTransform({ cx: 0, cy: 0, side: 3 }, 4);
    const c = warpCrop(img, t);
    expect(Array.from(c.data.subarray(0, 3))).toEqual([0, 0, 0]); // image (−1.5, −1.5)
    // crop (2, 2) ← image (0.5, 0.5): all neighbours inside: red = 5 + 25 = 30.
    expect(c.data[(2 * 4 + 2) * 3] * 255).toBeCloseTo(30, 3);
    // crop (1, 2) ← image (−0.5, 0.5): only the right-hand neighbours count, weight 0.5 each row.
    // blue = 0.5 · 255 → 0.5.
    expect(c.data[(2 * 4 + 1) * 3 + 2]).toBeCloseTo(0.5, 6);
  });

  it('warps a 256² crop of a real-sized image quickly', () => {
    const big: RgbImage = { width: 1920, height: 1080, data: new Uint8Array(1920 * 1080 * 3).fill(128) };
    const t = cropFromBox({ x: 900, y: 400, width: 200, height: 240, score: 1 }, 'dlib');
    const t0 = performance.now();
    const c = warpCrop(big, t);
    const ms = performance.now() - t0;
    expect(c.data.length).toBe(256 * 256 * 3);
    expect(c.data[(128 * 256 + 128) * 3]).toBeCloseTo(128 / 255, 6);
    expect(ms).toBeLessThan(200);
  });
});

/** warpCrop as a plain per-pixel loop (the form before its upright fast path): the reference. */
function warpReference(image: RgbImage, t: CropTransform): Float32Array {
  const { width: w, height: h, data: src } = image;
  const size = t.size;
  const out = new Float32Array(size * size * 3);
  const [a, b, c, d, e, f] = t.inverse;
  for (let v = 0, o = 0; v < size; v++) {
    for (let u = 0; u < size; u++, o += 3) {
      const x = a * u + b * v + c;
      const y = d * u + e * v + f;
      if (!(x > -1 && y > -1 && x < w && y < h)) continue;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const taps: [number, number, number][] = [[x0, y0, (1 - fx) * (1 - fy)], [x0 + 1, y0, fx * (1 - fy)], [x0, y0 + 1, (1 - fx) * fy], [x0 + 1, y0 + 1, fx * fy]];
      const inside = taps.every(([x, y]) => x >= 0 && y >= 0 && x < w && y < h);
      for (let ch = 0; ch < 3; ch++) {
        let s = 0;
        if (inside) {
          for (const [x, y, wt] of taps) s += wt * src[(y * w + x) * 3 + ch];
        } else {
          for (const [x, y, wt] of taps) if (wt && x >= 0 && y >= 0 && x < w && y < h) s += wt * src[(y * w + x) * 3 + ch];
        }
        out[o + ch] = s * (1 / 255);
      }
    }
  }
  return out;
}

describe('the crop as the network input', () => {
  // A 97 × 61 image of pseudo-random bytes.
  const image: RgbImage = { width: 97, height: 61, data: new Uint8Array(97 * 61 * 3) };
  let seed = 11;
  for (let i = 0; i < image.data.length; i++) image.data[i] = (seed = (seed * 16807) % 2147483647) & 255;
  const rotated = (): CropTransform => {
    // The upright crop turned by 0.3 rad about its centre (as a tracker's crop can be).
    const t = cropTransform({ cx: 50, cy: 30, side: 70 });
    const [cos, sin] = [Math.cos(0.3), Math.sin(0.3)];
    const [a, b, , d, e] = t.inverse;
    const inverse = [cos * a - sin * d, cos * b - sin * e, 0, sin * a + cos * d, sin * b + cos * e, 0] as [number, number, number, number, number, number];
    inverse[2] = 50 - inverse[0] * 127.5 - inverse[1] * 127.5;
    inverse[5] = 30 - inverse[3] * 127.5 - inverse[4] * 127.5;
    return { ...t, inverse };
  };
  const crops: [string, CropTransform][] = [
    ['inside the image', cropTransform({ cx: 48, cy: 30, side: 40 })],
    ['across the edges', cropTransform({ cx: 10, cy: 55, side: 50 })],
    ['larger than the image', cropTransform({ cx: 48.3, cy: 30.7, side: 160 })],
    ['half a pixel off', cropTransform({ cx: 96.5, cy: -0.5, side: 3 })],
    ['turned', rotated()],
  ];

  it.each(crops)('warpCrop equals the per-pixel reference bit for bit: %s', (_, t) => {
    const fast = warpCrop(image, t).data;
    const ref = warpReference(image, t);
    let differing = 0;
    for (let i = 0; i < ref.length; i++) if (!Object.is(fast[i], ref[i])) differing++;
    expect(differing).toBe(0);
  });

  it.each(crops)('writeCropInput equals warpCrop → mirrorImage → resizeSquare → hwcToChw at 256², 128² and 96², over old values: %s', (_, t) => {
    for (const S of [256, 128, 96]) {
      const plane = S * S;
      const crop = warpCrop(image, t);
      const expected = new Float32Array(7 * plane);
      hwcToChw(S === 256 ? crop.data : resizeSquare(crop.data, 256, S, 3), S, 3, expected, 0);
      const m = mirrorImage(crop).data;
      hwcToChw(S === 256 ? m : resizeSquare(m, 256, S, 3), S, 3, expected, 4 * plane);
      // Offsets 0 and 4 planes into a buffer full of old values: every value is written.
      const got = new Float32Array(7 * plane).fill(-7);
      writeCropInput(image, t, S, got, 0, 4 * plane);
      expected.fill(-7, 3 * plane, 4 * plane);
      let differing = 0;
      for (let i = 0; i < got.length; i++) if (!Object.is(got[i], expected[i])) differing++;
      expect(differing, `S ${S}`).toBe(0);
    }
  });
});

describe('uncropPositionMap', () => {
  it('uncropEnlarged equals enlarging (resizeSquare) then uncropping, bit for bit; the same map when not enlarging', () => {
    let seed = 5;
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const t = cropTransform({ cx: 321.7, cy: 205.2, side: 187.3 });
    for (const n of [128, 100]) {
      const small = { size: n, data: new Float32Array(n * n * 3).map(() => 300 * rnd() - 20) };
      const expected = uncropPositionMap({ size: 256, data: resizeSquare(small.data, n, 256, 3) }, t).data;
      const got = uncropEnlarged(small, t, 256).data;
      let differing = 0;
      for (let i = 0; i < got.length; i++) if (!Object.is(got[i], expected[i])) differing++;
      expect(differing, `${n}² → 256²`).toBe(0);
    }
    const same = { size: 256, data: new Float32Array(256 * 256 * 3).map(() => 100 * rnd()) };
    expect(uncropEnlarged(same, t, 256).data).toEqual(uncropPositionMap(same, t).data);
  });

  it('moves x, y through the inverse affine and divides z by the scale, without touching the input', () => {
    const t = cropTransform({ cx: 300, cy: 200, side: 510 }); // scale 255/510 = 0.5
    const map = { size: 2, data: new Float32Array([0, 0, 10, 255, 255, -4, 127.5, 127.5, 0, 51, 102, 255]) };
    const copy = map.data.slice();
    const out = uncropPositionMap(map, t);
    expect(out.size).toBe(2);
    expect(Array.from(map.data)).toEqual(Array.from(copy));
    const expected = [45, -55, 20, 555, 455, -8, 300, 200, 0, 147, 149, 510];
    out.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 3));
    expect(uncropPoint(t, 255, 255, -4)).toEqual([555, 455, -8]);
  });
});
