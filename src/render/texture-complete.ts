/**
 * Complete UV textures: every texel of the face gets a colour, at any texture size.
 *
 * The photo shows only part of the face (the far cheek and ear of a turned head, the underside of
 * the chin); uvTexture leaves those texels black. completeUvTexture fills them in three layers,
 * the upper one winning where it is confident:
 *
 * 1. own:    the photo sampled at the texel's surface point, with a weight = soft visibility ×
 *            facing (the texel's normal towards the camera: grazing texels are smeared in the photo);
 * 2. mirror: the photo sampled at the texel's left–right mirror point (the layout's flip map), with
 *            that point's weight — the far cheek of a turned face comes from the near one — its
 *            colour scaled by the left–right lighting ratio seen where both sides are visible;
 *            it also stands in for far-side texels whose own colour is background, not skin (the
 *            mesh reaching past a turned face's outline: backgroundOutliers);
 * 3. fill:   pull-push interpolation (Gortler et al. 1996) of layers 1–2 over the texture: smooth
 *            colour where neither side is seen.
 *
 * colour = w_own·own + (1 − w_own)·(w_mirror·mirror + (1 − w_mirror)·fill). The weights fall off
 * smoothly towards occlusion edges (visibility blurred over a few texels) and grazing angles, so the
 * seams between the layers are blended, not cut.
 *
 * Textures larger than the layout (512², 1024², 2048²) sample the photo through the position map
 * upsampled bilinearly (the layout's 256² grid of surface points is interpolated to the texture's
 * texel centres), so they hold the photo's own detail, not an enlarged 256² texture.
 */
import { bilinearRgb } from './bilinear.js';
import type { PositionMap, RgbImage } from '../types.js';

/** What completeUvTexture needs of the layout. */
export interface TextureLayout {
  /** Layout side (256). */
  size: number;
  /** N face pixels (row-major indices into the size² grid), in vertex order. */
  faceIndex: Int32Array | Uint32Array;
  /** N: each vertex's left–right mirror vertex. */
  flip: Int32Array | Uint32Array;
}

export interface CompleteTextureOptions {
  /** Output texture side in texels (default: the layout's size). */
  size?: number;
  /**
   * Per-vertex facing (N values, the normal's component towards the camera, −1..1). Texels whose
   * normal faces away or grazes are trusted less (weight ramps from 0 at facing 0 to 1 at
   * `facingRamp`). Omitted: every visible texel has facing 1.
   */
  facing?: ArrayLike<number>;
  /** Facing at which a texel gets full weight (default 0.25). */
  facingRamp?: number;
  /**
   * Scale mirrored colours by the left–right lighting ratio measured where the photo shows both
   * sides (default true), so a face lit from one side does not get a bright patch on its dark side.
   */
  matchLighting?: boolean;
  /** Texels of fill margin kept around the face, in layout texels (default 2); beyond it the texture is black. */
  margin?: number;
  /**
   * Lower the own weight of a turned-away texel whose colour is far, in chromaticity, from the
   * skin's while its mirror's is skin and faces the camera better (default true, with `facing`):
   * the photo there is most likely background that the mesh's far side reaches onto (sky or a wall
   * beside a turned face's outline), which the mirror then replaces. See backgroundOutliers.
   */
  rejectBackground?: boolean;
}

/** Where the texels of the face came from, as fractions of the face's texels (sum 1). */
export interface TextureSources {
  /** Mostly the photo at the texel itself (own weight ≥ 0.5). */
  own: number;
  /** Mostly the photo at the mirrored point. */
  mirrored: number;
  /** Mostly the smooth fill. */
  filled: number;
}

export interface CompletedTexture {
  texture: RgbImage;
  /** size²: 255 where the photo shows the texel's own surface point (own weight > 0), else 0. */
  mask: Uint8Array;
  /** size²: 1 on the face (the texels whose nearest layout texel is a face pixel). */
  faceMask: Uint8Array;
  sources: TextureSources;
}

const mirrorFields = new WeakMap<object, Float32Array>();
const BLUR = 2;

/**
 * Working arrays reused from call to call (completeUvTexture is synchronous and returns none of
 * them): the layout-grid fields, the photo's colour per vertex, the texture-grid layers and the
 * pull-push pyramid. A few MB that would otherwise be garbage after every face. Arrays larger than
 * a 512² texture's colour layer are not kept (a 2048² texture's would hold ~90 MB for the life of
 * the process): those sizes are rare and allocate per call.
 */
