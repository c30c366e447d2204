/**
 * Speed of the video path against single photos, in one process (so both see the same machine
 * load): for each model, the first --frames frames of a clip
 * - as photos: each frame as a JPEG (quality 90, encoded beforehand) decoded and reconstructed,
 *   decodeImageBuffer + prnet.reconstruct (detector + network with test-time flip + read-offs:
 *   what `prnet reconstruct` does per photo before writing its files); also the reconstruction
 *   alone on the decoded frame ("photo, no decode");
 * - as a video: processVideo with the JSON lines only (results, as the photo row) and with every
 *   output (JSON lines, overlay H.264, animated GLB); the detector on the first frame (and every
 *   30th). With --no-flip also every output without test-time flip.
 * "video" is the whole run's frames/s (probe, ffmpeg's start, the first frame's detection, the
 * encoder's flush and the GLB included); "steady" the time per frame from the first frame's end
 * to the last's, what a long video approaches.
 * The three run interleaved (photos, JSON, all, photos, JSON, all, …) for --rounds rounds; the
 * table gives each one's median over the rounds.
 *
 *   npx tsx scripts/bench-video.ts [--clip obama] [--frames 30] [--rounds 3] [--models light,default] [--no-flip] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createPrnet } from '../src/pipeline/node.js';
import type { RgbImage } from '../src/types.js';
import sharp from 'sharp';
import { decodeImageBuffer } from '../src/io/image-node.js';
import { decodeFrames, probeVideo, processVideo } from '../src/video/index.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const clip = resolve(import.meta.dirname, `../../shared/eval/video/${opt('clip', 'obama')}.mp4`);
const n = Number(opt('frames', '30'));
const rows: Record<string, string | number>[] = [];
const info = await probeVideo(clip);
const frames: RgbImage[] = [];
for await (const f of decodeFrames(clip, info, { maxFrames: n }).frames) frames.push(f.image);
const jpegs = await Promise.all(frames.map(async (f) => new Uint8Array(await sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer())));
const out = await mkdtemp(join(tmpdir(), 'bench-video-'));
const rounds = Number(opt('rounds', '3'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const model of opt('models', 'light,default').split(',')) {
  const prnet = await createPrnet({ model });
  await prnet.reconstruct(frames[0]); // warm-up
  const variants: [string, boolean, { jsonl: boolean; overlay: boolean; glb: boolean }][] = [
    ['JSON lines only', true, { jsonl: true, overlay: false, glb: false }],
    ['all', true, { jsonl: true, overlay: true, glb: true }],
  ];
  if (args.includes('--no-flip')) variants.push(['all', false, { jsonl: true, overlay: true, glb: true }]);
  const photo: number[] = [];
  const photoNoDecode: number[] = [];
  const runs = variants.map(() => [] as Awaited<ReturnType<typeof processVideo>>[]);
  /** Per run: ms per frame from the first frame's end to the last's (no start-up: probe, ffmpeg start, first detection; no end: encoder flush, GLB). */
  const steady = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    for (const j of jpegs) await prnet.reconstruct(await decodeImageBuffer(j));
    photo.push((performance.now() - t) / frames.length);
    t = performance.now();
    for (const f of frames) await prnet.reconstruct(f);
    photoNoDecode.push((performance.now() - t) / frames.length);
    for (let v = 0; v < variants.length; v++) {
      const [, flip, outputs] = variants[v];
      const done: number[] = [];
      const r = await processVideo(prnet, clip, { outDir: out, maxFrames: n, flip, outputs, onFrame: () => { done.push(performance.now()); } });
      steady[v].push((done[done.length - 1] - done[0]) / (done.length - 1));
      runs[v].push(r);
    }
  }
  const photoMs = median(photo);
  variants.forEach(([label, flip], v) => {
    const per = (f: (x: Awaited<ReturnType<typeof processVideo>>) => number): number => +median(runs[v].map((x) => f(x) / x.frames)).toFixed(1);
    const videoMs = median(runs[v].map((x) => 1000 / x.fps));
    rows.push({
      model, outputs: label, flip: flip ? 'on' : 'off', 'photo ms/frame': +photoMs.toFixed(0), 'photo frames/s': +(1000 / photoMs).toFixed(2), 'photo, no decode ms': +median(photoNoDecode).toFixed(0),
      'video ms/frame': +videoMs.toFixed(0), 'video frames/s': +(1000 / videoMs).toFixed(2), 'video / photo': +(videoMs / photoMs).toFixed(2),
      'video steady ms/frame': +median(steady[v]).toFixed(0), 'steady / photo': +(median(steady[v]) / photoMs).toFixed(2),
      'decode wait ms': per((x) => x.timings.decode), 'network ms': per((x) => x.timings.network), 'detect ms': per((x) => x.timings.detect),
      'crop+read-offs ms': per((x) => x.timings.crop + x.timings.readoff), 'stabilise ms': per((x) => x.timings.stabilize), 'JSON+GLB ms': per((x) => x.timings.outputs),
      'overlay ms': per((x) => x.timings.overlay), 'encode wait ms': per((x) => x.timings.encode),
      'detector frames': runs[v][0].detectorFrames, 'GLB MB/s': +((runs[v][0].glb?.bytes ?? 0) / 1e6 / (runs[v][0].frames / info.fps)).toFixed(2),
    });
  });
  await prnet.dispose();
}
await rm(out, { recursive: true, force: true });
if (args.includes('--json')) console.log(JSON.stringify(rows, null, 1));
else {
  console.log(`${clip}: ${info.width}×${info.height}, ${info.fps} fps, first ${n} frames, ${rounds} rounds (medians)`);
  console.table(rows);
}
