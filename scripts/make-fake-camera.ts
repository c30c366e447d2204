/**
 * Writes a Y4M video (YUV 4:2:0, BT.601 limited range) from a photo moving slowly across the
 * frame, for Chromium's fake camera (--use-file-for-fake-video-capture=<file.y4m>), which loops it.
 * Used by the browser test; the video is generated where it is needed and never committed.
 *
 *   npx tsx scripts/make-fake-camera.ts <photo> <out.y4m> [--frames 60] [--width 640] [--height 480] [--motion 6]
 */
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';

export interface FakeCameraOptions {
  /** The photo (any format sharp reads). */
  image: string;
  /** The .y4m file to write. */
  out: string;
  width?: number;
  height?: number;
  frames?: number;
  fps?: number;
  /** Amplitude of the photo's motion, pixels (a slow ellipse over the clip). */
  motion?: number;
  /** Height of the photo in the frame, as a fraction of the frame's height (above 1: zoomed in). */
  scale?: number;
  /** The point of the photo (fractions of its width and height) placed at the frame's centre. Default [0.5, 0.5]. */
  center?: [number, number];
}

export interface FakeCamera {
  path: string;
  width: number;
  height: number;
  frames: number;
  /** Where the photo's top-left corner lies in each frame, and its size in the frame. */
  offsets: [number, number][];
  photoWidth: number;
  photoHeight: number;
}

export async function makeFakeCamera(options: FakeCameraOptions): Promise<FakeCamera> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const frames = options.frames ?? 60;
  const fps = options.fps ?? 30;
  const motion = options.motion ?? 6;
  if (width % 2 || height % 2) throw new RangeError('4:2:0 needs an even width and height');
  const ph = Math.round(height * (options.scale ?? 0.95));
  const { data: photo, info } = await sharp(options.image).removeAlpha().resize({ height: ph }).raw().toBuffer({ resolveWithObject: true });
  const pw = info.width;
  const rgb = new Uint8Array(width * height * 3);
  const ySize = width * height;
  const cSize = (width / 2) * (height / 2);
  const header = `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n`;
  const parts: Uint8Array[] = [new TextEncoder().encode(header)];
  const offsets: [number, number][] = [];
  for (let f = 0; f < frames; f++) {
    const a = (2 * Math.PI * f) / frames;
    const [cx, cy] = options.center ?? [0.5, 0.5];
    const ox = Math.round(width / 2 - cx * pw + motion * Math.sin(a));
    const oy = Math.round(height / 2 - cy * ph + (motion / 2) * Math.sin(2 * a));
    offsets.push([ox, oy]);
    rgb.fill(96);
    for (let y = 0; y < ph; y++) {
      const ty = y + oy;
      if (ty < 0 || ty >= height) continue;
      const x0 = Math.max(0, -ox), x1 = Math.min(pw, width - ox);
      if (x1 <= x0) continue;
      rgb.set(photo.subarray((y * pw + x0) * 3, (y * pw + x1) * 3), (ty * width + ox + x0) * 3);
    }
    const frame = new Uint8Array(6 + ySize + 2 * cSize);
    frame.set(new TextEncoder().encode('FRAME\n'));
    rgbToI420(rgb, width, height, frame.subarray(6));
    parts.push(frame);
  }
  await writeFile(options.out, Buffer.concat(parts));
  return { path: options.out, width, height, frames, offsets, photoWidth: pw, photoHeight: ph };
}

/** RGB → I420 (Y plane, then U and V at half resolution), BT.601 limited range. */
export function rgbToI420(rgb: Uint8Array, width: number, height: number, out: Uint8Array): void {
  const ySize = width * height;
  const cw = width / 2;
  const u0 = ySize, v0 = ySize + cw * (height / 2);
  for (let i = 0; i < ySize; i++) {
    const r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    out[i] = Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = 3 * ((y + dy) * width + x + dx);
        r += rgb[i]; g += rgb[i + 1]; b += rgb[i + 2];
      }
      r /= 4; g /= 4; b /= 4;
      const c = (y / 2) * cw + x / 2;
      out[u0 + c] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
      out[v0 + c] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
    }
  }
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [image, out] = process.argv.slice(2);
  if (!image || !out) {
    console.error('usage: make-fake-camera <photo> <out.y4m> [--frames N] [--width W] [--height H] [--motion PX]');
    process.exit(2);
  }
  const cam = await makeFakeCamera({ image, out, frames: arg('frames', 60), width: arg('width', 640), height: arg('height', 480), motion: arg('motion', 6) });
  console.log(`${cam.path}: ${cam.frames} frames of ${cam.width}×${cam.height}`);
}