const SCRATCH_MAX = 512 * 512 * 3;
const scratch = new Map<string, Float32Array | Float64Array>();
function scratchF32(name: string, length: number): Float32Array {
  if (length > SCRATCH_MAX) return new Float32Array(length);
  let a = scratch.get(name);
  if (!(a instanceof Float32Array) || a.length !== length) scratch.set(name, (a = new Float32Array(length)));
  return a;
}
function scratchF64(name: string, length: number): Float64Array {
  if (length > SCRATCH_MAX) return new Float64Array(length);
  let a = scratch.get(name);
  if (!(a instanceof Float64Array) || a.length < length) scratch.set(name, (a = new Float64Array(length)));
  return a;
}

interface StaticFields {
  /** 1 on face pixels. */
  face: Float32Array;
  /** The same as bytes. */
  faceBytes: Uint8Array;
  /** Face pixels in each (2·BLUR+1)² window. */
  faceShare: Float32Array;
  /** The face grown by the margin. */
  marginMask: Uint8Array;
}
const staticCache = new WeakMap<object, Map<number, StaticFields>>();

/** Fields that depend on the layout only (cached per layout and margin). */
function staticFields(layout: TextureLayout, margin: number): StaticFields {
  let byMargin = staticCache.get(layout.faceIndex);
  if (!byMargin) staticCache.set(layout.faceIndex, (byMargin = new Map()));
  let f = byMargin.get(margin);
  if (!f) {
    const L = layout.size;
    const face = new Float32Array(L * L);
    for (let i = 0; i < layout.faceIndex.length; i++) face[layout.faceIndex[i]] = 1;
    f = { face, faceBytes: Uint8Array.from(face), faceShare: boxBlur(face, L, BLUR), marginMask: dilate(face, L, margin) };
    byMargin.set(margin, f);
  }
  return f;
}

/** Per layout pixel, the layout coordinates (column, row) of its mirror pixel (NaN off the face). Cached per layout. */
function mirrorField(layout: TextureLayout): Float32Array {
  let f = mirrorFields.get(layout.flip);
  if (f) return f;
  const L = layout.size;
  f = new Float32Array(L * L * 2).fill(NaN);
  const { faceIndex, flip } = layout;
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    const q = faceIndex[flip[i]];
    f[2 * p] = q % L;
    f[2 * p + 1] = (q - (q % L)) / L;
  }
  mirrorFields.set(layout.flip, f);
  return f;
}

/**
 * The complete UV texture of a photo (see the module comment). `map` is the face's position map
 * in the photo's frame (layout size²), `visibility` the per-layout-texel visibility (texelVisibility:
 * non-zero = the camera sees the texel).
 */
