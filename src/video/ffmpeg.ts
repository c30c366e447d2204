/**
 * Video decode and encode with the system's ffmpeg (Debian's `ffmpeg` package: ffmpeg and
 * ffprobe), spawned with pipes: no frame is ever written to disk.
 *
 * - probeVideo: ffprobe's JSON for the first video stream: size (after the display rotation
 *   ffmpeg applies), frame rate, frame count (the container's, else duration × rate), duration.
 *   Refuses a frame larger than the pixel limit before anything is decoded.
 * - decodeFrames: an async iterator of RGB frames (rawvideo rgb24 on ffmpeg's stdout), read in
 *   order with back-pressure (ffmpeg waits while a frame is being processed), each with its own
 *   presentation time (logged by ffmpeg's showinfo filter as it passes).
 * - VideoEncoder: RGB frames on ffmpeg's stdin → an H.264 MP4 (yuv420p, even size).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PipeThread } from './pipe-thread.js';
import { AbortedError, InputError, ModelError, OutputError } from '../errors.js';
import { statRegularFile } from '../io/image-node.js';
import { pixelCount } from '../io/pnm-bmp.js';
import type { RgbImage } from '../types.js';

/** The largest frame decoded by default: 8K UHD (7680 × 4320 pixels). */
export const MAX_VIDEO_PIXELS = 7680 * 4320;

/** ffmpeg or ffprobe is not installed (or not on PATH). Exit code 3, as a missing model. */
export class FfmpegMissingError extends ModelError {
  static override readonly errorName: string = 'FfmpegMissingError';
}

/**
 * The run was interrupted (SIGINT / an AbortSignal): an AbortedError, as reconstruct's, with the
 * signal's reason as its `cause`.
 */
export class VideoAbortError extends AbortedError {
  static override readonly errorName: string = 'VideoAbortError';
}

export interface VideoInfo {
  /**
   * Frame size as decoded: the display size, with square pixels (a stream's non-square sample
   * aspect ratio — anamorphic DV, some broadcast and phone clips — is resampled away) and the
   * display rotation applied.
   */
  width: number;
  height: number;
  /** Frames per second (the stream's average rate, else its base rate; 30 when unknown). */
  fps: number;
  /** Frames in the stream: the container's count, else duration × fps rounded; 0 when unknown. */
  frameCount: number;
  /** Seconds (0 when unknown). */
  duration: number;
  codec: string;
  /** Container format names (ffprobe's format_name). */
  format: string;
  /** Which of the file's video streams this is (0: the first; cover pictures are skipped). */
  videoStream?: number;
  /**
   * The stream's average rate differs from its base rate: its frames are not all evenly spaced (a
   * phone's variable frame rate, a dropped stretch). Every frame's time is its own either way; this
   * sets the overlay's rate (overlayRate) and the last frame's duration.
   */
  variableRate?: boolean;
  /** The stream is interlaced (ffprobe's field_order tt, bb, tb or bt): decodeFrames deinterlaces it. */
  interlaced?: boolean;
  /** The stream's sample (pixel) aspect ratio, width / height of one stored pixel: 1 for square pixels; the frames are resampled to square. */
  sampleAspect?: number;
  /** The stream's base rate (ffprobe's r_frame_rate; 0 when unknown): with a variable rate, the finest regular rate its frames fall on. */
  baseFps?: number;
  /** Seconds from the start of the file (its earliest stream) to the video's first frame. */
  videoStart?: number;
  /** The file's start in its own timestamps (ffprobe's format start_time, s; 0 when unknown): where `videoStart` and DecodeReport.startMs count from. */
  fileStart?: number;
  /** Seconds from the start of the file to the end of the video stream (its start + its duration; the file's duration when the stream has none). */
  videoEnd?: number;
  /**
   * The YUV → RGB matrix the frames are decoded with (ffmpeg's scale filter's `in_color_matrix`):
   * 'auto' where the stream says its own or is RGB, else what players assume for an untagged
   * stream — BT.709 for HD (coded 1280 wide or more, or more than 576 high: mpv's rule), BT.601 below.
   */
  colorMatrix?: 'auto' | 'bt709' | 'bt601';
  /**
   * The file's audio streams, as their index among all the file's streams and codec, in the order
   * the overlay tries them: the default-marked first, then those with a sample rate, then the rest.
   */
  audio?: { index: number; codec: string }[];
}

