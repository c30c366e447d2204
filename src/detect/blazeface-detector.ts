/**
 * The default detector: BlazeFace (blazeface.ts) on onnxruntime, the runtime that also runs the
 * network, in Node (onnxruntime-node) and in the browser (onnxruntime-web). Runtime-agnostic: the
 * caller passes its onnxruntime module and the model's bytes (the shipped model: NCHW input of any
 * side that is a multiple of 32; see assets/README.md).
 *
 * One pass sees the whole image, letterboxed into the model's 256² input. A face that touches the
 * image's edge gets a second look at 128² (a quarter of the cost) through a square window of twice
 * its size around it, which reaches past the edge (black there) and so frames the face whole; when
 * nothing is found, or more than MAX_EDGE_LOOKS faces touch the edge, the second pass sees the
 * whole image inside a border instead (a larger window: no copy), and so it does when every face
 * found is small and doubtful (a close-up whose face is too large for the first pass, a lens or an
 * eye boxed instead: suspectCloseUp); when neither pass finds a face, a third sees the image from
 * farther away (WIDE_PAD_FRACTION: a face larger than the frame). Every pass reuses one input buffer per side: no allocation per pixel, none per call
 * beyond the outputs.
 */
import { firstLine, ModelError, throwIfAborted } from '../errors.js';
import { openHelperSession, type OrtModule } from '../runtime/ort.js';
import type { FaceBox, RgbImage } from '../types.js';
import {
  BLAZEFACE_INPUT,
  blendDetections,
  decodeDetections,
  detectionIou,
  detectionOverlapOfSmaller,
  fillInput,
  fitWindow,
  type BlazeDetection,
} from './blazeface.js';
import { PAD_FRACTION, SURE_SCORE, sortFaces, touchesEdge, type Detector } from './detector.js';

export interface BlazeFaceOptions {
  /** Lowest score kept (default 0.5); tile looks keep tileMinScore(minScore) and more (0.65 at the default). */
  minScore?: number;
  /** Most faces returned, largest first (default: all). */
  maxFaces?: number;
  /**
   * Look again when a face touches the edge, when every face found is small and doubtful (a
   * close-up), or when nothing is found (then once more from farther away if need be; default true).
   */
  retryPadded?: boolean;
  /**
   * How a face that touches the edge is looked at again: 'region' (default), a 128² pass around
   * each such face; 'whole', a 256² pass over the whole image inside a border, kept when it finds
   * at least as many faces (the rule before region looks, for comparison).
   */
  edgeLook?: EdgeLook;
  /**
   * The first pass leaves out the letterbox bands that hold no image, in whole multiples of 32
   * input pixels, keeping 8 black pixels on each side (a 4:3 photo: 256 × 224, 0.875× the work;
   * 16:9: 256 × 160); false runs the full 256² square (default true).
   */
  trimLetterbox?: boolean;
  /**
   * Large images are also looked at in tiles (default true): the first pass sees the whole image at
   * 256², so a face under ~2.5 % of a large photo's long side (a group photo from a phone) is too
   * small for it. An image whose long side exceeds TILE_FROM × TILE_SIDE pixels, and in which no
   * face of TILE_UNLESS_FACE × its short side or more was found, is also passed in overlapping
   * TILE_SIDE² windows at 256² each (20 passes for 12 megapixels; docs/detectors.md, "Tiles").
   */
  tiles?: boolean;
  /** onnxruntime intra-op threads (default 1, also the Node detector's: a second thread made a call slower). */
  threads?: number;
  /** Extra onnxruntime session options (e.g. the browser's execution providers). */
  extra?: Record<string, unknown>;
}

export const BLAZEFACE_MIN_SCORE = 0.5;

export type EdgeLook = 'region' | 'whole';

