/** `prnet swap`: a's face texture on b's face. */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { sniffSimpleFormat } from '../io/pnm-bmp.js';
import { decodeImageFile, encodePng } from '../io/image-node.js';
import { NoFaceError } from '../errors.js';
import { createPrnet } from '../pipeline/node.js';
import { swapFaceTexture } from '../pipeline/swap.js';
import { refuseOverwritingInputs, writeFileAtomic } from './atomic.js';
import { EXIT, UsageError, parseOptions, threadsOption } from './options.js';

export async function runSwap(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    source: { type: 'string', short: 's' },
    target: { type: 'string', short: 't' },
    out: { type: 'string', short: 'o' },
    eyes: { type: 'boolean' },
    model: { type: 'string', short: 'm' },
    threads: { type: 'string' },
    // --no-blend (parseArgs' negation: blend = false) pastes the rendered face without Poisson blending.
    blend: { type: 'boolean' },
  }, false);
  void positionals;
  if (!values.source || !values.target || !values.out) throw new UsageError('usage: prnet swap --source <a> --target <b> --out <c.png> [--eyes] [--no-blend]');
  if (!/\.png$/i.test(values.out)) throw new UsageError('--out must be a .png file');
  const threads = threadsOption(values.threads);
  await refuseOverwritingInputs(values.out, [values.source, values.target]);
  const [sourceImage, targetImage] = await Promise.all([decodeImageFile(values.source), decodeImageFile(values.target)]);
  const prnet = await createPrnet({ model: values.model, threads });
  const [a, b] = [await prnet.reconstruct(sourceImage, { maxFaces: 1 }), await prnet.reconstruct(targetImage, { maxFaces: 1 })];
  await prnet.dispose();
  if (!a.faces.length) throw new NoFaceError('no face found', values.source);
  if (!b.faces.length) throw new NoFaceError('no face found', values.target);
  const out = swapFaceTexture(sourceImage, a.faces[0], targetImage, b.faces[0], prnet.layout, { keepEyes: values.eyes, blend: values.blend !== false });
  // A target with transparency (a cut-out portrait) keeps it: its alpha goes back on the result.
  const alpha = await targetAlpha(values.target, out.width, out.height);
  await writeFileAtomic(values.out, alpha ? await encodePng(withAlpha(out.data, alpha), out.width, out.height, 4) : await encodePng(out.data, out.width, out.height, 3));
  process.stderr.write(`${values.out}: ${values.source}'s face texture on ${values.target}${values.eyes ? ' (its own eyes kept)' : ''}\n`);
  return EXIT.ok;
}

/**
 * The target's alpha channel as decoded (EXIF orientation applied), or null when it has none — PGM,
 * PPM and BMP (our own decoder's formats, which libvips does not read) have none; a file libvips
 * cannot read again here is taken as opaque rather than failing the finished swap.
 */
async function targetAlpha(path: string, width: number, height: number): Promise<Uint8Array | null> {
  try {
    const bytes = await readFile(path);
    if (sniffSimpleFormat(bytes) || !(await sharp(bytes).metadata()).hasAlpha) return null;
    const { data, info } = await sharp(bytes, { limitInputPixels: width * height }).rotate().extractChannel('alpha').raw().toBuffer({ resolveWithObject: true });
    return info.width === width && info.height === height ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
  } catch {
    return null;
  }
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
