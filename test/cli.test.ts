/**
 * The `prnet` command, run as a process on real photos with a small random-weight model: the
 * outputs it writes (and only those asked for), batches, face limits, user boxes, checkpoint
 * import, texture swap, help and version. With random weights the geometry is meaningless, so the
 * checks are on structure: files, counts, sizes, frames, and agreement between formats.
 */
import { copyFile, lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileIdentities, removeFacesBeyond } from '../src/cli/atomic.js';
import { OUTPUT_IMAGE_NAME, uniqueStems } from '../src/cli/inputs.js';
import { FACE_FILE_SUFFIXES, faceFileBase, IMAGE_FILE_SUFFIXES } from '../src/pipeline/outputs.js';
import sharp from 'sharp';
import { LoadingManager } from 'three';
import { MTLLoader } from 'three/addons/loaders/MTLLoader.js';
import { OBJLoader } from 'three/addons/loaders/OBJLoader.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFile, tfShapeOf, resfcnTensorSpecs, transposeKernel } from '../src/model/index.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { createDetector, iou as iouOf } from '../src/detect/index.js';
import { createPrnet } from '../src/pipeline/node.js';
import { suspectFace } from '../src/pipeline/quality.js';
import { packageVersion } from '../src/util/version.js';
import { writeSyntheticCheckpoint } from './helpers/checkpoint.js';
import { runCli, spawnCli, withoutSuspect, type CliResult } from './helpers/cli.js';
import { runMain } from './helpers/main-inprocess.js';
import { gradientPng, pngSize } from './helpers/images.js';
import { parseGlb, parseObj, parsePly } from './helpers/meshes.js';
import { SMALL_CONFIG, testModelPath } from './helpers/model.js';
import { AFLW_PHOTO, ASTRONAUT, EVAL, GROUP_PHOTO, REPO, SHARED } from './helpers/paths.js';
import { leftoverTempFiles, listFiles, TempDirs } from './helpers/tmp.js';

const VERTICES = 43867;
const dirs = new TempDirs('prnet-cli-');
let model: string;

beforeAll(async () => {
  model = await testModelPath();
});
afterAll(() => dirs.cleanup());

interface FaceJson {
  index: number;
  box: { x: number; y: number; width: number; height: number; score: number };
  crop: { centerX: number; centerY: number; side: number; scale: number; angle: number };
  landmarks: { '2d': number[][]; '3d': number[][] };
  pose: { yaw: number; pitch: number; roll: number; rotation: number[][]; scale: number; translation: number[]; convention: string };
  flipDisagreement?: number;
  keypointDisagreement?: number;
  suspect?: boolean;
  inImage: number;
  vertexCount: number;
  triangleCount: number;
  mesh: { units: string; unitsPerPixel: number; origin: number[] | null };
  image: { file?: string; width: number; height: number };
  producer: { prnet: string; model: string; precision: string; flip: boolean; smooth: number };
}

async function readJson(path: string): Promise<FaceJson> {
  return JSON.parse(await readFile(path, 'utf8')) as FaceJson;
}

async function reconstruct(args: string[]): Promise<{ out: string; r: CliResult; files: string[] }> {
  const out = await dirs.make('out');
  const r = withoutSuspect(await runCli(['reconstruct', ...args, '--out', out, '--model', model]));
  return { out, r, files: await listFiles(out) };
}

const ALL_FILES = [
  'astronaut_depth.png', 'astronaut_face0.glb', 'astronaut_face0.json', 'astronaut_face0.obj', 'astronaut_face0.ply',
  'astronaut_face0_texture.png', 'astronaut_face0_textured.mtl', 'astronaut_face0_textured.obj',
  'astronaut_landmarks.png', 'astronaut_mesh.png', 'astronaut_pose.png',
];

describe('prnet reconstruct <one image>', () => {
  let out: string;
  let r: CliResult;
  let files: string[];
  let json: FaceJson;

  beforeAll(async () => {
    ({ out, r, files } = await reconstruct([ASTRONAUT]));
    json = await readJson(join(out, 'astronaut_face0.json'));
  });

  it('writes every output for the one face, says so on one line, leaves no temporary files', async () => {
    expect(r.code, r.stderr).toBe(0);
    expect(files).toEqual(ALL_FILES);
    expect(r.errLines).toEqual([`${ASTRONAUT}: 1 face, 11 files written to ${out}`]);
    expect(r.stdout).toBe('');
    expect(await leftoverTempFiles(out)).toEqual([]);
  });

  it('JSON: box, crop, 68 landmarks in 2D and 3D in the image frame, pose, counts, the photo it describes', () => {
    expect(json.index).toBe(0);
    expect(json.image).toEqual({ file: basename(ASTRONAUT), width: 512, height: 512 });
    // what made it: the model file by name, its precision, the default test-time options
    expect(json.producer).toEqual({ prnet: packageVersion(), model: basename(model), precision: 'fp32', flip: true, smooth: 256 / SMALL_CONFIG.inputSize });
    const { box } = json;
    expect(box.score).toBeGreaterThan(0.5);
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(512);
    expect(box.y + box.height).toBeLessThanOrEqual(512);
    expect(json.landmarks['2d']).toHaveLength(68);
    expect(json.landmarks['3d']).toHaveLength(68);
    json.landmarks['2d'].forEach((p, i) => {
      expect(p).toHaveLength(2);
      expect(json.landmarks['3d'][i]).toHaveLength(3);
      expect(json.landmarks['3d'][i].slice(0, 2)).toEqual(p);
    });
    // The network's output is sigmoid × 281.6 crop pixels: in the image, within 1.1 crop sides of the crop's corner.
    const { centerX, centerY, side } = json.crop;
    for (const [x, y, z] of json.landmarks['3d']) {
      expect(x).toBeGreaterThanOrEqual(centerX - side / 2 - 1);
      expect(x).toBeLessThanOrEqual(centerX - side / 2 + 1.1 * side + 1);
      expect(y).toBeGreaterThanOrEqual(centerY - side / 2 - 1);
      expect(y).toBeLessThanOrEqual(centerY - side / 2 + 1.1 * side + 1);
      expect(Number.isFinite(z)).toBe(true);
    }
    for (const k of ['yaw', 'pitch', 'roll', 'scale'] as const) expect(Number.isFinite(json.pose[k]), k).toBe(true);
    expect(json.pose.rotation.flat()).toHaveLength(9);
    expect(json.pose.translation).toHaveLength(3);
    expect(json.pose.convention).toMatch(/degrees/);
    expect(json.vertexCount).toBe(VERTICES);
    expect(json.triangleCount).toBeGreaterThan(80_000);
    // test-time flip is on by default: the direct and mirrored predictions' disagreement is written
    expect(json.flipDisagreement).toBeGreaterThanOrEqual(0);
    // and BlazeFace's keypoints against the reconstruction's (the test model's random weights put
    // its landmarks anywhere: the value is written, not meaningful; the bundled models' in
    // model-quality.test.ts)
    expect(json.keypointDisagreement).toBeGreaterThan(0);
    expect(Number.isFinite(json.keypointDisagreement)).toBe(true);
    // and the verdict of the two (random weights: whatever they say, the field agrees with them)
    expect(json.suspect).toBe(suspectFace(json));
    // the whole face is in the photo
    expect(json.inImage).toBe(1);
  });

  it('OBJ, PLY and GLB parse back to the same 43,867 vertices and triangles', async () => {
    const obj = parseObj(await readFile(join(out, 'astronaut_face0.obj'), 'utf8'));
    const ply = parsePly(await readFile(join(out, 'astronaut_face0.ply')));
    const glb = parseGlb(await readFile(join(out, 'astronaut_face0.glb')));
    for (const [name, m] of [['obj', obj], ['ply', ply], ['glb', glb]] as const) {
      expect(m.positions.length / 3, name).toBe(VERTICES);
      expect(m.triangles.length / 3, name).toBe(json.triangleCount);
      expect(m.triangles.reduce((a, b) => Math.max(a, b), 0), name).toBeLessThan(VERTICES);
      // Vertex colours in OBJ and PLY; the GLB has its texture only (glTF multiplies COLOR_0 into it).
      expect(m.colorComponents, name).toBe(name === 'glb' ? 0 : 3);
      expect(m.positions.every(Number.isFinite), name).toBe(true);
    }
    // OBJ and PLY in the JSON's mesh units, GLB in metres when those are millimetres.
    const glbScale = json.mesh.units === 'mm' ? 1000 : 1;
    for (let i = 0; i < obj.positions.length; i += 3 * 101) {
      for (let c = 0; c < 3; c++) {
        expect(Math.abs(ply.positions[i + c] - obj.positions[i + c])).toBeLessThan(1e-3);
        expect(Math.abs(glb.positions[i + c] * glbScale - obj.positions[i + c])).toBeLessThan(1e-3);
      }
    }
    expect(Array.from(ply.triangles.subarray(0, 300))).toEqual(Array.from(obj.triangles.subarray(0, 300)));
    expect(Array.from(glb.triangles.subarray(0, 300))).toEqual(Array.from(obj.triangles.subarray(0, 300)));
    // The mesh files are y-up and centred by default: p = s·(x − ox, oy − y, z − oz). The nose tip (landmark 30) is a vertex of the mesh.
    const [nx, ny, nz] = json.landmarks['3d'][30];
    const s = json.mesh.unitsPerPixel;
    const [ox, oy, oz] = json.mesh.origin!;
    let best = Infinity;
    for (let i = 0; i < obj.positions.length; i += 3) {
      best = Math.min(best, Math.hypot(obj.positions[i] - s * (nx - ox), obj.positions[i + 1] - s * (oy - ny), obj.positions[i + 2] - s * (nz - oz)));
    }
    // The JSON's landmarks and origin are rounded to 3 decimals (±0.0005 px each, per axis): up to
    // √3 · 0.001 px apart in 3D, times s (the random test model's faces are ~2,000 mm per pixel).
    expect(best).toBeLessThan(0.002 + Math.sqrt(3) * 0.001 * s);
  });

  it('textured OBJ: UV per vertex, its MTL names the 256×256 texture PNG', async () => {
    const obj = parseObj(await readFile(join(out, 'astronaut_face0_textured.obj'), 'utf8'));
    expect(obj.positions.length / 3).toBe(VERTICES);
    expect(obj.uvCount).toBe(VERTICES);
    expect(obj.texturedFaces).toBe(json.triangleCount);
    expect(obj.mtllib).toBe('astronaut_face0_textured.mtl');
    const mtl = await readFile(join(out, 'astronaut_face0_textured.mtl'), 'utf8');
    expect(mtl).toMatch(/^map_Kd astronaut_face0_texture\.png$/m);
    expect(pngSize(await readFile(join(out, 'astronaut_face0_texture.png')))).toEqual({ width: 256, height: 256 });
  });

  it('depth and overlays are PNGs of the image size', async () => {
    for (const f of ['astronaut_depth.png', 'astronaut_landmarks.png', 'astronaut_pose.png', 'astronaut_mesh.png']) {
      expect(pngSize(await readFile(join(out, f))), f).toEqual({ width: 512, height: 512 });
    }
  });
});