export function completeUvTexture(
  image: RgbImage,
  map: PositionMap,
  visibility: Uint8Array,
  layout: TextureLayout,
  options: CompleteTextureOptions = {},
): CompletedTexture {
  const L = layout.size;
  const n = L * L;
  if (map.size !== L || map.data.length < n * 3) throw new RangeError(`position map is ${map.size}², expected the layout's ${L}²`);
  if (visibility.length !== n) throw new RangeError(`visibility has ${visibility.length} texels, expected ${n}`);
  const S = options.size ?? L;
  if (!(Number.isInteger(S) && S >= 16 && S <= 8192)) throw new RangeError(`texture size ${S} is not a whole number in 16..8192`);
  const { faceIndex } = layout;
  const nv = faceIndex.length;
  if (options.facing && options.facing.length !== nv) throw new RangeError(`facing has ${options.facing.length} values, expected ${nv}`);
  const ramp = options.facingRamp ?? 0.25;
  const { width: iw, height: ih, data: src } = image;
  const pos = map.data;

  // Layout-grid fields: face mask, own weight (soft visibility × facing), mirror coordinates.
  // Each pass is its own function with one loop (here and below): V8 optimises a loop function as
  // soon as it is hot, with the types its whole body has seen, where one long function of many
  // loops was optimised on one loop and de-optimised on reaching the next, for tens of calls.
  const margin = Math.round(options.margin ?? 2);
  const { face, faceBytes, faceShare, marginMask } = staticFields(layout, margin);
  const vis = scratchF32('vis', n).fill(0);
  visibleTexels(vis, faceIndex, pos, visibility, iw, ih);
  // Soft visibility: the visible share of each texel's 5×5 face neighbourhood, times its own
  // visibility, so the weight ramps down over ~2 texels towards an occlusion edge.
  const share = boxBlur(vis, L, BLUR, scratchF32('share', n), scratchF32('blur', n));
  const weight = scratchF32('weight', n).fill(0);
  if (options.facing) facingWeights(weight, faceIndex, vis, share, faceShare, options.facing, ramp);
  else softWeights(weight, faceIndex, vis, share, faceShare);

  // Texture-grid pass: layers 1 and 2 into premultiplied colour + weight.
  const N = S * S;
  const col = scratchF32('col', N * 3).fill(0);
  const conf = scratchF32('conf', N).fill(0);
  // On the layout's grid, the region is the layout's margin mask and the face its face (a copy: returned).
  const faceS = S === L ? faceBytes.slice() : new Uint8Array(N);
  const region = S === L ? marginMask : new Uint8Array(N);
  const ownMask = new Uint8Array(N);
  // Lighting: the mirrored side is lit differently from the side it stands in for. Where the
  // photo shows both a texel and its mirror well, the ratio of their mean colours, per half of the
  // face, measures the asymmetry; mirrored colours are scaled by their destination half's ratio so
  // they continue that half's brightness. gains: [left half r, g, b, right half r, g, b].
  // The photo's colour at the vertices read below, once: on the layout's grid every vertex the
  // photo shows (weight > 0; its own and its mirror's colour are these), on a finer grid only those
  // the lighting pairs use (weight ≥ 0.9: the texels sample the photo themselves), and none when
  // nothing uses them.
  const matchLighting = options.matchLighting ?? true;
  const rgb = scratchF64('rgb', nv * 3);
  const rejectBackground = Boolean(options.facing) && (options.rejectBackground ?? true);
  // The background check reads every seen vertex's colour, as the layout's own grid does.
  if (S === L || matchLighting || rejectBackground) vertexColours(rgb, faceIndex, S === L || rejectBackground ? 0 : LIGHTING_WEIGHT, pos, weight, src, iw, ih);
  const gains = new Float64Array([1, 1, 1, 1, 1, 1]);
  if (matchLighting) lightingGains(gains, rgb, faceIndex, layout.flip, weight, L);
  // Background inside the face's outline: trusted less where the mirror says it is not skin.
  if (options.facing && rejectBackground) {
    // 1 on the face (0 off it: the outline's outside is not "kept" background), 0…1 where marked.
    const keep = scratchF32('keep', n);
    keep.set(face);
    if (backgroundOutliers(keep, weight, faceIndex, layout.flip, options.facing, rgb)) {
      // Averaged over each texel's 5×5 window: a patch of background (many outliers together) is
      // replaced, a lone outlier (hair against skin at a hairline) barely changes: no speckles.
      const smooth = boxBlur(keep, L, BLUR, scratchF32('keepBlur', n), scratchF32('blur', n));
      for (let i = 0; i < nv; i++) {
        const p = faceIndex[i];
        const k = smooth[p] / faceShare[p]; // the kept share of the face texels in the window
        if (k < 1) weight[p] *= Math.max(0, (k - KEEP_FLOOR) / (1 - KEEP_FLOOR));
      }
      // The lighting ratio again, without the background texels' pairs (they skewed it).
      if (matchLighting) {
        gains.fill(1);
        lightingGains(gains, rgb, faceIndex, layout.flip, weight, L);
      }
    }
  }
  // own, mirrored, filled: the face texels by their main source
  const counts = new Float64Array(3);
  if (S === L) {
    // The layout's own grid: every face texel is a vertex, its mirror a vertex too.
    layoutGridLayers(col, conf, ownMask, faceS, counts, faceIndex, layout.flip, weight, rgb, gains, L);
  } else {
    sampledLayers(col, conf, ownMask, faceS, region, counts, S, L, face, marginMask, weight, mirrorField(layout), pos, src, iw, ih, gains);
  }
  pullPushWith(col, conf, S, scratchF32, region);
  const tex = new Uint8Array(N * 3);
  textureBytes(tex, col, region, faceS, N);
  const [own, mirrored, filled] = counts;
  const total = own + mirrored + filled || 1;
  return {
    texture: { width: S, height: S, data: tex },
    mask: ownMask,
    faceMask: faceS,
    sources: { own: own / total, mirrored: mirrored / total, filled: filled / total },
  };
}

/** The own weight at which a texel and its mirror count for the lighting ratio. */
const LIGHTING_WEIGHT = 0.9;

/**
 * backgroundOutliers' chromaticity distances: full own weight up to CHROMA_LOW, none from
 * CHROMA_HIGH. Skin's chromaticity barely changes with shading (0.01–0.05 between a texel and its
 * mirror on a lit face); skin against a blue sky is ~0.25, against a white wall ~0.1.
 */
