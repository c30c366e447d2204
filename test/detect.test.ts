import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cropFromBox, squareFromLandmarks } from '../src/crop/index.js';
import { createDetector, downscaleToFit, padImage, resizeArea, type Detector } from '../src/detect/index.js';
import { decodeImageFile } from '../src/io/image-node.js';
import type { RgbImage } from '../src/types.js';
import { EVAL_DIR, loadAflw, matchFaces } from '../scripts/compare-detectors.js';

describe('downscaling and padding (pure)', () => {
  it('downscales so the long side fits, keeps a flat colour, and reports the factors back', () => {
    const img: RgbImage = { width: 1000, height: 500, data: new Uint8Array(1000 * 500 * 3).fill(77) };
    const { image, scaleX, scaleY } = downscaleToFit(img, 640);
    expect([image.width, image.height]).toEqual([640, 320]);
    expect(scaleX).toBeCloseTo(1000 / 640, 12);
    expect(scaleY).toBeCloseTo(500 / 320, 12);
    expect(image.data.every((v) => v === 77)).toBe(true);
    expect(downscaleToFit(image, 640).image).toBe(image);
  });

  it('area-averages: a 4×1 image halved gives the means of pixel pairs', () => {
    const img: RgbImage = { width: 4, height: 1, data: new Uint8Array([0, 0, 0, 100, 50, 10, 200, 0, 0, 201, 255, 1]) };
    expect(Array.from(resizeArea(img, 2, 1).data)).toEqual([50, 25, 5, 201, 128, 1]);
  });

  it('pads with black', () => {
    const img: RgbImage = { width: 1, height: 1, data: new Uint8Array([9, 8, 7]) };
    const p = padImage(img, 1);
    expect([p.width, p.height]).toEqual([3, 3]);
    expect(Array.from(p.data.subarray(12, 15))).toEqual([9, 8, 7]);
    expect(p.data.reduce((a, b) => a + b, 0)).toBe(24);
  });
});

describe('default detector on real images', () => {
  let detector: Detector;
  beforeAll(async () => {
    detector = await createDetector();
  });

  it('finds exactly one face in astronaut.png, around her eyes and mouth', async () => {
    const img = await decodeImageFile(join(EVAL_DIR, 'portraits', 'astronaut.png'));
    const faces = await detector.detect(img);
    expect(faces).toHaveLength(1);
    const f = faces[0];
    // Eyes at about (203, 102) and (247, 103), mouth at about (225, 145) (picked by eye).
    expect(f.x).toBeLessThan(195);
    expect(f.x + f.width).toBeGreaterThan(255);
    expect(f.y).toBeLessThan(95);
    expect(f.y + f.height).toBeGreaterThan(150);
    expect(f.width).toBeLessThan(200);
    expect(f.score).toBeGreaterThan(0.5);
  });

  it('returns boxes in the original image pixels when it detects on a downscaled copy', async () => {
    const img = await decodeImageFile(join(EVAL_DIR, 'portraits', 'astronaut.png'));
    // 3× nearest-neighbour enlargement (1536²): detected on a 640² copy, mapped back.
    const big: RgbImage = { width: 1536, height: 1536, data: new Uint8Array(1536 * 1536 * 3) };
    for (let y = 0; y < 1536; y++) {
      for (let x = 0; x < 1536; x++) {
        const s = ((Math.floor(y / 3) * 512) + Math.floor(x / 3)) * 3;
        big.data.set(img.data.subarray(s, s + 3), (y * 1536 + x) * 3);
      }
    }
    const [small] = await detector.detect(img);
    const faces = await detector.detect(big);
    expect(faces).toHaveLength(1);
    const sq = cropFromBox(faces[0], detector.kind).square;
    const ref = cropFromBox(small, detector.kind).square;
    expect(Math.abs(sq.cx - 3 * ref.cx)).toBeLessThan(0.05 * 3 * ref.side);
    expect(Math.abs(sq.cy - 3 * ref.cy)).toBeLessThan(0.05 * 3 * ref.side);
    expect(sq.side / (3 * ref.side)).toBeGreaterThan(0.9);
    expect(sq.side / (3 * ref.side)).toBeLessThan(1.1);
  });

  it('finds all three faces in iBUG 2008_001322.jpg, largest first', async () => {
    const faces = await detector.detect(await decodeImageFile(join(EVAL_DIR, 'ibug68', '2008_001322.jpg')));
    expect(faces).toHaveLength(3);
    for (let i = 1; i < faces.length; i++) expect(faces[i - 1].width * faces[i - 1].height).toBeGreaterThanOrEqual(faces[i].width * faces[i].height);
  });

  it('finds the face of every AFLW2000-3D image (yaw up to 66°), and its crop is close to the 68-landmark crop', async () => {
    for (const s of await loadAflw()) {
      const faces = await detector.detect(await decodeImageFile(s.file));
      expect(faces.length, s.file).toBe(1);
      expect(matchFaces(s.faces, faces)[0], s.file).toBe(0);
      const sq = cropFromBox(faces[0], detector.kind).square;
      const gt = squareFromLandmarks(s.faces[0].points);
      expect(Math.hypot(sq.cx - gt.cx, sq.cy - gt.cy) / gt.side, s.file).toBeLessThan(0.1);
      expect(Math.abs(sq.side / gt.side - 1), s.file).toBeLessThan(0.15);
    }
  });

  it('returns no face for a smooth gradient', async () => {
    const w = 480, h = 360;
    const img: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3) };
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        img.data[o] = (255 * x) / w;
        img.data[o + 1] = (255 * y) / h;
        img.data[o + 2] = 128;
      }
    }
    expect(await detector.detect(img)).toEqual([]);
  });
});
