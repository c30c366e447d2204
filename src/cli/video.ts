/** `prnet video`: video files → tracked, stabilised faces → JSON lines, overlay video, animated GLB. */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { escapeControl, InputError, OutputError } from '../errors.js';
import { createPrnet } from '../pipeline/node.js';
import { resolveStabilizerOptions, type StabilizerOptions } from '../track/stabilizer.js';
import { MAX_GLB_STEP, processVideo, VideoAbortError, type VideoRunResult } from '../video/index.js';
import { inputAt, makeOutputFolder, sweepStaleTemporaries } from './atomic.js';
import { signalExitCode, stopOnSignals } from './signals.js';
import { escapeRegExp } from '../pipeline/output-names.js';
import { EXIT, TEST_TIME_OPTIONS, UsageError, intOption, parseOptions, testTimeOptions, threadsOption, detectorOption, minScoreOption } from './options.js';
import { counted, Progress } from './progress.js';
import { uniqueStems } from './inputs.js';
import { failureLine } from './reconstruct.js';

/**
 * `--stabilize on|off|<JSON of StabilizerOptions>`: on (the defaults), off (raw results), or the
 * stabiliser's options as a JSON object, e.g. '{"poseCutoffScale":0.5}' (checked now: a usage
 * error names a bad option).
 */
export function stabilizeOption(value: string | undefined): boolean | StabilizerOptions {
  const v = value ?? 'on';
  if (v === 'on' || v === 'off') return v === 'on';
  if (!v.trimStart().startsWith('{')) throw new UsageError(`--stabilize must be on, off or a JSON object of stabiliser options, got '${v}'`);
  let options: unknown;
  try {
    options = JSON.parse(v);
  } catch (e) {
    throw new UsageError(`--stabilize: not JSON (${(e as Error).message})`);
  }
  try {
    resolveStabilizerOptions(options as StabilizerOptions);
  } catch (e) {
    throw new UsageError(`--stabilize: ${(e as Error).message}`);
  }
  return options as StabilizerOptions;
}

/**
 * Refuses, as a usage error (exit 2) before any work, a run whose outputs would replace one of its
 * inputs: clip.mp4's overlay is `clip_overlay.mp4` in --out, which may be another input — an
 * earlier run's overlay given again by a shell glob over the output folder, or a video of the
 * user's own of that name — and so are its JSONL, its GLB and its track GLBs
 * (`clip_track<ID>.glb`, which a run also removes when stale). The rename would replace the input's
 * directory entry, and the run would then read the replaced file (which entries count: inputAt).
 */
export async function refuseOutputsOverInputs(outDir: string, inputs: readonly string[], names: readonly string[], outputs: { jsonl: boolean; overlay: boolean; glb: boolean }): Promise<void> {
  const inputOf = inputAt(inputs);
  const listed = await readdir(outDir).catch(() => [] as string[]);
  for (const [i, name] of names.entries()) {
    const files = [
      ...(outputs.jsonl ? [`${name}.jsonl`] : []),
      ...(outputs.overlay ? [`${name}_overlay.mp4`] : []),
      ...(outputs.glb ? [`${name}.glb`] : []),
    ];
    if (outputs.glb) {
      const tracks = new RegExp(`^${escapeRegExp(name)}_track\\d+\\.glb$`, 'i');
      files.push(...listed.filter((f) => tracks.test(f)));
    }
    for (const f of files) {
      const hit = await inputOf(join(outDir, f));
      if (hit === null) continue;
      throw new UsageError(
        `${escapeControl(inputs[i])}'s output ${escapeControl(join(outDir, f))} is the input ${escapeControl(hit)}: writing it would destroy that input; choose another --out, or leave ${escapeControl(hit)} out (an earlier run's output given again?)`,
      );
    }
  }
}

/**
 * With --glb-tracks all, NAME_track<ID>.glb is another input's name too when that input is called
 * NAME_track<ID> (clip.mp4's second face and clip_track2.mp4's largest): such a stem gets -2, -3…
 * as uniqueStems gives stems of the same name.
 */
export function trackSafeStems(stems: string[], allTracks: boolean): string[] {
  if (!allTracks) return stems;
  const taken = new Set(stems);
  return stems.map((stem, i) => {
    const clashes = (s: string): boolean => stems.some((other, j) => j !== i && s.startsWith(`${other}_track`) && /^\d+$/.test(s.slice(other.length + 6)));
    if (!clashes(stem)) return stem;
    let out = stem;
    for (let n = 2; taken.has(out) || clashes(out); n++) out = `${stem}-${n}`;
    taken.add(out);
    return out;
  });
}