const CHROMA_LOW = 0.1;
const CHROMA_HIGH = 0.18;
/** Only texels turned this far from the camera (normal z below it: towards a turned face's outline) are checked. */
const OUTLINE_FACING = 0.45;
/** Texels facing the camera at least this much (normal z) give the skin's colour. */
const SKIN_FACING = 0.8;
/** The mirror's own weight from which its colour can overrule a texel's. */
const MIRROR_WEIGHT = 0.5;
/** The mirror must face the camera at least this much better (normal z) for its colour to overrule. */
const FACING_MARGIN = 0.1;
/** The window-averaged keep factor at and below which a texel's own weight is 0. */
const KEEP_FLOOR = 0.5;
/** Added to each channel before the chromaticity (pulls dark, noisy colours towards grey). */
const CHROMA_FLOOR = 12;

/**
 * Marks in `keep` (1 → less) the texels whose photo colour is far in chromaticity from the
 * skin's (the median over well-seen texels facing the camera) while their mirror's is close to it,
 * where the mirror is seen well (weight ≥ MIRROR_WEIGHT) and faces the camera better by
 * FACING_MARGIN, and the texel is turned away (facing < OUTLINE_FACING). The network's mesh of a
 * turned face often reaches a little past the face's outline on the far side, where the photo
 * shows background: its texels were baked in as sky or wall colour (1.7 % of a turned face's
 * texels in a measured case: breakingbad.jpg; 0.8 % with this). Only the less-facing texel of a
 * pair can lose weight, and only for a skin-coloured mirror, so the better seen side always keeps
 * its own colour and hair on both sides stays hair; shading keeps its colour, since it changes
 * brightness rather than chromaticity. Returns how many texels were marked.
 */
function backgroundOutliers(
  keep: Float32Array, weight: Float32Array, faceIndex: Int32Array | Uint32Array, flip: Int32Array | Uint32Array, facing: ArrayLike<number>,
  rgb: Float64Array,
): number {
  // The skin's chromaticity: the median over the well-seen texels facing the camera (cheeks, nose,
  // forehead; eyes and lips are a minority there).
  const rs = scratchF32('skinR', faceIndex.length), gs = scratchF32('skinG', faceIndex.length);
  let m = 0;
  for (let i = 0; i < faceIndex.length; i += 2) { // every second texel: plenty for a median
    const p = faceIndex[i];
    if (weight[p] < 0.9 || !(facing[i] >= SKIN_FACING)) continue;
    const sum = rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2] + 3 * CHROMA_FLOOR;
    rs[m] = (rgb[3 * i] + CHROMA_FLOOR) / sum;
    gs[m++] = (rgb[3 * i + 1] + CHROMA_FLOOR) / sum;
  }
  if (m < Math.min(100, faceIndex.length / 8)) return 0; // too little of the face seen to know its colour
  const skinR = rs.subarray(0, m).sort()[m >> 1], skinG = gs.subarray(0, m).sort()[m >> 1];
  // (the photo's colours at the vertices: vertexColours' `rgb`, filled for every vertex seen)
  const distance = (i: number): number => {
    const sum = rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2] + 3 * CHROMA_FLOOR;
    const r = (rgb[3 * i] + CHROMA_FLOOR) / sum - skinR, g = (rgb[3 * i + 1] + CHROMA_FLOOR) / sum - skinG;
    return Math.hypot(r, g, r + g); // the third chromaticity is 1 − r − g
  };
  let found = 0;
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    if (weight[p] === 0) continue;
    const j = flip[i];
    const q = faceIndex[j];
    if (q === p || !(facing[i] < OUTLINE_FACING) || weight[q] < MIRROR_WEIGHT || !(facing[i] < facing[j] - FACING_MARGIN)) continue;
    const d = distance(i);
    // Not skin here, skin at the mirror: the mirror stands in.
    if (d > CHROMA_LOW && distance(j) <= CHROMA_LOW) {
      keep[p] = d >= CHROMA_HIGH ? 0 : 1 - (d - CHROMA_LOW) / (CHROMA_HIGH - CHROMA_LOW);
      found++;
    }
  }
  return found;
}

/** 1 at the face texels the camera sees whose point lies inside the image (vis: zeros before). */
function visibleTexels(vis: Float32Array, faceIndex: Int32Array | Uint32Array, pos: Float32Array, visibility: Uint8Array, iw: number, ih: number): void {
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    const x = pos[3 * p], y = pos[3 * p + 1];
    const inside = x >= -0.5 && y >= -0.5 && x <= iw - 0.5 && y <= ih - 0.5;
    vis[p] = visibility[p] !== 0 && inside ? 1 : 0;
  }
}

