/**
 * video: a video file through the pipeline with tracking and stabilisation (Node only: the
 * system's ffmpeg decodes and encodes through pipes). See run.ts for the outputs.
 */
export { probeVideo, decodeFrames, VideoEncoder, muxAudio, FfmpegMissingError, VideoAbortError, MAX_VIDEO_PIXELS, type VideoInfo, type DecodedFrame, type DecodeOptions, type DecodeReport, type EncoderOptions, type ProbeOptions, type AudioMuxOptions } from './ffmpeg.js';
export { processVideo, overlayRate, MAX_GLB_STEP, MAX_GLB_FRAMES, MAX_GLB_BYTES, glbFrameBytes, glbFrameLimit, MAX_FRAME_SHOW_S, frameLine, drawOverlay, VideoOverlay, type VideoRunOptions, type VideoRunResult } from './run.js';
