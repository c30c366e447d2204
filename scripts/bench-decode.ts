/**
 * The wait for the next decoded frame when the JavaScript thread is busy between frames (as it is
 * during onnxruntime-node's synchronous inference): decodeFrames over the first --frames frames
 * of a clip with a --busy ms busy loop per frame. Prints the first frame's wait (ffmpeg's start)
 * and the mean and largest wait of the rest, ms.
 *
 *   npx tsx scripts/bench-decode.ts [--clip obama] [--frames 60] [--busy 40]
 */
import { resolve } from 'node:path';
import { decodeFrames, probeVideo } from '../src/video/index.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const clip = resolve(import.meta.dirname, `../../shared/eval/video/${opt('clip', 'obama')}.mp4`);
const busy = Number(opt('busy', '40'));
const info = await probeVideo(clip);
const waits: number[] = [];
let t = performance.now();
for await (const f of decodeFrames(clip, info, { maxFrames: Number(opt('frames', '60')) }).frames) {
  void f;
  waits.push(performance.now() - t);
  const end = performance.now() + busy;
  while (performance.now() < end) { /* busy, as an inference */ }
  t = performance.now();
}
const rest = waits.slice(1);
console.log(`${clip}: first frame ${waits[0].toFixed(1)} ms; then mean ${(rest.reduce((a, b) => a + b, 0) / rest.length).toFixed(2)} ms, max ${Math.max(...rest).toFixed(1)} ms (${rest.length} frames, ${busy} ms busy each)`);