/** The soft visibility (smoothstep of the visible share of the texel's window); weight: zeros before. */
function softWeights(weight: Float32Array, faceIndex: Int32Array | Uint32Array, vis: Float32Array, share: Float32Array, faceShare: Float32Array): void {
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    if (vis[p] === 0) continue;
    const s = share[p] / faceShare[p];
    weight[p] = s >= 1 ? 1 : s * s * (3 - 2 * s);
  }
}

/** softWeights times the facing ramp (smoothstep of facing / ramp). */
function facingWeights(weight: Float32Array, faceIndex: Int32Array | Uint32Array, vis: Float32Array, share: Float32Array, faceShare: Float32Array, facing: ArrayLike<number>, ramp: number): void {
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    if (vis[p] === 0) continue;
    const s = share[p] / faceShare[p];
    const soft = s >= 1 ? 1 : s * s * (3 - 2 * s);
    const t = facing[i] / ramp;
    const f = t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t);
    weight[p] = soft * f;
  }
}

/** The photo's colour (bilinear, unrounded) at each vertex whose own weight is > 0 and ≥ minWeight; the others are left as they are. */
function vertexColours(rgb: Float64Array, faceIndex: Int32Array | Uint32Array, minWeight: number, pos: Float32Array, weight: Float32Array, src: Uint8Array, iw: number, ih: number): void {
  const c = new Float64Array(3);
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    const w = weight[p];
    if (w > 0 && w >= minWeight) {
      bilinearRgb(src, iw, ih, pos[3 * p], pos[3 * p + 1], c);
      rgb[3 * i] = c[0];
      rgb[3 * i + 1] = c[1];
      rgb[3 * i + 2] = c[2];
    }
  }
}

/**
 * The left–right lighting gains (see completeUvTexture): per half, the ratio of the mean colours of
 * texels and their mirrors where both are seen well (weight ≥ LIGHTING_WEIGHT), clamped to
 * 0.5..2; left at 1 where too few pairs are seen.
 */
function lightingGains(gains: Float64Array, rgb: Float64Array, faceIndex: Int32Array | Uint32Array, flip: Int32Array | Uint32Array, weight: Float32Array, L: number): void {
  const nv = faceIndex.length;
  const so = new Float64Array(6), sm = new Float64Array(6);
  const pairs = new Float64Array(2);
  for (let i = 0; i < nv; i++) {
    const p = faceIndex[i];
    const j = flip[i];
    const q = faceIndex[j];
    if (p === q || weight[p] < LIGHTING_WEIGHT || weight[q] < LIGHTING_WEIGHT) continue;
    const half = p % L < L / 2 ? 0 : 3;
    so[half] += rgb[3 * i];
    so[half + 1] += rgb[3 * i + 1];
    so[half + 2] += rgb[3 * i + 2];
    sm[half] += rgb[3 * j];
    sm[half + 1] += rgb[3 * j + 1];
    sm[half + 2] += rgb[3 * j + 2];
    pairs[half / 3]++;
  }
  for (let h = 0; h < 2; h++) {
    if (pairs[h] < 0.05 * nv) continue; // too little overlap (a far-turned face) to measure it
    for (let c = 0; c < 3; c++) {
      const k = 3 * h + c;
      const g = sm[k] > 0 ? so[k] / sm[k] : 1;
      gains[k] = g < 0.5 ? 0.5 : g > 2 ? 2 : g;
    }
  }
}

/**
 * Layers 1 and 2 on the layout's own grid (every face texel a vertex, its mirror a vertex too):
 * premultiplied colour own·wOwn + mirror·(1 − wOwn)·wMirror into col, that weight into conf, 255
 * in ownMask where the photo shows the texel, and the face texels counted by main source into
 * counts (own, mirrored, filled).
 */
function layoutGridLayers(
  col: Float32Array, conf: Float32Array, ownMask: Uint8Array, faceS: Uint8Array, counts: Float64Array,
  faceIndex: Int32Array | Uint32Array, flip: Int32Array | Uint32Array, weight: Float32Array, rgb: Float64Array, gains: Float64Array, L: number,
): void {
  let own = 0, mirrored = 0, filled = 0;
  for (let i = 0; i < faceIndex.length; i++) {
    const p = faceIndex[i];
    const j = flip[i];
    const wOwn = weight[p];
    const wMirror = wOwn < 1 ? weight[faceIndex[j]] : 0;
    const rest = (1 - wOwn) * wMirror;
    const cf = wOwn + rest;
    if (cf > 0) {
      // the mirror vertex's colour scaled by this half's gain
      const o = p % L < L / 2 ? 0 : 3;
      for (let c = 0; c < 3; c++) col[3 * p + c] = (wOwn > 0 ? wOwn * rgb[3 * i + c] : 0) + (rest > 0 ? rest * (rgb[3 * j + c] * gains[o + c]) : 0);
      conf[p] = cf;
    }
    if (wOwn > 0) ownMask[p] = 255;
    if (faceS[p]) {
      if (wOwn >= 0.5) own++;
      else if (cf >= 0.5) mirrored++;
      else filled++;
    }
  }
  counts[0] += own;
  counts[1] += mirrored;
  counts[2] += filled;
}

