/**
 * Jitter per face region (the 68 landmarks, the ears, the forehead rim, the whole face; regions
 * from the UV layout: src/track/regions.ts), raw and stabilised, and the stabiliser's lag:
 *
 * - still: a synthetic still-face clip (none of the real clips holds still): the photo re-shot
 *   every frame with a random sub-pixel shake (±0.25 px), sensor noise and JPEG re-encoding, as
 *   web/scripts/measure-tracking.ts; jitter = each vertex's spread over the clip (std of x and y
 *   together) and its RMS frame-to-frame step, averaged over the region, pixels. Run raw, with
 *   the stabiliser's defaults (the still-face hold engages), and with the hold off (stillSpeed 0:
 *   what the filter alone does, as while the face moves), the rim filter off and on;
 * - real clips (../shared/eval/video): the first --frames frames; jitter from second differences
 *   (motionJitter: for white noise the same spread as `std` on a still clip, little from smooth
 *   motion — but a head's own accelerations count too, the more the farther from its centre),
 *   of the image positions and of the positions in the head's frame (Rᵀ(x − t): the shape's
 *   jitter without the pose's); lag = frames by which the stabilised landmarks' mean x trails
 *   the raw one.
 *
 *   npx tsx scripts/measure-video.ts [--model default|light] [--frames 45] [--still 45]
 *       [--clips driving_d3,obama] [--json]
 */
import { resolve } from 'node:path';
import { createPrnet } from '../src/pipeline/node.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import {
  FACE_REGIONS, VideoTracker, faceRegions, faceSize, landmarkJitter, meanCoordinate, motionJitter, selectVertices, trajectoryLag,
  type FaceRegion, type StabilizerOptions,
} from '../src/track/index.js';
import type { RgbImage } from '../src/types.js';
import { decodeFrames, probeVideo } from '../src/video/index.js';
import { FPS, SKIP, framePhoto, makeClips } from '../web/scripts/measure-tracking.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const SHARED = resolve(import.meta.dirname, '../../shared');

interface Run {
  /** Per frame, per region: the region's vertices (K×3), or null when no face was tracked. */
  regions: (Record<FaceRegion, Float32Array> | null)[];
  /** The same in the head's frame, Rᵀ(x − t). */
  head: (Record<FaceRegion, Float32Array> | null)[];
  sizes: number[];
  seconds: number;
}

async function run(prnet: Prnet, frames: RgbImage[], fps: number, stabilize: StabilizerOptions | false, ids: Record<FaceRegion, Int32Array>): Promise<Run> {
  const video = new VideoTracker(prnet, { stabilize, tracker: { maxFaces: 1 } });
  const out: Run = { regions: [], head: [], sizes: [], seconds: 0 };
  const t0 = performance.now();
  for (let f = 0; f < frames.length; f++) {
    const r = await video.process(frames[f], (1000 * f) / fps);
    const face = r.faces[0];
    const sel = face ? Object.fromEntries(FACE_REGIONS.map((k) => [k, selectVertices(face.vertices, ids[k])])) as Record<FaceRegion, Float32Array> : null;
    out.regions.push(sel);
    out.head.push(face && sel ? Object.fromEntries(FACE_REGIONS.map((k) => [k, headFrame(sel[k], face.pose.rotation, face.pose.translation)])) as Record<FaceRegion, Float32Array> : null);
    out.sizes.push(face ? faceSize(face.landmarks) : NaN);
  }
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

const round = (x: number, d = 3): number => +x.toFixed(d);

/** Points in the head's frame: Rᵀ(x − t) (pixels, the face's own scale). */
function headFrame(p: Float32Array, R: ArrayLike<number>, t: readonly number[]): Float32Array {
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i += 3) {
    const x = p[i] - t[0], y = p[i + 1] - t[1], z = p[i + 2] - t[2];
    out[i] = R[0] * x + R[3] * y + R[6] * z;
    out[i + 1] = R[1] * x + R[4] * y + R[7] * z;
    out[i + 2] = R[2] * x + R[5] * y + R[8] * z;
  }
  return out;
}