export interface ProbeOptions {
  /** Largest frame (width × height) accepted; default MAX_VIDEO_PIXELS. */
  maxPixels?: number;
  /** Program names (for tests); default 'ffprobe'. */
  ffprobe?: string;
}

const INSTALL = "install Debian's ffmpeg package (apt-get install ffmpeg)";

/** Runs a program to completion, collecting stdout and stderr (bounded). */
function runTool(cmd: string, args: string[], maxStdout = 1 << 20, signal?: AbortSignal): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      // An aborted signal ends the program (SIGKILL) and rejects with an AbortError.
      child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal, killSignal: 'SIGKILL' as const } : {}) });
    } catch (e) {
      reject(toolError(e, cmd));
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { if (stdout.length < maxStdout) stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 1 << 16) stderr += d; });
    child.on('error', (e) => reject(toolError(e, cmd)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function toolError(e: unknown, cmd: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new FfmpegMissingError(`${cmd} not found: ${INSTALL}`);
  if (code === 'EACCES') return new FfmpegMissingError(`${cmd} cannot be run (permission denied): ${INSTALL}`);
  return e instanceof Error ? e : new Error(String(e));
}

/** ffmpeg's lines for an input stream that ended before its first frame (its filters never configured). */
const NO_FRAME_LINE = /^(Cannot determine format of input stream \S+ after EOF|Error marking filters as finished|Conversion failed!)$/;

/** Still images' codecs as the _pipe demuxers name their formats. */
const STILL_CODECS: Record<string, string> = { mjpeg: 'jpeg', png: 'png', webp: 'webp', bmp: 'bmp', tiff: 'tiff', gif: 'gif' };

/** ffmpeg's closing lines of a failure, which say that it failed but not why. */
const GENERIC_LINE = /^(Error initializing output stream \S+ --.*|Could not write header for output file #\d+ \(incorrect codec parameters \?\): .*|Conversion failed!)$/;

/**
 * ffmpeg's complaint in a few words: known causes named, else its last line that names a cause,
 * without the file name.
 */
function ffmpegCause(stderr: string, path: string): string {
  if (/moov atom not found/.test(stderr)) return 'no MP4 index (moov atom not found): a truncated file, or not a video';
  if (/partial file/.test(stderr)) return 'truncated file (ffmpeg: partial file)';
  // The last line that names a cause: ffmpeg ends a failure with lines that do not ("Error
  // initializing output stream 0:1 --" after "[mp4 @ 0x…] sample rate not set").
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.filter((l) => !GENERIC_LINE.test(l)).at(-1) ?? lines.at(-1) ?? 'unknown error';
  // ffmpeg is given the absolute path (toolPath) and names it so: a relative path's message read
  // "/the/cwd/Invalid data found when processing input" when only the user's spelling was cut.
  return line.split(toolPath(path) + ': ').join('').split(path + ': ').join('').replace(/^\[[^\]]*\]\s*/, '');
}

/** A rate ffprobe gives ("30000/1001"), 0 when unknown or from 1000 up (often a time base, not a rate: see highRate). */
function parseRate(r: string | undefined): number {
  const v = anyRate(r);
  return v < 1000 ? v : 0;
}

function anyRate(r: string | undefined): number {
  if (!r) return 0;
  const [a, b] = r.split('/').map(Number);
  const v = b ? a / b : a;
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/**
 * A constant rate of 1000 frames/s or more (high-speed footage), which parseRate leaves out: taken
 * when the average and base rates agree and the stream's frame count over its duration says the
 * same (within 2 %); a container's time base passed off as a rate (Matroska's 1000/1) has an
 * average of its own. 0 otherwise.
 */
function highRate(stream: { avg_frame_rate?: string; r_frame_rate?: string; nb_frames?: string; duration?: string }): number {
  const avg = anyRate(stream.avg_frame_rate);
  const counted = Number(stream.nb_frames), duration = Number(stream.duration);
  if (avg < 1000 || Math.abs(anyRate(stream.r_frame_rate) - avg) > 1e-6 * avg || !(counted > 0 && duration > 0)) return 0;
  return Math.abs(counted / duration - avg) <= 0.02 * avg ? avg : 0;
}

interface ProbeStream {
  index?: number;
  start_time?: string;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number | string }[];
  sample_aspect_ratio?: string;
  field_order?: string;
  disposition?: { attached_pic?: number; default?: number };
  sample_rate?: string;
  color_space?: string;
  pix_fmt?: string;
}

/**
 * A file's path as ffmpeg and ffprobe are given it: absolute, so that a name with a colon
 * (`2024-05-01T10:30:00.mp4`) is not read as a protocol and one starting with `-` not as an option.
 */
function toolPath(path: string): string {
  return resolve(path);
}

/**
 * The matrix a stream's frames are decoded to RGB with (VideoInfo.colorMatrix): ffmpeg's own choice
 * ('auto') where the stream is tagged or is RGB; for an untagged YUV stream, what players assume —
 * ffmpeg took BT.601 for every untagged stream, so an untagged HD clip's RGB (and the overlay made
 * of it, BT.709 now) was off by up to 15 levels against what a player shows.
 */
function untaggedMatrix(stream: ProbeStream): 'auto' | 'bt709' | 'bt601' {
  const tagged = stream.color_space !== undefined && stream.color_space !== '' && stream.color_space !== 'unknown';
  // RGB, grey and palette formats have no matrix; every other format is YUV.
  if (tagged || /^(rgb|bgr|argb|abgr|rgba|bgra|0rgb|0bgr|rgb0|bgr0|gbr|x2rgb|x2bgr|gray|ya|pal|mono|xyz|bayer)/.test(stream.pix_fmt ?? '')) return 'auto';
  // mpv's rule, on the coded size: 1280 wide or more, or more than 576 high, is HD.
  const w = stream.width ?? 0, h = stream.height ?? 0;
  return w >= 1280 || h > 576 ? 'bt709' : 'bt601';
}

/** Reads a video's stream information with ffprobe; throws InputError for anything not a video. */
export async function probeVideo(path: string, options: ProbeOptions = {}): Promise<VideoInfo> {
  const maxPixels = options.maxPixels ?? MAX_VIDEO_PIXELS;
  // A FIFO, socket or device would block ffprobe (a FIFO without a writer, forever): refused first.
  if ((await statRegularFile(path, 'a video')).size === 0) throw new InputError('empty file (0 bytes)', path);
  const r = await runTool(options.ffprobe ?? 'ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', toolPath(path)]);
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) throw new InputError('no such file', path);
    if (/Permission denied/.test(r.stderr)) throw new InputError('permission denied', path);
    throw new InputError(`not a readable video (${ffmpegCause(r.stderr, path)})`, path);
  }
  let json: { streams?: ProbeStream[]; format?: { format_name?: string; duration?: string; start_time?: string } };
  try {
    json = JSON.parse(r.stdout) as typeof json;
  } catch {
    throw new InputError('not a readable video (ffprobe gave no stream information)', path);
  }
  const format = json.format?.format_name ?? '';
  // Still images (PNG, JPEG…) probe as one-frame "video" streams of an image demuxer.
  // An audio file's cover art is a video stream marked attached_pic: not a video.
  const videos = (json.streams ?? []).filter((s) => s.codec_type === 'video');
  const still = /_pipe$|^image2$/.test(format);
  const moving = (s: ProbeStream): boolean => !still && !s.disposition?.attached_pic;
  // The stream marked default (as players show it: a file may hold a preview or an angle first), else the first.
  const marked = videos.findIndex((s) => moving(s) && Boolean(s.disposition?.default));
  const videoStream = marked >= 0 ? marked : videos.findIndex(moving);
  const stream = videoStream >= 0 ? videos[videoStream] : undefined;
  if (!stream) {
    // A still image (ffmpeg's image demuxers: png_pipe, jpeg_pipe, webp_pipe, image2…).
    if (still) {
      // (a file named as an image is read by image2, which does not say which: its codec does)
      const kind = /^(\w+?)_pipe$/.exec(format)?.[1] ?? STILL_CODECS[videos[0]?.codec_name ?? ''] ?? '';
      if (kind === 'webp') throw new InputError('not a video (a WebP image: this ffmpeg decodes no animated WebP, convert it to MP4 or GIF first; prnet reconstruct reads a still one)', path);
      throw new InputError(`not a video (a ${kind ? `${kind.toUpperCase()} ` : ''}still image: prnet reconstruct reads photos)`, path);
    }
    const cover = videos.length > 0 && videos.every((s) => s.disposition?.attached_pic);
    throw new InputError(`not a video (${cover ? 'only a cover picture' : 'no video stream'}${format ? ` in this ${format.split(',')[0]} file` : ''})`, path);
  }
  let width = stream.width ?? 0;
  let height = stream.height ?? 0;
  if (!(width > 0 && height > 0)) throw new InputError('not a readable video (the video stream has no frame size)', path);
  // Non-square pixels (e.g. 720×480 DV with sample aspect 8:9 or 32:27): decoded at the display
  // width, so that faces are not squeezed. The aspect applies to the stored frame, before rotation.
  const sampleAspect = parseSampleAspect(stream.sample_aspect_ratio);
  if (sampleAspect !== 1) width = Math.max(2, 2 * Math.round((width * sampleAspect) / 2));
  const rotation = Number(stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? stream.tags?.rotate ?? 0);
  // ffmpeg turns a quarter-turn by transposing (the sides swap); any other angle with its rotate
  // filter, which keeps the frame's size (45° rounded to a quarter-turn here stretched the frames).
  const quarters = rotation / 90;
  if (Math.abs(quarters - Math.round(quarters)) < 0.01 && Math.abs(Math.round(quarters)) % 2 === 1) [width, height] = [height, width];
  if (width * height > maxPixels) {
    throw new InputError(`video frames are ${width}×${height} = ${pixelCount(width * height)}, above the limit of ${pixelCount(maxPixels)}`, path);
  }
  const high = highRate(stream);
  const fps = parseRate(stream.avg_frame_rate) || parseRate(stream.r_frame_rate) || high || 30;
  const duration = Number(stream.duration ?? json.format?.duration ?? 0) || 0;
  const counted = Number(stream.nb_frames ?? NaN);
  // A clip cut without re-encoding keeps the packets before its cut (an edit list drops them when
  // decoding): the container's count then exceeds the frames its duration holds.
  const byDuration = Math.round(duration * fps);
  const frameCount = Number.isInteger(counted) && counted >= 0 ? (duration > 0 && counted > byDuration + 2 ? byDuration : counted) : byDuration;
  const baseFps = parseRate(stream.r_frame_rate) || high;
  // Any difference: a 0.5 s freeze in an hour at 30 frames/s moves the average by 0.014 %.
  const variableRate = Math.abs((parseRate(stream.avg_frame_rate) || high) - baseFps) > 1e-6 * Math.max(1, fps);
  const start = (t: string | undefined): number => (Number.isFinite(Number(t)) && t !== undefined && t !== '' ? Number(t) : 0);
  const videoStart = Math.max(0, start(stream.start_time) - start(json.format?.start_time));
  // Matroska / WebM keep a stream's duration as a DURATION tag ("00:00:04.000000000").
  const tagged = /^(\d+):(\d\d):(\d\d(?:\.\d+)?)$/.exec(stream.tags?.DURATION ?? '');
  const streamDuration = Number(stream.duration) || (tagged ? 3600 * Number(tagged[1]) + 60 * Number(tagged[2]) + Number(tagged[3]) : 0);
  const videoEnd = streamDuration > 0 ? videoStart + streamDuration : Number(json.format?.duration ?? 0) || 0;
  const rank = (s: ProbeStream): number => (s.disposition?.default ? 0 : 2) + (Number(s.sample_rate) > 0 ? 0 : 1);
  const sounds = (json.streams ?? []).filter((s) => s.codec_type === 'audio' && Number.isInteger(s.index)).sort((a, b) => rank(a) - rank(b) || (a.index as number) - (b.index as number));
  const audio = sounds.map((s) => ({ index: s.index as number, codec: s.codec_name ?? '' }));
  // Interlaced (camcorder 50i / 60i, broadcast): two fields per frame, combed where anything moves.
  const interlaced = /^(tt|bb|tb|bt)$/.test(stream.field_order ?? '');
  const colorMatrix = untaggedMatrix(stream);
  const fileStart = start(json.format?.start_time);
  return { width, height, fps, frameCount, duration, codec: stream.codec_name ?? '', format, videoStream, variableRate, sampleAspect, baseFps, videoStart, fileStart, videoEnd, interlaced, colorMatrix, ...(audio.length ? { audio } : {}) };
}