/** Input side of a region look (a multiple of 32). */
export const REGION_INPUT = 128;
/** A region look's window side, in multiples of the face box's longer side. */
export const REGION_SCALE = 2;
/** Above this many faces at the edge, one whole look replaces the region looks. */
export const MAX_EDGE_LOOKS = 3;
/** Side (image pixels) of a tile look's window: 4 image pixels per input pixel. */
export const TILE_SIDE = 1024;
/** Overlap of neighbouring tiles (image pixels): a face up to this size, less the seam margins (2 % of a tile), lies whole in one of them. */
export const TILE_OVERLAP = 256;
/** Tiles are looked at when the image's long side exceeds this many tile sides. */
export const TILE_FROM = 1.5;
/** Lowest score of a face found in a tile at the default minScore (0.5): tiles look at many more windows. */
export const TILE_MIN_SCORE = 0.65;

/**
 * The tile looks' lowest score for a whole look's `minScore`: 30 % of the way from it to 1 for a cut
 * under the default (0.51 at 0.3), TILE_MIN_SCORE (0.65) at the default and above it: a higher cut
 * drops the faces under it at the end, and so keeps every face the default finds that it reaches
 * (a tile cut of 0.86 at 0.8 lost 5 of 10 tile-found faces scored 0.82–0.85).
 */
export function tileMinScore(minScore: number): number {
  return minScore < BLAZEFACE_MIN_SCORE ? minScore + (1 - minScore) * 0.3 : TILE_MIN_SCORE;
}
/** No tiles when a face found is at least this share of the image's short side. */
export const TILE_UNLESS_FACE = 0.25;
/**
 * Most tile looks for one image: a 100-megapixel photo of any aspect up to 10:1 needs 164–184
 * (the pixel limit's largest) of TILE_SIDE. A larger photo (the pixel limit raised) is looked at in
 * windows of twice the side (and overlap), or four times, …, up to this many: its small faces are
 * found down to twice, four times, … the size. An image that would need more with its short side
 * under a tile is a sliver (10 × 10,000,000 pixels needed 13,000 looks, over a minute, most of
 * each look padding) and gets none.
 */
export const MAX_TILES = 256;

/**
 * The tile windows: their top-left corners along each axis, `side`² windows overlapping by
 * `overlap` (TILE_SIDE and TILE_OVERLAP, or a power-of-two multiple of both where a larger image
 * would need more than MAX_TILES; a side shorter than a window: one window centred on it), or null
 * for a sliver that would need more than MAX_TILES.
 */
export function tileStarts(width: number, height: number): { xs: number[]; ys: number[]; side: number; overlap: number } | null {
  for (let side = TILE_SIDE, overlap = TILE_OVERLAP; ; side *= 2, overlap *= 2) {
    const count = (length: number): number => (length <= side ? 1 : Math.ceil((length - overlap) / (side - overlap)));
    const nx = count(width), ny = count(height);
    if (nx * ny <= MAX_TILES) {
      const starts = (length: number, n: number): number[] => (n === 1 ? [(length - side) / 2] : Array.from({ length: n }, (_, i) => ((length - side) * i) / (n - 1)));
      return { xs: starts(width, nx), ys: starts(height, ny), side, overlap };
    }
    if (Math.min(width, height) < side) return null;
  }
}
/**
 * A face smaller than this many input pixels (its box's longer side) in the pass that found it is
 * seen again through a region look, where it spans REGION_INPUT / REGION_SCALE (64): BlazeFace's
 * box and keypoints of a face a few input pixels wide are coarse (a 200-pixel face pasted into a
 * 4032 × 3024 canvas spans 13 input pixels of the whole look; its crop cost NME and its keypoints
 * read as a disagreement: docs/detectors.md, "Small faces in large photos").
 */
export const REFINE_BELOW = 32;
/** A region look's detection replaces the face when their boxes overlap at least this much. */
const REGION_MIN_IOU = 0.3;
/**
 * Black input pixels kept on each side of the image when the letterbox is trimmed: with none (the
 * image touching the input's edge, where the convolutions pad with zeros, not black) one labelled
 * iBUG face and one small WebFaces face were lost; with 8 the recall is unchanged.
 */
const LETTERBOX_MARGIN = 8;

