import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { cropFromLandmarks, landmarkRoll, rolledSquareFromLandmarks, squareFromLandmarks } from '../src/crop/index.js';
import type { Layout } from '../src/layout/index.js';
import { loadLayout } from '../src/layout/node.js';
import type { Face } from '../src/pipeline/face.js';
import type { ReconstructOptions, ReconstructResult } from '../src/pipeline/prnet.js';
import { createRng } from '../src/model/weights.js';
import {
  FaceStabilizer,
  FaceTracker,
  OneEuroFilter,
  OneEuroVector,
  VideoTracker,
  faceSize,
  landmarkJitter,
  meanCoordinate,
  smoothingFactor,
  trajectoryLag,
  type FramePipeline,
  type StabilizerOptions,
  type VideoOptions,
} from '../src/track/index.js';
import type { CropSquare } from '../src/crop/index.js';
import { anglesToRotation, estimatePose, readLandmarks, readVertices } from '../src/geometry/index.js';
import { rotationOf } from '../src/track/stabilizer.js';
import { anchoredSquare, cropAnchor, inverseAnchor } from '../src/track/tracker.js';
import { quaternionOf } from '../src/geometry/pose.js';
import type { FaceBox, RgbImage } from '../src/types.js';

let layout: Layout;
beforeAll(async () => {
  layout = await loadLayout();
});

const FPS = 30;

/**
 * A synthetic face: the position map of a plane (u, v) → (x0 + s·u, y0 + s·v, z), placed so that
 * its landmarks' box is centred on (cx, cy) with mean side `faceSide`, with per-pixel Gaussian
 * noise of `noise` pixels (a stand-in for the network's jitter). The layout's keypoints span
 * u 15…240, v 39…193.
 */
function syntheticFace(cx: number, cy: number, faceSide: number, noise = 0, rng = createRng(1)): Face {
  const size = 256;
  const s = faceSide / 189.5;
  const x0 = cx - s * 127.5;
  const y0 = cy - s * 116;
  const data = new Float32Array(size * size * 3);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const o = 3 * (v * size + u);
      data[o] = x0 + s * u + noise * rng.normal();
      data[o + 1] = y0 + s * v + noise * rng.normal();
      data[o + 2] = 50 - 0.001 * ((u - 128) ** 2 + (v - 128) ** 2) + noise * rng.normal();
    }
  }
  const positionMap = { size, data };
  const landmarks = readLandmarks(positionMap, layout);
  const vertices = readVertices(positionMap, layout);
  const crop = cropFromLandmarks(landmarks, 3);
  return {
    index: 0,
    box: { x: x0, y: y0, width: s * 256, height: s * 256, score: 1 },
    crop,
    positionMap,
    landmarks,
    vertices,
    pose: estimatePose(vertices, layout.canonical),
    inImage: 1,
  };
}

describe('OneEuroFilter', () => {
  it('refuses options that would make it NaN or frozen, and skips a non-finite value', () => {
    expect(() => new OneEuroFilter({ minCutoff: NaN })).toThrow(/^One-Euro option minCutoff must be a finite number > 0, got NaN$/);
    expect(() => new OneEuroFilter({ beta: -1 })).toThrow(/^One-Euro option beta must be a finite number ≥ 0, got -1$/);
    expect(() => new OneEuroFilter({ mincutoff: 5 } as never)).toThrow(/^unknown One-Euro option 'mincutoff' \(did you mean 'minCutoff'\?\)/);
    expect(() => new OneEuroVector(2.5)).toThrow(/^the vector length must be a whole number ≥ 0, got 2.5$/);
    const f = new OneEuroFilter({ minCutoff: 1 });
    f.filter(1, 0);
    // one NaN sample used to make every later output NaN
    expect(f.filter(NaN, 0.1)).toBe(1);
    expect(Number.isFinite(f.filter(2, 0.2))).toBe(true);
    expect(() => f.filter(2, NaN)).toThrow(/^the time must be a finite number of seconds, got NaN$/);
  });

  it('passes the first sample, then converges on a constant', () => {
    const f = new OneEuroFilter({ minCutoff: 1 });
    expect(f.filter(5, 0)).toBe(5);
    let y = 0;
    for (let i = 1; i <= 300; i++) y = f.filter(10, i / FPS);
    expect(y).toBeCloseTo(10, 3);
  });

  it('smooths noise by the factor of a first-order low-pass at its minimum cutoff', () => {
    const rng = createRng(7);
    const f = new OneEuroFilter({ minCutoff: 1, beta: 0 });
    const out: number[] = [];
    for (let i = 0; i < 3000; i++) out.push(f.filter(rng.normal(), i / FPS));
    const tail = out.slice(100);
    const std = Math.sqrt(tail.reduce((a, b) => a + b * b, 0) / tail.length);
    const a = smoothingFactor(1, 1 / FPS);
    expect(std).toBeGreaterThan(0.8 * Math.sqrt(a / (2 - a)));
    expect(std).toBeLessThan(1.2 * Math.sqrt(a / (2 - a)));
  });

  it('lags a ramp less when beta raises the cutoff with speed', () => {
    const lagOf = (beta: number): number => {
      const f = new OneEuroFilter({ minCutoff: 0.5, beta, derivativeCutoff: 1 });
      let y = 0;
      for (let i = 0; i < 200; i++) y = f.filter(i * 3, i / FPS);
      return (199 * 3 - y) / 3; // frames behind
    };
    expect(lagOf(0)).toBeGreaterThan(5);
    expect(lagOf(0.5)).toBeLessThan(1);
  });

  it('filters vectors per coordinate, alike the scalar filter', () => {
    const v = new OneEuroVector(2, { minCutoff: 1, beta: 0.1 });
    const a = new OneEuroFilter({ minCutoff: 1, beta: 0.1 });
    const b = new OneEuroFilter({ minCutoff: 1, beta: 0.1 });
    for (let i = 0; i < 50; i++) {
      const t = i / FPS;
      const out = v.filter([Math.sin(i / 5), i * 0.5], t);
      expect(out[0]).toBeCloseTo(a.filter(Math.sin(i / 5), t), 5);
      expect(out[1]).toBeCloseTo(b.filter(i * 0.5, t), 4);
    }
  });
});