/**
 * Layers 1 and 2 on a texture grid finer than the layout's (S ≠ L): each texel samples the position
 * map, its own weight and its mirror coordinates bilinearly over the face pixels among its 4 layout
 * neighbours, and the photo at those points; region and faceS are marked from the nearest layout
 * texel. Otherwise as layoutGridLayers.
 */
function sampledLayers(
  col: Float32Array, conf: Float32Array, ownMask: Uint8Array, faceS: Uint8Array, region: Uint8Array, counts: Float64Array,
  S: number, L: number, face: Float32Array, marginMask: Uint8Array, weight: Float32Array, mirror: Float32Array,
  pos: Float32Array, src: Uint8Array, iw: number, ih: number, gains: Float64Array,
): void {
  const k = L / S;
  const c0 = new Float64Array(3);
  const c1 = new Float64Array(3);
  // sample(): bilinear over the face pixels among the 4 layout neighbours of (fx, fy):
  // position (sx, sy), own weight (sw), mirror coordinates (smx, smy); false off the face.
  let sx = 0, sy = 0, sw = 0, smx = 0, smy = 0;
  const sample = (fx: number, fy: number, wantMirror: boolean): boolean => {
    const x0 = Math.floor(fx), y0 = Math.floor(fy);
    const ax = fx - x0, ay = fy - y0;
    let ws = 0, px = 0, py = 0, pw = 0, mx = 0, my = 0;
    for (let dy = 0; dy < 2; dy++) {
      const yy = y0 + dy;
      if (yy < 0 || yy >= L) continue;
      const wy = dy ? ay : 1 - ay;
      if (wy === 0) continue;
      for (let dx = 0; dx < 2; dx++) {
        const xx = x0 + dx;
        if (xx < 0 || xx >= L) continue;
        const p = yy * L + xx;
        if (face[p] === 0) continue;
        const w = (dx ? ax : 1 - ax) * wy;
        if (w === 0) continue;
        ws += w;
        px += w * pos[3 * p];
        py += w * pos[3 * p + 1];
        pw += w * weight[p];
        if (wantMirror) {
          mx += w * mirror[2 * p];
          my += w * mirror[2 * p + 1];
        }
      }
    }
    if (ws === 0) return false;
    sx = px / ws;
    sy = py / ws;
    sw = pw / ws;
    smx = mx / ws;
    smy = my / ws;
    return true;
  };
  let own = 0, mirrored = 0, filled = 0;
  for (let j = 0; j < S; j++) {
    const fy = (j + 0.5) * k - 0.5;
    const ny = Math.min(L - 1, Math.max(0, Math.round(fy)));
    for (let i = 0; i < S; i++) {
      const t = j * S + i;
      const fx = (i + 0.5) * k - 0.5;
      const nearest = ny * L + Math.min(L - 1, Math.max(0, Math.round(fx)));
      if (!marginMask[nearest]) continue; // black beyond the margin: nothing to sample
      region[t] = 1;
      if (face[nearest]) faceS[t] = 1;
      if (!sample(fx, fy, true)) continue;
      const wOwn = sw;
      let wMirror = 0;
      if (wOwn > 0) bilinearRgb(src, iw, ih, sx, sy, c0);
      if (wOwn < 1 && sample(smx, smy, false) && sw > 0) {
        wMirror = sw;
        // the mirrored colour, scaled by the gain of the half at layout column fx
        bilinearRgb(src, iw, ih, sx, sy, c1);
        const o = fx < L / 2 ? 0 : 3;
        c1[0] *= gains[o];
        c1[1] *= gains[o + 1];
        c1[2] *= gains[o + 2];
      }
      const rest = (1 - wOwn) * wMirror;
      const cf = wOwn + rest;
      if (cf > 0) {
        // Premultiplied by cf: own·wOwn + mirror·(1 − wOwn)·wMirror.
        for (let c = 0; c < 3; c++) col[3 * t + c] = (wOwn > 0 ? wOwn * c0[c] : 0) + (rest > 0 ? rest * c1[c] : 0);
        conf[t] = cf;
      }
      if (wOwn > 0) ownMask[t] = 255;
      if (faceS[t]) {
        if (wOwn >= 0.5) own++;
        else if (cf >= 0.5) mirrored++;
        else filled++;
      }
    }
  }
  counts[0] += own;
  counts[1] += mirrored;
  counts[2] += filled;
}

