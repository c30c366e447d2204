/** `prnet swap`: a's face texture on b's face. */
import { dirname } from 'node:path';
import { decodeImageFile, encodePng } from '../io/image-node.js';
import { rgbaToRgbBytes } from '../io/pixels.js';
import { escapeControl, InputError, NoFaceError } from '../errors.js';
import { SURE_SCORE } from '../detect/detector.js';
import { createPrnet } from '../pipeline/node.js';
import type { Face } from '../pipeline/face.js';
import { swapFaceTexture } from '../pipeline/swap.js';
import { makeOutputFolder, onInterruptNotWritten, refuseOverwritingInputs, writeFileAtomic } from './atomic.js';
import { EXIT, UsageError, detectorOption, intOption, minScoreOption, parseOptions, pixelLimitHint, threadsOption } from './options.js';

export async function runSwap(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    source: { type: 'string', short: 's' },
    target: { type: 'string', short: 't' },
    out: { type: 'string', short: 'o' },
    'source-face': { type: 'string' },
    'target-face': { type: 'string' },
    eyes: { type: 'boolean' },
    model: { type: 'string', short: 'm' },
    detector: { type: 'string' },
    'min-score': { type: 'string' },
    'max-pixels': { type: 'string' },
    orientation: { type: 'boolean' },
    threads: { type: 'string' },
    // --no-blend (parseArgs' negation: blend = false) pastes the rendered face without Poisson blending.
    blend: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
  }, false);
  void positionals;
  if (!values.source || !values.target || !values.out) throw new UsageError('usage: prnet swap --source <a> --target <b> --out <c.png> [--source-face i] [--target-face i] [--eyes] [--no-blend]');
  if (!/\.png$/i.test(values.out)) throw new UsageError('--out must be a .png file');
  const threads = threadsOption(values.threads);
  // Which face of each photo: its index as `prnet reconstruct` numbers them (NAME_face<i>), 0 the first.
  const sourceIndex = intOption(values['source-face'], 'source-face', 0) ?? 0;
  const targetIndex = intOption(values['target-face'], 'target-face', 0) ?? 0;
  const detector = detectorOption(values.detector);
  const minScore = minScoreOption(values['min-score']);
  const maxPixels = intOption(values['max-pixels'], 'max-pixels');
  await refuseOverwritingInputs(values.out, [values.source, values.target]);
  // From here an interrupt says so (and removes a folder made for the output and left empty).
  const stopHandling = onInterruptNotWritten(values.out);
  let prnet: Awaited<ReturnType<typeof createPrnet>> | undefined;
  try {
    // The folder it goes in, before the work (a path through a file is exit 2 at once, not after the network).
    await makeOutputFolder(dirname(values.out));
    const decode = (path: string, flatten: boolean) => decodeImageFile(path, { maxPixels, flatten }).catch((e: unknown) => {
      // (as reconstruct's line: how to go on past the pixel limit)
      const hint = pixelLimitHint(e, maxPixels);
      throw hint ? new InputError(`${(e as Error).message.slice(path.length + 2)}${hint}`, path) : e;
    });
    // The target's colours as stored, which the face is blended into: its alpha goes back on the
    // result (composited over white, a half-transparent edge had it applied twice and came out
    // pale). Its faces are found as a viewer sees it, composited, not in colours hidden under alpha 0.
    const [sourceImage, targetImage] = await Promise.all([decode(values.source, true), decode(values.target, false)]);
    const alpha = targetImage.alpha ?? null;
    const targetSeen = alpha ? { width: targetImage.width, height: targetImage.height, data: rgbaToRgbBytes(withAlpha(targetImage.data, alpha), alpha.length) } : targetImage;
    prnet = await createPrnet({ model: values.model, threads, detector, minScore, orientation: values.orientation === false ? false : undefined });
    const p = prnet;
    const pick = async (image: typeof sourceImage, index: number, path: string, option: string): Promise<Face> => {
      const { faces } = await p.reconstruct(image, { maxFaces: index + 1 });
      if (!faces.length) throw new NoFaceError('no face found', path);
      if (index >= faces.length) throw new NoFaceError(`${option} ${index} asks for face ${index + 1}, and ${faces.length === 1 ? 'one face was' : `${faces.length} faces were`} found (0 is the first)`, path);
      return faces[index];
    };
    const a = await pick(sourceImage, sourceIndex, values.source, '--source-face');
    const b = await pick(targetSeen, targetIndex, values.target, '--target-face');
    await p.dispose();
    // A box the detector is unsure of is a face about as often as not (docs/detectors.md): say so.
    for (const [face, path, option] of [[a, values.source, '--source-face'], [b, values.target, '--target-face']] as const) {
      if (face.box.score < SURE_SCORE) {
        process.stderr.write(`prnet: warning: ${escapeControl(path)}: the face used (box at ${Math.round(face.box.x)},${Math.round(face.box.y)}, ${Math.round(face.box.width)} px) scores ${face.box.score.toFixed(2)}, under ${SURE_SCORE}: it may not be a face; look at the result, or choose another with ${option}\n`);
      }
    }
    const out = swapFaceTexture(sourceImage, a, targetImage, b, p.layout, { keepEyes: values.eyes, blend: values.blend !== false });
    // A target with transparency (a cut-out portrait) keeps it: its alpha goes back on the result.
    await writeFileAtomic(values.out, alpha ? await encodePng(withAlpha(out.data, alpha), out.width, out.height, 4) : await encodePng(out.data, out.width, out.height, 3));
  } finally {
    stopHandling();
    await prnet?.dispose();
  }
  if (!values.quiet) process.stderr.write(`${escapeControl(values.out!)}: ${escapeControl(values.source!)}'s face texture on ${escapeControl(values.target!)}${values.eyes ? ' (its own eyes kept)' : ''}\n`);
  return EXIT.ok;
}

/** RGB bytes and an alpha plane interleaved as RGBA. */
function withAlpha(rgb: Uint8Array, alpha: Uint8Array): Uint8Array {
  const rgba = new Uint8Array(alpha.length * 4);
  for (let i = 0; i < alpha.length; i++) {
    rgba[4 * i] = rgb[3 * i];
    rgba[4 * i + 1] = rgb[3 * i + 1];
    rgba[4 * i + 2] = rgb[3 * i + 2];
    rgba[4 * i + 3] = alpha[i];
  }
  return rgba;
}