/** Loads BlazeFace from its ONNX bytes into a session of the given onnxruntime module. */
export async function createBlazeFaceDetector(ort: OrtModule, model: Uint8Array, options: BlazeFaceOptions = {}): Promise<Detector> {
  const size = BLAZEFACE_INPUT;
  const minScore = options.minScore ?? BLAZEFACE_MIN_SCORE;
  const tileMin = tileMinScore(minScore);
  const decodeMin = Math.min(minScore, BLAZEFACE_MIN_SCORE);
  const maxFaces = options.maxFaces ?? Infinity;
  const retryPadded = options.retryPadded ?? true;
  const edgeLook = options.edgeLook ?? 'region';
  const trimLetterbox = options.trimLetterbox ?? true;
  const tiles = options.tiles ?? true;
  if (edgeLook !== 'region' && edgeLook !== 'whole') throw new ModelError(`unknown edge look '${String(edgeLook)}' (known: region, whole)`);
  const session = await openHelperSession(ort, model, 'the face detector', { threads: options.threads, extra: options.extra });
  // A probe on a small NCHW input: the shipped graph takes channels first at any side that is a
  // multiple of 32; MediaPipe's original file (channels last, 256² only), an older copy of ours or
  // another model fails here, at load, as a ModelError, rather than at the first photo.
  try {
    const probe = await session.run({ 'input:0': new ort.Tensor('float32', new Float32Array(3 * 64 * 64), [1, 3, 64, 64]) });
    for (const name of ['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0']) {
      if (!(probe[name]?.data instanceof Float32Array)) throw new Error(`no float32 output '${name}'`);
    }
  } catch (e) {
    throw new ModelError(`the face detector is not the BlazeFace graph this version of prnet-ts ships (channels-first input 'input:0' of any side that is a multiple of 32): ${firstLine(e)}`, undefined, { cause: e });
  }
  const inputs = new Map<number, Float32Array>();
  /** The detections the default cut (BLAZEFACE_MIN_SCORE) keeps. */
  const atDefault = (ds: BlazeDetection[]): BlazeDetection[] => (decodeMin < BLAZEFACE_MIN_SCORE ? ds.filter((d) => d.score >= BLAZEFACE_MIN_SCORE) : ds);
  let queue: Promise<unknown> = Promise.resolve();

  /**
   * One pass over a window of the image (x0, y0: its corner in pixel edges; `side` image pixels
   * wide) at input width `n` and height `h` (default n: a square).
   */
  const pass = async (image: RgbImage, x0: number, y0: number, side: number, n = size, h = n): Promise<BlazeDetection[]> => {
    const key = n * 65536 + h;
    let input = inputs.get(key);
    if (!input) inputs.set(key, (input = new Float32Array(n * h * 3)));
    const window = fillInput(image, input, n, x0, y0, side, h);
    const out = await session.run({ 'input:0': new ort.Tensor('float32', input, [1, 3, h, n]) });
    const get = (name: string): Float32Array => {
      const t = out[name];
      if (!t || !(t.data instanceof Float32Array)) throw new ModelError(`the face detector returned no float32 '${name}'`);
      return t.data;
    };
    // Decoded down to the default cut at least, and blended as at it (detect() cuts at minScore).
    return blendDetections(decodeDetections([get('Identity:0'), get('Identity_1:0')], [get('Identity_2:0'), get('Identity_3:0')], n, window, decodeMin, [], h), undefined, BLAZEFACE_MIN_SCORE);
  };

  /**
   * The first pass: the image letterboxed into the 256² square, less the bands of the letterbox
   * that hold no image beyond LETTERBOX_MARGIN (whole multiples of 32 input rows or columns: the
   * network's stride), so a 4:3 photo costs a 256 × 224 pass.
   */
  const firstLook = (image: RgbImage): Promise<BlazeDetection[]> => {
    const { width, height } = image;
    const fit = fitWindow(width, height);
    if (!trimLetterbox || width === height) return pass(image, fit.x0, fit.y0, fit.side);
    const scale = fit.side / size;
    const short = Math.min(size, Math.ceil((Math.min(width, height) / scale + 2 * LETTERBOX_MARGIN) / 32) * 32);
    // The short side's input span, centred on the image like the square's.
    if (width > height) return pass(image, fit.x0, (height - short * scale) / 2, fit.side, size, short);
    // Portrait: the window is `short` input pixels wide; pass() measures its width in image pixels.
    return pass(image, (width - short * scale) / 2, fit.y0, short * scale, short, size);
  };

  /** The whole image inside a border of `pad` (default PAD_FRACTION) of its long side. */
  const wholeLook = (image: RgbImage, fitSide: number, pad = PAD_FRACTION): Promise<BlazeDetection[]> => {
    const side = fitSide * (1 + 2 * pad);
    return pass(image, (image.width - side) / 2, (image.height - side) / 2, side);
  };

  /** A face at the edge seen again, whole, through a window around it; the face as it was if the look finds nothing there. */
  const regionLook = async (image: RgbImage, face: BlazeDetection): Promise<BlazeDetection> => {
    const side = REGION_SCALE * Math.max(face.width, face.height);
    const seen = await pass(image, face.cx - side / 2, face.cy - side / 2, side, REGION_INPUT);
    let best = face;
    let bestIou = REGION_MIN_IOU;
    for (const d of atDefault(seen)) {
      const o = detectionIou(d, face);
      if (o >= bestIou) {
        best = d;
        bestIou = o;
      }
    }
    return best;
  };

  /**
   * The image in overlapping windows (tileStarts: TILE_SIDE², or larger past MAX_TILES), each at 256²: the detections of every tile, less
   * those that touch a side the tile shares with a neighbour (cut there, they lie whole in the
   * neighbour, which overlaps by TILE_OVERLAP).
   */
  const tileLooks = async (image: RgbImage, stopIfAborted: () => void): Promise<BlazeDetection[]> => {
    const grid = tileStarts(image.width, image.height);
    if (!grid) return [];
    const { xs, ys, side, overlap } = grid;
    const margin = 0.01 * side;
    const out: BlazeDetection[] = [];
    for (const [j, y0] of ys.entries()) {
      for (const [i, x0] of xs.entries()) {
        stopIfAborted();
        for (const d of await pass(image, x0, y0, side)) {
          const l = d.cx - d.width / 2, r = d.cx + d.width / 2, t = d.cy - d.height / 2, b = d.cy + d.height / 2;
          const cut = (i > 0 && l < x0 + margin) || (i < xs.length - 1 && r > x0 + side - margin) || (j > 0 && t < y0 + margin) || (j < ys.length - 1 && b > y0 + side - margin);
          // A face larger than the overlap is the whole look's to find (a tile sees it at a scale
          // where parts of a large face or the clothes below it pass for faces); a face the whole
          // look missed must be sure.
          if (!cut && Math.max(d.width, d.height) <= overlap - 2 * margin && d.score >= tileMin) out.push(d);
        }
      }
    }
    return out;
  };

  const detect = async (image: RgbImage, stopIfAborted: () => void): Promise<FaceBox[]> => {
    const { width, height } = image;
    const fit = fitWindow(width, height);
    let found = await firstLook(image);
    stopIfAborted();
    // The looks again are decided on the faces scored as the default cut keeps them, so that
    // another minScore does not change what happens to those.
    if (retryPadded) {
      const sure = atDefault(found);
      const atEdge = sure.filter((d) => touchesEdge(toBox(d), width, height));
      if (!sure.length || (atEdge.length && (edgeLook === 'whole' || atEdge.length > MAX_EDGE_LOOKS))) {
        const padded = await wholeLook(image, fit.side);
        if (atDefault(padded).length >= sure.length) found = padded;
        if (!atDefault(found).length) {
          // Nothing in either look: a face larger than the frame (a close-up cut by every edge)
          // is seen whole only from farther away; what that look finds must be sure.
          stopIfAborted();
          const wide = (await wholeLook(image, fit.side, WIDE_PAD_FRACTION)).filter((d) => d.score >= SURE_SCORE);
          if (wide.length) found = withoutInside(wide, found);
        }
      } else if (atEdge.length) {
        const looked: BlazeDetection[] = [];
        for (const d of found) {
          stopIfAborted();
          looked.push(atEdge.includes(d) ? await regionLook(image, d) : d);
        }
        found = looked;
      } else if (suspectCloseUp(sure, width, height)) {
        stopIfAborted();
        const padded = await wholeLook(image, fit.side);
        found = closerFaces(atDefault(padded), found, sure);
      }
    }
    // Tiles for a large image unless a face found fills a good part of it (a portrait: its small
    // background faces are left, and the tiles' cost with them).
    const largest = found.reduce((m, d) => (d.score >= SURE_SCORE ? Math.max(m, d.width, d.height) : m), 0);
    if (tiles && Math.max(width, height) > TILE_FROM * TILE_SIDE && largest < TILE_UNLESS_FACE * Math.min(width, height)) {
      found = addTileFaces(found, await tileLooks(image, stopIfAborted));
    }
    found = distinctFaces(found);
    // Faces seen at a few input pixels are looked at again, closer, before the score cut (which
    // reads the closer look's score, the one returned); two boxes whose looks found one face are
    // one. The faces the default cut keeps are made distinct among themselves first, and a lowered
    // cut's boxes join them only where they overlap none: a box under 0.5 whose closer look scored
    // it higher does not take the place of one the default finds.
    const coarse = (d: BlazeDetection): boolean => d.scale !== undefined && Math.max(d.width, d.height) / d.scale < REFINE_BELOW;
    if (found.some(coarse)) {
      const sure: BlazeDetection[] = [];
      const under: BlazeDetection[] = [];
      for (const d of found) {
        stopIfAborted();
        (d.score >= BLAZEFACE_MIN_SCORE ? sure : under).push(coarse(d) ? await regionLook(image, d) : d);
      }
      found = distinctFaces(sure);
      for (const d of distinctFaces(under)) if (!found.some((k) => detectionIou(k, d) >= DISTINCT_IOU)) found.push(d);
    }
    if (minScore > decodeMin) found = found.filter((d) => d.score >= minScore); // a cut over the default's
    return sortFaces(found.map(toBox)).slice(0, maxFaces);
  };

  return {
    kind: 'blazeface',
    // One session, one input buffer: calls are queued.
    detect(image: RgbImage, options?: { signal?: { readonly aborted: boolean } }): Promise<FaceBox[]> {
      const signal = options?.signal;
      const stopIfAborted = (): void => throwIfAborted(signal, 'detection');
      const run = queue.then(() => {
        stopIfAborted(); // queued behind another call, aborted meanwhile
        return detect(image, stopIfAborted);
      });
      queue = run.catch(() => undefined);
      return run;
    },
    release: () => session.release(),
  };
}