/** ffprobe's sample_aspect_ratio ("8:9"; "0:1" or "N/A" when unknown) as a number; 1 when unknown or implausible (outside 1/4…4). */
function parseSampleAspect(r: string | undefined): number {
  const m = /^(\d+):(\d+)$/.exec(r ?? '');
  if (!m || !Number(m[1]) || !Number(m[2])) return 1;
  const v = Number(m[1]) / Number(m[2]);
  return v >= 0.25 && v <= 4 && Math.abs(v - 1) > 1e-3 ? v : 1;
}

export interface DecodedFrame {
  /** 0-based index in decoding order. */
  index: number;
  /**
   * Presentation time, milliseconds from the first frame: the decoded frame's own timestamp, so a
   * variable rate, a gap where frames could not be decoded or a rate the container misstates keep
   * their times (one frame after the one before where a frame has none, or one that does not rise).
   */
  timeMs: number;
  /** Milliseconds until the next frame (the last frame: 1000 / fps, or for a variable-rate stream until the stream's end when that is within 10 frames). */
  durationMs: number;
  image: RgbImage;
}

export interface DecodeOptions {
  /** Stop after this many frames. */
  maxFrames?: number;
  /** Frames decoded ahead of the consumer (default 4). */
  readAhead?: number;
  signal?: AbortSignal;
  ffmpeg?: string;
}