describe('FaceStabilizer', () => {
  it('holds a still, noisy face exactly still', () => {
    const rng = createRng(3);
    const s = new FaceStabilizer(layout);
    const raw: Float32Array[] = [];
    const out: Float32Array[] = [];
    for (let i = 0; i < 60; i++) {
      const face = syntheticFace(200, 160, 150, 0.6, rng);
      raw.push(face.landmarks);
      out.push(s.stabilize(face, (1000 * i) / FPS).face.landmarks);
    }
    const before = landmarkJitter(raw.slice(20));
    const after = landmarkJitter(out.slice(20));
    expect(before.std).toBeGreaterThan(0.5);
    expect(after.step).toBe(0);
  });

  it('stays finite with release and drift thresholds of 0 on repeated frames (no 0/0 in the hold)', () => {
    const rng = createRng(5);
    const s = new FaceStabilizer(layout, { releaseSpeed: 0, stillDrift: 0, releaseDriftScale: 0 });
    const face = syntheticFace(200, 160, 150, 0.6, rng);
    for (let i = 0; i < 10; i++) {
      const out = s.stabilize(face, (1000 * i) / FPS).face;
      expect(out.landmarks.every(Number.isFinite)).toBe(true);
      expect(out.vertices.every(Number.isFinite)).toBe(true);
    }
  });

  it('restarts when time goes back (a looped video) or jumps (a paused tab): the frame passes through instead of freezing or extrapolating', () => {
    const rng = createRng(11);
    const run = (jumpTo: number): { before: Float32Array; raw: Float32Array; out: Float32Array } => {
      const s = new FaceStabilizer(layout);
      let before: Float32Array = new Float32Array();
      for (let i = 0; i < 40; i++) before = s.stabilize(syntheticFace(200 + 2 * i, 160, 150, 0.3, rng), (1000 * i) / FPS).face.landmarks;
      const moved = syntheticFace(330, 200, 150, 0.3, rng);
      return { before, raw: moved.landmarks, out: s.stabilize(moved, jumpTo).face.landmarks };
    };
    const last = (1000 * 39) / FPS;
    for (const t of [0, last - 100, last + 3_600_000, last + 600]) {
      const { before, raw, out } = run(t);
      // Before: a backward time froze the output on the last face; an hour's gap extrapolated the velocity over it.
      expect(Array.from(out), `t = ${t}`).toEqual(Array.from(raw));
      expect(meanCoordinate(out, 3, 0) - meanCoordinate(before, 3, 0)).toBeGreaterThan(40);
    }
    // A repeated time (dt 0) is still a skip: the last output stands. A gap within MAX_FRAME_GAP_S is bridged (filtered).
    const { before, out } = run(last);
    expect(Array.from(out)).toEqual(Array.from(before));
    const bridged = run(last + 300);
    expect(Array.from(bridged.out)).not.toEqual(Array.from(bridged.raw));
    const s = new FaceStabilizer(layout);
    expect(() => s.stabilize(syntheticFace(200, 160, 150), NaN)).toThrow(/^the frame time must be a finite number of milliseconds, got NaN$/);
  });

  it('still filters a slow source (1.2 frames/s: the default model in the browser): a gap restarts it only past 4 of its frame intervals', () => {
    const rng = createRng(13);
    const s = new FaceStabilizer(layout);
    const out: Float32Array[] = [];
    const raw: Float32Array[] = [];
    for (let i = 0; i < 40; i++) {
      const face = syntheticFace(200, 160, 150, 0.6, rng);
      raw.push(face.landmarks);
      out.push(s.stabilize(face, (1000 * i) / 1.2).face.landmarks);
    }
    // held still, as at 30 frames/s (a fixed 0.5 s gap passed every frame through raw)
    expect(landmarkJitter(raw.slice(20)).std).toBeGreaterThan(0.5);
    expect(landmarkJitter(out.slice(20)).step).toBe(0);
    // a gap of 5 frame intervals restarts it: that frame passes through
    const moved = syntheticFace(320, 200, 150, 0.6, rng);
    expect(Array.from(s.stabilize(moved, (1000 * 44) / 1.2).face.landmarks)).toEqual(Array.from(moved.landmarks));
  });

  it('skips a frame it cannot read (non-finite landmarks) without losing its state or the hold', () => {
    const rng = createRng(7);
    const s = new FaceStabilizer(layout);
    const outs: Float32Array[] = [];
    for (let i = 0; i < 50; i++) {
      let face = syntheticFace(200, 160, 150, 0.6, rng);
      if (i === 30) {
        // One unreadable frame: part of its map NaN, and so one landmark.
        const data = face.positionMap.data.map((v, k) => (k % 97 === 0 ? NaN : v));
        face = { ...face, positionMap: { ...face.positionMap, data }, landmarks: face.landmarks.map((v, k) => (k === 7 ? NaN : v)) };
      }
      const r = s.stabilize(face, (1000 * i) / FPS);
      expect(r.face.landmarks.every(Number.isFinite)).toBe(true);
      expect(r.face.vertices.every(Number.isFinite)).toBe(true);
      expect(Number.isFinite(r.speed)).toBe(true);
      if (i >= 25) expect(r.still).toBe(true);
      outs.push(r.face.landmarks);
    }
    // Held before, through and after the unreadable frame: the output does not move.
    expect(landmarkJitter(outs.slice(25)).step).toBe(0);
  });

  it('follows a moving face with less than a frame of lag, and stays close to it', () => {
    const rng = createRng(4);
    const s = new FaceStabilizer(layout);
    const truth: number[] = [];
    const filtered: number[] = [];
    for (let i = 0; i < 150; i++) {
      const dx = 40 * Math.sin((2 * Math.PI * i) / 60);
      const face = syntheticFace(200 + dx, 160, 150, 0.3, rng);
      truth.push(meanCoordinate(face.landmarks));
      filtered.push(meanCoordinate(s.stabilize(face, (1000 * i) / FPS).face.landmarks));
    }
    const lag = trajectoryLag(filtered, truth);
    expect(lag).toBeLessThan(1);
    expect(lag).toBeGreaterThan(-0.5);
    // Close: after the first few frames, never as far from the face as it moves in a frame at its
    // fastest (4.2 px; measured worst 2.3 px).
    const worst = Math.max(...filtered.slice(10).map((f, i) => Math.abs(f - truth[i + 10])));
    expect(worst).toBeLessThan(3);
  });

  it('holds a still face still at any noise level (its thresholds follow the estimated jitter)', () => {
    const rng = createRng(8);
    const s = new FaceStabilizer(layout);
    const raw: Float32Array[] = [];
    const out: Float32Array[] = [];
    let held = 0;
    for (let i = 0; i < 90; i++) {
      const face = syntheticFace(200, 160, 150, 3, rng);
      const r = s.stabilize(face, (1000 * i) / FPS);
      raw.push(face.landmarks);
      out.push(r.face.landmarks);
      if (i >= 30 && r.still) held++;
    }
    expect(held).toBeGreaterThan(0.8 * 60);
    expect(landmarkJitter(out.slice(30)).std).toBeLessThan(0.2 * landmarkJitter(raw.slice(30)).std);
  });

  it('lets go of a held face without a jump when it starts to move, then follows it', () => {
    const rng = createRng(9);
    const s = new FaceStabilizer(layout);
    const xs: number[] = [];
    const truth: number[] = [];
    for (let i = 0; i < 70; i++) {
      const x = 200 + (i < 30 ? 0 : 3 * (i - 30));
      truth.push(x);
      xs.push(meanCoordinate(s.stabilize(syntheticFace(x, 160, 150, 0.3, rng), (1000 * i) / FPS).face.landmarks));
    }
    for (let i = 31; i < 70; i++) expect(Math.abs(xs[i] - xs[i - 1])).toBeLessThan(3 * 1.6);
    // Catching up: within a frame's motion of the face after a few frames.
    expect(Math.abs(xs[69] - xs[29] - (truth[69] - truth[29]))).toBeLessThan(3);
  });

  it('steadies points far from the head\'s centre against pose jitter (head frame) more than an image-frame filter does', () => {
    // A face whose pose shakes: each frame rotated by a random ±1° about its centre (and a little pixel noise).
    const rng = createRng(11);
    const frames: Face[] = [];
    for (let i = 0; i < 60; i++) {
      const f = syntheticFace(300, 240, 150, 0.2, rng);
      const a = ((rng.uniform() - 0.5) * 2 * Math.PI) / 180, c = Math.cos(a), sn = Math.sin(a);
      const d = f.positionMap.data;
      for (let k = 0; k < d.length; k += 3) {
        const x = d[k] - 300, y = d[k + 1] - 240;
        d[k] = 300 + c * x - sn * y;
        d[k + 1] = 240 + sn * x + c * y;
      }
      const vertices = readVertices(f.positionMap, layout);
      frames.push({ ...f, landmarks: readLandmarks(f.positionMap, layout), vertices, pose: estimatePose(vertices, layout.canonical) });
    }
    // The rim of the map (its outer columns), far from the centre, as the ears are.
    const rim = (face: Face): Float32Array => Float32Array.from([0, 1, 2, 765, 766, 767].map((k) => face.positionMap.data[3 * 128 * 256 + k]));
    const jitter = (frame: 'head' | 'image'): number => {
      const s = new FaceStabilizer(layout, { frame, stillSpeed: 0 });
      return landmarkJitter(frames.map((f, i) => rim(s.stabilize(f, (1000 * i) / FPS).face)).slice(20), 3).step;
    };
    const raw = landmarkJitter(frames.map(rim).slice(20), 3).step;
    expect(jitter('image')).toBeLessThan(raw);
    expect(jitter('head')).toBeLessThan(0.75 * jitter('image'));
  });

  it('holds a face only after settleTime (the crop settling), then holds it where the output settled', () => {
    // The raw face slides 2 px over its first 10 frames (as a weaker model's output does while the
    // crop moves from the detector's box onto the landmarks), then stays, with noise.
    // Times from 10 s (a page's clock), and the track restarted (reset) after 60 frames.
    const run = (options: StabilizerOptions): { x: number; still: boolean }[] => {
      const rng = createRng(12);
      const s = new FaceStabilizer(layout, options);
      return Array.from({ length: 120 }, (_, i) => {
        if (i === 60) s.reset();
        const r = s.stabilize(syntheticFace(200 + 0.2 * Math.min(i % 60, 10), 160, 150, 0.3, rng), 10_000 + (1000 * i) / FPS);
        return { x: meanCoordinate(r.face.landmarks), still: r.still };
      });
    };
    const settled = meanCoordinate(syntheticFace(202, 160, 150).landmarks);
    const all = run({});
    for (const out of [all.slice(0, 60), all.slice(60)]) {
      expect(out.slice(0, 15).some((f) => f.still)).toBe(false); // 0.5 s at 30 fps
      const held = out.findIndex((f) => f.still);
      expect(held).toBeGreaterThan(14);
      expect(held).toBeLessThan(45);
      for (const f of out.slice(held)) expect(f.x).toBe(out[held].x); // then held exactly
      expect(Math.abs(out[held].x - settled)).toBeLessThan(0.005 * 150); // within the still drift
    }
    expect(run({ settleTime: 0 }).slice(0, 15).some((f) => f.still)).toBe(true); // without it, the hold may engage at once
  });

  it('does not coast past a face that stops: the pose\'s velocity fades with the speed (trendSpeed)', () => {
    // 3 px per frame for 20 frames, then still: how far the output overshoots where it stopped.
    const overshoot = (options: StabilizerOptions): number => {
      const rng = createRng(13);
      const s = new FaceStabilizer(layout, options);
      const stop = meanCoordinate(syntheticFace(260, 160, 150).landmarks);
      let over = 0;
      for (let i = 0; i < 60; i++) {
        const x = meanCoordinate(s.stabilize(syntheticFace(200 + 3 * Math.min(i, 20), 160, 150, 0.3, rng), (1000 * i) / FPS).face.landmarks);
        if (i >= 20) over = Math.max(over, x - stop);
      }
      return over;
    };
    const faded = overshoot({});
    const coasting = overshoot({ trendSpeed: 0 }); // the velocity always followed (before): ~17 px
    expect(faded).toBeLessThan(3);
    expect(coasting).toBeGreaterThan(4 * faded);
  });

  it('has an output that moves continuously with its input: no switch between held and filtered', () => {
    // A face drifting at speeds around the hold's thresholds (0.05–0.1 face sizes/s: 0.25–0.5 px
    // per frame here): its position after 12 frames, as a function of the speed, has no jump. A
    // hold that switches on below a threshold would hold the face at one speed and let it go at
    // the next (a jump of the whole trailing distance).
    const base = syntheticFace(200, 160, 150);
    const shifted = (dx: number): Face => {
      const data = Float32Array.from(base.positionMap.data, (v, k) => (k % 3 === 0 ? v + dx : v));
      const positionMap = { size: base.positionMap.size, data };
      const vertices = readVertices(positionMap, layout);
      return { ...base, positionMap, vertices, landmarks: readLandmarks(positionMap, layout), pose: estimatePose(vertices, layout.canonical) };
    };
    const end = (v: number): number => {
      const s = new FaceStabilizer(layout, { settleTime: 0 }); // the hold may engage from the start
      let x = 0;
      for (let i = 0; i < 12; i++) x = meanCoordinate(s.stabilize(shifted(v * i), (1000 * i) / FPS).face.landmarks);
      return x - meanCoordinate(base.landmarks);
    };
    const speeds = Array.from({ length: 13 }, (_, k) => 0.15 + 0.025 * k);
    const xs = speeds.map(end);
    expect(xs[xs.length - 1]).toBeGreaterThan(xs[0] + 1.5); // it does follow the faster drift further
    for (let k = 1; k < xs.length; k++) expect(Math.abs(xs[k] - xs[k - 1]), `${speeds[k - 1]} → ${speeds[k]} px/frame`).toBeLessThan(0.6);
  });

  it('does not trail a head moving at a steady speed (the pose predicted at its velocity)', () => {
    const lagFrames = (poseTrend: number): number => {
      const rng = createRng(5);
      const s = new FaceStabilizer(layout, { poseTrend });
      let last = 0;
      for (let i = 0; i < 60; i++) {
        const f = syntheticFace(150 + 2 * i, 160, 150, 0.3, rng);
        last = meanCoordinate(s.stabilize(f, (1000 * i) / FPS).face.landmarks) - meanCoordinate(f.landmarks);
      }
      return -last / 2; // frames behind, at 2 px per frame
    };
    expect(Math.abs(lagFrames(1))).toBeLessThan(0.2);
    expect(lagFrames(0)).toBeGreaterThan(0.3);
  });

  it('converts rotations to quaternions and back for any head turn', () => {
    for (const [yaw, pitch, roll] of [[0, 0, 0], [10, 20, 30], [170, -40, 5], [-90, 10, 179], [45, 89, -120]]) {
      const R = anglesToRotation(yaw, pitch, roll);
      const q = quaternionOf(R);
      expect(Math.hypot(...q)).toBeCloseTo(1, 12);
      const back = rotationOf(q);
      for (let k = 0; k < 9; k++) expect(back[k]).toBeCloseTo(R[k], 12);
    }
  });

  it('re-reads landmarks and vertices from the filtered map, whose pose is the filtered pose', () => {
    for (const frame of ['head', 'image'] as const) {
      const s = new FaceStabilizer(layout, { frame });
      s.stabilize(syntheticFace(200, 160, 150), 0);
      const r = s.stabilize(syntheticFace(230, 160, 150), 33);
      expect(r.face.landmarks).toEqual(readLandmarks(r.face.positionMap, layout));
      expect(r.face.vertices).toEqual(readVertices(r.face.positionMap, layout));
      // Head frame: the map is the filtered shape put back with the filtered pose (exact up to float32 rounding).
      const fit = estimatePose(r.face.vertices, layout.canonical);
      expect(r.face.pose.translation[0]).toBeCloseTo(fit.translation[0], 3);
      expect(r.face.pose.scale).toBeCloseTo(fit.scale, 5);
      expect(r.face.pose.yaw).toBeCloseTo(fit.yaw, 3);
      expect(r.face.positionMap.data[3 * (128 * 256 + 128)]).toBeGreaterThan(200 + 0.5); // it moved towards the new frame…
      expect(r.face.positionMap.data[3 * (128 * 256 + 128)]).toBeLessThan(230); // …but not all the way (filtered)
    }
  });
});

