import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { rgbaToRgbBytes, toRgbImage } from '../src/io/pixels.js';
import { createPrnet, createWebSession, rgbaToRgb } from '../src/browser.js';
import { createPrnet as createNodePrnet } from '../src/pipeline/node.js';
import { InputError } from '../src/errors.js';
import { randomWeights } from '../src/model/weights.js';
import { SMALL_CONFIG } from './helpers/model.js';

const PHOTO = new URL('../../shared/eval/portraits/astronaut.png', import.meta.url).pathname;

/** The byte loop the word-at-a-time conversion replaces. */
function reference(rgba: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(3 * n);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[3 * p + c] = rgba[4 * p + c];
  return out;
}

describe('RGBA → RGB', () => {
  it('gives the byte loop\'s bytes on a real photo, for every pixel count modulo 4 and an unaligned view', async () => {
    const { data, info } = await sharp(PHOTO).resize(161, 97).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const rgba = new Uint8Array(data.buffer, data.byteOffset, data.length);
    expect(info.channels).toBe(4);
    for (const n of [161 * 97, 161 * 97 - 1, 161 * 97 - 2, 161 * 97 - 3, 1, 0]) {
      const copy = rgba.slice(0, 4 * n); // aligned (offset 0)
      expect(rgbaToRgbBytes(copy, n)).toEqual(reference(copy, n));
    }
    // A view at an odd byte offset takes the byte-by-byte path.
    const shifted = new Uint8Array(rgba.length + 1);
    shifted.set(rgba, 1);
    const view = shifted.subarray(1);
    expect(rgbaToRgbBytes(view, 161 * 97)).toEqual(reference(rgba, 161 * 97));
    // Clamped arrays (ImageData) and the library's entry points agree.
    const clamped = new Uint8ClampedArray(rgba);
    expect(rgbaToRgb(clamped, 161, 97).data).toEqual(reference(rgba, 161 * 97));
    expect(toRgbImage({ width: 161, height: 97, data: clamped }).data).toEqual(reference(rgba, 161 * 97));
    // An element-like object (an <img> has a width and a height, no data) is pointed to imageToRgb.
    expect(() => toRgbImage({ width: 161, height: 97, src: 'a.jpg' } as never)).toThrow(/^not an image: expected \{ width, height, data \}.*imageToRgb\(it\) from prnet-ts\/browser gives its pixels\)$/);
    expect(() => toRgbImage({ width: 161, height: 97, data: [1, 2] } as never)).toThrow(/byte array$/);
  });

  it('composites transparency over white, as the file decoder (libvips flatten) does: word and byte paths alike', async () => {
    // A real photo under an alpha ramp: fully transparent left, opaque right, a hard edge between
    // runs of 4 (the word path takes an opaque run as it is, blends the rest pixel by pixel).
    const w = 161;
    const h = 97;
    const { data } = await sharp(PHOTO).resize(w, h).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const rgba = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) {
      const x = p % w;
      rgba.set(data.subarray(3 * p, 3 * p + 3), 4 * p);
      rgba[4 * p + 3] = x < 20 ? 0 : x < 120 ? Math.round(((x - 20) * 255) / 100) : 255;
    }
    const png = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
    const flat = await sharp(png).flatten({ background: '#ffffff' }).removeAlpha().raw().toBuffer();
    const ours = rgbaToRgbBytes(rgba, w * h);
    let off = 0;
    for (let i = 0; i < ours.length; i++) off = Math.max(off, Math.abs(ours[i] - flat[i]));
    expect(off).toBeLessThanOrEqual(1); // rounding of half-way values
    expect(ours[0]).toBe(255); // a hidden colour under alpha 0 is not shown
    expect(Array.from(ours.subarray(3 * (w - 1), 3 * w))).toEqual(Array.from(data.subarray(3 * (w - 1), 3 * w))); // opaque: as stored
    const shifted = new Uint8Array(rgba.length + 1);
    shifted.set(rgba, 1);
    expect(rgbaToRgbBytes(shifted.subarray(1), w * h)).toEqual(ours);
    // The file decoder gives the same picture for the PNG.
    const { decodeImageBuffer } = await import('../src/io/image-node.js');
    const decoded = await decodeImageBuffer(png, 'ramp.png');
    let fileOff = 0;
    for (let i = 0; i < ours.length; i++) fileOff = Math.max(fileOff, Math.abs(ours[i] - decoded.data[i]));
    expect(fileOff).toBeLessThanOrEqual(1);
  });

  it('unflattened, the decoder gives the colours as stored and the alpha plane of the same decode, EXIF orientation applied', async () => {
    const { decodeImageBuffer } = await import('../src/io/image-node.js');
    const w = 5, h = 3;
    const rgba = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) rgba.set([p * 10, 255 - p * 10, p * 3, p * 17], 4 * p);
    // Orientation 6 (turned 90° clockwise to view): 3 wide and 5 high as decoded.
    const webp = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).webp({ lossless: true }).withMetadata({ orientation: 6 }).toBuffer();
    const got = await decodeImageBuffer(webp, 'turned.webp', { flatten: false });
    const want = await sharp(webp).rotate().raw().toBuffer({ resolveWithObject: true });
    expect([got.width, got.height]).toEqual([want.info.width, want.info.height]);
    expect([got.width, got.height]).toEqual([h, w]);
    expect(Array.from(got.alpha!)).toEqual(Array.from({ length: w * h }, (_, i) => want.data[4 * i + 3]));
    expect(Array.from(got.data)).toEqual(Array.from({ length: 3 * w * h }, (_, i) => want.data[4 * Math.floor(i / 3) + (i % 3)]));
    // Flattened (the default) or opaque: no alpha.
    expect((await decodeImageBuffer(webp, 'turned.webp')).alpha).toBeUndefined();
    const opaque = await sharp(Buffer.alloc(12, 9), { raw: { width: 2, height: 2, channels: 3 } }).png().toBuffer();
    expect((await decodeImageBuffer(opaque, 'opaque.png', { flatten: false })).alpha).toBeUndefined();
  });
});