/** What decodeFrames learnt once the iteration ended. */
/**
 * Whether the frames are decoded with their times as the file has them (-copyts): in MPEG-TS and
 * MPEG-PS, whose times may jump, ffmpeg otherwise moves its zero to the start of the first stream
 * it reads (the video's, when the sound begins earlier). Elsewhere its zero is the file's start
 * (a Matroska file's negative times, which the demuxer gives as none under -copyts, stay right).
 */
function copiesTimes(info: VideoInfo): boolean {
  return /(^|,)(mpegts|mpeg|mpegtsraw|mpegvideo)(,|$)/.test(info.format);
}

export interface DecodeReport {
  frames: number;
  /** The last frame's time (DecodedFrame.timeMs), once it has been handed on. */
  lastMs?: number;
  /** Milliseconds from the file's start (ffmpeg's zero) to the first frame decoded: DecodedFrame.timeMs's origin. */
  startMs?: number;
  /** ffmpeg's last error line when it failed or complained (e.g. a truncated file), else ''. */
  error: string;
}

/**
 * The frames of a video, in order, as RGB images of `info`'s size. After the loop ends (or
 * breaks), `report` says how many frames came and what ffmpeg complained about.
 */
export function decodeFrames(path: string, info: VideoInfo, options: DecodeOptions = {}): { frames: AsyncGenerator<DecodedFrame>; report: DecodeReport } {
  const report: DecodeReport = { frames: 0, error: '' };
  const frameBytes = info.width * info.height * 3;
  async function* frames(): AsyncGenerator<DecodedFrame> {
    // Each frame's own time comes from showinfo's log line (pipe-thread.ts); errors as at -v error.
    // MPEG-TS and MPEG-PS with -copyts (copiesTimes): the times as the file has them, startMs then
    // counting from `info.fileStart`; elsewhere from ffmpeg's zero, the file's start.
    const args = ['-hide_banner', '-nostats', '-loglevel', 'level+info', '-nostdin', ...(copiesTimes(info) ? ['-copyts'] : []), '-i', toolPath(path), '-map', `0:v:${info.videoStream ?? 0}`, '-an', '-sn', '-fps_mode', 'passthrough'];
    if (options.maxFrames !== undefined) args.push('-frames:v', String(options.maxFrames));
    // An explicit scale keeps the frame size fixed even if a stream changes size midway.
    // An interlaced stream is deinterlaced first (bwdif, one frame per frame: the times stay).
    // The showinfo instance's name carries a random token: only its own log lines give times.
    const token = randomBytes(8).toString('hex');
    args.push('-vf', `${info.interlaced ? 'bwdif=mode=send_frame:deint=interlaced,' : ''}showinfo@${token}=checksum=0,scale=${info.width}:${info.height}${info.colorMatrix && info.colorMatrix !== 'auto' ? `:in_color_matrix=${info.colorMatrix}` : ''}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
    const cmd = options.ffmpeg ?? 'ffmpeg';
    // ffmpeg runs with its pipes in a worker thread (pipe-thread.ts), which reads up to
    // `readAhead` frames ahead while this thread works; each frame arrives as one message.
    const queue: { data: Uint8Array; time: number }[] = [];
    let spawnError: Error | null = null;
    let wake: (() => void) | null = null;
    const notify = (): void => { const w = wake; wake = null; w?.(); };
    const thread = new PipeThread({ cmd, args, mode: 'decode', frameBytes, readAhead: Math.max(1, Math.floor(options.readAhead ?? 4)), frameTimes: token }, (m) => {
      if (m.type === 'frame') queue.push({ data: m.data, time: m.time ?? NaN });
      else if (m.type === 'spawn-error') spawnError = toolError({ code: m.code, message: m.message }, cmd);
      notify();
    });
    const onAbort = (): void => { thread.post('kill'); };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const frameMs = 1000 / info.fps;
    let first = NaN;
    let lastMs = 0;
    /**
     * A frame's time in ms from the first frame's: its own pts_time (so a variable rate, frames
     * the decoder could not decode and a container whose rate says nothing keep their times);
     * without one, or one that does not rise (a broken stream), one frame after the one before.
     */
    const timeOf = (time: number, index: number): number => {
      if (Number.isNaN(first) && Number.isFinite(time)) first = time - (index * frameMs) / 1000;
      let t = Number.isFinite(time) ? 1000 * (time - first) : lastMs + frameMs;
      if (index === 0) t = 0;
      else if (!(t > lastMs)) t = lastMs + frameMs;
      lastMs = t;
      return t;
    };
    // Each frame is handed on once the next has come, which says how long it lasts.
    let held: { image: RgbImage; timeMs: number } | null = null;
    let index = 0;
    try {
      while (true) {
        if (!queue.length) {
          if (thread.done) break;
          await new Promise<void>((resolve) => { wake = resolve; });
          continue;
        }
        const { data, time } = queue.shift() as { data: Uint8Array; time: number };
        thread.post('ack');
        const timeMs = timeOf(time, index);
        report.frames = index + 1;
        if (held) yield { index: index - 1, timeMs: held.timeMs, durationMs: timeMs - held.timeMs, image: held.image };
        held = { image: { width: info.width, height: info.height, data }, timeMs };
        index++;
      }
      if (held) {
        // The last frame: a variable rate's lasts until the stream's end (when that is after it
        // and near), else a frame at the average rate.
        const untilEnd = 1000 * info.duration - held.timeMs;
        const durationMs = info.variableRate && untilEnd > 0 && untilEnd < 10 * frameMs ? untilEnd : frameMs;
        report.lastMs = held.timeMs;
        if (Number.isFinite(first)) report.startMs = 1000 * (first - (copiesTimes(info) ? (info.fileStart ?? 0) : 0));
        yield { index: index - 1, timeMs: held.timeMs, durationMs, image: held.image };
      }
      const { code, stderr } = await thread.closed;
      if (spawnError) throw spawnError;
      if (options.signal?.aborted) throw new VideoAbortError('interrupted', path, { cause: options.signal.reason });
      // A stream without a frame (an empty clip) makes ffmpeg fail only because its filters never
      // saw one: that is no decoding error (it read "no frame could be decoded (Error marking
      // filters as finished)").
      const empty = index === 0 && stderr.trim() !== '' && stderr.split('\n').every((l) => !l.trim() || NO_FRAME_LINE.test(l.trim()));
      if (!empty && (code !== 0 || stderr.trim())) report.error = ffmpegCause(stderr, path) || `ffmpeg exited with code ${code}`;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      if (!thread.done) await thread.kill();
    }
    if (spawnError) throw spawnError;
  }
  return { frames: frames(), report };
}

export interface EncoderOptions {
  fps: number;
  /** H.264 constant rate factor (default 23). */
  crf?: number;
  /** x264 preset (default 'ultrafast': the least CPU taken from the network, at about 3× the file size of 'veryfast'). */
  preset?: string;
  /** Frames queued for ffmpeg before write() waits (default 4), so encoding overlaps the next frames' processing. */
  inFlight?: number;
  ffmpeg?: string;
  /** The file errors name (default `path`): the final name when `path` is a temporary one. */
  name?: string;
  /** Replace a file already at `path` (default true); false: fail instead (a temporary name, which nothing else should hold: a link planted there is not written through). */
  overwrite?: boolean;
}

/**
 * An H.264 MP4 writer: frames go to ffmpeg's stdin (rawvideo rgb24), which writes `path` (any
 * name: the container is set explicitly, so a temporary name works). Odd sizes are padded to even.
 */
export class VideoEncoder {
  private readonly thread: PipeThread;
  private stderr = '';
  private error: Error | null = null;
  /** Frames sent to the encoder's thread and not yet taken by ffmpeg, and who waits for one. */
  private queued = 0;
  private waiters: (() => void)[] = [];
  private readonly inFlight: number;
  private readonly name: string;
  private framesWritten = 0;
  readonly frameBytes: number;

  constructor(readonly path: string, readonly width: number, readonly height: number, options: EncoderOptions) {
    this.frameBytes = width * height * 3;
    this.inFlight = Math.max(1, Math.floor(options.inFlight ?? 4));
    this.name = options.name ?? path;
    const cmd = options.ffmpeg ?? 'ffmpeg';
    const args = [
      '-v', 'error', options.overwrite === false ? '-n' : '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(options.fps), '-i', 'pipe:0',
      // RGB → YUV with BT.709's matrix, and tagged so: players and browsers read an untagged HD
      // stream as BT.709, so ffmpeg's default (BT.601, untagged) shifted every colour (green
      // 13,222,3 showed as 0,187,0).
      '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p',
      '-c:v', 'libx264', '-preset', options.preset ?? 'ultrafast', '-crf', String(options.crf ?? 23),
      '-pix_fmt', 'yuv420p', '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
      '-movflags', '+faststart', '-f', 'mp4', toolPath(path),
    ];
    // ffmpeg's stdin is written from a worker thread (pipe-thread.ts), while this thread works.
    this.thread = new PipeThread({ cmd, args, mode: 'encode', frameBytes: this.frameBytes }, (m) => {
      if (m.type === 'taken') this.queued--;
      else if (m.type === 'spawn-error') this.error = toolError({ code: m.code, message: m.message }, cmd);
      else if (m.type === 'stdin-error') this.error ??= new Error(m.message);
      else if (m.type === 'close') this.stderr = m.stderr;
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Queues one frame (copied), shown for `repeat` frames of the output's constant rate (default 1;
   * 0 leaves it out: how a variable-rate source's frames keep their times). Resolves at once while
   * fewer than `inFlight` frames wait for ffmpeg, else once one has been taken, so that encoding
   * (its own process, fed from its own thread) overlaps the processing of the next frames.
   */
  async write(image: RgbImage, repeat = 1): Promise<void> {
    if (this.error) throw await this.stopped();
    if (image.width !== this.width || image.height !== this.height) throw new RangeError('frame size differs from the encoder');
    if (!(Number.isInteger(repeat) && repeat >= 0)) throw new RangeError(`repeat must be a whole number ≥ 0, got ${String(repeat)}`);
    if (repeat === 0) return;
    while (this.queued >= this.inFlight && !this.thread.done && !this.error) await this.wait();
    if (this.error || this.thread.done) throw await this.stopped();
    this.queued++;
    this.framesWritten += repeat;
    this.thread.post({ type: 'frame', data: image.data, repeat });
  }

  /** Frames of the output so far (repeats counted). */
  get frames(): number {
    return this.framesWritten;
  }

  /** Ends the stream and waits for ffmpeg to finish the file. */
  async finish(): Promise<void> {
    while (this.queued > 0 && !this.thread.done && !this.error) await this.wait();
    this.thread.post('end');
    const { code, stderr } = await this.thread.closed;
    this.stderr = stderr;
    if (this.error || code !== 0) throw this.failure();
  }

  /** Stops ffmpeg at once (the caller removes the file). */
  async kill(): Promise<void> {
    await this.thread.kill();
  }

  /**
   * The failure once ffmpeg has stopped: a broken pipe (EPIPE) is reported as soon as it exits, so
   * its own last words (e.g. "No space left on device") are waited for, a little.
   */
  private async stopped(): Promise<Error> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.thread.closed, new Promise((resolve) => { timer = setTimeout(resolve, 2000); })]);
    clearTimeout(timer);
    return this.failure();
  }

  private failure(): Error {
    if (this.error instanceof FfmpegMissingError) return this.error;
    const cause = this.stderr.trim() ? ffmpegCause(this.stderr, this.path) : (this.error?.message ?? 'ffmpeg stopped');
    return new OutputError(`cannot encode the overlay video (${cause})`, this.name);
  }
}

/** Audio codecs an MP4 holds as they are (copied); any other is re-encoded to AAC. */
const MP4_AUDIO = new Set(['aac', 'mp3', 'alac', 'ac3', 'eac3', 'opus']);

export interface AudioMuxOptions {
  /** Seconds of audio kept: the video's length (a run over the first frames keeps their audio only). */
  durationS: number;
  /**
   * Seconds from the file's start to the video's first frame as decoded (DecodeReport.startMs /
   * 1000: later than `info.videoStart` when the first frames could not be decoded); default
   * `info.videoStart`.
   */
  startS?: number;
  ffmpeg?: string;
  /** The ffprobe that checks the result (default 'ffprobe' on PATH). */
  ffprobe?: string;
  /** Ends ffmpeg at once (the promise then rejects with an AbortError). */
  signal?: AbortSignal;
  /** The file errors name (none by default: the message is then the cause alone). */
  name?: string;
  /** Replace a file already at `out` (default true); false: fail instead, as for VideoEncoder (each later try replaces the previous try's file). */
  overwrite?: boolean;
}

/**
 * Writes `out`: the silent MP4 `video` (stream-copied) with the sound of `source` (`info.audio`,
 * tried in that order until one gives sound: a stream can be empty), from the source's first
 * video frame on (`info.videoStart`) and cut at `durationS`, so that a video made from the
 * source's frames plays in step with its sound. The sound is copied where an MP4 holds its codec,
 * else re-encoded to AAC. Returns what was done; an OutputError when no stream gives sound (`out`
 * may then be left, for the caller to remove).
 */
export async function muxAudio(video: string, source: string, info: VideoInfo, out: string, options: AudioMuxOptions): Promise<{ codec: string; copied: boolean; index: number }> {
  if (!info.audio?.length) throw new RangeError('the source has no audio stream');
  if (!(options.durationS > 0 && Number.isFinite(options.durationS))) throw new RangeError(`durationS must be a positive number of seconds, got ${String(options.durationS)}`);
  const skip = options.startS !== undefined && Number.isFinite(options.startS) && options.startS >= 0 ? options.startS : (info.videoStart ?? 0);
  const cmd = options.ffmpeg ?? 'ffmpeg';
  let cause = '';
  let tries = 0;
  for (const audio of info.audio) {
    const copied = MP4_AUDIO.has(audio.codec);
    // (a try after the first replaces the file the one before wrote)
    if (options.overwrite === false && tries++ > 0) await rm(out, { force: true });
    const args = [
      '-v', 'error', '-nostdin', options.overwrite === false ? '-n' : '-y', '-i', toolPath(video), ...(skip > 0.0005 ? ['-ss', skip.toFixed(6)] : []), '-i', toolPath(source),
      '-map', '0:v:0', '-map', `1:${audio.index}`, '-c:v', 'copy', ...(copied ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '160k']),
      '-t', options.durationS.toFixed(6), '-movflags', '+faststart', '-f', 'mp4', toolPath(out),
      // The source's video read along into no file: with the sound read alone, ffmpeg moves its zero
      // to the sound's start in MPEG-TS (formats whose times may jump), which put a sound that
      // begins after the video's first frame at that frame.
      '-map', `1:v:${info.videoStream ?? 0}`, '-c', 'copy', '-t', options.durationS.toFixed(6), '-f', 'null', '-',
    ];
    const r = await runTool(cmd, args, 1 << 20, options.signal);
    const silent = `the ${audio.codec || 'audio'} stream has no sound in the first ${options.durationS.toFixed(2)} s`;
    if (r.code !== 0) {
      // A stream none of whose packets ffmpeg reads (a cut MPEG-TS whose sound starts after the
      // cut) has no sample rate, which MP4 needs to copy it: it has no sound.
      cause = /sample rate not set/.test(r.stderr) ? silent : r.stderr.trim() ? ffmpegCause(r.stderr, source) : `ffmpeg exited with code ${String(r.code)}`;
      continue;
    }
    // ffmpeg succeeds on a stream without packets too, writing no sound: checked.
    const p = await runTool(options.ffprobe ?? 'ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=nb_frames', '-of', 'csv=p=0', toolPath(out)], 1 << 16, options.signal);
    if (p.code === 0 && Number(p.stdout.trim().split('\n')[0]) > 0) return { codec: copied ? audio.codec : 'aac', copied, index: audio.index };
    cause = silent;
  }
  throw new OutputError(`cannot add the sound (${cause})`, options.name);
}