describe('FaceTracker', () => {
  const image = { width: 640, height: 480 };
  const landmarksAt = (cx: number, cy: number, side = 150): Float32Array => syntheticFace(cx, cy, side).landmarks;
  /** Landmarks that fill a crop exactly as the 1.6 × rule would. */
  const landmarksIn = (c: { square: { cx: number; cy: number; side: number } }): Float32Array => landmarksAt(c.square.cx, c.square.cy, c.square.side / 1.6);
  const box: FaceBox = { x: 220, y: 150, width: 150, height: 160, score: 0.9 };

  it('turns the crop with a rolled face from 20° on, and back upright only under 10° (no switching near the threshold)', () => {
    const upright = landmarksAt(320, 240);
    const roll0 = landmarkRoll(upright)!;
    const rolledBy = (deg: number): Float32Array => {
      const a = (deg * Math.PI) / 180 - roll0, c = Math.cos(a), s = Math.sin(a);
      return upright.map((v, i) => (i % 3 === 0 ? 320 + c * (v - 320) - s * (upright[i + 1]! - 240) : i % 3 === 1 ? 240 + s * (upright[i - 1]! - 320) + c * (v - 240) : v));
    };
    const t = new FaceTracker({ cropSmoothing: false });
    t.plan([box]);
    const angles: (number | undefined)[] = [];
    for (const deg of [0, 15, 25, 15, 12, 8, 15, -30]) {
      const lm = rolledBy(deg);
      expect(t.update(image, [lm])).toEqual([]);
      const sq = t.plan().crops[0]!.square;
      angles.push(sq.angle === undefined ? undefined : Math.round((sq.angle * 180) / Math.PI));
      if (sq.angle !== undefined) {
        const want = rolledSquareFromLandmarks(lm, 3);
        expect(sq.cx).toBeCloseTo(want.cx, 6);
        expect(sq.side).toBeCloseTo(want.side, 6);
      } else expect(sq.side).toBeCloseTo(cropFromLandmarks(lm, 3).square.side, 6);
    }
    expect(angles).toEqual([undefined, undefined, 25, 15, 12, undefined, undefined, -30]);
    // with crop smoothing the crop turns towards the face over a few frames, and settles on it
    const smooth = new FaceTracker();
    smooth.plan([box]);
    const seen: number[] = [];
    for (let f = 0; f < 30; f++) {
      smooth.update(image, [rolledBy(f < 3 ? 0 : 40)], 3, (1000 * f) / 30);
      seen.push(((smooth.plan().crops[0]!.square.angle ?? 0) * 180) / Math.PI);
    }
    expect(seen[2]).toBe(0);
    expect(seen[3]).toBeGreaterThan(0);
    expect(seen[3]).toBeLessThan(40);
    expect(seen[29]).toBeGreaterThan(39);
    expect(seen[29]).toBeLessThan(40.5);
    // a face turning through ±180° (and on, a whole turn) keeps the crop's angle within (−180°, 180°],
    // and upright again, the crop comes back upright (not 360°: the slower turned resampling for good)
    const around = new FaceTracker();
    around.plan([box]);
    let f = 0;
    for (let deg = 0; deg <= 360; deg += 10, f++) {
      around.update(image, [rolledBy(deg)], 3, (1000 * f) / 30);
      const a = around.plan().crops[0]!.square.angle ?? 0;
      expect(Math.abs(a)).toBeLessThanOrEqual(Math.PI);
    }
    for (let k = 0; k < 60; k++, f++) {
      around.update(image, [rolledBy(0)], 3, (1000 * f) / 30);
      around.plan();
    }
    expect(around.plan().crops[0]!.square.angle).toBeUndefined();
    // recrop decides again from the state before the frame: raw landmarks at 21° turned the crop,
    // the stabilised ones of the same frame at 19° keep it upright
    const t2 = new FaceTracker({ cropSmoothing: false });
    t2.plan([box]);
    t2.update(image, [rolledBy(21)]);
    const id = t2.trackIds[0]!;
    t2.recrop(id, rolledBy(19));
    expect(t2.plan().crops[0]!.square.angle).toBeUndefined();
  });

  it('detects on the first frame, then crops from the previous landmarks (1.6 × their box)', () => {
    const t = new FaceTracker();
    expect(t.needsDetection()).toBe(true);
    const p1 = t.plan([box]);
    expect(p1.detected).toBe(true);
    expect(p1.crops).toHaveLength(1);
    const lm = landmarksIn(p1.crops[0]);
    expect(t.update(image, [lm])).toEqual([]);
    expect(t.needsDetection()).toBe(false);
    const p2 = t.plan();
    expect(p2.detected).toBe(false);
    expect(p2.ids).toEqual(p1.ids);
    const expected = cropFromLandmarks(lm, 3).square;
    expect(p2.crops[0].square.cx).toBeCloseTo(expected.cx, 6);
    expect(p2.crops[0].square.side).toBeCloseTo(1.6 * faceSize(lm), 4);
  });

  it('keeps a still face\'s crop exactly still despite jittering landmarks, and follows a moving face within its dead band', () => {
    const rng = createRng(9);
    const run = (cropSmoothing: false | undefined, path: (f: number) => number): { cx: number; side: number; target: number }[] => {
      const t = new FaceTracker({ cropSmoothing });
      t.plan([box]);
      const out: { cx: number; side: number; target: number }[] = [];
      for (let f = 0; f < 40; f++) {
        const cx = path(f) + 0.5 * rng.normal();
        t.update(image, [landmarksAt(cx, 230 + 0.5 * rng.normal())], 3, (1000 * f) / FPS);
        const c = t.plan().crops[0].square;
        out.push({ cx: c.cx, side: c.side, target: cx });
      }
      return out;
    };
    const still = run(undefined, () => 300).slice(5);
    expect(new Set(still.map((c) => c.cx)).size).toBe(1); // the same square in every frame
    expect(new Set(still.map((c) => c.side)).size).toBe(1);
    expect(Math.abs(still[0].cx - 300)).toBeLessThan(0.01 * still[0].side + 1);
    const unsmoothed = run(false, () => 300).slice(5);
    expect(new Set(unsmoothed.map((c) => c.cx)).size).toBe(unsmoothed.length); // without: every frame's crop moves
    // Moving 4 px per frame: the crop follows, trailing by at most the dead band (1 % of its side) and the noise.
    const moving = run(undefined, (f) => 250 + 4 * f).slice(10);
    for (const c of moving) expect(Math.abs(c.cx - c.target)).toBeLessThan(0.01 * c.side + 2);
  });

  it('loses a face whose landmarks leave the frame, jump, or degenerate', () => {
    const cases: [Float32Array, string][] = [
      [landmarksAt(660, 200), 'left-frame'],
      [landmarksAt(100, 100, 5), 'degenerate'],
      [Float32Array.from(landmarksAt(200, 150), (v, i) => (i === 7 ? NaN : v)), 'degenerate'],
      // Not whole points (the crop from them would throw partway through the update).
      [landmarksAt(200, 150).subarray(0, 203), 'degenerate'],
    ];
    for (const [lm, reason] of cases) {
      const t = new FaceTracker();
      t.plan([box]);
      expect(t.update(image, [lm]).map((l) => l.reason)).toEqual([reason]);
      expect(t.needsDetection()).toBe(true);
    }
    // A jump: tracked at one place, then found far away from the crop.
    const t = new FaceTracker();
    const p = t.plan([box]);
    t.update(image, [landmarksIn(p.crops[0])]);
    t.plan();
    expect(t.update(image, [landmarksAt(100, 240)]).map((l) => l.reason)).toEqual(['jump']);
  });

  it('confirms tracks with the detector every N frames, dropping unconfirmed ones and adding new faces', () => {
    const t = new FaceTracker({ confirmEvery: 3 });
    const p = t.plan([box]);
    // each crop's detection (its keypoints check the reconstruction: Face.keypointDisagreement)
    expect(p.detections).toEqual([box]);
    const lm = landmarksIn(p.crops[0]);
    t.update(image, [lm]);
    // Detected on frame 0: frames 1 and 2 tracked, frame 3 detected again (every 3 frames).
    for (let i = 0; i < 2; i++) {
      expect(t.needsDetection()).toBe(false);
      expect(t.plan().detections).toEqual([null]);
      t.update(image, [lm]);
    }
    expect(t.needsDetection()).toBe(true);
    const other: FaceBox = { x: 460, y: 200, width: 100, height: 100, score: 0.8 };
    // the detections in another order: each track gets the one that confirmed it
    const confirmed = t.plan([other, box]);
    expect(confirmed.ids).toHaveLength(2);
    expect(confirmed.ids[0]).toBe(p.ids[0]);
    expect(confirmed.detections).toEqual([box, other]);
    t.update(image, [lm, landmarksIn(confirmed.crops[1])]);
    for (let i = 0; i < 2; i++) {
      t.plan();
      t.update(image, [lm, landmarksIn(confirmed.crops[1])]);
    }
    expect(t.needsDetection()).toBe(true);
    const dropped = t.plan([other]);
    expect(dropped.lost).toEqual([{ id: p.ids[0], reason: 'unconfirmed' }]);
    expect(dropped.ids).toEqual([confirmed.ids[1]]);
    expect(dropped.detections).toEqual([other]);
  });

  it('takes up a face lost for a moment at its place again under its id (the detector runs meanwhile); past rejoinFrames the loss is final', () => {
    const t = new FaceTracker({ rejoinFrames: 3, confirmEvery: 0 });
    const p = t.plan([box]);
    const id = p.ids[0];
    t.update(image, [landmarksIn(p.crops[0])]);
    expect(t.needsDetection()).toBe(false);
    t.plan();
    // a hand over the face: the network's landmarks degenerate
    expect(t.update(image, [landmarksAt(100, 100, 5)])).toEqual([{ id, reason: 'degenerate' }]);
    expect(t.rejoinableIds).toEqual([id]);
    expect(t.needsDetection()).toBe(true);
    expect(t.plan([])).toMatchObject({ ids: [], rejoined: [], ended: [] });
    expect(t.needsDetection()).toBe(true);
    const back = t.plan([{ ...box, x: box.x + 10 }]);
    expect(back).toMatchObject({ ids: [id], rejoined: [id], ended: [] });
    t.update(image, [landmarksIn(back.crops[0])]);
    expect(t.rejoinableIds).toEqual([]);
    // lost again, and not found for rejoinFrames frames: ended on the frame after them, and a face there later is a new track
    t.plan();
    t.update(image, [landmarksAt(100, 100, 5)]);
    for (let k = 0; k < 3; k++) expect(t.plan([]).ended, `frame ${k + 1} after the loss`).toEqual([]);
    expect(t.plan([])).toMatchObject({ ended: [id] });
    expect(t.needsDetection()).toBe(true); // no track: as ever
    const later = t.plan([box]);
    expect(later.ids).toHaveLength(1);
    expect(later.ids[0]).not.toBe(id);
    expect(later.rejoined).toEqual([]);
    // a detection elsewhere does not take the lost id
    const u = new FaceTracker({ confirmEvery: 0 });
    const q = u.plan([box]);
    u.update(image, [landmarksAt(660, 200)]);
    const elsewhere = u.plan([{ x: 20, y: 20, width: 100, height: 110, score: 0.9 }]);
    expect(elsewhere.ids[0]).not.toBe(q.ids[0]);
    expect(u.rejoinableIds).toEqual([q.ids[0]]);
    // rejoinFrames 0: a lost track never comes back; its loss is final on the next frame, and the
    // detector does not run for it while other tracks go on
    const v = new FaceTracker({ rejoinFrames: 0, confirmEvery: 0 });
    const two = v.plan([box, { x: 20, y: 20, width: 100, height: 110, score: 0.9 }]);
    v.update(image, [landmarksAt(100, 100, 5), landmarksIn(two.crops[1])]);
    expect(v.needsDetection()).toBe(false);
    expect(v.plan().ended).toEqual([two.ids[0]]);
    v.reset();
    const r = v.plan([box]);
    v.update(image, [landmarksAt(100, 100, 5)]);
    const next = v.plan([box]);
    expect(next.ids[0]).not.toBe(r.ids[0]);
    expect(next.ended).toEqual([r.ids[0]]);
    // reset ends every track, live or rejoinable
    expect(v.reset()).toEqual([next.ids[0]]);
    expect(() => new FaceTracker({ rejoinFrames: -1 })).toThrow(/rejoinFrames must be a whole number ≥ 0, got -1/);
    expect(() => new FaceTracker({ rejoinFrames: 1.5 })).toThrow(/rejoinFrames/);
  });

  it("framing 'detector': later crops sit on the face as the detector's crop sat on its first landmarks", () => {
    const t = new FaceTracker({ framing: 'detector', cropSmoothing: false });
    const det = t.plan([box]).crops[0]!.square;
    // the first landmarks read the face 8 % larger than the detector's crop and off its centre (a weaker model's error)
    const first = landmarksAt(det.cx + 10, det.cy + 6, (det.side / 1.6) * 1.08);
    expect(t.update(image, [first])).toEqual([]);
    const again = t.plan().crops[0]!.square;
    expect([again.cx, again.cy, again.side].map((v) => v.toFixed(6))).toEqual([det.cx, det.cy, det.side].map((v) => v.toFixed(6)));
    // the face moves and grows: the crop follows it, framed alike
    const moved = landmarksAt(det.cx + 40, det.cy - 6, (det.side / 1.6) * 1.08 * 1.1);
    expect(t.update(image, [moved])).toEqual([]);
    const sq = t.plan().crops[0]!.square;
    const a = squareFromLandmarks(first, 3), b = squareFromLandmarks(moved, 3), k = b.side / a.side;
    expect(sq.side).toBeCloseTo(det.side * k, 6);
    expect(sq.cx).toBeCloseTo(b.cx + (det.cx - a.cx) * k, 6);
    expect(sq.cy).toBeCloseTo(b.cy + (det.cy - a.cy) * k, 6);
    // PRNet's rule, the tracker's default: 1.6 × the landmarks' box, whatever the detector's crop was
    const plain = new FaceTracker({ cropSmoothing: false });
    plain.plan([box]);
    plain.update(image, [first]);
    expect(plain.plan().crops[0]!.square.side).toBeCloseTo(a.side, 6);
    expect(Math.abs(a.side - det.side)).toBeGreaterThan(0.05 * det.side);
    // a first reconstruction far off (landmarks of half the face) is corrected by at most 20 %
    const off = new FaceTracker({ framing: 'detector', cropSmoothing: false });
    off.plan([box]);
    const half = landmarksAt(det.cx, det.cy, det.side / 3.2);
    off.update(image, [half]);
    expect(off.plan().crops[0]!.square.side).toBeCloseTo(squareFromLandmarks(half, 3).side * 1.2, 6);
    expect(() => new FaceTracker({ framing: 'box' as never })).toThrow(/^tracker option framing must be 'landmarks' or 'detector', got "box"$/);
    // a crop the anchor put off the landmarks' centre (clamped: 0.2 of the side each way) is not read
    // as a jump when the face then moves a little (its landmark square is what the check compares)
    const far = new FaceTracker({ framing: 'detector', cropSmoothing: false });
    far.plan([box]);
    const offset = landmarksAt(det.cx - 0.3 * det.side, det.cy - 0.3 * det.side, det.side / 1.6);
    expect(far.update(image, [offset])).toEqual([]);
    far.plan();
    expect(far.update(image, [landmarksAt(det.cx - 0.3 * det.side - 0.15 * det.side / 1.6, det.cy - 0.3 * det.side, det.side / 1.6)])).toEqual([]);
  });

  it('cropAnchor and anchoredSquare: a crop placed on turned landmarks turns with them', () => {
    const D = { cx: 300, cy: 200, side: 240, angle: 0.5 };
    const L = { cx: 290, cy: 214, side: 220, angle: 0.5 };
    const anchor = cropAnchor(D, L);
    const back = anchoredSquare(L, anchor);
    for (const key of ['cx', 'cy', 'side', 'angle'] as const) expect(back[key]).toBeCloseTo(D[key], 9);
    const undone = anchoredSquare(back, inverseAnchor(anchor));
    for (const key of ['cx', 'cy', 'side', 'angle'] as const) expect(undone[key]).toBeCloseTo(L[key], 9);
    // the face turned 0.3 rad further about the landmarks' centre: the offset turns by as much
    const turned = anchoredSquare({ ...L, angle: 0.8 }, anchor);
    const before = Math.atan2(D.cy - L.cy, D.cx - L.cx), after = Math.atan2(turned.cy - L.cy, turned.cx - L.cx);
    expect(after - before).toBeCloseTo(0.3, 9);
    expect(Math.hypot(turned.cx - L.cx, turned.cy - L.cy)).toBeCloseTo(Math.hypot(D.cx - L.cx, D.cy - L.cy), 9);
    // an upright square stays upright; a non-finite side ratio reads as none
    expect(anchoredSquare({ cx: 0, cy: 0, side: 10 }, anchor).angle).toBeUndefined();
    expect(cropAnchor({ ...D, side: Infinity }, L).scale).toBe(1);
  });

  it('keeps the older of two tracks that converge on one face', () => {
    const t = new FaceTracker();
    const p = t.plan([box, { ...box, x: box.x + 20 }]);
    expect(p.ids).toHaveLength(2);
    const lm = landmarksIn(p.crops[0]);
    expect(t.update(image, [lm, lm])).toEqual([{ id: p.ids[1], reason: 'duplicate' }]);
    expect(t.trackIds).toEqual([p.ids[0]]);
  });
});