/**
 * A first look whose faces are all doubtful (under SUSPECT_SCORE) and small (under SUSPECT_SIDE of
 * the image's short side): on a close-up, the frame-filling face is too large for the first look
 * and a detail of it (a lens of glasses, an eye) passes for a small face; on a turned face, a
 * doubtful box is often part of the face (an ear, a cheek) that the padded look boxes whole.
 */
function suspectCloseUp(sure: readonly BlazeDetection[], width: number, height: number): boolean {
  return sure.length > 0 && sure.every((d) => d.score < SUSPECT_SCORE && Math.max(d.width, d.height) < SUSPECT_SIDE * Math.min(width, height));
}

/**
 * The border of the last look when the first two find no face, as a share of the image's long
 * side: the image fills half the input's side.
 */
export const WIDE_PAD_FRACTION = 0.5;

/**
 * The score under which a small first-look face is doubted (suspectCloseUp). 0.7 rather than
 * SURE_SCORE (0.65): a spectacle lens scored 0.66 on a close-up (docs/detectors.md, "Close-ups").
 */
export const SUSPECT_SCORE = 0.7;

/** A face's side under which suspectCloseUp looks again, as a share of the image's short side. */
export const SUSPECT_SIDE = 0.4;

/**
 * The padded look's sure faces larger than every face the default cut keeps in the first look
 * (`sure`), and the first look's faces that overlap none of them (IoU ≥ 0.3, or half of the
 * smaller box inside the other): the first look as it was when the padded look found no such face.
 */
