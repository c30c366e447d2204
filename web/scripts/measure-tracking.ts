/**
 * Measures the video path's temporal quality with the real pipeline (Node: onnxruntime-node and
 * the default detector), before and after stabilisation:
 * - jitter: on a still face — a photo re-shot every frame with a random sub-pixel shift (camera
 *   shake, ±0.25 px), sensor noise and JPEG re-encoding (the network's jitter comes from such tiny
 *   input changes) — the spread and frame-to-frame step of the 68 landmarks;
 * - lag: on a face moving along a known path (the photo translated sinusoidally), how many frames
 *   the landmarks' mean trails the path, and their RMS error around it.
 *
 *   npx tsx web/scripts/measure-tracking.ts [--model default|light|<file>] [--photo <file>]
 *       [--face 160] [--stabilizer '{"minCutoff":0.5}'] [--no-flip] [--precision fp32|int8] [--json]
 *       [--runtime web [--graph '{"quantizeBoundary":true}']]
 *
 * --face: the face's size in the frames (pixels, detector box mean side; the photo is scaled and
 * centred on the face). --stabilizer: StabilizerOptions to measure instead of the defaults.
 * --no-flip: without test-time flip (as the web app on WebAssembly); --precision: the network's.
 * --runtime web: the network in onnxruntime-web's WebAssembly build (one thread; the browser's
 * kernels and WebAssembly graph, or --graph's options), the detector as in Node.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { createRng } from '../../src/model/weights.js';
import type { Prnet } from '../../src/pipeline/prnet.js';
import type { OrtModule } from '../../src/runtime/ort.js';
import { VideoTracker, faceSize, landmarkJitter, meanCoordinate, trajectoryLag, type StabilizerOptions } from '../../src/track/index.js';
import type { RgbImage } from '../../src/types.js';

export const FPS = 30;
export const W = 640;
export const H = 480;
const GREY = 96;

export interface Clip {
  name: string;
  frames: RgbImage[];
  /** The photo's offset in each frame (pixels): the true motion. */
  shifts: [number, number][];
}

/** A frame: the photo at offset (dx, dy) from centred, bilinear, plus noise σ 2, JPEG q85. */
export async function makeFrame(photo: RgbImage, dx: number, dy: number, rng: ReturnType<typeof createRng>): Promise<RgbImage> {
  const out = new Uint8Array(W * H * 3);
  const ox = (W - photo.width) / 2 + dx, oy = (H - photo.height) / 2 + dy;
  const ix = Math.floor(ox), iy = Math.floor(oy);
  const fx = ox - ix, fy = oy - iy;
  // out(x, y) = photo(x − ox, y − oy): the four taps are photo(x − ix − 1 + {0, 1}, y − iy − 1 + {0, 1}).
  const w00 = fx * fy, w10 = (1 - fx) * fy, w01 = fx * (1 - fy), w11 = (1 - fx) * (1 - fy);
  const pw = photo.width, ph = photo.height, src = photo.data;
  const at = (xx: number, yy: number, c: number): number => (xx >= 0 && yy >= 0 && xx < pw && yy < ph ? src[(yy * pw + xx) * 3 + c] : GREY);
  for (let y = 0; y < H; y++) {
    const y0 = y - iy - 1, y1 = y0 + 1;
    for (let x = 0; x < W; x++) {
      const x0 = x - ix - 1, x1 = x0 + 1;
      const o = (y * W + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = w00 * at(x0, y0, c) + w10 * at(x1, y0, c) + w01 * at(x0, y1, c) + w11 * at(x1, y1, c);
        out[o + c] = Math.max(0, Math.min(255, Math.round(v + 2 * rng.normal())));
      }
    }
  }
  const jpeg = await sharp(out, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
  const { data } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return { width: W, height: H, data: new Uint8Array(data) };
}

async function makeClip(name: string, photo: RgbImage, n: number, path: (f: number) => [number, number], seed: number): Promise<Clip> {
  const rng = createRng(seed);
  const frames: RgbImage[] = [];
  const shifts: [number, number][] = [];
  for (let f = 0; f < n; f++) {
    const [dx, dy] = path(f);
    shifts.push([dx, dy]);
    frames.push(await makeFrame(photo, dx, dy, rng));
  }
  return { name, frames, shifts };
}

/**
 * The photo scaled so that the detector's box is about `face` pixels and cropped around the face
 * to at most the frame's size (the face at the centre).
 */
export async function framePhoto(prnet: Prnet, path: string, face: number): Promise<RgbImage> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const full: RgbImage = { width: info.width, height: info.height, data: new Uint8Array(data) };
  const [box] = await prnet.detect(full);
  if (!box) throw new Error(`no face in ${path}`);
  const s = face / ((box.width + box.height) / 2);
  const cx = (box.x + box.width / 2) * s, cy = (box.y + box.height / 2) * s;
  const sw = Math.round(info.width * s), sh = Math.round(info.height * s);
  const left = Math.max(0, Math.min(sw - 1, Math.round(cx - W / 2)));
  const top = Math.max(0, Math.min(sh - 1, Math.round(cy - H / 2)));
  const width = Math.min(W, sw - left), height = Math.min(H, sh - top);
  const out = await sharp(path).removeAlpha().resize(sw, sh).extract({ left, top, width, height }).raw().toBuffer({ resolveWithObject: true });
  return { width: out.info.width, height: out.info.height, data: new Uint8Array(out.data) };
}