describe('the browser entry\'s session options', () => {
  it('createWebSession refuses threads that are not a whole number ≥ 1, before anything loads (InputError, as in Node)', async () => {
    for (const threads of [NaN, 0, 1.5, -2]) {
      await expect(createWebSession(randomWeights(SMALL_CONFIG, 1), { threads })).rejects.toThrow(/^threads must be a whole number ≥ 1, got /);
      await expect(createWebSession(randomWeights(SMALL_CONFIG, 1), { threads })).rejects.toBeInstanceOf(InputError);
    }
  });
});

describe('the browser entry\'s createPrnet options', () => {
  // Never fetched: each bad option is refused before anything loads (a fetch error would say "cannot fetch").
  const unreachable = 'http://127.0.0.1:1/never.safetensors';
  const base = { modelUrl: unreachable, layoutUrl: unreachable };

  it('refuses a missing or bad option with an InputError naming it, before fetching anything', async () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /^createPrnet needs options: \{ modelUrl, layoutUrl \}/], // was a TypeError
      [{}, /^modelUrl must be a URL \(string or URL\) or the file's bytes/], // was a fetch of /undefined
      [{ ...base, layoutUrl: 42 }, /^layoutUrl must be a URL/],
      [{ ...base, threads: NaN }, /^threads must be a whole number ≥ 1, got NaN$/], // was checked after the downloads
      [{ ...base, precision: 'fp16' }, /precision/],
      [{ ...base, backends: [] }, /^backends must be a non-empty array of 'webgpu' and 'wasm', got \[\]$/],
      [{ ...base, backends: 'wasm' }, /^backends must be a non-empty array/], // was iterated letter by letter
      [{ ...base, backends: ['webgl'] }, /^backends must be/],
      [{ ...base, wasmPaths: '/ort' }, /^wasmPaths must be a folder URL ending in '\/'/], // onnxruntime-web would ask for /ortort-wasm…
      [{ ...base, detector: 'blazeface' }, /^detector must be .*got "blazeface" \(in the browser BlazeFace needs its model file/], // was a TypeError after the model loaded
      [{ ...base, detector: { modelURL: 'x' } }, /^detector must be .*got an object with 'modelURL'$/],
      [{ ...base, detector: { modelUrl: 'x', minScore: 50 } }, /^detector.minScore must be a number from 0.1 to 1, got 50$/], // found nothing, silently
      [{ ...base, detector: { modelUrl: 'x', minScore: 0 } }, /^detector.minScore must be a number from 0.1 to 1, got 0$/], // 273 boxes on a portrait; Node refused it
      [{ ...base, detector: { detect: 1 } }, /^detector.detect must be a function$/],
      [{ ...base, detector: { detect: async () => [] } }, /^detector.kind must name the crop rule its boxes get: 'dlib' \(a box from the brows to the chin\) or 'blazeface', .*got undefined$/], // a TypeError in reconstruct before
      [{ ...base, detector: { detect: async () => [], kind: 'yolo' } }, /^detector.kind must name the crop rule .*got "yolo"$/],
      // a misspelt or Node-only option was silently ignored
      [{ ...base, detecter: false }, /^unknown option 'detecter'; the options are modelUrl, layoutUrl, wasmPaths, backends, threads, precision, detector, orientation$/],
      [{ ...base, orientation: true }, /^orientation must be \{ modelUrl \} \(assets\/detector\/orientation\.safetensors\) or false, got true$/],
      [{ ...base, orientation: { modelUrl: 'o.safetensors' } }, /^orientation turns the crops of detected faces: it needs a detector$/],
      [{ ...base, tiles: false }, /^unknown option 'tiles' \(in the browser: detector: \{ modelUrl, tiles \}\)/],
      // threads without wasmPaths: in a bundled page onnxruntime-web's thread workers never started, and the session never came
      [{ ...base, threads: 2 }, /^threads: 2 needs wasmPaths \(/],
    ];
    for (const [options, re] of cases) {
      const p = createPrnet(options as never);
      await expect(p, JSON.stringify(options)).rejects.toThrow(re);
      await expect(p).rejects.toBeInstanceOf(InputError);
    }
  });

  it('orientation: { modelUrl } turns a portrait upside down upright, as the Node pipeline does; without it the crop stays upside down', async () => {
    const buf = (path: string): ArrayBuffer => { const b = readFileSync(new URL(path, import.meta.url)); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); };
    const options = { modelUrl: buf('../assets/models/prnet-light.safetensors'), layoutUrl: buf('../assets/layout.safetensors'), backends: ['wasm' as const], threads: 1,
      detector: { modelUrl: buf('../assets/detector/blazeface-back-256.onnx') } };
    const [web, plain, node] = await Promise.all([
      createPrnet({ ...options, orientation: { modelUrl: buf('../assets/detector/orientation.safetensors') } }),
      createPrnet(options),
      createNodePrnet({ model: 'light', threads: 1 }), // (on by default with a bundled model)
    ]);
    try {
      const { data, info } = await sharp(new URL('../../shared/eval/portraits/bjork.jpg', import.meta.url).pathname).rotate(180).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const down = { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
      const [w] = (await web.reconstruct(down, { maxFaces: 1 })).faces;
      const [n] = (await node.reconstruct(down, { maxFaces: 1 })).faces;
      const [p] = (await plain.reconstruct(down, { maxFaces: 1 })).faces;
      // turned by about 180°, as in Node
      expect(Math.abs(Math.abs(w!.crop.square.angle ?? 0) - Math.PI)).toBeLessThan(0.35);
      expect(Math.abs(p!.crop.square.angle ?? 0)).toBeLessThan(0.35);
      const apart = (a: Float32Array, b: Float32Array): number => {
        let e = 0;
        for (let i = 0; i < 68; i++) e += Math.hypot(a[3 * i] - b[3 * i], a[3 * i + 1] - b[3 * i + 1]);
        return e / 68;
      };
      const side = w!.crop.square.side;
      expect(apart(w!.landmarks, n!.landmarks) / side).toBeLessThan(0.01); // the same pipeline on another runtime
      // upside down in the image: its eyes below its mouth (the crop left upright draws them above)
      const eyesY = (l: Float32Array) => (l[3 * 36 + 1] + l[3 * 45 + 1]) / 2, mouthY = (l: Float32Array) => l[3 * 62 + 1];
      expect(eyesY(w!.landmarks)).toBeGreaterThan(mouthY(w!.landmarks));
      expect(apart(p!.landmarks, n!.landmarks) / side).toBeGreaterThan(0.1);
    } finally {
      await Promise.all([web.dispose(), plain.dispose(), node.dispose()]);
    }
  });

  it('takes the files as ArrayBuffers, and refuses what is not an image in one line', async () => {
    const buf = (path: string): ArrayBuffer => { const b = readFileSync(new URL(path, import.meta.url)); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); };
    const prnet = await createPrnet({ modelUrl: buf('../assets/models/prnet-light.safetensors'), layoutUrl: buf('../assets/layout.safetensors'), backends: ['wasm'], threads: 1 });
    try {
      expect(prnet.modelMetadata.name).toMatch(/light/);
      await expect(prnet.reconstruct(null as never)).rejects.toThrow(/^not an image: expected an <img>, .* got null$/);
      await expect(prnet.reconstruct('face.jpg' as never)).rejects.toThrow(/got string \(load a URL into an <img> or fetch → createImageBitmap first\)$/);
      await expect(prnet.detect(undefined as never)).rejects.toBeInstanceOf(InputError);
      // pixels as floats (0..1): was a TypeError from drawImage
      await expect(prnet.reconstruct({ width: 2, height: 2, data: new Float32Array(12) } as never)).rejects.toThrow(/^not an image: \{ width, height, data \} needs data as bytes \(Uint8Array or Uint8ClampedArray, 0\.\.255\), got Float32Array$/);
      expect(() => rgbaToRgb(new Uint8Array(16), -2, -2)).toThrow(/^the width and height must be whole numbers > 0, got -2 × -2$/);
      // and it runs: a blank frame has no face (no detector: boxes given)
      const r = await prnet.reconstruct({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) }, { boxes: [{ x: 8, y: 8, width: 48, height: 48, score: 1 }] });
      expect(r.faces).toHaveLength(1);
    } finally {
      await prnet.dispose();
    }
  });

  it('a URL the server answers with its index page (status 200, HTML) is said as such, naming the URL; a bad layout file names its URL', async () => {
    const { createServer } = await import('node:http');
    const layout = readFileSync(new URL('../assets/layout.safetensors', import.meta.url));
    // A single-page host: every unknown path is the app's index.html, status 200.
    const server = createServer((req, res) => {
      if (req.url === '/layout.safetensors') return void res.end(layout);
      if (req.url === '/bad-layout.safetensors') return void res.end(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
      const html = req.url === '/no-type' ? '\n  <!DOCTYPE html><html></html>' : '<!doctype html><html><body>app</body></html>';
      res.writeHead(200, req.url === '/no-type' ? {} : { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const at = (path: string) => `http://127.0.0.1:${(server.address() as { port: number }).port}${path}`;
    try {
      for (const [options, re] of [
        [{ modelUrl: at('/models/nope.safetensors'), layoutUrl: at('/layout.safetensors') }, /^http:.*\/models\/nope\.safetensors: the server sent an HTML page, not the model file: a wrong URL\?/],
        [{ modelUrl: at('/no-type'), layoutUrl: at('/layout.safetensors') }, /^http:.*\/no-type: the server sent an HTML page, not the model file/],
        [{ modelUrl: new Uint8Array(8), layoutUrl: at('/nope/layout.safetensors') }, /^http:.*\/nope\/layout\.safetensors: the server sent an HTML page, not the layout file/],
      ] as const) {
        await expect(createPrnet(options), options.layoutUrl).rejects.toThrow(re);
      }
      const light = new Uint8Array(readFileSync(new URL('../assets/models/prnet-light.safetensors', import.meta.url)));
      await expect(createPrnet({ modelUrl: light, layoutUrl: at('/bad-layout.safetensors'), backends: ['wasm'], threads: 1 })).rejects.toThrow(/^http:.*\/bad-layout\.safetensors: /);
    } finally {
      server.close();
    }
  });
});