function closerFaces(padded: readonly BlazeDetection[], first: BlazeDetection[], sure: readonly BlazeDetection[]): BlazeDetection[] {
  const largest = sure.reduce((m, d) => Math.max(m, d.width, d.height), 0);
  const closer = padded.filter((d) => d.score >= SURE_SCORE && Math.max(d.width, d.height) > largest);
  return closer.length ? withoutInside(closer, first) : first;
}

/** Two boxes of one face: IoU ≥ 0.3, or half of the smaller box inside the other (a part of it). */
function sameFace(a: BlazeDetection, b: BlazeDetection): boolean {
  return detectionIou(a, b) >= 0.3 || detectionOverlapOfSmaller(a, b) >= 0.5;
}

/**
 * The faces of a look again, and the earlier boxes that overlap none of them (IoU ≥ 0.3, or half
 * of the smaller box inside the other: a lens or an eye boxed inside the face).
 */
function withoutInside(faces: readonly BlazeDetection[], earlier: readonly BlazeDetection[]): BlazeDetection[] {
  const kept = [...faces];
  for (const d of earlier) if (!faces.some((k) => sameFace(k, d))) kept.push(d);
  return kept;
}

/**
 * The whole look's detections as they are, and the tiles' faces, best score first, each added
 * unless it overlaps one already there (IoU ≥ 0.3, or half of the smaller box inside the other: a
 * tile's finer look at a face the whole look found, or at its part).
 */
