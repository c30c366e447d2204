/**
 * Which framing a model's video tracks should keep (TrackerOptions.framing): AFLW2000-3D dev images
 * made into short clips — still, or moved by --vx/--vy pixels and zoomed by --zoom per frame about
 * the image centre (bilinear) — run through VideoTracker with each framing (stabiliser off, one face),
 * the 68-point 2D NME of every frame against the ground truth moved alike. Frame 0 is the detector's
 * crop; the later frames are tracked. Faces turned over 60° are left out (a tracked profile that
 * collapses says nothing about framing).
 *
 *   npx tsx scripts/track-framing.ts [--model light] [--images 200] [--frames 8] [--flip]
 *        [--vx 4 --vy=-2 --zoom 0.02] [--write detector|landmarks]
 *
 * --write stores the choice in the model file's metadata (`track_framing`, which VideoTracker and
 * `prnet video` follow); the weights are not changed. Evaluation only: nothing is trained on AFLW.
 */
import { parseArgs } from 'node:util';
import { listAflwImages } from '../tools/eval/aflw2000.js';
import { loadAflwGroundTruth } from '../tools/eval/mat.js';
import { nme } from '../tools/eval/nme.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { readModelFile, writeModelFile } from '../src/model/file-node.js';
import { TRACK_FRAMING_KEY } from '../src/model/weights.js';
import { createPrnet, resolveModel } from '../src/pipeline/node.js';
import { TRACK_FRAMINGS, type TrackFraming } from '../src/track/tracker.js';
import { VideoTracker } from '../src/track/video.js';
import type { RgbImage } from '../src/types.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'light' },
    images: { type: 'string', default: '200' },
    frames: { type: 'string', default: '8' },
    flip: { type: 'boolean', default: false },
    vx: { type: 'string', default: '0' },
    vy: { type: 'string', default: '0' },
    zoom: { type: 'string', default: '0' },
    dir: { type: 'string', default: '../shared/eval/aflw2000-3d-dev' },
    write: { type: 'string' },
  },
});
const path = resolveModel(values.model) as string;
if (values.write !== undefined) {
  if (!(TRACK_FRAMINGS as readonly string[]).includes(values.write)) throw new Error(`--write must be ${TRACK_FRAMINGS.join(' or ')}`);
  const weights = await readModelFile(path);
  await writeModelFile(path, { ...weights, metadata: { ...weights.metadata, [TRACK_FRAMING_KEY]: values.write } }, { dtype: 'F16' });
  console.log(`${path}: ${TRACK_FRAMING_KEY} = ${values.write}`);
  process.exit(0);
}
const F = Number(values.frames), vx = Number(values.vx), vy = Number(values.vy), zoom = Number(values.zoom);

/** Frame t of the clip: the image zoomed by 1 + zoom·t about its centre and moved by t·(vx, vy); `map` takes a point of the image to the frame. */
function clipFrame(img: RgbImage, t: number): { image: RgbImage; map: (x: number, y: number) => [number, number] } {
  const { width: W, height: H, data } = img;
  const s = 1 + zoom * t, cx = W / 2, cy = H / 2, tx = vx * t, ty = vy * t;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = Math.min(W - 1.001, Math.max(0, (x - cx - tx) / s + cx)), sy = Math.min(H - 1.001, Math.max(0, (y - cy - ty) / s + cy));
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const a = data[(y0 * W + x0) * 3 + c], b = data[(y0 * W + x0 + 1) * 3 + c];
        const d = data[((y0 + 1) * W + x0) * 3 + c], e = data[((y0 + 1) * W + x0 + 1) * 3 + c];
        out[(y * W + x) * 3 + c] = Math.round(a + (b - a) * fx + (d - a) * fy + (a - b - d + e) * fx * fy);
      }
    }
  }
  return { image: { width: W, height: H, data: out }, map: (x, y) => [(x - cx) * s + cx + tx, (y - cy) * s + cy + ty] };
}

const prnet = await createPrnet({ model: values.model });
const items = (await listAflwImages(values.dir)).slice(0, Number(values.images));
const sums = TRACK_FRAMINGS.map(() => new Float64Array(F));
const counts = TRACK_FRAMINGS.map(() => new Float64Array(F));
let clips = 0;
for (const item of items) {
  const truth = await loadAflwGroundTruth(item.mat);
  if (Math.abs(truth.pose[1]) > Math.PI / 3) continue;
  const img = await decodeImageFile(item.image);
  const frames = Array.from({ length: F }, (_, t) => clipFrame(img, t));
  clips++;
  for (const [m, framing] of TRACK_FRAMINGS.entries()) {
    const video = new VideoTracker(prnet, { stabilize: false, flip: values.flip, tracker: { framing: framing as TrackFraming, maxFaces: 1 } });
    for (let t = 0; t < F; t++) {
      const face = (await video.process(frames[t].image, t * 1000 / 30)).faces[0];
      if (!face) break;
      const gt = Float64Array.from(truth.pt3d68);
      for (let i = 0; i < 68; i++) [gt[i * 3], gt[i * 3 + 1]] = frames[t].map(gt[i * 3], gt[i * 3 + 1]);
      sums[m][t] += nme(face.landmarks, gt, 2);
      counts[m][t]++;
    }
  }
}
await prnet.dispose();
console.log(`${values.model}, flip ${values.flip ? 'on' : 'off'}, ${clips} clips of ${F} frames (|yaw| ≤ 60°), move (${vx}, ${vy}) px and zoom ${zoom} per frame; 68-point NME 2D %, frame 0 (detector) … ${F - 1}, and the mean of the tracked frames:`);
for (const [m, framing] of TRACK_FRAMINGS.entries()) {
  const per = Array.from(sums[m], (s, t) => (100 * s) / counts[m][t]);
  const tracked = per.slice(1).reduce((a, b) => a + b, 0) / (F - 1);
  console.log(`  ${framing.padEnd(9)} ${per.map((v) => v.toFixed(2)).join(' ')}   tracked ${tracked.toFixed(2)}`);
}