/** The three clips: still (sub-pixel shifts), fast and slow sinusoidal motion along x. */
export async function makeClips(photo: RgbImage): Promise<{ still: Clip; fast: Clip; slow: Clip }> {
  const rng = createRng(5);
  return {
    still: await makeClip('still', photo, 75, () => [0.5 * rng.uniform() - 0.25, 0.5 * rng.uniform() - 0.25], 1),
    fast: await makeClip('fast', photo, 120, (f) => [60 * Math.sin((2 * Math.PI * f) / 60), 0], 2),
    slow: await makeClip('slow', photo, 120, (f) => [20 * Math.sin((2 * Math.PI * f) / 90), 0], 3),
  };
}

/** The landmarks of the first face in each frame of a clip, through VideoTracker. */
export async function runClip(prnet: Prnet, clip: Clip, stabilize: StabilizerOptions | false, flip?: boolean): Promise<Float32Array[]> {
  const video = new VideoTracker(prnet, { stabilize, tracker: { maxFaces: 1 }, flip });
  const out: Float32Array[] = [];
  for (let f = 0; f < clip.frames.length; f++) {
    const r = await video.process(clip.frames[f], (1000 * f) / FPS);
    out.push(r.faces.length ? r.faces[0].landmarks : new Float32Array(68 * 3).fill(NaN));
  }
  return out;
}

/** Frames for the tracker and the filter to settle, left out of every measure. */
export const SKIP = 15;

export interface Measures {
  faceSize: number;
  jitterStd: number;
  jitterStep: number;
  fastLag: number;
  fastError: number;
  slowLag: number;
  slowError: number;
}

/** Jitter on the still clip: the face is still (its ±0.25 px shake is part of the noise). */
export function measureStill(lm: Float32Array[]): Pick<Measures, 'faceSize' | 'jitterStd' | 'jitterStep'> {
  const j = landmarkJitter(lm.slice(SKIP), 3);
  return { faceSize: faceSize(lm[SKIP]), jitterStd: j.std, jitterStep: j.step };
}

export function measureMotion(lm: Float32Array[], clip: Clip): { lag: number; error: number } {
  const measured = lm.slice(SKIP).map((l) => meanCoordinate(l));
  const truth = clip.shifts.slice(SKIP).map((s) => s[0]);
  const lag = trajectoryLag(measured, truth);
  const offset = measured.reduce((a, m, i) => a + m - truth[i], 0) / measured.length;
  const error = Math.sqrt(measured.reduce((a, m, i) => a + (m - truth[i] - offset) ** 2, 0) / measured.length);
  return { lag, error };
}

