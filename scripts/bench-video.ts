/**
 * Speed of the video path against single photos, in one process (so both see the same machine
 * load): for each model, the first --frames frames of a clip
 * - as photos: prnet.reconstruct(frame) per frame (detector + network with test-time flip +
 *   read-offs, what `prnet reconstruct` does per image before writing files);
 * - as a video: processVideo with every output (JSON lines, overlay H.264, animated GLB), with
 *   the JSON lines only (results, as the photo row), and with every output but no test-time
 *   flip (--no-flip); the detector on the first frame (and every 30th).
 *
 *   npx tsx scripts/bench-video.ts [--clip obama] [--frames 30] [--models light,default] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createPrnet } from '../src/pipeline/node.js';
import type { RgbImage } from '../src/types.js';
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
const out = await mkdtemp(join(tmpdir(), 'bench-video-'));
for (const model of opt('models', 'light,default').split(',')) {
  const prnet = await createPrnet({ model });
  await prnet.reconstruct(frames[0]); // warm-up
  const t = performance.now();
  for (const f of frames) await prnet.reconstruct(f);
  const photoMs = (performance.now() - t) / frames.length;
  const variants: [string, boolean, { jsonl: boolean; overlay: boolean; glb: boolean }][] = [
    ['all', true, { jsonl: true, overlay: true, glb: true }],
    ['JSON lines only', true, { jsonl: true, overlay: false, glb: false }],
    ['all', false, { jsonl: true, overlay: true, glb: true }],
  ];
  for (const [label, flip, outputs] of variants) {
    const r = await processVideo(prnet, clip, { outDir: out, maxFrames: n, flip, outputs });
    rows.push({
      model, outputs: label, flip: flip ? 'on' : 'off', 'photo ms/frame': +photoMs.toFixed(0), 'photo frames/s': +(1000 / photoMs).toFixed(2),
      'video frames/s': +r.fps.toFixed(2), 'video ms/frame': +(1000 / r.fps).toFixed(0),
      'network ms': +(r.timings.network / r.frames).toFixed(0), 'detect ms': +(r.timings.detect / r.frames).toFixed(0),
      'crop+read-offs+stabilise ms': +((r.timings.crop + r.timings.readoff + r.timings.stabilize) / r.frames).toFixed(0),
      'overlay ms': +(r.timings.overlay / r.frames).toFixed(0), 'encode wait ms': +(r.timings.encode / r.frames).toFixed(0),
      'detector frames': r.detectorFrames, 'GLB MB/s': +((r.glb?.bytes ?? 0) / 1e6 / (r.frames / info.fps)).toFixed(2),
    });
  }
  await prnet.dispose();
}
await rm(out, { recursive: true, force: true });
if (args.includes('--json')) console.log(JSON.stringify(rows, null, 1));
else {
  console.log(`${clip}: ${info.width}×${info.height}, ${info.fps} fps, first ${n} frames`);
  console.table(rows);
}