/** The filled colours as bytes over the region (rounded, clamped; a face texel never pure black); tex: zeros before. */
function textureBytes(tex: Uint8Array, col: Float32Array, region: Uint8Array, faceS: Uint8Array, N: number): void {
  for (let t = 0; t < N; t++) {
    if (!region[t]) continue;
    for (let c = 0; c < 3; c++) {
      // Math.round, clamped to 0..255: for a Float32 value x, x + 0.5 is exact in a double, so
      // its floor is Math.round(x) (NaN → 0).
      const x = col[3 * t + c];
      tex[3 * t + c] = x >= 254.5 ? 255 : x > 0 ? (x + 0.5) | 0 : 0;
    }
    // A face texel is never written as pure black (it would read as "not seen").
    if (faceS[t] && tex[3 * t] === 0 && tex[3 * t + 1] === 0 && tex[3 * t + 2] === 0) tex[3 * t] = tex[3 * t + 1] = tex[3 * t + 2] = 1;
  }
}

/**
 * Pull-push hole filling in place: `col` (size²×3) premultiplied colours with weights `w` (size²,
 * 0..1). Afterwards every texel has weight 1 and col holds plain colours: texels of weight 1 keep
 * theirs, weight 0 get the smooth interpolation of the surrounding known colours, in between a blend.
 * With no known texel at all, everything becomes mid-grey.
 */
export function pullPush(col: Float32Array, w: Float32Array, size: number): void {
  pullPushWith(col, w, size, (_name, length) => new Float32Array(length));
}

/**
 * pullPush with the pyramid's levels from `level` (arrays of the length asked; any contents);
 * with `keep` (size²), only the texels where it is non-zero are filled at the finest level (the
 * others are left as they are).
 */
function pullPushWith(col: Float32Array, w: Float32Array, size: number, level: (name: string, length: number) => Float32Array, keep?: Uint8Array): void {
  // Pull: a pyramid of premultiplied colours and weights, each level half the side (rounded up).
  const cols: Float32Array[] = [col];
  const ws: Float32Array[] = [w];
  const sides: number[] = [size];
  while (sides[sides.length - 1] > 1) {
    const s = sides[sides.length - 1];
    const h = Math.ceil(s / 2);
    const c = level(`pull c ${h}`, h * h * 3);
    const ww = level(`pull w ${h}`, h * h);
    pullLevel(cols[cols.length - 1], ws[ws.length - 1], s, c, ww, h);
    cols.push(c);
    ws.push(ww);
    sides.push(h);
  }
  // Top (1×1): plain colour, or grey when nothing is known.
  const top = cols[cols.length - 1], tw = ws[ws.length - 1][0];
  for (let c = 0; c < 3; c++) top[c] = tw > 0 ? top[c] / tw : 128;
  // Push: each level's missing weight filled from the (complete) coarser level, bilinearly.
  for (let l = cols.length - 2; l >= 0; l--) pushLevel(cols[l], ws[l], sides[l], cols[l + 1], sides[l + 1], l === 0 && keep ? keep : null);
}

/** One pull step: the side-h level (c, ww) from the side-s level below it (pc, pw). */
function pullLevel(pc: Float32Array, pw: Float32Array, s: number, c: Float32Array, ww: Float32Array, h: number): void {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < h; x++) {
      let sw = 0, r = 0, g = 0, b = 0;
      for (let dy = 0; dy < 2; dy++) {
        const yy = 2 * y + dy;
        if (yy >= s) continue;
        for (let dx = 0; dx < 2; dx++) {
          const xx = 2 * x + dx;
          if (xx >= s) continue;
          const p = yy * s + xx;
          sw += pw[p];
          r += pc[3 * p];
          g += pc[3 * p + 1];
          b += pc[3 * p + 2];
        }
      }
      const q = y * h + x;
      if (sw > 0) {
        // Weight min(1, Σw); colour the weighted mean, stored premultiplied.
        const nw = sw > 1 ? 1 : sw;
        const f = nw / sw;
        ww[q] = nw;
        c[3 * q] = r * f;
        c[3 * q + 1] = g * f;
        c[3 * q + 2] = b * f;
      } else {
        ww[q] = 0;
        c[3 * q] = c[3 * q + 1] = c[3 * q + 2] = 0;
      }
    }
  }
}

