/**
 * Input sources: the webcam (getUserMedia), a video file, or a photo (file or URL). Each gives a
 * drawable element; `FrameGrabber` reads its current frame's pixels.
 */
import { objSafeName } from '../../src/export/obj.js';

export interface FrameSource {
  kind: 'camera' | 'video' | 'photo';
  /** A name for output files. */
  name: string;
  element: HTMLVideoElement | HTMLImageElement;
  width: number;
  height: number;
  /** Frames keep coming (camera, video) rather than one image. */
  live: boolean;
  stop(): void;
  /** Calls `handler` once if the source stops by itself (a camera unplugged, its permission revoked, taken by another app). */
  onEnded?(handler: () => void): void;
}

export async function openCamera(): Promise<FrameSource> {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no camera access (a secure context is needed: https or localhost)');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'user' }, audio: false });
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  try {
    await video.play();
    await videoReady(video);
  } catch (e) {
    for (const t of stream.getTracks()) t.stop(); // the camera is not left on
    throw e;
  }
  return {
    kind: 'camera',
    name: 'camera',
    element: video,
    width: video.videoWidth,
    height: video.videoHeight,
    live: true,
    stop: () => {
      for (const t of stream.getTracks()) t.stop();
      video.srcObject = null;
    },
    onEnded: (handler) => {
      // ('ended' fires when the device goes, not for our own stop())
      for (const t of stream.getVideoTracks()) t.addEventListener('ended', handler, { once: true });
    },
  };
}

export async function openVideoFile(file: File): Promise<FrameSource> {
  const url = URL.createObjectURL(file);
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.loop = true;
  video.src = url;
  try {
    await video.play();
    await videoReady(video);
  } catch (e) {
    video.removeAttribute('src');
    video.load();
    URL.revokeObjectURL(url);
    throw e;
  }
  return {
    kind: 'video',
    name: stem(file.name),
    element: video,
    width: video.videoWidth,
    height: video.videoHeight,
    live: true,
    stop: () => {
      video.pause();
      video.removeAttribute('src');
      video.load();
      URL.revokeObjectURL(url);
    },
  };
}

export async function openPhoto(file: File | string): Promise<FrameSource> {
  const url = typeof file === 'string' ? file : URL.createObjectURL(file);
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch (e) {
    if (typeof file !== 'string') URL.revokeObjectURL(url);
    // An iPhone's HEIC photo: only Safari decodes HEVC.
    const heic = typeof file === 'string' ? /\.hei[cf]$/i.test(file) : /\.hei[cf]$/i.test(file.name) || /^image\/hei[cf]/.test(file.type);
    if (heic) throw new Error('a HEIC photo (as iPhones save them), which only Safari decodes: convert it to JPEG first, or set the iPhone camera to "Most Compatible"', { cause: e });
    throw new Error(`not an image this browser can decode (${(e as Error).message})`, { cause: e });
  }
  return {
    kind: 'photo',
    name: stem(typeof file === 'string' ? file.split('/').pop() ?? 'photo' : file.name),
    element: img,
    width: img.naturalWidth,
    height: img.naturalHeight,
    live: false,
    stop: () => {
      if (typeof file !== 'string') URL.revokeObjectURL(url);
    },
  };
}

/** Opens a dropped or chosen file as a photo or a video. */
export function openFile(file: File): Promise<FrameSource> {
  if (file.type.startsWith('video/') || /\.(mp4|webm|mov|mkv|ogv)$/i.test(file.name)) return openVideoFile(file);
  return openPhoto(file);
}

function videoReady(video: HTMLVideoElement): Promise<void> {
  if (video.videoWidth > 0 && video.readyState >= 2) return Promise.resolve();
  return new Promise((resolve, reject) => {
    // A file with no video track (audio only) plays with width 0 and never resizes: refused after
    // 10 s rather than left at "Opening…".
    const timer = setTimeout(() => reject(new Error('no video picture (an audio-only file?)')), 10_000);
    const done = (): void => {
      if (video.videoWidth > 0) {
        clearTimeout(timer);
        resolve();
      }
    };
    video.addEventListener('loadeddata', done, { once: true });
    video.addEventListener('resize', done, { once: true });
    video.addEventListener('error', () => {
      clearTimeout(timer);
      reject(new Error('the video cannot be played'));
    }, { once: true });
  });
}

/**
 * A file's name without its extension, for the downloads: as the CLI names outputs (objSafeName:
 * '_' for what an OBJ or MTL line cannot carry), and '_' for what a file name cannot hold on some
 * systems (<>:"/\\|?*). Letters of any script stay: every Cyrillic or CJK name had become '_' (two
 * photos, one download name).
 */
export function stem(name: string): string {
  return objSafeName(name.replace(/\.[^.]*$/, '')).replace(/[<>:"/\\|?*]/g, '_') || 'image';
}

/** The longest side a photo is read at. */
const MAX_STILL_SIDE = 8192;

/**
 * Reads frames: draws the source into a canvas and returns the pixels with that canvas, which keeps
 * the frame until the grab after next: the grabber alternates between two canvases, so that the
 * page can show one frame while the next one is being processed. A live source (camera, video) is
 * downscaled so that its long side is at most `maxSide` (real time); a photo is kept at its own
 * size, so the downloads' coordinates are the photo's pixels, up to `maxStillPixels` (12.6
 * megapixels, 4096 × 3072: a phone camera's 12 MP photo whole; the page holds four canvases of the
 * photo's size, within what iOS Safari allows all canvases together; a larger photo is reduced).
 */
export class FrameGrabber {
  private readonly slots: { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D }[];
  private next = 0;

  constructor(private readonly maxSide = 1280, private readonly maxStillPixels = 4096 * 3072) {
    this.slots = [0, 1].map(() => {
      const canvas = document.createElement('canvas');
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      if (!ctx) throw new Error('no 2D canvas');
      return { canvas, ctx };
    });
  }

  /** The frame's pixels and canvas, and whether it was read smaller than the source (`reduced`). */
  grab(source: FrameSource): { pixels: ImageData; canvas: HTMLCanvasElement; reduced: boolean } {
    const el = source.element;
    const w = el instanceof HTMLVideoElement ? el.videoWidth : el.naturalWidth;
    const h = el instanceof HTMLVideoElement ? el.videoHeight : el.naturalHeight;
    // A photo: its area within the budget, and its long side within 8192 (a 12 MP panorama would
    // exceed GPUs' largest texture, which the 3D view then copies smaller).
    const s = source.live ? Math.min(1, this.maxSide / Math.max(w, h)) : Math.min(1, Math.sqrt(this.maxStillPixels / (w * h)), MAX_STILL_SIDE / Math.max(w, h));
    const width = Math.max(1, Math.round(w * s));
    const height = Math.max(1, Math.round(h * s));
    const { canvas, ctx } = this.slots[this.next];
    this.next = 1 - this.next;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    // Transparency over white, as the CLI decodes it (and so nothing of the frame this canvas held
    // before: a transparent PNG of the same size showed, and was reconstructed from, the last photo).
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(el, 0, 0, width, height);
    return { pixels: ctx.getImageData(0, 0, width, height), canvas, reduced: s < 1 };
  }
}
