/**
 * Jitter per face region (the 68 landmarks, the ears, the forehead rim, the whole face; regions
 * from the UV layout: src/track/regions.ts), raw and stabilised, and the stabiliser's lag.
 *
 * "Raw" is the per-frame reconstruction without any temporal filter of the output: each frame's
 * network output as it is, in the crop the tracker chose from the previous frame. Two raw runs:
 * - raw, crop from landmarks: each crop is the previous frame's landmarks' square (as the
 *   original's video demo, and this project before the crop smoothing);
 * - raw (default): the same with the tracker's crop smoothing (src/track/crop-smoother.ts) —
 *   the crop is temporally consistent, the output still unfiltered.
 * The stabilised variants filter the second raw run frame by frame (FaceStabilizer, exactly what
 * VideoTracker does: its crop comes from the raw landmarks through the crop smoothing, so the
 * network's inputs are those of the raw run).
 *
 * Clips:
 * - still: a synthetic still-face clip (none of the real clips holds still): astronaut.png
 *   re-shot every frame with a random sub-pixel shake (±0.25 px), sensor noise and JPEG
 *   (web/scripts/measure-tracking.ts); jitter = each vertex's spread over the clip (std of x
 *   and y together, the shake included) and its RMS frame-to-frame step, averaged over the
 *   region, pixels;
 * - the four real clips of ../shared/eval/video, the first --frames frames: jitter from second
 *   differences (motionJitter: for white noise the same spread as `std` on a still clip, little
 *   from smooth motion — but a head's own accelerations count too, the more the farther from its
 *   centre), of image positions and of positions in the head's frame (Rᵀ(x − t) with the run's
 *   own pose: the shape's jitter without the pose's);
 *   lag = frames by which the stabilised trajectory trails the raw one (trajectoryLag: the shift
 *   that best aligns them), for the landmarks' and the ears' mean x and y and for the yaw, the
 *   largest of these reported.
 * The first 15 frames (the tracker and the filter settle) are left out of every measure.
 *
 * Raw runs are cached in tmp/video-cache (position maps per frame), so stabiliser variants can be
 * measured without running the network again (--no-cache to rerun).
 *
 *   npx tsx scripts/measure-video.ts [--model default|light] [--precision fp32|int8] [--frames 75] [--still 45]
 *       [--clips driving_d3,driving_d6,obama,source_s13] [--variants '[["name",{...}],…]']
 *       [--crop '{CropSmoothingOptions}'] [--no-cache] [--json]
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { cropTransform, type CropSquare } from '../src/crop/index.js';
import { estimatePose, readLandmarks, readVertices } from '../src/geometry/index.js';
import type { Face } from '../src/pipeline/face.js';
import { createPrnet } from '../src/pipeline/node.js';
import type { Prnet } from '../src/pipeline/prnet.js';
import {
  FACE_REGIONS, FaceStabilizer, VideoTracker, faceRegions, faceSize, landmarkJitter, meanCoordinate, motionJitter, selectVertices, trajectoryLag,
  type CropSmoothingOptions, type FaceRegion, type StabilizerOptions, type TrackerOptions,
} from '../src/track/index.js';
import type { Layout } from '../src/layout/index.js';
import type { RgbImage } from '../src/types.js';
import { decodeFrames, probeVideo } from '../src/video/index.js';
import { FPS, SKIP, framePhoto, makeClips } from '../web/scripts/measure-tracking.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROOT = resolve(import.meta.dirname, '..');
const SHARED = resolve(ROOT, '../shared');
const CACHE = resolve(ROOT, 'tmp/video-cache');

/** A raw run: per frame the face's position map (null: no face) and crop square. */
interface RawRun {
  fps: number;
  size: number;
  maps: (Float32Array | null)[];
  crops: (CropSquare | null)[];
  seconds: number;
}