/**
 * One push step: the side-s level (c, ww) completed from the complete side-h level above it (up),
 * bilinearly, where its weight is below 1 (and, with keep, only where keep is non-zero).
 */
function pushLevel(c: Float32Array, ww: Float32Array, s: number, up: Float32Array, h: number, keep: Uint8Array | null): void {
  for (let y = 0; y < s; y++) {
    const fy = (y + 0.5) / 2 - 0.5;
    const y0 = Math.max(0, Math.floor(fy)), y1 = Math.min(h - 1, Math.floor(fy) + 1);
    const ay = fy - Math.floor(fy);
    for (let x = 0; x < s; x++) {
      const p = y * s + x;
      const a = ww[p];
      if (a >= 1) continue; // premultiplied at weight 1 = plain
      if (keep && keep[p] === 0) continue;
      const fx = (x + 0.5) / 2 - 0.5;
      const x0 = Math.max(0, Math.floor(fx)), x1 = Math.min(h - 1, Math.floor(fx) + 1);
      const ax = fx - Math.floor(fx);
      const q00 = 3 * (y0 * h + x0), q10 = 3 * (y0 * h + x1), q01 = 3 * (y1 * h + x0), q11 = 3 * (y1 * h + x1);
      const w00 = (1 - ax) * (1 - ay), w10 = ax * (1 - ay), w01 = (1 - ax) * ay, w11 = ax * ay;
      const rest = 1 - a;
      for (let k = 0; k < 3; k++) {
        c[3 * p + k] += rest * (w00 * up[q00 + k] + w10 * up[q10 + k] + w01 * up[q01 + k] + w11 * up[q11 + k]);
      }
      ww[p] = 1;
    }
  }
}

/**
 * Sum over a (2r+1)² window (clamped at the borders) of a side² field (into `out` when given), as
 * running sums along rows, then columns. Exact for fields of whole numbers (the 0/1 masks it is
 * used on): every partial sum is a whole number.
 */
function boxBlur(f: Float32Array, side: number, r: number, out: Float32Array = new Float32Array(f.length), tmp: Float32Array = new Float32Array(f.length)): Float32Array {
  for (let y = 0; y < side; y++) {
    const row = y * side;
    let s = 0;
    for (let x = 0; x < r && x < side; x++) s += f[row + x];
    for (let x = 0; x < side; x++) {
      if (x + r < side) s += f[row + x + r];
      if (x - r - 1 >= 0) s -= f[row + x - r - 1];
      tmp[row + x] = s;
    }
  }
  for (let x = 0; x < side; x++) {
    let s = 0;
    for (let y = 0; y < r && y < side; y++) s += tmp[y * side + x];
    for (let y = 0; y < side; y++) {
      if (y + r < side) s += tmp[(y + r) * side + x];
      if (y - r - 1 >= 0) s -= tmp[(y - r - 1) * side + x];
      out[y * side + x] = s;
    }
  }
  return out;
}

/** A side² 0/1 mask grown by r texels (square neighbourhood). */
function dilate(mask: Float32Array, side: number, r: number): Uint8Array {
  const sum = r > 0 ? boxBlur(mask, side, Math.round(r)) : mask;
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) if (sum[i] > 0) out[i] = 1;
  return out;
}

/**
 * Per-vertex colours (N×3, 0..1) read from a texture at texture coordinates (N×2: u right, v down,
 * 0..1; uvFromFaceIndex), bilinearly between texel centres — the colour a renderer shows at the
 * vertex. For the layout-sized texture and the layout's UVs this is exactly the vertex's texel.
 */
export function sampleTextureAtUv(texture: RgbImage, uv: ArrayLike<number>): Float32Array {
  const { width: w, height: h, data } = texture;
  const n = Math.floor(uv.length / 2);
  const out = new Float32Array(n * 3);
  const s = 1 / 255;
  const rgb = new Float64Array(3);
  for (let i = 0; i < n; i++) {
    const x = uv[2 * i] * w - 0.5;
    const y = uv[2 * i + 1] * h - 0.5;
    if (!(x === x && y === y)) continue;
    if (x === (x | 0) && y === (y | 0) && x >= 0 && y >= 0 && x < w && y < h) {
      // at a texel centre (the layout's UVs on a layout-sized texture): bilinearRgb's value, that texel
      const o = 3 * (y * w + x);
      for (let c = 0; c < 3; c++) out[3 * i + c] = data[o + c] * s;
      continue;
    }
    bilinearRgb(data, w, h, x, y, rgb);
    for (let c = 0; c < 3; c++) out[3 * i + c] = rgb[c] * s;
  }
  return out;
}