type Variant = [label: string, stabilize: StabilizerOptions | false];

async function main(): Promise<void> {
  const model = opt('model', 'default');
  const nFrames = Number(opt('frames', '45'));
  const nStill = Number(opt('still', '45'));
  const clipNames = opt('clips', 'driving_d3').split(',').filter(Boolean);
  const stabilizer = JSON.parse(opt('stabilizer', '{}')) as StabilizerOptions;
  const stillVariants: Variant[] = [
    ['raw', false], ['on', stabilizer],
    ['on, no hold, rim filter off', { ...stabilizer, stillSpeed: 0, rimCutoff: 0 }], ['on, no hold', { ...stabilizer, stillSpeed: 0 }],
  ];
  const clipVariants: Variant[] = [['raw', false], ['on, rim filter off', { ...stabilizer, rimCutoff: 0 }], ['on', stabilizer]];
  const prnet = await createPrnet({ model });
  const ids = faceRegions(prnet.layout);
  const counts = Object.fromEntries(FACE_REGIONS.map((k) => [k, ids[k].length]));
  const rows: Record<string, string | number>[] = [];

  if (nStill > 0) {
    const photo = await framePhoto(prnet, resolve(SHARED, 'eval/portraits/astronaut.png'), 160);
    const { still } = await makeClips(photo);
    const frames = still.frames.slice(0, nStill);
    for (const [label, stabilize] of stillVariants) {
      const r = await run(prnet, frames, FPS, stabilize, ids);
      const ok = r.regions.slice(SKIP).filter((x): x is Record<FaceRegion, Float32Array> => x !== null);
      const row: Record<string, string | number> = { clip: 'still (synthetic)', stabilize: label, face: round(r.sizes[SKIP], 0), frames: ok.length };
      for (const k of FACE_REGIONS) {
        const j = landmarkJitter(ok.map((x) => x[k]), 3);
        row[`${k} std`] = round(j.std);
        row[`${k} step`] = round(j.step);
      }
      row.fps = round(frames.length / r.seconds, 2);
      rows.push(row);
    }
  }

  for (const name of clipNames) {
    const path = resolve(SHARED, `eval/video/${name}.mp4`);
    const info = await probeVideo(path);
    const frames: RgbImage[] = [];
    for await (const f of decodeFrames(path, info, { maxFrames: nFrames }).frames) frames.push(f.image);
    const runs: Run[] = [];
    for (const [, stabilize] of clipVariants) runs.push(await run(prnet, frames, info.fps, stabilize, ids));
    // Frames where every run tracked the face (after the filter settles).
    const both = runs[0].regions.map((_, f) => f).filter((f) => f >= SKIP && runs.every((r) => r.regions[f]));
    const xs = runs.map((r) => both.map((f) => meanCoordinate((r.regions[f] as Record<FaceRegion, Float32Array>).landmarks)));
    runs.forEach((r, m) => {
      const row: Record<string, string | number> = { clip: `${name} (${info.width}×${info.height}, ${info.fps} fps)`, stabilize: clipVariants[m][0], face: round(r.sizes[SKIP], 0), frames: both.length };
      for (const k of FACE_REGIONS) row[`${k} jitter`] = round(motionJitter(both.map((f) => (r.regions[f] as Record<FaceRegion, Float32Array>)[k]), 3));
      for (const k of FACE_REGIONS) row[`${k} head-frame jitter`] = round(motionJitter(both.map((f) => (r.head[f] as Record<FaceRegion, Float32Array>)[k]), 3));
      if (m) row.lag = both.length > 20 ? round(trajectoryLag(xs[m], xs[0], 4), 2) : NaN;
      row.fps = round(frames.length / r.seconds, 2);
      rows.push(row);
    });
  }
  await prnet.dispose();
  if (args.includes('--json')) {
    console.log(JSON.stringify({ model, stabilizer, regionVertices: counts, rows }, null, 1));
    return;
  }
  console.log(`model ${model}; region vertices ${JSON.stringify(counts)}; stabilizer ${JSON.stringify(stabilizer)}`);
  console.table(rows);
}

await main();