export async function measure(prnet: Prnet, clips: Awaited<ReturnType<typeof makeClips>>, stabilize: StabilizerOptions | false, flip?: boolean): Promise<Measures> {
  const still = measureStill(await runClip(prnet, clips.still, stabilize, flip));
  const fast = measureMotion(await runClip(prnet, clips.fast, stabilize, flip), clips.fast);
  const slow = measureMotion(await runClip(prnet, clips.slow, stabilize, flip), clips.slow);
  return { ...still, fastLag: fast.lag, fastError: fast.error, slowLag: slow.lag, slowError: slow.error };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string): string => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const model = opt('model', 'default');
  const photoPath = opt('photo', resolve(import.meta.dirname, '../../../shared/eval/portraits/astronaut.png'));
  const stabilizer = JSON.parse(opt('stabilizer', '{}')) as StabilizerOptions;
  const { createPrnet } = await import('../../src/pipeline/node.js');
  const precision = args.includes('--precision') ? (opt('precision', '') as 'fp32' | 'int8') : undefined;
  const flip = args.includes('--no-flip') ? false : undefined;
  let prnet = await createPrnet({ model, precision });
  if (opt('runtime', 'node') === 'web') {
    const [ortWeb, { WEB_WASM_GRAPH }, { readModelFile }, { resolveModel }, { createOrtSession }, { Prnet }] = await Promise.all([
      import('onnxruntime-web'), import('../../src/runtime/web.js'), import('../../src/model/file-node.js'),
      import('../../src/pipeline/node.js'), import('../../src/runtime/ort.js'), import('../../src/pipeline/prnet.js'),
    ]);
    ortWeb.env.wasm.numThreads = 1;
    const graph = { ...WEB_WASM_GRAPH, ...(JSON.parse(opt('graph', '{}')) as object) };
    const session = await createOrtSession(ortWeb as unknown as OrtModule, await readModelFile(resolveModel(model) as string), { precision, graph, probe: false, extra: { executionProviders: ['wasm'] } });
    const detector = prnet.detector;
    await prnet.session.release();
    prnet = new Prnet(session, prnet.layout, detector);
  }
  const photo = await framePhoto(prnet, photoPath, Number(opt('face', '160')));
  const clips = await makeClips(photo);
  const rows: Record<string, string | number>[] = [];
  for (const stabilize of [false, stabilizer] as const) {
    const m = await measure(prnet, clips, stabilize, flip);
    rows.push({ stabilize: stabilize ? 'on' : 'off', ...Object.fromEntries(Object.entries(m).map(([k, v]) => [k, +v.toFixed(k.endsWith('Lag') ? 2 : 3)])) });
  }
  await prnet.dispose();
  if (args.includes('--json')) {
    console.log(JSON.stringify({ model, precision: prnet.session.precision, flip: flip ?? true, photo: photoPath, stabilizer, rows }, null, 1));
    return;
  }
  console.log(`model ${model} (${prnet.session.precision}, flip ${flip === false ? 'off' : 'on'}, onnxruntime-${opt('runtime', 'node')}${args.includes('--graph') ? ` graph ${opt('graph', '')}` : ''}); photo ${photoPath}; ${W}×${H} frames at ${FPS} fps; face size ≈ ${rows[0].faceSize} px (landmark box mean side)`);
  console.log(`still: ${clips.still.frames.length - SKIP} frames, ±0.25 px shake, noise σ 2, JPEG q85 — jitter: landmark spread (std) and frame-to-frame step, px`);
  console.log('fast: x = 60 px · sin(2πt / 2 s), peak 6.3 px/frame; slow: x = 20 px · sin(2πt / 3 s), peak 1.4 px/frame');
  console.log('lag: frames the landmarks’ mean x trails the path; error: its RMS distance from the path, px');
  console.table(rows);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