async function recordRaw(prnet: Prnet, frames: RgbImage[], fps: number, tracker: TrackerOptions): Promise<RawRun> {
  const video = new VideoTracker(prnet, { stabilize: false, tracker: { maxFaces: 1, ...tracker } });
  const out: RawRun = { fps, size: prnet.layout.size, maps: [], crops: [], seconds: 0 };
  const t0 = performance.now();
  for (let f = 0; f < frames.length; f++) {
    const face = (await video.process(frames[f], (1000 * f) / fps)).faces[0];
    out.maps.push(face ? face.positionMap.data : null);
    out.crops.push(face ? face.crop.square : null);
  }
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

async function cached(key: string, make: () => Promise<RawRun>): Promise<RawRun> {
  const meta = resolve(CACHE, `${key}.json`), data = resolve(CACHE, `${key}.f32`);
  if (!args.includes('--no-cache') && existsSync(meta) && existsSync(data)) {
    const m = JSON.parse(await readFile(meta, 'utf8')) as Omit<RawRun, 'maps'> & { has: boolean[] };
    const buf = await readFile(data);
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const n = m.size * m.size * 3;
    let k = 0;
    const maps = m.has.map((h) => (h ? all.slice(n * k, n * ++k) : null));
    return { fps: m.fps, size: m.size, crops: m.crops, seconds: m.seconds, maps };
  }
  const r = await make();
  await mkdir(CACHE, { recursive: true });
  const present = r.maps.filter((x): x is Float32Array => x !== null);
  const all = new Float32Array(present.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const x of present) { all.set(x, o); o += x.length; }
  await writeFile(data, new Uint8Array(all.buffer));
  await writeFile(meta, JSON.stringify({ fps: r.fps, size: r.size, crops: r.crops, seconds: r.seconds, has: r.maps.map((x) => x !== null) }));
  return r;
}

/** The raw run's faces, rebuilt from the maps as the pipeline builds them. */
function facesOf(run: RawRun, layout: Layout): (Face | null)[] {
  return run.maps.map((data, f) => {
    if (!data) return null;
    const positionMap = { size: run.size, data };
    const vertices = readVertices(positionMap, layout);
    const crop = cropTransform(run.crops[f] as CropSquare);
    const s = crop.square;
    return {
      index: 0, box: { x: s.cx - s.side / 2, y: s.cy - s.side / 2, width: s.side, height: s.side, score: 1 }, crop, positionMap,
      landmarks: readLandmarks(positionMap, layout), vertices, pose: estimatePose(vertices, layout.canonical), inImage: 1,
    };
  });
}

function stabilizeRun(faces: (Face | null)[], fps: number, layout: Layout, options: StabilizerOptions): (Face | null)[] {
  const s = new FaceStabilizer(layout, options);
  return faces.map((face, f) => (face ? s.stabilize(face, (1000 * f) / fps).face : (s.reset(), null)));
}

const round = (x: number, d = 3): number => +x.toFixed(d);

/** Points in a head's frame: Rᵀ(x − t) (pixels, the face's own scale). */
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

/** A trajectory's motion for its noise: its spread over the clip / its second-difference noise. */
function motionSnr(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const spread = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  let d = 0;
  for (let i = 2; i < xs.length; i++) d += (xs[i] - 2 * xs[i - 1] + xs[i - 2]) ** 2;
  return spread / (Math.sqrt(d / (xs.length - 2) / 6) + 1e-9);
}

type Variant = [label: string, stabilize: StabilizerOptions];

async function main(): Promise<void> {
  const model = opt('model', 'default');
  const nFrames = Number(opt('frames', '75'));
  const nStill = Number(opt('still', '45'));
  const nMoving = Number(opt('moving', '90'));
  const clipNames = opt('clips', 'driving_d3,driving_d6,obama,source_s13').split(',').filter(Boolean);
  // Crop smoothing options of the raw run (and so of the stabilised ones); part of the cache key.
  const crop = JSON.parse(opt('crop', '{}')) as CropSmoothingOptions;
  const cropKey = Object.keys(crop).length ? `-${JSON.stringify(crop).replace(/[^\w.]+/g, '_')}` : '';
  const variants: Variant[] = JSON.parse(opt('variants', JSON.stringify([['on', {}], ['on, no hold', { stillSpeed: 0 }]]))) as Variant[];
  const precision = opt('precision', '') || undefined;
  const prnet = await createPrnet({ model, precision: precision as 'fp32' | 'int8' | undefined });
  const layout = prnet.layout;
  const ids = faceRegions(layout);
  const counts = Object.fromEntries(FACE_REGIONS.map((k) => [k, ids[k].length]));
  const rows: Record<string, string | number>[] = [];
  const regionsOf = (face: Face): Record<FaceRegion, Float32Array> => Object.fromEntries(FACE_REGIONS.map((k) => [k, selectVertices(face.vertices, ids[k])])) as Record<FaceRegion, Float32Array>;

  const clips: { name: string; still: boolean; truth?: number[]; frames: () => Promise<{ frames: RgbImage[]; fps: number }> }[] = [];
  if (nStill > 0) {
    clips.push({
      name: 'still (synthetic)', still: true, frames: async () => {
        return { frames: (await makeClips(photo as RgbImage)).still.frames.slice(0, nStill), fps: FPS };
      },
    });
  }
  const photo = nStill > 0 || nMoving > 0 ? await framePhoto(prnet, resolve(SHARED, 'eval/portraits/astronaut.png'), 160) : null;
  if (photo && nMoving > 0) {
    const synthetic = await makeClips(photo);
    for (const c of [synthetic.fast, synthetic.slow]) {
      clips.push({ name: `${c.name} (synthetic)`, still: false, truth: c.shifts.slice(0, nMoving).map((x) => x[0]), frames: async () => ({ frames: c.frames.slice(0, nMoving), fps: FPS }) });
    }
  }
  for (const name of clipNames) {
    clips.push({
      name, still: false, frames: async () => {
        const path = resolve(SHARED, `eval/video/${name}.mp4`);
        const info = await probeVideo(path);
        const frames: RgbImage[] = [];
        for await (const f of decodeFrames(path, info, { maxFrames: nFrames }).frames) frames.push(f.image);
        return { frames, fps: info.fps };
      },
    });
  }

  for (const clip of clips) {
    let loaded: { frames: RgbImage[]; fps: number } | null = null;
    const load = async (): Promise<{ frames: RgbImage[]; fps: number }> => (loaded ??= await clip.frames());
    const n = clip.still ? nStill : clip.truth ? nMoving : nFrames;
    const key = clip.name.split(' ')[0];
    const precisionKey = precision ? `-${precision}` : '';
    const rawOld = await cached(`${model}-${key}-${n}-cropraw${precisionKey}`, async () => { const l = await load(); return recordRaw(prnet, l.frames, l.fps, { cropSmoothing: false }); });
    const raw = await cached(`${model}-${key}-${n}-cropsmooth${cropKey}${precisionKey}`, async () => { const l = await load(); return recordRaw(prnet, l.frames, l.fps, { cropSmoothing: crop }); });
    const rawFaces = facesOf(raw, layout);
    const runs: [string, (Face | null)[]][] = [
      ['raw, crop from landmarks', facesOf(rawOld, layout)],
      ['raw (crop smoothing)', rawFaces],
      ...variants.map(([label, o]): [string, (Face | null)[]] => [label, stabilizeRun(rawFaces, raw.fps, layout, o)]),
    ];
    const frames = rawFaces.map((_, f) => f).filter((f) => f >= SKIP && runs.every(([, r]) => r[f]));
    const regs = runs.map(([, r]) => frames.map((f) => regionsOf(r[f] as Face)));
    for (let m = 0; m < runs.length; m++) {
      const row: Record<string, string | number> = { clip: clip.name, run: runs[m][0], 'face px': round(faceSize((rawFaces[frames[0]] as Face).landmarks), 0), frames: frames.length };
      if (clip.still) {
        for (const k of FACE_REGIONS) {
          const j = landmarkJitter(regs[m].map((x) => x[k]), 3);
          row[k] = `${round(j.std)} / ${round(j.step)}`;
        }
      } else {
        for (const k of FACE_REGIONS) {
          const img = motionJitter(regs[m].map((x) => x[k]), 3);
          const head = motionJitter(regs[m].map((x, i) => { const p = (runs[m][1][frames[i]] as Face).pose; return headFrame(x[k], p.rotation, p.translation); }), 3);
          row[k] = `${round(img)} / ${round(head)}`;
        }
        if (clip.truth) {
          // Lag behind the known motion (the photo's offset), of the landmarks' and the ears' mean x.
          const truth = frames.map((f) => (clip.truth as number[])[f]);
          const lags = (['landmarks', 'ears'] as const).map((k) => trajectoryLag(regs[m].map((x) => meanCoordinate(x[k], 3, 0)), truth, 4));
          row.lag = round(Math.max(...lags), 2);
          row['lag: how measured'] = `behind the true motion: landmarks ${lags.map((l) => round(l, 2)).join(', ears ')}`;
        } else if (m >= 2 && frames.length > 20) {
          // Lag behind the raw run, on the trajectory with the most motion for its noise.
          const cands: [string, number[], number[]][] = [];
          for (const k of ['landmarks', 'ears'] as const) {
            for (const axis of [0, 1] as const) {
              cands.push([`${k} ${'xy'[axis]}`, regs[m].map((x) => meanCoordinate(x[k], 3, axis)), regs[1].map((x) => meanCoordinate(x[k], 3, axis))]);
            }
          }
          cands.push(['yaw', frames.map((f) => (runs[m][1][f] as Face).pose.yaw), frames.map((f) => (rawFaces[f] as Face).pose.yaw)]);
          const best = cands.map(([name, a, b]) => ({ name, snr: motionSnr(b), lag: trajectoryLag(a, b, 4) })).sort((a, b) => b.snr - a.snr)[0];
          row.lag = round(best.lag, 2);
          row['lag: how measured'] = `behind raw, ${best.name} (motion/noise ${round(best.snr, 1)})`;
        }
      }
      rows.push(row);
    }
  }
  await prnet.dispose();
  if (args.includes('--json')) {
    console.log(JSON.stringify({ model, regionVertices: counts, variants, rows }, null, 1));
    return;
  }
  console.log(`model ${model}; region vertices ${JSON.stringify(counts)}; cells: still clip spread / step, real clips image / head-frame jitter (px)`);
  console.table(rows);
}

await main();