export async function runVideo(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    out: { type: 'string', short: 'o' },
    model: { type: 'string', short: 'm' },
    stabilize: { type: 'string' },
    ...TEST_TIME_OPTIONS,
    jsonl: { type: 'boolean' },
    overlay: { type: 'boolean' },
    glb: { type: 'boolean' },
    audio: { type: 'boolean' },
    'glb-step': { type: 'string' },
    'glb-tracks': { type: 'string' },
    'glb-pose': { type: 'string' },
    'max-faces': { type: 'string' },
    'min-score': { type: 'string' },
    'detect-every': { type: 'string' },
    frames: { type: 'string' },
    'max-pixels': { type: 'string' },
    detector: { type: 'string' },
    threads: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  });
  if (!positionals.length) throw new UsageError('video needs a video file (see prnet --help)');
  if (!values.out) throw new UsageError('video needs --out <dir>');
  const stabilize = stabilizeOption(values.stabilize);
  const outputs = { jsonl: values.jsonl !== false, overlay: values.overlay !== false, glb: values.glb !== false };
  if (!outputs.jsonl && !outputs.overlay && !outputs.glb) throw new UsageError('no output left to write');
  const glbStep = intOption(values['glb-step'], 'glb-step');
  if (glbStep !== undefined && glbStep > MAX_GLB_STEP) throw new UsageError(`--glb-step must be from 1 to ${MAX_GLB_STEP}, got '${values['glb-step']}'`);
  const glbTracks = values['glb-tracks'] ?? 'largest';
  if (glbTracks !== 'largest' && glbTracks !== 'all') throw new UsageError(`--glb-tracks must be largest or all, got '${glbTracks}'`);
  const glbPose = values['glb-pose'] ?? 'node';
  if (glbPose !== 'node' && glbPose !== 'mesh') throw new UsageError(`--glb-pose must be node or mesh, got '${glbPose}'`);
  const maxFaces = intOption(values['max-faces'], 'max-faces');
  const detectEvery = intOption(values['detect-every'], 'detect-every', 0);
  const maxFrames = intOption(values.frames, 'frames');
  const maxPixels = intOption(values['max-pixels'], 'max-pixels');
  const threads = threadsOption(values.threads);
  const { flip, smooth } = testTimeOptions(values);
  const quiet = Boolean(values.quiet);
  const detector = detectorOption(values.detector);
  const minScore = minScoreOption(values['min-score']);
  await makeOutputFolder(values.out);
  // Temporary files left by an earlier run that was killed (SIGKILL, power loss).
  await sweepStaleTemporaries(values.out);

  // Inputs of the same name (a/clip.mp4, b/clip.mp4) get their own files: clip, clip-2.
  const names = trackSafeStems(uniqueStems(positionals, (f) => existsSync(f)), glbTracks === 'all');
  await refuseOutputsOverInputs(values.out, positionals, names, outputs);
  // SIGINT/SIGTERM stop the frame loop, which stops ffmpeg and removes its temporaries; a second
  // signal ends the process at once, as `prnet eval`'s does (its temporaries are swept by the next
  // run into the folder).
  const outDir = values.out;
  const stop = stopOnSignals({
    first: (s) => `prnet: ${s}: stopping, the outputs of the video under way are not written (${s} again to stop at once)`,
    again: (s) => `prnet: ${s} again: stopped at once (temporary files left in ${escapeControl(outDir)} are removed by the next run into it)`,
  });
  // No tile looks in video: the detector runs on every frame while nothing is tracked, and tiles
  // would cost 6 passes a 1080p frame (15 at 4K) and start tracks on small background faces.
  // Video crops come from the tracker (its detections and the previous frames' landmarks): no orientation network.
  const prnet = await createPrnet({ model: values.model, detector, minScore, threads, tiles: false, orientation: false });
  let failed = 0;
  let outputFailed = false;
  try {
    for (const [i, input] of positionals.entries()) {
      let progress: Progress | null = null;
      try {
        const result = await processVideo(prnet, input, {
          outDir: values.out,
          name: names[i],
          stabilize,
          flip,
          smooth,
          maxFaces,
          detectEvery,
          maxFrames,
          maxPixels,
          glbStep,
          glbTracks,
          glbPose,
          outputs,
          audio: values.audio !== false,
          signal: stop.signal,
          onStart: (info) => {
            progress = new Progress(Math.min(info.frameCount || Infinity, maxFrames ?? Infinity), { label: positionals.length > 1 ? `video ${i + 1}/${positionals.length} ${escapeControl(basename(input))}` : 'video', enabled: !quiet, estimated: true });
          },
          onFrame: ({ result }) => {
            progress?.tick(true, counted(result.faces.length, 'face'));
          },
        });
        // A video that ended where it should (not cut short) had the frames it had: the
        // container's count or its duration × rate is an estimate, one frame off at times.
        const capped = maxFrames !== undefined && result.frames >= maxFrames;
        (progress as Progress | null)?.finish('', !result.endedEarly && !capped);
        // The decoding warning is not progress: --quiet keeps it.
        if (result.decodeError) {
          const about = result.info.frameCount ? ` of about ${result.info.frameCount}` : '';
          const what = result.endedEarly
            ? `the video ended early after ${result.frames}${about} frames (${result.decodeError}); outputs cover the frames decoded, the file counts as failed (exit 1)`
            : !((result.info.videoEnd ?? 0) > 0) && !capped
              ? `ffmpeg reported errors while decoding (${result.decodeError}) and the file does not say where its video ends: ${counted(result.frames, 'frame')} decoded, whether the file was cut short cannot be told`
              : result.framesLost === 0
              ? `ffmpeg reported errors while decoding (${result.decodeError}); every frame came, at its own time`
              : `${result.framesLost ? counted(result.framesLost, 'frame') : 'some frames'} could not be decoded (${result.decodeError}); the others keep their own times, the overlay shows the frame before a gap until it ends`;
          process.stderr.write(`prnet: ${escapeControl(result.input)}: ${what}\n`);
          // A file cut short is a broken input, as a truncated photo is for reconstruct: its outputs
          // stay (they are what the file holds), and a script sees the exit status.
          if (result.endedEarly) failed++;
        }
        if (result.overlayCutS > 0) {
          process.stderr.write(`prnet: ${escapeControl(result.input)}: the overlay leaves out ${result.overlayCutS.toFixed(1)} s of a gap between two frames' times longer than a minute (a broken timestamp?): after it, its picture runs ahead of its sound by that; the JSONL and the GLB keep the frames' own times\n`);
        }
        if (result.audioError) process.stderr.write(`prnet: ${escapeControl(result.input)}: the overlay video has no sound (${escapeControl(result.audioError)})\n`);
        if (!quiet) report(result);
      } catch (e) {
        (progress as Progress | null)?.finish();
        if (e instanceof VideoAbortError) {
          process.stderr.write(`prnet: ${escapeControl(input)}: interrupted; no partial outputs were left\n`);
          return signalExitCode(stop.received ?? 'SIGINT');
        }
        // A file that cannot be read, or an output of it that cannot be written, fails that video
        // alone: the others go on, as a photo's do in prnet reconstruct (exit 4 for an output).
        if (e instanceof OutputError) {
          outputFailed = true;
          process.stderr.write(`prnet: ${failureLine(e, input)}\n`);
          continue;
        }
        if (!(e instanceof InputError)) throw e;
        failed++;
        process.stderr.write(`prnet: ${e.message}\n`);
      }
    }
  } finally {
    stop.dispose();
    await prnet.dispose();
  }
  return outputFailed ? EXIT.output : failed ? EXIT.failed : EXIT.ok;
}