function addTileFaces(whole: BlazeDetection[], tiles: BlazeDetection[]): BlazeDetection[] {
  // The whole look's boxes under the default cut (a lowered minScore's) join the tiles' faces, best
  // score first (so after every face of 0.5 or more): a tile's face is not left out for one.
  const kept = whole.filter((d) => d.score >= BLAZEFACE_MIN_SCORE);
  for (const d of [...tiles, ...whole.filter((w) => w.score < BLAZEFACE_MIN_SCORE)].sort((a, b) => b.score - a.score)) {
    if (!kept.some((k) => sameFace(k, d))) kept.push(d);
  }
  return kept;
}

/**
 * The detections without a second box on the same face: one that overlaps a better-scored one by
 * IoU ≥ 0.25 is left out. The blend merges a cluster about its best box (at IoU 0.3 with it), and
 * two clusters of one face merged apart can overlap so: 11 of 400 sideways AFLW2000-3D photos gave a
 * face twice, face0 and face1 of one person; the 10 at IoU 0.28–0.58 are now one. Boxes that
 * overlap less stay, even one half inside another: on a 55° profile (image01575) the face's own box
 * lies half inside a better-scored box of its cheek, and dropping it lost the face. It runs after
 * the tiles' faces are added, by score alone: a better-scored tile box takes a whole look's place.
 */
export function distinctFaces(found: readonly BlazeDetection[]): BlazeDetection[] {
  const kept: BlazeDetection[] = [];
  for (const d of [...found].sort((a, b) => b.score - a.score)) {
    if (!kept.some((k) => detectionIou(k, d) >= DISTINCT_IOU)) kept.push(d);
  }
  return kept;
}

/** The IoU from which two detections are taken for one face (distinctFaces). */
const DISTINCT_IOU = 0.25;

/** A detection as a FaceBox (pixel edges), with its keypoints. */
function toBox(d: BlazeDetection): FaceBox {
  return { x: d.cx - d.width / 2, y: d.cy - d.height / 2, width: d.width, height: d.height, score: d.score, keypoints: d.keypoints };
}