describe('prnet reconstruct options', () => {
  it('--formats json,glb writes only those', async () => {
    const { r, files } = await reconstruct([ASTRONAUT, '--formats', 'json,glb']);
    expect(r.code, r.stderr).toBe(0);
    expect(files).toEqual(['astronaut_face0.glb', 'astronaut_face0.json']);
  });

  it('--units px --no-center: mesh files in image pixels, y flipped; --texture-size 512: a 512² texture in the GLB', async () => {
    const { out, r, files } = await reconstruct([ASTRONAUT, '--formats', 'json,obj,glb,textured', '--units', 'px', '--no-center', '--texture-size', '512']);
    expect(r.code, r.stderr).toBe(0);
    expect(files).toContain('astronaut_face0_texture.png');
    const json = await readJson(join(out, 'astronaut_face0.json'));
    expect(json.mesh).toMatchObject({ units: 'px', unitsPerPixel: 1, origin: null });
    const obj = parseObj(await readFile(join(out, 'astronaut_face0.obj'), 'utf8'));
    const glb = parseGlb(await readFile(join(out, 'astronaut_face0.glb')));
    const [nx, ny] = json.landmarks['3d'][30];
    let best = Infinity;
    for (let i = 0; i < obj.positions.length; i += 3) best = Math.min(best, Math.hypot(obj.positions[i] - nx, obj.positions[i + 1] - (511 - ny)));
    expect(best).toBeLessThan(0.002);
    expect(Math.abs(glb.positions[0] - obj.positions[0])).toBeLessThan(1e-3);
    expect(pngSize(await readFile(join(out, 'astronaut_face0_texture.png')))).toEqual({ width: 512, height: 512 });
  });

  it('--no-flip and --smooth σ reach the pipeline: the landmarks are the library\'s for those options; a bad σ is exit 2', async () => {
    const prnet = await createPrnet({ model });
    const image = await decodeImageFile(ASTRONAUT);
    const seen: number[][][] = [];
    try {
      for (const [args, options] of [[[], {}], [['--no-flip'], { flip: false }], [['--smooth', '0'], { smooth: 0 }]] as const) {
        const { out, r } = await reconstruct([ASTRONAUT, '--formats', 'json', '--quiet', ...args]);
        expect(r.code, r.stderr).toBe(0);
        const cli = (await readJson(join(out, 'astronaut_face0.json'))).landmarks['3d'];
        const lib = (await prnet.reconstruct(image, options)).faces[0].landmarks;
        let worst = 0;
        cli.forEach((p, i) => p.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - lib[3 * i + k])))));
        expect(worst, args.join(' ')).toBeLessThan(0.01);
        seen.push(cli);
      }
    } finally {
      await prnet.dispose();
    }
    // Each option changed the result (so the checks above could fail).
    const moved = (a: number[][], b: number[][]): number => Math.max(...a.map((p, i) => Math.hypot(p[0] - b[i][0], p[1] - b[i][1])));
    expect(moved(seen[0], seen[1])).toBeGreaterThan(0.01);
    expect(moved(seen[0], seen[2])).toBeGreaterThan(0.01);
    for (const bad of ['9', '-1', 'abc']) {
      const { r, files } = await reconstruct([ASTRONAUT, '--formats', 'json', `--smooth=${bad}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--smooth must be a number from 0 to 8 (UV pixels), got '${bad}'`);
      expect(files).toEqual([]);
    }
  });

  it('--no-ply skips the PLY only', async () => {
    const { r, files } = await reconstruct([ASTRONAUT, '--no-ply', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(files).toEqual(ALL_FILES.filter((f) => !f.endsWith('.ply')));
  });

  it('an animated GIF: its first frame is read, and the line says so and points to prnet video', async () => {
    const dir = await dirs.make('gif');
    const face = await sharp(ASTRONAUT).resize(256, 256).png().toBuffer();
    const grey = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#808080' } }).png().toBuffer();
    await sharp([face, grey], { join: { animated: true } }).gif().toFile(join(dir, 'face-first.gif'));
    await sharp([grey, face], { join: { animated: true } }).gif().toFile(join(dir, 'grey-first.gif'));
    expect((await decodeImageFile(join(dir, 'face-first.gif'))).frames).toBe(2);
    expect((await decodeImageFile(ASTRONAUT)).frames).toBeUndefined();
    const first = await reconstruct([join(dir, 'face-first.gif'), '--formats', 'json']);
    expect(first.r.code, first.r.stderr).toBe(0);
    expect(first.r.errLines).toEqual([`${join(dir, 'face-first.gif')}: 1 face in the first of its 2 frames (prnet video reads every frame), 1 file written to ${first.out}`]);
    expect(first.files).toEqual(['face-first_face0.json']);
    const { r } = await reconstruct([join(dir, 'grey-first.gif'), '--formats', 'json']);
    expect(r.code).toBe(1);
    expect(r.errLines).toEqual([`prnet: ${join(dir, 'grey-first.gif')}: no face found in the first of its 2 frames (prnet video reads every frame)`]);
    // An animated WebP: not pointed to prnet video (Debian's ffmpeg 5.1 cannot decode one).
    await sharp([face, grey], { join: { animated: true } }).webp().toFile(join(dir, 'face-first.webp'));
    const webp = await reconstruct([join(dir, 'face-first.webp'), '--formats', 'json']);
    expect(webp.r.errLines).toEqual([`${join(dir, 'face-first.webp')}: 1 face in the first of its 2 frames, 1 file written to ${webp.out}`]);
    // In a run of several images (no line per image) the summary says it.
    const both = await reconstruct([join(dir, 'face-first.gif'), ASTRONAUT, '--formats', 'json']);
    expect(both.r.code, both.r.stderr).toBe(0);
    expect(both.r.errLines.slice(-2)).toEqual([`2 images: 2 done (2 faces, 2 files in ${both.out}), 0 failed`, `  read: ${join(dir, 'face-first.gif')}: only the first of its 2 frames (prnet video reads every frame)`]);
  });

  it('--box x,y,w,h uses that box: no detection (a face-free image works), the crop follows the box', async () => {
    const dir = await dirs.make('box');
    const image = join(dir, 'gradient.png');
    await writeFile(image, await gradientPng(400, 300));
    const { out, r, files } = await reconstruct([image, '--box', '120,60,100,110', '--formats', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(files).toEqual(['gradient_face0.json']);
    const json = await readJson(join(out, 'gradient_face0.json'));
    expect(json.box).toEqual({ x: 120, y: 60, width: 100, height: 110, score: 1 });
    // The user-box rule (as the original's dlib rule): centre 0.14 mean sides below the box's centre, side 1.58 mean sides.
    expect(json.crop.centerX).toBeCloseTo(170, 2);
    expect(json.crop.centerY).toBeCloseTo(115 + 0.14 * 105, 2);
    expect(json.crop.side).toBeCloseTo(1.58 * 105, 2);
  });

  it('--crop cx,cy,side,angle: the JSON\'s crop of an earlier run gives that run\'s face again, also a turned crop', async () => {
    const dir = await dirs.make('crop');
    // The portrait turned by 35°: the detector's crop turns with it (angle ≠ 0).
    const turned = join(dir, 'turned.png');
    await sharp(ASTRONAUT).rotate(35, { background: '#808080' }).png().toFile(turned);
    for (const image of [ASTRONAUT, turned]) {
      const stem = basename(image, '.png');
      const first = await reconstruct([image, '--formats', 'json']);
      expect(first.r.code, first.r.stderr).toBe(0);
      const a = await readJson(join(first.out, `${stem}_face0.json`));
      const again = await reconstruct([image, '--formats', 'json', '--crop', [a.crop.centerX, a.crop.centerY, a.crop.side, a.crop.angle].join(',')]);
      expect(again.r.code, again.r.stderr).toBe(0);
      const b = await readJson(join(again.out, `${stem}_face0.json`));
      expect(b.crop).toEqual(a.crop);
      if (image === turned) expect(Math.abs(a.crop.angle)).toBeGreaterThan(20);
      // The JSON's 3 decimals move the crop by < 0.001 px: the same face to ~0.01 px (this fp32 model).
      let worst = 0;
      a.landmarks['3d'].forEach((p, i) => p.forEach((v, c) => (worst = Math.max(worst, Math.abs(v - b.landmarks['3d'][i][c])))));
      expect(worst).toBeLessThan(0.02);
    }
  });

  it('says which sub-folders of a folder are not searched (a folder named like an image is one of them, not a failed image)', async () => {
    const dir = await dirs.make('subfolders');
    await mkdir(join(dir, 'more'), { recursive: true });
    await mkdir(join(dir, 'album.jpg'), { recursive: true });
    await copyFile(ASTRONAUT, join(dir, 'more', 'hidden.png'));
    await copyFile(ASTRONAUT, join(dir, 'astronaut.png'));
    const { r, files } = await reconstruct([dir, '--formats', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(': 2 sub-folders are not searched: album.jpg, more (name them to include their images)');
    expect(files).toEqual(['astronaut_face0.json']);
  });

  it('reads .jfif and .jpe JPEGs of a folder, and says how many files it leaves out for their names', async () => {
    const dir = await dirs.make('other-names');
    const jpeg = await sharp(ASTRONAUT).removeAlpha().jpeg().toBuffer();
    await writeFile(join(dir, 'saved.jfif'), jpeg);
    await writeFile(join(dir, 'old.JPE'), jpeg);
    await writeFile(join(dir, 'download'), jpeg);
    await writeFile(join(dir, 'notes.txt'), 'not a photo');
    const { r, files } = await reconstruct([dir, '--formats', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(files.filter((f) => f.endsWith('.json')).sort()).toEqual(['old_face0.json', 'saved_face0.json']);
    expect(r.stderr).toContain(': 2 files not named as images are left out (1 .txt, 1 without an extension): name a file itself to read it anyway');
  });

  it('finds the small faces of a large photo (tiles); --no-tiles leaves them', async () => {
    const dir = await dirs.make('tiles');
    const small = await sharp(ASTRONAUT).removeAlpha().resize(384, 384).png().toBuffer();
    const image = join(dir, 'crowd.jpg');
    await sharp({ create: { width: 3072, height: 3072, channels: 3, background: { r: 120, g: 120, b: 120 } } })
      .composite(Array.from({ length: 16 }, (_, i) => ({ input: small, left: (i % 4) * 768 + 192, top: Math.floor(i / 4) * 768 + 192 })))
      .jpeg({ quality: 92 }).toFile(image);
    const tiled = await reconstruct([image, '--formats', 'json']);
    expect(tiled.r.code, tiled.r.stderr).toBe(0);
    expect(tiled.files.filter((f) => f.endsWith('.json'))).toHaveLength(16);
    const plain = await reconstruct([image, '--formats', 'json', '--no-tiles']);
    expect(plain.files.filter((f) => f.endsWith('.json')).length).toBeLessThanOrEqual(4);
  });

  it('a 108-megapixel photo (a phone\'s) is refused at the default limit with the way on, and read with --max-pixels', async () => {
    const dir = await dirs.make('max-pixels');
    const image = join(dir, 'phone.jpg');
    const face = await sharp(ASTRONAUT).removeAlpha().resize(9000, 9000).jpeg().toBuffer();
    await sharp({ create: { width: 12000, height: 9000, channels: 3, background: { r: 120, g: 120, b: 120 } } })
      .composite([{ input: face, left: 1500, top: 0 }]).jpeg({ quality: 80 }).toFile(image);
    const refused = await reconstruct([image, '--formats', 'json']);
    expect([refused.r.code, refused.r.errLines]).toEqual([1, [`prnet: ${image}: image is 12000×9000 = 108 megapixels, above the limit of 100 megapixels (--max-pixels n raises it)`]]);
    const read = await reconstruct([image, '--formats', 'json', '--max-pixels', '120000000']);
    expect(read.r.code, read.r.stderr).toBe(0);
    expect(read.files).toEqual(['phone_face0.json']);
  });

  it('--min-score 0.3 finds the faces of a contact sheet that BlazeFace scores under 0.5, each one a face found when its cell is alone', async () => {
    // 24 real photos (the portraits, then WebFaces photos with their background) in 200 px cells:
    // in the sheet BlazeFace scores some faces lower than alone.
    const photos = [
      ...(await readdir(join(EVAL, 'portraits'))).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(EVAL, 'portraits', f)),
      ...(await readdir(join(SHARED, 'faces/webfaces'))).filter((f) => f.endsWith('.jpg')).sort().slice(0, 11).map((f) => join(SHARED, 'faces/webfaces', f)),
    ];
    expect(photos).toHaveLength(24);
    const cell = 200, cols = 6, width = cols * cell, height = 4 * cell;
    const cells = await Promise.all(photos.map((p) => sharp(p).resize(cell, cell, { fit: 'cover' }).toBuffer()));
    const sheet = (only?: number) => sharp({ create: { width, height, channels: 3, background: '#777' } })
      .composite(cells.flatMap((input, i) => (only === undefined || only === i ? [{ input, left: (i % cols) * cell, top: Math.floor(i / cols) * cell }] : [])));
    const dir = await dirs.make('min-score');
    const image = join(dir, 'sheet.jpg');
    await sheet().jpeg({ quality: 90 }).toFile(image);
    const boxes = async (args: string[]) => {
      const { out, r, files } = await reconstruct([image, '--formats', 'json', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return Promise.all(files.filter((f) => f.endsWith('.json')).map(async (f) => (await readJson(join(out, f))).box));
    };
    const plain = await boxes([]);
    const low = await boxes(['--min-score', '0.3']);
    expect(plain.every((b) => b.score >= 0.5)).toBe(true);
    const extra = low.filter((b) => !plain.some((p) => iouOf(p, b) >= 0.5));
    expect(extra.length).toBeGreaterThanOrEqual(2);
    // (scored 0.3–0.5 by the whole look, so the default cut never looks at them closer; their
    // closer look at 0.3 can score them higher: REFINE_BELOW, docs/detectors.md)
    // the faces found at 0.5 are found at 0.3 too
    expect(plain.every((p) => low.some((b) => iouOf(p, b) >= 0.5))).toBe(true);
    // each added box is a face: its cell, alone on the same canvas, has a face there at the default cut
    const detector = await createDetector();
    try {
      for (const b of extra) {
        const i = Math.floor((b.y + b.height / 2) / cell) * cols + Math.floor((b.x + b.width / 2) / cell);
        const { data, info } = await sheet(i).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const alone = await detector.detect({ width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) });
        expect(alone.some((a) => a.score >= 0.5 && iouOf(a, b) >= 0.4), `cell ${i}`).toBe(true);
      }
    } finally {
      await detector.release?.();
    }
    // and a higher cut keeps fewer, all of them over it (0.9: the 200-pixel cells' faces, looked
    // at closer, score 0.81–0.96)
    const sure = await boxes(['--min-score', '0.9']);
    const key = (b: { x: number; y: number }): string => `${Math.round(b.x)},${Math.round(b.y)}`;
    expect(sure.length).toBeGreaterThan(0);
    expect(sure.length).toBeLessThan(plain.length);
    // exactly the default's boxes scored 0.9 or more
    expect(sure.map(key).sort()).toEqual(plain.filter((b) => b.score >= 0.9).map(key).sort());
  });

  describe('a folder of several images', () => {
    let out: string;
    let r: CliResult;
    let files: string[];

    beforeAll(async () => {
      const dir = await dirs.make('folder');
      await Promise.all([copyFile(ASTRONAUT, join(dir, 'astronaut.png')), copyFile(GROUP_PHOTO, join(dir, 'group.jpg')), writeFile(join(dir, 'notes.txt'), 'not an image')]);
      ({ out, r, files } = await reconstruct([dir, '--formats', 'json']));
    });

    it('writes each image\'s faces and prints a summary', () => {
      expect(r.code, r.stderr).toBe(0);
      expect(files).toEqual(['.prnet-done.jsonl', 'astronaut_face0.json', 'group_face0.json', 'group_face1.json', 'group_face2.json']);
      expect(r.stderr).toContain(`2 images: 2 done (4 faces, 4 files in ${out}), 0 failed`);
      expect(r.errLines.some((l) => l.startsWith('reconstruct ') && l.includes('2/2'))).toBe(true);
    });

    it('same-named inputs get their own files: x-2.jpg, x.jpg, x.png → x-2, x, x-3 (none overwrites another)', async () => {
      const dir = await dirs.make('same-names');
      await Promise.all([copyFile(ASTRONAUT, join(dir, 'x.png')), copyFile(AFLW_PHOTO, join(dir, 'x.jpg')), copyFile(GROUP_PHOTO, join(dir, 'x-2.jpg'))]);
      const same = await reconstruct([dir, '--formats', 'json', '--max-faces', '1']);
      expect(same.r.code, same.r.stderr).toBe(0);
      expect(same.files).toEqual(['.prnet-done.jsonl', 'x-2_face0.json', 'x-3_face0.json', 'x_face0.json']);
      expect(same.r.stderr).toContain(`3 images: 3 done (3 faces, 3 files in ${same.out}), 0 failed`);
      // Each file is its own image's: its box is the largest face the detector finds in that image.
      const detector = await createDetector();
      for (const [stem, photo] of [['x-2', GROUP_PHOTO], ['x', AFLW_PHOTO], ['x-3', ASTRONAUT]] as const) {
        const [largest] = await detector.detect(await decodeImageFile(photo));
        const { box } = await readJson(join(same.out, `${stem}_face0.json`));
        expect(box.x, stem).toBeCloseTo(largest.x, 1);
        expect(box.width, stem).toBeCloseTo(largest.width, 1);
      }
      await detector.release?.();
    });

    it('--resume skips what an earlier run finished with the same options; a changed photo, a lost file, other options are done again', async () => {
      const dir = await dirs.make('resume');
      const photos = { a: ASTRONAUT, b: AFLW_PHOTO, c: GROUP_PHOTO };
      await Promise.all(Object.entries(photos).map(([n, p]) => copyFile(p, join(dir, `${n}${p.slice(p.lastIndexOf('.'))}`))));
      const first = await reconstruct([dir, '--formats', 'json,ply', '--max-faces', '1']);
      expect(first.r.code, first.r.stderr).toBe(0);
      const record = (await readFile(join(first.out, '.prnet-done.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { input: string; stem: string; files: { path: string; size: number }[] });
      expect(record.map((e) => e.stem).sort()).toEqual(['a', 'b', 'c']);
      expect(record.find((e) => e.stem === 'b')?.files.map((f) => f.path).sort()).toEqual(['b_face0.json', 'b_face0.ply']);
      const run = async (...extra: string[]) => withoutSuspect(await runCli(['reconstruct', dir, '--out', first.out, '--model', model, '--formats', 'json,ply', '--max-faces', '1', ...extra]));
      const mtime = async (f: string) => (await stat(join(first.out, f))).mtimeMs;
      const before = await mtime('a_face0.json');

      // Everything done: nothing is reconstructed, nothing rewritten.
      let r = await run('--resume');
      expect(r.code, r.stderr).toBe(0);
      expect(r.errLines).toEqual([`3 images of 3 skipped: done by an earlier run into ${first.out} with the same options (--resume)`]);
      expect(await mtime('a_face0.json')).toBe(before);

      // b's PLY lost, c's photo replaced: those two are done again, a is not.
      await rm(join(first.out, 'b_face0.ply'));
      await copyFile(AFLW_PHOTO, join(dir, 'c.jpg'));
      r = await run('--resume');
      expect(r.code, r.stderr).toBe(0);
      expect(r.errLines[0]).toBe(`1 image of 3 skipped: done by an earlier run into ${first.out} with the same options (--resume)`);
      expect(r.stderr).toContain(`2 images (1 more done earlier, skipped): 2 done (2 faces, 4 files in ${first.out}), 0 failed`);
      expect(await mtime('a_face0.json')).toBe(before);
      expect(await listFiles(first.out)).toEqual(['.prnet-done.jsonl', 'a_face0.json', 'a_face0.ply', 'b_face0.json', 'b_face0.ply', 'c_face0.json', 'c_face0.ply']);
      // c's files are the new photo's: the same box as b's (the same picture).
      expect((await readJson(join(first.out, 'c_face0.json'))).box).toEqual((await readJson(join(first.out, 'b_face0.json'))).box);

      // A one-image run of another photo named a writes a-2: the record gives a's files to the
      // folder's a.jpg (it had written over them); the run adds its own line to the folder's record.
      const other = await dirs.make('resume-other');
      await copyFile(GROUP_PHOTO, join(other, 'a.jpg'));
      const mine = await readFile(join(first.out, 'a_face0.json'));
      r = withoutSuspect(await runCli(['reconstruct', join(other, 'a.jpg'), '--out', first.out, '--model', model, '--formats', 'json,ply', '--max-faces', '1']));
      expect(r.code, r.stderr).toBe(0);
      expect((await readFile(join(first.out, 'a_face0.json'))).equals(mine)).toBe(true);
      const foreign = (await readJson(join(first.out, 'a-2_face0.json'))).box;
      expect(foreign).not.toEqual((await readJson(join(first.out, 'a_face0.json'))).box);
      r = await run('--resume');
      expect(r.errLines[0]).toBe(`3 images of 3 skipped: done by an earlier run into ${first.out} with the same options (--resume)`);
      // a's files rewritten since (here by hand, as that run did before): a is done again.
      await rm(join(first.out, 'a-2_face0.json'));
      await rm(join(first.out, 'a-2_face0.ply'));
      await writeFile(join(first.out, 'a_face0.json'), JSON.stringify({ box: foreign }));
      r = await run('--resume');
      expect(r.errLines[0]).toBe(`2 images of 3 skipped: done by an earlier run into ${first.out} with the same options (--resume)`);
      expect((await readJson(join(first.out, 'a_face0.json'))).box).not.toEqual(foreign);
      const rewritten = await mtime('a_face0.json');

      // Other options (no flip): every image is done again; without --resume too.
      r = await run('--resume', '--no-flip');
      expect(r.stderr).not.toContain('skipped');
      expect(r.stderr).toContain('3 images: 3 done');
      r = await run();
      expect(r.stderr).toContain('3 images: 3 done');
      expect(await mtime('a_face0.json')).toBeGreaterThan(rewritten);
      expect(rewritten).toBeGreaterThan(before);
      // --resume leaves the record one line per input (runs without it appended 3 lines each): the
      // folder's three and the other a.jpg, whose one-image run went into the folder's record too.
      await run('--resume');
      expect((await readFile(join(first.out, '.prnet-done.jsonl'), 'utf8')).trim().split('\n').map((l) => basename((JSON.parse(l) as { input: string }).input)).sort()).toEqual(['a.jpg', 'a.png', 'b.jpg', 'c.jpg']);
    });

    it('--resume says what in its record it could not use: lines that are no record (left out), a folder in its place', async () => {
      const dir = await dirs.make('resume-odd');
      await Promise.all(['a', 'b'].map((n) => copyFile(AFLW_PHOTO, join(dir, `${n}.jpg`))));
      const out = await dirs.make('resume-odd-out');
      const run = async (...extra: string[]) => withoutSuspect(await runCli(['reconstruct', dir, '--out', out, '--model', model, '--formats', 'json', ...extra]));
      expect((await run()).code).toBe(0);
      const record = join(out, '.prnet-done.jsonl');
      await writeFile(record, `${await readFile(record, 'utf8')}not json\n{"half":\n`);
      let r = await run('--resume');
      expect(r.code, r.stderr).toBe(0);
      expect(r.errLines).toEqual([
        `prnet: warning: 2 lines of ${record} are not a finished image's record and were left out`,
        `2 images of 2 skipped: done by an earlier run into ${out} with the same options (--resume)`,
      ]);
      expect((await readFile(record, 'utf8')).trim().split('\n')).toHaveLength(2); // compacted
      // A folder in the record's place: the images are done, the record cannot be kept (said in
      // the file system's words, not "EISDIR … read"); --resume cannot read it and stops.
      await rm(record);
      await mkdir(record);
      r = await run();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`prnet: warning: cannot record finished images in ${record} (a folder is in the way of the file); --resume will do them again`);
      r = await run('--resume');
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('cannot read what earlier runs finished (a folder is in the way of the file)');
    });

    it('--resume knows an input given twice (two stems) and one reached through a linked folder; one image left gets the summary', async () => {
      const dir = await dirs.make('resume-links');
      await mkdir(join(dir, 'photos'));
      await copyFile(AFLW_PHOTO, join(dir, 'photos', 'p.jpg'));
      await copyFile(ASTRONAUT, join(dir, 'photos', 'q.png'));
      await symlink(join(dir, 'photos'), join(dir, 'linked'));
      const out = join(dir, 'out');
      const run = async (...inputs: string[]) => withoutSuspect(await runCli(['reconstruct', ...inputs, '--out', out, '--model', model, '--formats', 'json', '--resume']));
      const twice = join(dir, 'photos', 'p.jpg');
      let r = await run(twice, twice);
      expect(r.stderr).toContain('2 images: 2 done');
      r = await run(twice, twice);
      expect(r.errLines).toEqual([`2 images of 2 skipped: done by an earlier run into ${out} with the same options (--resume)`]);
      // Through the link, p.jpg is the photo already done; q.png is new, and alone gets the summary.
      r = await run(join(dir, 'linked'));
      expect(r.errLines).toEqual([
        `1 image of 2 skipped: done by an earlier run into ${out} with the same options (--resume)`,
        `1 image (1 more done earlier, skipped): 1 done (1 face, 1 file in ${out}), 0 failed`,
      ]);
    });

    it('a run interrupted by SIGINT is finished by --resume: each image done once in all', async () => {
      const dir = await dirs.make('interrupted');
      await Promise.all(Array.from({ length: 24 }, (_, i) => copyFile(AFLW_PHOTO, join(dir, `p${String(i).padStart(2, '0')}.jpg`))));
      const out = await dirs.make('interrupted-out');
      const args = ['reconstruct', dir, '--out', out, '--model', model, '--formats', 'json'];
      const recordLines = async () => (await readFile(join(out, '.prnet-done.jsonl'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
      const child = spawnCli(args);
      while ((await recordLines()) < 2 && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGINT');
      const first = await child.result;
      // Ended by the signal itself (the shell sees 130), after the summary of what it did.
      expect(first.signal, first.stderr).toBe('SIGINT');
      expect(first.stderr).toMatch(/of 24 images \(interrupted by SIGINT\)/);
      const done = await recordLines();
      expect(done).toBeGreaterThanOrEqual(2);
      expect(done).toBeLessThan(24);
      expect(await leftoverTempFiles(out)).toEqual([]);
      const r = await runCli([...args, '--resume']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.errLines[0]).toBe(`${done} images of 24 skipped: done by an earlier run into ${out} with the same options (--resume)`);
      expect(r.stderr).toContain(`${24 - done} images (${done} more done earlier, skipped): ${24 - done} done`);
      expect((await listFiles(out)).filter((f) => f.endsWith('.json'))).toHaveLength(24);
      expect(await recordLines()).toBe(24);
    });

    it('a name with control characters (new\\nline.png) gives files named with _ whose references hold (one mtllib line)', async () => {
      const dir = await dirs.make('odd-name');
      await copyFile(ASTRONAUT, join(dir, 'new\nline.png'));
      const odd = await reconstruct([join(dir, 'new\nline.png'), '--formats', 'json,textured']);
      expect(odd.r.code, odd.r.stderr).toBe(0);
      expect(odd.files).toEqual(['new_line_face0.json', 'new_line_face0_texture.png', 'new_line_face0_textured.mtl', 'new_line_face0_textured.obj']);
      const obj = await readFile(join(odd.out, 'new_line_face0_textured.obj'), 'utf8');
      expect(obj.split('\n').filter((l) => l.startsWith('mtllib '))).toEqual(['mtllib new_line_face0_textured.mtl']);
      expect(await readFile(join(odd.out, 'new_line_face0_textured.mtl'), 'utf8')).toContain('map_Kd new_line_face0_texture.png');
    });

    it("a name with '#', a leading space or doubled spaces gives files that three.js's OBJ and MTL readers find by the names in them", async () => {
      const dir = await dirs.make('odd-name-2');
      await copyFile(ASTRONAUT, join(dir, ' my  photo #1.png'));
      const odd = await reconstruct([join(dir, ' my  photo #1.png'), '--formats', 'json,textured']);
      expect(odd.r.code, odd.r.stderr).toBe(0);
      expect(odd.files).toEqual(['_my__photo _1_face0.json', '_my__photo _1_face0_texture.png', '_my__photo _1_face0_textured.mtl', '_my__photo _1_face0_textured.obj']);
      // materialLibraries: set by OBJLoader on the group it returns, not in its typings
      const obj = new OBJLoader().parse(await readFile(join(odd.out, '_my__photo _1_face0_textured.obj'), 'utf8')) as ReturnType<OBJLoader['parse']> & { materialLibraries: string[] };
      expect(obj.materialLibraries).toEqual(['_my__photo _1_face0_textured.mtl']);
      // the texture's URL as MTLLoader resolves it (its image loader then needs a DOM: the URL is taken before)
      const urls: string[] = [];
      const manager = new LoadingManager();
      manager.setURLModifier((url) => { urls.push(url); return url; });
      const creator = new MTLLoader(manager).parse(await readFile(join(odd.out, obj.materialLibraries[0]), 'utf8'), '');
      try {
        creator.create('face');
      } catch { /* no document in Node */ }
      expect(urls).toEqual(['_my__photo _1_face0_texture.png']);
    });

    it('faces are numbered largest first', async () => {
      const boxes = await Promise.all([0, 1, 2].map(async (i) => (await readJson(join(out, `group_face${i}.json`))).box));
      const areas = boxes.map((b) => b.width * b.height);
      expect(areas[0]).toBeGreaterThanOrEqual(areas[1]);
      expect(areas[1]).toBeGreaterThanOrEqual(areas[2]);
    });

    it('--max-faces 1 keeps the largest face', async () => {
      const single = await reconstruct([GROUP_PHOTO, '--max-faces', '1', '--formats', 'json']);
      expect(single.r.code, single.r.stderr).toBe(0);
      expect(single.files).toEqual(['2008_001322_face0.json']);
      const face = await readJson(join(single.out, '2008_001322_face0.json'));
      expect(face.box).toEqual((await readJson(join(out, 'group_face0.json'))).box);
    });

    it('a rerun into the same folder that finds fewer faces removes the earlier run\'s files of the faces beyond, nothing else', async () => {
      const three = await reconstruct([GROUP_PHOTO, '--formats', 'json,ply']);
      expect(three.r.code, three.r.stderr).toBe(0);
      const foreign = ['2008_001322_face1.txt', '2008_001322_face1_notes.json', 'other_face2.json'];
      await Promise.all(foreign.map((f) => writeFile(join(three.out, f), 'the user\'s')));
      const r = withoutSuspect(await runCli(['reconstruct', GROUP_PHOTO, '--out', three.out, '--model', model, '--max-faces', '1', '--formats', 'json']));
      expect(r.code, r.stderr).toBe(0);
      expect(r.errLines).toEqual([`${GROUP_PHOTO}: 1 face, 1 file written to ${three.out} (4 files of faces an earlier run found beyond these removed)`]);
      // Face 0's PLY (a format not asked this time) stays: it is the same face's.
      expect(await listFiles(three.out)).toEqual(['2008_001322_face0.json', '2008_001322_face0.ply', ...foreign].sort());
    });
  });
});

describe('uniqueStems', () => {
  it('makes same-named inputs unique; a missing input does not push an existing one to -2', () => {
    expect(uniqueStems(['a/x-2.jpg', 'a/x.jpg', 'b/x.png'])).toEqual(['x-2', 'x', 'x-3']);
    expect(uniqueStems(['gone/x.jpg', 'here/x.jpg'], (f) => !f.startsWith('gone/'))).toEqual(['x-2', 'x']);
    expect(uniqueStems(['here/x.jpg', 'gone/x.jpg'], (f) => !f.startsWith('gone/'))).toEqual(['x', 'x-2']);
  });
});

describe('removeFacesBeyond (earlier runs\' face files)', () => {
  it('removes faces count, count + 1, … up to the first index without a file, never a kept path, a folder or another name', async () => {
    const dir = await dirs.make('beyond');
    const names = ['p_face0.json', 'p_face1.json', 'p_face1.glb', 'p_face1_texture.png', 'p_face2.obj', 'p_face2_textured.mtl', 'p_face3.json', 'p_face5.json', 'p_face1.txt', 'q_face1.json', 'p_face10.json'];
    await Promise.all(names.map((n) => writeFile(join(dir, n), 'x')));
    await mkdir(join(dir, 'p_face3.ply'));
    // The kept input named through a link to the folder (a path string would not match it).
    const link = join(await dirs.make('beyond-link'), 'to');
    await symlink(dir, link);
    const removed = await removeFacesBeyond(dir, 'p', 1, fileIdentities([join(link, 'p_face1_texture.png')]));
    expect(removed.sort()).toEqual(['p_face1.glb', 'p_face1.json', 'p_face2.obj', 'p_face2_textured.mtl', 'p_face3.json']);
    // Face 4 has no file, so face 5 (and 10) are not an earlier run's faces of this image.
    expect(await listFiles(dir)).toEqual(['p_face0.json', 'p_face1.txt', 'p_face10.json', 'p_face1_texture.png', 'p_face5.json', 'q_face1.json'].sort());
    expect((await stat(join(dir, 'p_face3.ply'))).isDirectory()).toBe(true);
  });

  it('knows every name a face\'s and an image\'s files get (the table the clean-ups and the input listing use)', () => {
    const faceFiles = ALL_FILES.filter((f) => f.startsWith(faceFileBase('astronaut', 0)));
    // (the table also holds the files written only when asked for: test/prnet-outputs.test.ts)
    expect([...FACE_FILE_SUFFIXES]).toEqual(expect.arrayContaining(faceFiles.map((f) => f.slice(faceFileBase('astronaut', 0).length))));
    const imageFiles = ALL_FILES.filter((f) => !faceFiles.includes(f));
    expect(imageFiles.map((f) => f.slice('astronaut'.length)).sort()).toEqual([...IMAGE_FILE_SUFFIXES].sort());
    // The output images are not read back as inputs; the meshes and the JSON are not images anyway.
    expect(ALL_FILES.filter((f) => OUTPUT_IMAGE_NAME.test(f)).sort()).toEqual(ALL_FILES.filter((f) => f.endsWith('.png')).sort());
  });
});

describe('prnet import-checkpoint', () => {
  it('converts a (synthetic, width 2) TF checkpoint into a model file that loads and runs', async () => {
    const dir = await dirs.make('ckpt');
    const ckpt = await writeSyntheticCheckpoint(join(dir, 'model'), 2);
    const target = join(dir, 'imported.safetensors');
    const r = await runCli(['import-checkpoint', `${ckpt.prefix}.index`, '--out', target, '--f32']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(new RegExp(`^${ckpt.prefix}: 245 tensors imported → ${target} \\(.* MiB, float32\\)$`));
    const w = await readModelFile(target);
    expect(w.config).toEqual({ width: 2, inputSize: 256, outputScale: 281.6 });
    expect(w.metadata.name).toBe('prnet-resfcn256-official');
    for (const spec of resfcnTensorSpecs({ width: 2 })) {
      const tf = ckpt.values.get(ckpt.names.get(spec.name) as string) as Float32Array;
      const want = spec.role === 'bn' ? tf : transposeKernel(tf, tfShapeOf(spec));
      expect(Array.from(w.tensors.get(spec.name) as Float32Array), spec.name).toEqual(Array.from(want));
    }
    expect(await leftoverTempFiles(dir)).toEqual([]);
    // The imported file is a usable model.
    const out = join(dir, 'out');
    const run = await runCli(['reconstruct', ASTRONAUT, '--box', '180,150,160,180', '--formats', 'json', '--out', out, '--model', target]);
    expect(run.code, run.stderr).toBe(0);
    expect(await listFiles(out)).toEqual(['astronaut_face0.json']);
  });

  it('a missing checkpoint, or corrupt data: exit 3 naming the file, nothing written', async () => {
    const dir = await dirs.make('ckpt-bad');
    const r = await runCli(['import-checkpoint', join(dir, 'nothing'), '--out', join(dir, 'm.safetensors')]);
    expect(r.code).toBe(3);
    expect(r.errLines).toEqual([`prnet: ${join(dir, 'nothing.index')}: checkpoint index not found`]);
    const ckpt = await writeSyntheticCheckpoint(join(dir, 'bad'), 2);
    const data = `${ckpt.prefix}.data-00000-of-00001`;
    const bytes = await readFile(data);
    const victim = 'resfcn256/resBlock_3/Conv_1/weights';
    bytes[(ckpt.offsets.get(victim) as number) + 5] ^= 0x40; // one bit flipped
    await writeFile(data, bytes);
    const r2 = await runCli(['import-checkpoint', ckpt.prefix, '--out', join(dir, 'm.safetensors')]);
    expect(r2.code).toBe(3);
    expect(r2.errLines).toEqual([`prnet: ${data}: variable ${victim} fails its CRC32C check (corrupt data file)`]);
    expect((await listFiles(dir)).filter((f) => f.endsWith('.safetensors') || f.includes('.tmp'))).toEqual([]);
  });

  it('the checkpoint named by its data file or its folder reads as by its prefix; an empty folder says what to give', async () => {
    const dir = await dirs.make('ckpt-forms');
    await mkdir(join(dir, 'ck'));
    const ckpt = await writeSyntheticCheckpoint(join(dir, 'ck', 'model'), 2);
    for (const given of [`${ckpt.prefix}.data-00000-of-00001`, join(dir, 'ck')]) {
      const r = await runCli(['import-checkpoint', given, '--out', join(dir, 'm.safetensors'), '--f32']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.errLines[0]).toMatch(new RegExp(`^${ckpt.prefix}: 245 tensors imported`));
    }
    await mkdir(join(dir, 'empty'));
    const none = await runCli(['import-checkpoint', join(dir, 'empty'), '--out', join(dir, 'n.safetensors')]);
    expect([none.code, none.errLines]).toEqual([2, [`prnet: ${join(dir, 'empty')} is a folder with no checkpoint (.index) in it: give the checkpoint's prefix, e.g. ${join(dir, 'empty', '256_256_resfcn256_weight')}`]]);
  });

  it('--out through a file or at a FIFO: exit 2 before the import (exit 4 after it; a FIFO, or /dev/null as root, was replaced by the file); a name with a newline is said on one line', async () => {
    const dir = await dirs.make('ckpt-out');
    const ckpt = await writeSyntheticCheckpoint(join(dir, 'model'), 2);
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const through = await runCli(['import-checkpoint', ckpt.prefix, '--out', join(file, 'm.safetensors')]);
    expect(through.code, through.stderr).toBe(2);
    expect(through.errLines).toHaveLength(1);
    expect(through.errLines[0]).toMatch(/^prnet: .*a-file: cannot create the output folder/);
    // a checkpoint that is not there: the folders made for --out are not left behind
    const missing = await runCli(['import-checkpoint', join(dir, 'nothing'), '--out', join(dir, 'made', 'deeper', 'm.safetensors')]);
    expect(missing.code).toBe(3);
    expect(existsSync(join(dir, 'made'))).toBe(false);
    const fifo = join(dir, 'fifo.safetensors');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const atFifo = await runCli(['import-checkpoint', ckpt.prefix, '--out', fifo]);
    expect(atFifo.code, atFifo.stderr).toBe(2);
    expect(atFifo.errLines).toEqual([`prnet: --out ${fifo} is a FIFO, not a file: the output would replace it with one; choose a file's path`]);
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    const odd = join(dir, 'a\nb.safetensors');
    const named = await runCli(['import-checkpoint', ckpt.prefix, '--out', odd, '--f32']);
    expect(named.code, named.stderr).toBe(0);
    expect(named.errLines).toHaveLength(1);
    expect(named.errLines[0]).toContain(`→ ${join(dir, 'a\\nb.safetensors')} (`);
  });

  it('--out naming the checkpoint\'s own data or index file: exit 2 before any work, the checkpoint untouched', async () => {
    const dir = await dirs.make('ckpt-self');
    const ckpt = await writeSyntheticCheckpoint(join(dir, 'model'), 2);
    for (const victim of [`${ckpt.prefix}.data-00000-of-00001`, `${ckpt.prefix}.index`]) {
      const before = await readFile(victim);
      const r = await runCli(['import-checkpoint', ckpt.prefix, '--out', victim]);
      expect(r.code).toBe(2);
      expect(r.errLines).toEqual([`prnet: --out ${victim} is the input ${victim}: writing it would destroy the input; choose another file`]);
      expect((await readFile(victim)).equals(before)).toBe(true);
    }
  });
});

describe('prnet swap', () => {
  it('writes a PNG of the target\'s size; --no-blend pastes the face without blending', async () => {
    const dir = await dirs.make('swap');
    const target = join(dir, 'swapped.png');
    const r = await runCli(['swap', '--source', ASTRONAUT, '--target', AFLW_PHOTO, '--out', target, '--model', model]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.errLines).toEqual([`${target}: ${ASTRONAUT}'s face texture on ${AFLW_PHOTO}`]);
    expect(pngSize(await readFile(target))).toEqual({ width: 450, height: 450 });
    expect(await listFiles(dir)).toEqual(['swapped.png']);
    // --no-blend pastes the rendered face as it is: a different picture, same size.
    const pasted = join(dir, 'pasted.png');
    const r2 = await runCli(['swap', '--source', ASTRONAUT, '--target', AFLW_PHOTO, '--out', pasted, '--no-blend', '--model', model]);
    expect(r2.code, r2.stderr).toBe(0);
    const [a, b] = await Promise.all([target, pasted].map((f) => sharp(f).raw().toBuffer()));
    expect(b.length).toBe(a.length);
    expect(b.equals(a)).toBe(false);
  });

  it('a target with transparency keeps its alpha (RGBA out, the same alpha plane)', async () => {
    const dir = await dirs.make('swap-alpha');
    const target = join(dir, 'cutout.png');
    // The AFLW photo with its left quarter transparent.
    const { data, info } = await sharp(AFLW_PHOTO).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    // …and a soft edge: 10 columns at alpha 128 (hair, anti-aliasing), whose colours must come back as stored.
    const edge = Math.ceil(info.width / 4);
    for (let y = 0; y < info.height; y++) for (let x = 0; x < edge + 10; x++) data[4 * (y * info.width + x) + 3] = x < edge ? 0 : 128;
    await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toFile(target);
    const out = join(dir, 'swapped.png');
    const r = await runCli(['swap', '--source', ASTRONAUT, '--target', target, '--out', out, '--model', model]);
    expect(r.code, r.stderr).toBe(0);
    const got = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect(got.info.channels).toBe(4);
    const alphaIn = await sharp(target).extractChannel('alpha').raw().toBuffer();
    const alphaOut = await sharp(out).extractChannel('alpha').raw().toBuffer();
    expect(alphaOut.equals(alphaIn)).toBe(true);
    let off = 0;
    for (let y = 0; y < info.height; y++) {
      for (let x = edge; x < edge + 10; x++) for (let c = 0; c < 3; c++) off = Math.max(off, Math.abs(got.data[4 * (y * info.width + x) + c] - data[4 * (y * info.width + x) + c]));
    }
    expect(off).toBeLessThanOrEqual(1); // not composited over white and then given the alpha again (pale)
    // Faces are looked for as a viewer sees the target: one hidden under alpha 0 is not found.
    const hidden = join(dir, 'hidden.png');
    await sharp(AFLW_PHOTO).ensureAlpha(0).png().toFile(hidden);
    const none = await runCli(['swap', '--source', ASTRONAUT, '--target', hidden, '--out', join(dir, 'none.png'), '--model', model]);
    expect(none.code).toBe(1);
    expect(none.errLines).toEqual([`prnet: ${hidden}: no face found`]);
    // A PPM target (read by our own decoder, not libvips): no alpha, an RGB result.
    const rgb = await sharp(AFLW_PHOTO).raw().toBuffer({ resolveWithObject: true });
    const ppm = join(dir, 'target.ppm');
    await writeFile(ppm, Buffer.concat([Buffer.from(`P6\n${rgb.info.width} ${rgb.info.height}\n255\n`), rgb.data]));
    const out2 = join(dir, 'from-ppm.png');
    const r2 = await runCli(['swap', '--source', ASTRONAUT, '--target', ppm, '--out', out2, '--model', model]);
    expect(r2.code, r2.stderr).toBe(0);
    expect((await sharp(out2).metadata()).channels).toBe(3);
  });

  it('--out naming the target (or the source) is refused with exit 2 before any work: the photo is kept', async () => {
    const dir = await dirs.make('swap-self');
    const target = join(dir, 'target.png');
    await sharp(AFLW_PHOTO).png().toFile(target);
    const before = await readFile(target);
    // The same file through another path counts too.
    const other = `${dir}/./target.png`;
    const r = await runCli(['swap', '--source', ASTRONAUT, '--target', target, '--out', other, '--model', model]);
    expect(r.code).toBe(2);
    expect(r.errLines).toEqual([`prnet: --out ${other} is the input ${target}: writing it would destroy the input; choose another file`]);
    expect((await readFile(target)).equals(before)).toBe(true);
  });

  it('picks a face of a group photo by --source-face / --target-face, says when the index is past the faces found, and warns of an unsure box', async () => {
    const dir = await dirs.make('swap-faces');
    // The group photo's three faces (reconstruct numbers them 0, 1, 2): the second and the third are used.
    const second = join(dir, 'second.png'), third = join(dir, 'third.png');
    for (const [out, i] of [[second, '1'], [third, '2']] as const) {
      const r = await runCli(['swap', '--source', GROUP_PHOTO, '--source-face', i, '--target', AFLW_PHOTO, '--out', out, '--model', model, '--no-blend']);
      expect(r.code, r.stderr).toBe(0);
    }
    const [a, b] = await Promise.all([second, third].map((f) => sharp(f).raw().toBuffer()));
    expect(a.equals(b)).toBe(false);
    const past = await runCli(['swap', '--source', ASTRONAUT, '--target', AFLW_PHOTO, '--target-face', '1', '--out', join(dir, 'x.png'), '--model', model]);
    expect([past.code, past.errLines]).toEqual([1, [`prnet: ${AFLW_PHOTO}: --target-face 1 asks for face 2, and one face was found (0 is the first)`]]);
    expect(await listFiles(dir)).toEqual(['second.png', 'third.png']);
    // The astronaut upside down: BlazeFace misses her face and finds a box on the suit scored ~0.51.
    const upside = join(dir, 'upside.png');
    await sharp(ASTRONAUT).rotate(180).png().toFile(upside);
    const unsure = await runCli(['swap', '--source', upside, '--target', AFLW_PHOTO, '--out', join(dir, 'unsure.png'), '--model', model, '--quiet']);
    expect(unsure.code, unsure.stderr).toBe(0);
    expect(unsure.errLines).toEqual([expect.stringMatching(new RegExp(`^prnet: warning: ${upside}: the face used \\(box at \\d+,\\d+, \\d+ px\\) scores 0\\.\\d\\d, under 0\\.65: it may not be a face; look at the result, or choose another with --source-face$`))]);
  });

  it('an --out whose folder runs through a file is exit 2 before any work; a new folder is made', async () => {
    const dir = await dirs.make('swap-out');
    await writeFile(join(dir, 'file'), 'x');
    const r = await runCli(['swap', '--source', ASTRONAUT, '--target', AFLW_PHOTO, '--out', join(dir, 'file', 'x.png'), '--model', model]);
    expect([r.code, r.errLines]).toEqual([2, [`prnet: ${join(dir, 'file')}: cannot create the output folder (a file of that name is in the way of a folder)`]]);
    const made = await runCli(['swap', '--source', ASTRONAUT, '--target', AFLW_PHOTO, '--out', join(dir, 'new', 'x.png'), '--model', model, '--quiet']);
    expect([made.code, made.stderr]).toEqual([0, '']);
    expect(await listFiles(join(dir, 'new'))).toEqual(['x.png']);
    // a swap that fails (no face in a grey gradient) leaves no folder it made
    const grey = join(dir, 'grey.png');
    await writeFile(grey, await gradientPng(64, 64));
    const none = await runCli(['swap', '--source', grey, '--target', AFLW_PHOTO, '--out', join(dir, 'other', 'x.png'), '--model', model]);
    expect(none.code).toBe(1);
    expect(existsSync(join(dir, 'other'))).toBe(false);
  });
});

describe('help and version', () => {
  it('--help lists every command, exit 0; no command prints it with exit 2', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['reconstruct', 'swap', 'import-checkpoint', 'eval aflw2000', 'data label', '--formats', '--no-<format>', '--max-faces', '--box']) {
      expect(r.stdout, cmd).toContain(cmd);
    }
    const bare = await runCli([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe(r.stdout);
  });

  it('a reader that closes early (| head, | true): the command goes on to its own exit code, no EPIPE stack trace', async () => {
    const { spawn } = await import('node:child_process');
    const run = async (args: string[], closed: 'stdout' | 'stderr'): Promise<{ code: number | null; other: string }> => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/helpers/cli-entry.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      child[closed].destroy(); // closed before the command writes
      let other = '';
      child[closed === 'stdout' ? 'stderr' : 'stdout'].setEncoding('utf8').on('data', (d: string) => (other += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      return { code, other };
    };
    expect(await run(['--help'], 'stdout')).toEqual({ code: 0, other: '' });
    // a usage error's line goes to the closed stderr: still exit 2 (an unhandled EPIPE was exit 1)
    expect(await run(['reconstruct', '--modle', 'x'], 'stderr')).toEqual({ code: 2, other: '' });
  });

  it('<command> --help prints that command\'s usage and the exit codes, exit 0, for every command', async () => {
    const options: Record<string, string[]> = {
      reconstruct: ['--model', '--box', '--formats', '--max-faces', '--min-score', '--detector', '--threads', '--precision', '--no-flip', '--smooth'],
      video: ['--stabilize', '--frames', '--detect-every', '--glb-step', '--max-pixels', '--min-score'],
      swap: ['--source', '--target', '--source-face', '--target-face', '--eyes', '--no-blend', '--detector', '--min-score', '--no-orientation', '--threads', '--quiet'],
      'import-checkpoint': ['--f32'],
      eval: ['aflw2000|pts', '--gt-box', '--no-peers'],
      data: ['label', '--set', '--limit', '--workers', '--every', '--facemesh', '--min-eye', '--out', '--shared', '--summary'],
      serve: ['--port', '--workers', '--models', '--max-body-mb', '--max-queue', '--timeout', '--threads', '--detector', '--min-score', '--quiet'],
      batch: ['batch submit', 'batch status', '--min-score', '--attempts', '--queue', '--wait', '--timeout'],
      worker: ['--concurrency', '--threads', '--lock-seconds', '--queue', '--quiet'],
    };
    expect((await runMain(['help', 'swap'])).stdout).toBe((await runMain(['swap', '--help'])).stdout);
    for (const [command, expected] of Object.entries(options)) {
      const r = await runMain([command, 'x', '--help']);
      expect(r.code, command).toBe(0);
      expect(r.stdout, command).toMatch(new RegExp(`^Usage:\\n  prnet ${command} `));
      expect(r.stdout, command).toContain('Exit codes: 0 ok');
      for (const other of Object.keys(options).filter((c) => c !== command)) expect(r.stdout, `${command} --help shows ${other}`).not.toContain(`  prnet ${other} `);
      for (const o of expected) expect(r.stdout, `${command} --help: ${o}`).toContain(o);
      // (the note on negative values is about reconstruct's --box)
      expect(r.stdout.includes('Negative numbers as option values'), command).toBe(command === 'reconstruct');
    }
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });
});