function report(r: VideoRunResult): void {
  const w = process.stderr;
  const faces = r.framesWithFaces
    ? `faces in ${counted(r.framesWithFaces, 'frame')}, ${counted(r.tracks, 'track')}${r.suspectFrames ? ` (a face likely wrong in ${counted(r.suspectFrames, 'frame')}: the JSONL's "suspect")` : ''}`
    : `no face in any of the ${r.frames} frames${r.files.some((f) => f.endsWith('.glb')) ? '' : ' (no GLB written)'}`;
  const sound = r.audio ? `; overlay with sound (${r.audio.codec}${r.audio.copied ? '' : ', re-encoded'})` : '';
  const more = r.glbs.length > 1 ? ` (and ${r.glbs.length - 1} more: ${r.glbs.slice(1).map((g) => `track ${g.trackId}, ${counted(g.frames, 'frame')}`).join('; ')})` : '';
  const glb = r.glb ? `; GLB: track ${r.glb.trackId}, ${counted(r.glb.frames, 'frame')}${r.glb.truncated ? ' (its first: the most a GLB keeps)' : ''}, ${(r.glb.bytes / 1e6).toFixed(2)} MB${more}` : '';
  const stale = r.removed.length ? `; removed an earlier run's ${r.removed.map(escapeControl).join(', ')}` : '';
  w.write(`${escapeControl(r.input)}: ${counted(r.frames, 'frame')} in ${r.seconds.toFixed(1)} s (${r.fps.toFixed(2)} frames/s with the writing of the outputs), detector on ${r.detectorFrames}; ${faces}${glb}${sound}; wrote ${r.files.map(escapeControl).join(', ')}${stale}\n`);
}