describe('VideoTracker', () => {
  /** A pipeline whose "network" finds a synthetic face wherever the image says it is. */
  function fakePipeline(where: { x: number; y: number }): FramePipeline & { detections: number; networkRuns: number; hidden: boolean } {
    const p = {
      layout: undefined as unknown as Layout,
      detector: { kind: 'blazeface-mesh' as const },
      detections: 0,
      networkRuns: 0,
      /** The detector finds nothing (the network still draws a face where it is asked). */
      hidden: false,
      async detect(): Promise<FaceBox[]> {
        p.detections++;
        return where.x < 0 || p.hidden ? [] : [{ x: where.x - 70, y: where.y - 85, width: 140, height: 150, score: 0.9 }];
      },
      async reconstruct(_image: RgbImage, options: ReconstructOptions): Promise<ReconstructResult> {
        p.networkRuns++;
        const faces = (options.crops ?? []).map((crop, index) => ({ ...syntheticFace(where.x, where.y, 150), index, crop }));
        return { faces, timings: { detect: 0, crop: 1, network: 10, readoff: 2 } };
      },
    };
    p.layout = layout;
    return p;
  }
  /** A frame with picture everywhere (a blank one makes the tracker ask the detector: faceContrast). */
  const textured = (width: number, height: number): RgbImage => ({ width, height, data: Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 7919) % 251) });
  const image = textured(640, 480);

  it('detects once, tracks from landmarks, and detects again when the face is lost', async () => {
    const where = { x: 300, y: 220 };
    const pipeline = fakePipeline(where);
    const video = new VideoTracker(pipeline, { tracker: { confirmEvery: 0 } });
    const first = await video.process(image, 0);
    expect(first.detected).toBe(true);
    expect(first.faces).toHaveLength(1);
    for (let i = 1; i < 10; i++) {
      where.x += 3;
      const r = await video.process(image, (1000 * i) / FPS);
      expect(r.detected).toBe(false);
      expect(r.faces[0].trackId).toBe(first.faces[0].trackId);
    }
    expect(pipeline.detections).toBe(1);
    where.x = 700; // the face leaves the frame
    const gone = await video.process(image, 400);
    expect(gone.lost.map((l) => l.reason)).toEqual(['left-frame']);
    expect(gone.faces).toHaveLength(0);
    where.x = 200;
    const back = await video.process(image, 433);
    expect(back.detected).toBe(true);
    expect(back.faces[0].trackId).not.toBe(first.faces[0].trackId);
  });

  it('checks a tracked face whose region is blank on that very frame: kept when the detector finds it, dropped when it does not; a frame reconstructed twice counts both passes', async () => {
    const where = { x: 300, y: 220 };
    const pipeline = fakePipeline(where);
    const video = new VideoTracker(pipeline, { tracker: { confirmEvery: 0 } });
    const id = (await video.process(image, 0)).faces[0].trackId;
    expect((await video.process(image, 33)).detected).toBe(false);
    const blank: RgbImage = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 3) };
    // found there (a face in the dark): the same track, its face from the one network pass
    let runs = pipeline.networkRuns;
    const kept = await video.process(blank, 66);
    expect([kept.detected, kept.faces.map((f) => f.trackId), pipeline.networkRuns - runs]).toEqual([true, [id], 1]);
    expect(kept.timings.network).toBe(10);
    // not found: dropped on this frame, no face reported
    pipeline.hidden = true;
    const gone = await video.process(blank, 100);
    expect([gone.detected, gone.faces, gone.lost]).toEqual([true, [], [{ id, reason: 'unconfirmed' }]]);
    // found elsewhere: the old track dropped, a new one reconstructed again on the same frame
    pipeline.hidden = false;
    expect((await video.process(image, 133)).faces).toHaveLength(1);
    const before = (await video.process(image, 166)).faces[0].trackId;
    Object.assign(where, { x: 150, y: 150 });
    runs = pipeline.networkRuns;
    const moved = await video.process(blank, 200);
    expect(moved.faces).toHaveLength(1);
    expect(moved.faces[0].trackId).not.toBe(before);
    expect(moved.lost).toEqual([{ id: before, reason: 'unconfirmed' }]);
    expect(pipeline.networkRuns - runs).toBe(2);
    expect([moved.timings.crop, moved.timings.network, moved.timings.readoff]).toEqual([2, 20, 4]);
  });

  it('refuses bad stabiliser options when they are given, naming the option', () => {
    const pipeline = fakePipeline({ x: 300, y: 220 });
    expect(() => new VideoTracker(pipeline, { stabilize: { settleTime: NaN } })).toThrow(/settleTime must be a finite number ≥ 0, got NaN/);
    expect(() => new VideoTracker(pipeline, { stabilize: { beta: -1 } })).toThrow(/beta must be a finite number ≥ 0, got -1/);
    // values that passed as ≥ 0 and froze the output (measured on a talking-head clip, 45 frames:
    // yaw over the clip −8.6…18.0° stabilised; poseCutoffScale 0: −1.23° on every frame;
    // minCutoff and beta 0: every point still; derivativeCutoff 0: −1.2…7.2°, far behind)
    expect(() => new VideoTracker(pipeline, { stabilize: { poseCutoffScale: 0 } })).toThrow(/poseCutoffScale must be above 0, got 0: the head pose would stay at its first frame/);
    expect(() => new VideoTracker(pipeline, { stabilize: { derivativeCutoff: 0 } })).toThrow(/derivativeCutoff must be above 0, got 0/);
    expect(() => new VideoTracker(pipeline, { stabilize: { minCutoff: 0, beta: 0 } })).toThrow(/minCutoff and beta cannot both be 0/);
    // either alone is a cutoff that still moves with the face (minCutoff 0: the 1€ filter's own)
    expect(new FaceStabilizer(layout, { minCutoff: 0 }).options.minCutoff).toBe(0);
    expect(new FaceStabilizer(layout, { beta: 0 }).options.beta).toBe(0);
    // the image frame has no pose filter: its poseCutoffScale is not used, 0 is allowed
    expect(new FaceStabilizer(layout, { frame: 'image', poseCutoffScale: 0 }).options.poseCutoffScale).toBe(0);
    expect(() => new VideoTracker(pipeline, { stabilize: { minCutof: 1 } as StabilizerOptions })).toThrow(/unknown stabiliser option 'minCutof'/);
    expect(() => new VideoTracker(pipeline, { stabilize: { frame: 'world' } as unknown as StabilizerOptions })).toThrow(/frame must be 'head' or 'image', got "world"/);
    const video = new VideoTracker(pipeline, { stabilize: { settleTime: 0, poseCutoffScale: 1 } });
    expect(() => video.setStabilize({ holdTime: Infinity })).toThrow(RangeError);
    expect(video.stabilizing).toBe(true);
    expect(() => new FaceStabilizer(layout, { stillSpeed: NaN })).toThrow(/stillSpeed/);
    expect(() => new FaceStabilizer(layout, JSON.parse('{"constructor": 1}') as StabilizerOptions)).toThrow(/unknown stabiliser option 'constructor'/);
    expect(new FaceStabilizer(layout, { stillSpeed: 0, settleTime: undefined }).options.settleTime).toBe(0.5);
  });

  it('checks a face by its detection\'s keypoints on the frames the detector runs for, in the detection\'s frame: a reconstruction rolled far off is suspect', async () => {
    // An upright face: BlazeFace's six keypoints where its landmarks put them (eyes, nose tip,
    // mouth, ears at points 0 and 16). The "network" returns the face's landmarks rolled by 60°
    // about its centre, as a failed reconstruction can: the track's next crop turns with them.
    const [cx, cy] = [300, 220];
    const upright = syntheticFace(cx, cy, 150);
    const L = upright.landmarks;
    const centre = (from: number, to: number): number[] => {
      let x = 0, y = 0;
      for (let i = from; i <= to; i++) [x, y] = [x + L[3 * i], y + L[3 * i + 1]];
      return [x / (to - from + 1), y / (to - from + 1)];
    };
    const keypoints = [...centre(36, 41), ...centre(42, 47), ...centre(30, 30), ...centre(48, 67), ...centre(0, 0), ...centre(16, 16)];
    const roll = (60 * Math.PI) / 180;
    const rolled = (f: Face): Face => {
      const data = new Float32Array(f.positionMap.data);
      for (let i = 0; i < data.length; i += 3) {
        const x = data[i] - cx, y = data[i + 1] - cy;
        data[i] = cx + Math.cos(roll) * x - Math.sin(roll) * y;
        data[i + 1] = cy + Math.sin(roll) * x + Math.cos(roll) * y;
      }
      const positionMap = { size: f.positionMap.size, data };
      return { ...f, positionMap, landmarks: readLandmarks(positionMap, layout), vertices: readVertices(positionMap, layout) };
    };
    const box: FaceBox = { x: cx - 75, y: cy - 80, width: 150, height: 160, score: 0.9, keypoints: Float32Array.from(keypoints) };
    const make = (wrong: boolean): FramePipeline => ({
      layout,
      detector: { kind: 'blazeface' },
      async detect(): Promise<FaceBox[]> {
        return [box];
      },
      async reconstruct(_image: RgbImage, options: ReconstructOptions): Promise<ReconstructResult> {
        const faces = (options.crops ?? []).map((crop, index) => ({ ...(wrong ? rolled(upright) : upright), index, crop }));
        return { faces, timings: { detect: 0, crop: 0, network: 0, readoff: 0 } };
      },
    });
    for (const wrong of [false, true]) {
      const video = new VideoTracker(make(wrong), { tracker: { confirmEvery: 2 }, stabilize: false });
      const frames = [];
      for (let i = 0; i < 3; i++) frames.push(await video.process(image, (1000 * i) / FPS));
      expect(frames.map((f) => f.detected)).toEqual([true, false, true]);
      const [first, tracked, confirmed] = frames.map((f) => f.faces[0]);
      expect(tracked.keypointDisagreement).toBeUndefined();
      expect(tracked.suspect).toBeUndefined(); // no flip here, no keypoints: no verdict
      if (!wrong) {
        for (const f of [first, confirmed]) {
          expect(f.keypointDisagreement).toBeLessThan(0.01);
          expect(f.suspect).toBe(false);
        }
      } else {
        // the track's crop turned with the rolled landmarks (past the 45° gate)…
        expect(Math.abs(confirmed.crop.square.angle ?? 0)).toBeGreaterThan((45 * Math.PI) / 180);
        // …and the detection's own frame is upright: the check is made, and it says so
        for (const f of [first, confirmed]) {
          expect(f.keypointDisagreement).toBeGreaterThan(0.12);
          expect(f.suspect).toBe(true);
        }
      }
    }
  });

  it('drops its tracks when the frame size changes (a camera switching resolution): the detector runs on the new frame', async () => {
    const where = { x: 300, y: 220 };
    const pipeline = fakePipeline(where);
    const video = new VideoTracker(pipeline);
    const first = await video.process(image, 0);
    expect((await video.process(image, 33)).detected).toBe(false);
    Object.assign(where, { x: 160, y: 120 }); // the same face in the half-size frame
    // Before: the old crops went to the smaller frame (reconstruct refused them, "lies outside the image", every frame until the next detection).
    const small = textured(320, 240);
    const r = await video.process(small, 66);
    expect(r.detected).toBe(true);
    expect(r.faces[0].trackId).not.toBe(first.faces[0].trackId);
    expect(r.lost).toEqual([{ id: first.faces[0].trackId, reason: 'frame-size' }]);
    expect((await video.process(small, 100)).detected).toBe(false);
  });

  it('refuses a frame that is not an image (InputError) before anything changes: its tracks go on', async () => {
    const pipeline = fakePipeline({ x: 300, y: 220 });
    const video = new VideoTracker(pipeline, { tracker: { confirmEvery: 0 } });
    const first = await video.process(image, 0);
    // another size but the wrong number of bytes (a stride bug): before, the tracks were dropped
    // first, and the next good frame started a new track without saying the old one ended
    await expect(video.process({ width: 320, height: 240, data: new Uint8Array(100) }, 33)).rejects.toBeInstanceOf(InputError);
    await expect(video.process(null as never, 40)).rejects.toBeInstanceOf(InputError);
    const next = await video.process(image, 66);
    expect(next.detected).toBe(false);
    expect(next.lost).toEqual([]);
    expect(next.faces[0].trackId).toBe(first.faces[0].trackId);
  });

  it('runs overlapping calls one after the other, in call order; the time defaults to the clock, and must be finite', async () => {
    const pipeline = fakePipeline({ x: 300, y: 220 });
    const video = new VideoTracker(pipeline, { tracker: { confirmEvery: 0 } });
    // A render loop that does not wait: before, the second call failed with "FaceTracker.update called without a plan".
    const rs = await Promise.all([video.process(image, 0), video.process(image, 33), video.process(image, 66)]);
    expect(rs.map((r) => [r.detected, r.faces.length])).toEqual([[true, 1], [false, 1], [false, 1]]);
    expect(new Set(rs.map((r) => r.faces[0].trackId)).size).toBe(1);
    expect(pipeline.detections).toBe(1);
    expect((await video.process(image)).faces).toHaveLength(1);
    await expect(video.process(image, NaN)).rejects.toThrow(/^the frame time must be a finite number of milliseconds, got NaN$/);
    // a failed call does not block the next
    expect((await video.process(image, performance.now() + 10)).faces).toHaveLength(1);
    // reset() while a frame is in flight waits for it (it failed with "FaceTracker.update called without a plan")
    const inFlight = video.process(image, performance.now() + 50);
    video.reset();
    const after = video.process(image, performance.now() + 100);
    expect((await inFlight).faces).toHaveLength(1);
    expect((await after).detected).toBe(true);
  });

  it("takes its tracks' framing from the model's file (track_framing) unless the options say", async () => {
    const where = { x: 300, y: 220 };
    const squares = async (options: VideoOptions, metadata?: Record<string, string>): Promise<CropSquare[]> => {
      const p = fakePipeline(where);
      const video = new VideoTracker(metadata ? Object.assign(p, { modelMetadata: metadata }) : p, { stabilize: false, ...options });
      const out: CropSquare[] = [];
      for (let f = 0; f < 3; f++) out.push((await video.process(image, (1000 * f) / FPS)).faces[0]!.crop.square);
      return out;
    };
    const still = { tracker: { cropSmoothing: false as const } };
    // the detector's crop (frame 0) is kept on a still face
    const [det, ...kept] = await squares(still, { track_framing: 'detector' });
    for (const sq of kept) expect([sq.cx, sq.cy, sq.side].map((v) => v.toFixed(6))).toEqual([det.cx, det.cy, det.side].map((v) => v.toFixed(6)));
    // no key, or the options' own framing: 1.6 × the landmarks' box
    for (const [options, metadata] of [[still, undefined], [{ tracker: { cropSmoothing: false as const, framing: 'landmarks' as const } }, { track_framing: 'detector' }]] as const) {
      const [first, second] = await squares(options, metadata);
      expect(first.side).toBeCloseTo(det.side, 9);
      expect(Math.abs(second.side - det.side)).toBeGreaterThan(1);
    }
  });

  it('refuses a pipeline without a detector and options of the wrong kind, naming them', () => {
    const pipeline = fakePipeline({ x: 300, y: 220 });
    // No detector: no track could ever start (0 faces forever, silently).
    expect(() => new VideoTracker({ ...pipeline, detector: null })).toThrow(/^VideoTracker needs a pipeline with a detector/);
    const bad: [unknown, RegExp][] = [
      [{ stabilize: null }, /^stabilize must be true, false or an object of stabiliser options, got null$/], // was: on
      [{ stabilize: 0 }, /^stabilize must be true, false/],
      [{ stabilize: 'off' }, /^stabilize must be true, false .*, got "off"$/],
      [{ stabilise: false }, /^unknown video option 'stabilise' \(did you mean 'stabilize'\?\)/],
      [{ cropFrom: 'stabilised' }, /^cropFrom must be 'raw' or 'stabilized', got "stabilised"$/], // was: raw
      [{ tracker: { detectEvery: 5 } }, /^unknown tracker option 'detectEvery' \(did you mean 'confirmEvery'\?\)/],
      [{ tracker: { minInside: '0.5' } }, /^tracker option minInside must be from 0 to 1, got "0.5"$/],
      [{ tracker: { cropSmoothing: { minCutoff: NaN } } }, /^crop smoothing option minCutoff must be a finite number > 0, got NaN$/], // was: NaN crops at the first detection
      [{ tracker: { cropSmoothing: { deadBand: 0.5 } } }, /^unknown crop smoothing option 'deadBand' \(did you mean 'deadband'\?\)/],
      [{ tracker: { cropSmoothing: null } }, /^tracker option cropSmoothing must be an object of crop smoothing options or false, got null$/],
    ];
    for (const [options, re] of bad) expect(() => new VideoTracker(pipeline, options as never), JSON.stringify(options)).toThrow(re);
    // null options are the defaults
    expect(new VideoTracker(pipeline, null as never).stabilizing).toBe(true);
    expect(new FaceTracker(null as never).options.confirmEvery).toBe(30);
  });

  it('reports a track as ended once its loss is final: after rejoinFrames, on a reset, on a new frame size', async () => {
    const where = { x: 300, y: 220 };
    const video = new VideoTracker(fakePipeline(where), { tracker: { confirmEvery: 0, rejoinFrames: 2 } });
    const first = await video.process(image, 0);
    const id = first.faces[0].trackId;
    where.x = 700; // gone
    const lost = await video.process(image, 33);
    expect([lost.lost.map((l) => l.id), lost.ended]).toEqual([[id], []]);
    where.x = -1; // the detector finds nothing
    expect((await video.process(image, 66)).ended).toEqual([]);
    expect((await video.process(image, 100)).ended).toEqual([]);
    expect((await video.process(image, 133)).ended).toEqual([id]);
    // a reset ends the live track: said by the next frame
    where.x = 300;
    const again = await video.process(image, 166);
    const id2 = again.faces[0].trackId;
    video.reset();
    const after = await video.process(image, 200);
    expect(after.ended).toEqual([id2]);
    // a new frame size ends the tracks at once
    const big = textured(800, 600);
    const resized = await video.process(big, 233);
    expect(resized.ended).toEqual([after.faces[0].trackId]);
  });

  it('returns nothing and runs no network on frames without a face', async () => {
    const pipeline = fakePipeline({ x: -1, y: 0 });
    const video = new VideoTracker(pipeline);
    const r = await video.process(image, 0);
    expect(r.faces).toEqual([]);
    expect(pipeline.networkRuns).toBe(0);
  });
});

describe('metrics', () => {
  it('measures the jitter of known noise and removes known shifts', () => {
    const rng = createRng(11);
    const frames: Float32Array[] = [];
    const shifts: [number, number][] = [];
    for (let f = 0; f < 400; f++) {
      const sx = rng.uniform() - 0.5, sy = rng.uniform() - 0.5;
      shifts.push([sx, sy]);
      frames.push(Float32Array.from({ length: 68 * 3 }, (_, i) => (i % 3 === 0 ? sx : i % 3 === 1 ? sy : 0) + (i % 3 < 2 ? 0.5 * rng.normal() : 0)));
    }
    const j = landmarkJitter(frames, 3, shifts);
    expect(j.std).toBeCloseTo(0.5 * Math.sqrt(2), 1); // sqrt(σx² + σy²)
    expect(j.step).toBeCloseTo(2 * 0.5, 1); // a step has variance 2σ² per axis
  });

  it('finds the lag of a delayed trajectory', () => {
    const truth = Array.from({ length: 120 }, (_, t) => 50 * Math.sin((2 * Math.PI * t) / 40));
    const delayed = truth.map((_, t) => 7 + 50 * Math.sin((2 * Math.PI * (t - 2.5)) / 40));
    expect(trajectoryLag(delayed, truth)).toBeCloseTo(2.5, 5);
    expect(trajectoryLag(truth, truth)).toBeCloseTo(0, 5);
  });
});
