/**
 * Distributed batch on BullMQ with a real Redis (redis-server on a loopback port) and real worker
 * processes (`prnet worker`), the bundled light model and the real detector, on 20 AFLW2000-3D
 * photos: one worker is SIGKILLed mid-batch and Redis is restarted; every image's files must end
 * up present exactly once, none partial. Re-submitting skips what is done; a bad image and an
 * unwritable output folder end in the failed list with their reasons.
 */
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatabase, QueueError, queueFailure } from '../src/batch/jobs.js';
import { batchStatus } from '../src/batch/status.js';
import { submitBatch } from '../src/batch/submit.js';
import { removeStaleTemps } from '../src/batch/worker.js';
import { runCli } from './helpers/cli.js';
import { runMain } from './helpers/main-inprocess.js';
import { parseGlb } from './helpers/meshes.js';
import { ASTRONAUT, EVAL, REPO } from './helpers/paths.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { createPrnet } from '../src/pipeline/node.js';
import { createDetector } from '../src/detect/index.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { startCli, type RunningCli } from './helpers/spawn.js';
import { leftoverTempFiles, listFiles, TempDirs } from './helpers/tmp.js';

const dirs = new TempDirs('prnet-batch-');

/** Two photos named alike in two folders of a new one: `a/x.png` (the astronaut) and `b/x.png` (the same at 400 × 400, told apart by its width). */
async function sameNamedPhotos(name: string): Promise<{ root: string; a: string; b: string }> {
  const root = await dirs.make(name);
  for (const d of ['a', 'b']) await mkdir(join(root, d));
  const [a, b] = [join(root, 'a', 'x.png'), join(root, 'b', 'x.png')];
  await copyFile(ASTRONAUT, a);
  await sharp(ASTRONAUT).resize(400, 400).png().toFile(b);
  return { root, a, b };
}
let redis: TestRedis;
const workers: RunningCli[] = [];

beforeAll(async () => {
  redis = await startRedis({ persist: true }); // a restart must keep the queue, as in production
});
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await redis?.stop();
  await dirs.cleanup();
});

async function waitUntil(what: string, ok: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; workers said:\n${workers.map((w) => w.lines.join('\n')).join('\n---\n')}`);
    await sleep(200);
  }
}

describe('prnet batch + prnet worker on Redis', () => {
  const N = 20;
  let images: string[];
  let out: string;
  let list: string;
  let noFace: string[] = [];

  it('queues one job per image and a re-submit queues none again', async () => {
    const dev = join(EVAL, 'aflw2000-3d-dev');
    images = (await readdir(dev)).filter((f) => f.endsWith('.jpg')).sort().slice(0, N).map((f) => join(dev, f));
    out = await dirs.make('out');
    list = join(await dirs.make('list'), 'images.txt');
    await writeFile(list, images.join('\n') + '\n');
    const args = ['batch', 'submit', list, '--out', out, '--redis', redis.url, '--model', 'light', '--formats', 'json,glb'];
    const first = await runCli(args);
    expect(first.code).toBe(0);
    expect(first.errLines).toEqual([`queued ${N} · already queued or done 0 · failed ones queued again 0`]);
    const again = await runCli(args);
    expect(again.errLines).toEqual([`queued 0 · already queued or done ${N} · failed ones queued again 0`]);
    // the default detector named (as reconstruct --resume takes it: the same run) is the same job (it queued all again)
    const named = await runCli([...args, '--detector', 'blazeface']);
    expect(named.errLines).toEqual([`queued 0 · already queued or done ${N} · failed ones queued again 0`]);
    const status = await runCli(['batch', 'status', '--redis', redis.url]);
    expect(status.stdout).toBe(`done 0 · failed 0 · waiting ${N} · active 0\n`);
  });

  it('finishes with one worker SIGKILLed mid-job and Redis restarted: every file once, none partial', async () => {
    // A short job lock, so that A's job comes back soon after A dies; 5 s rather than 2, so that a
    // starved machine (CI's 2 cores, other test files beside this one) does not lose a live
    // worker's lock and fail its job as stalled.
    const a = startCli(['worker', '--redis', redis.url, '--lock-seconds', '5']);
    const b = startCli(['worker', '--redis', redis.url, '--lock-seconds', '5']);
    workers.push(a, b);
    // Kill A while it holds a job (it takes the next one as soon as it finished one).
    await a.waitFor(/image\d+\.jpg: 1 face, 2 files/);
    a.child.kill('SIGKILL');
    await a.exited;
    const doneA = a.lines.filter((l) => / 1 face, 2 files/.test(l)).length;
    await waitUntil('half the batch', async () => (await batchStatus(redis.url)).done >= N / 2, 60_000);
    const doneAtRestart = (await batchStatus(redis.url)).done;
    await redis.restart(1000);
    await waitUntil('the whole batch', async () => {
      const s = await batchStatus(redis.url);
      return s.done + s.failed === N && s.active === 0 && s.waiting === 0;
    }, 90_000);
    // Redis went away with images still to do; the workers reconnected and finished them.
    expect(doneAtRestart).toBeLessThan(N - 2);

    // The light model's detector finds no face in a photo or two of these: those are failed at
    // once with that reason; every other image has its files.
    const s = await batchStatus(redis.url);
    noFace = s.failures.map((f) => f.path);
    for (const f of s.failures) expect(f.reason).toMatch(/no face found/);
    expect(s.failed).toBeLessThanOrEqual(2);
    const files = (await listFiles(out)).filter((f) => f !== '.prnet-done.jsonl');
    const stems = images.filter((p) => !noFace.includes(p)).map((p) => p.split('/').pop()!.replace(/\.jpg$/, ''));
    const expected = stems.flatMap((stem) => [`${stem}_face0.glb`, `${stem}_face0.json`]).sort();
    expect(files).toEqual(expected); // each exactly once, nothing else
    expect(await leftoverTempFiles(out)).toEqual([]);
    // A submission of several images: the workers started the folder's record, as reconstruct of
    // several does; a line per finished image (the one SIGKILLed between its files and its line has
    // none: its retry wrote them again, and its line), its files as they are now.
    const record = (await readFile(join(out, '.prnet-done.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { stem: string; files: { path: string; size: number }[] });
    expect([...new Set(record.map((l) => l.stem))].sort()).toEqual([...stems].sort());
    for (const l of record.filter((r, i) => record.findLastIndex((q) => q.stem === r.stem) === i)) {
      for (const f of l.files) expect((await stat(join(out, f.path))).size, f.path).toBe(f.size);
    }
    for (const f of files) {
      const bytes = new Uint8Array(await readFile(join(out, f)));
      if (f.endsWith('.json')) expect((JSON.parse(new TextDecoder().decode(bytes)) as { vertexCount: number }).vertexCount).toBe(43867);
      else expect(parseGlb(bytes).positions.length).toBe(43867 * 3);
    }
    // B did the rest, including the job A held when it died. A SIGKILL can land after A's job is
    // complete in Redis and before A prints its line: that image has its files (checked above) and
    // no line, so one line may be missing, never more.
    const doneB = b.lines.filter((l) => / 1 face, 2 files/.test(l)).length;
    expect(doneA + doneB).toBeGreaterThanOrEqual(N - noFace.length - 1);
    expect(doneB).toBeGreaterThan(N / 2 - 2);

    const status = await runCli(['batch', 'status', '--redis', redis.url]);
    expect(status.code).toBe(noFace.length ? 1 : 0);
    expect(status.stdout.split('\n')[0], `batch status said:\n${status.stdout}\nworker A:\n${a.lines.join('\n')}\nworker B:\n${b.lines.join('\n')}`).toBe(`done ${N - noFace.length} · failed ${noFace.length} · waiting 0 · active 0`);
    const again = await runCli(['batch', 'submit', list, '--out', out, '--redis', redis.url, '--model', 'light', '--formats', 'json,glb']);
    expect(again.errLines).toEqual([`queued 0 · already queued or done ${N - noFace.length} · failed ones queued again ${noFace.length}`]);
    await waitUntil('the re-queued failures', async () => {
      const s = await batchStatus(redis.url);
      return s.waiting + s.active === 0;
    }, 30_000);
  });

  it('a re-submit makes a done image again when a file it wrote was deleted since; the others stay done', async () => {
    const stem = images.find((p) => !noFace.includes(p))!.split('/').pop()!.replace(/\.jpg$/, '');
    const json = join(out, `${stem}_face0.json`);
    const before = await readFile(json, 'utf8');
    await rm(json);
    const again = await runCli(['batch', 'submit', list, '--out', out, '--redis', redis.url, '--model', 'light', '--formats', 'json,glb']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.errLines).toEqual([`queued 0 · already queued or done ${N - noFace.length - 1} · failed ones queued again ${noFace.length} · done ones with deleted files queued again 1`]);
    await waitUntil('the remade image', async () => existsSync(json) && (await batchStatus(redis.url)).waiting + (await batchStatus(redis.url)).active === 0, 60_000);
    expect(await readFile(json, 'utf8')).toBe(before); // the same file, made again
    expect(await leftoverTempFiles(out)).toEqual([]);
    // An output folder this machine does not see (not mounted here): the done jobs stay done.
    await rename(out, `${out}.elsewhere`);
    try {
      const blind = await runCli(['batch', 'submit', list, '--out', out, '--redis', redis.url, '--model', 'light', '--formats', 'json,glb']);
      expect(blind.errLines[0]).toMatch(new RegExp(`^queued 0 · already queued or done ${N - noFace.length} · `));
      expect(blind.errLines[0]).not.toMatch(/deleted files/);
    } finally {
      await rm(out, { recursive: true, force: true }); // (a worker may have made it for a re-queued failure)
      await rename(`${out}.elsewhere`, out);
    }
    await waitUntil('the re-queued failures', async () => {
      const s = await batchStatus(redis.url);
      return s.waiting + s.active === 0;
    }, 30_000);
  });

  it('lists a bad image and an unwritable folder as failed, with their reasons and attempts', async () => {
    const dir = await dirs.make('bad');
    const broken = join(dir, 'broken.jpg');
    await writeFile(broken, (await readFile(images[0])).subarray(0, 3000));
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'a file where the output folder should be');
    const r1 = await runCli(['batch', 'submit', broken, '--out', join(dir, 'out'), '--redis', redis.url, '--model', 'light', '--formats', 'json']);
    // The library's submit: the CLI refuses an --out through a file where it can see one (exit 2,
    // tested with the arguments); the workers' own write failure is what is tested here.
    const s2 = await submitBatch({ redis: redis.url, inputs: [images[1]], out: join(blocker, 'out'), model: 'light', formats: ['json'], attempts: 2 });
    expect([r1.code, s2.added]).toEqual([0, 1]);
    await waitUntil('two failures', async () => {
      const s = await batchStatus(redis.url);
      return s.failed === noFace.length + 2 && s.waiting + s.active === 0;
    }, 30_000);
    const status = await runCli(['batch', 'status', '--redis', redis.url]);
    expect(status.code).toBe(1);
    const lines = status.stdout.trim().split('\n');
    expect(lines[0], `batch status said:\n${status.stdout}`).toBe(`done ${N - noFace.length} · failed ${noFace.length + 2} · waiting 0 · active 0`);
    const failures = lines.slice(1).filter((l) => !/no face found/.test(l));
    expect(failures, `batch status said:\n${status.stdout}`).toHaveLength(2);
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // Order by path is not fixed (the image folder may sort before or after the temporary one): match each line by its input.
    expect(failures.find((l) => l.startsWith(`failed: ${broken}:`))).toMatch(
      new RegExp(`^failed: ${esc(broken)}: cannot decode image \\(.+\\) \\(1 attempt\\)$`));
    expect(failures.find((l) => l.startsWith(`failed: ${images[1]}:`))).toMatch(
      new RegExp(`^failed: ${esc(images[1])}: ${esc(blocker)}/out/.*: cannot write \\(a part of the path is a file, not a folder\\) \\(2 attempts\\)$`));
  });

  it('batch status: a failure whose name holds a newline is one escaped line; failures past the 100 listed are counted; batch submit refuses a FIFO (it hung)', async () => {
    const dir = await dirs.make('status-lines');
    const fifo = join(dir, 'pipe.jpg');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (let i = 0; i < 100; i++) await writeFile(join(dir, `b${String(i).padStart(3, '0')}.jpg`), `not an image ${i}`);
    const sub = await runCli(['batch', 'submit', dir, '--out', join(dir, 'out'), '--redis', redis.url, '--queue', 'lines', '--model', 'light', '--formats', 'json'], { timeoutMs: 30_000 });
    expect(sub.code, sub.stderr).toBe(1); // (one left out)
    expect(sub.errLines).toContain(`prnet: ${fifo}: not a regular file (a FIFO)`);
    const w = startCli(['worker', '--redis', redis.url, '--queue', 'lines']);
    workers.push(w);
    await waitUntil('100 failures', async () => (await batchStatus(redis.url, { queue: 'lines' })).failed === 100, 60_000);
    // the newest failure (listed first): a name with a newline
    const odd = join(dir, 'odd', 'bad\nx.jpg');
    await mkdir(dirname(odd));
    await writeFile(odd, 'not an image');
    expect((await runCli(['batch', 'submit', odd, '--out', join(dir, 'out'), '--redis', redis.url, '--queue', 'lines', '--model', 'light', '--formats', 'json'])).code).toBe(0);
    await waitUntil('101 failures', async () => (await batchStatus(redis.url, { queue: 'lines' })).failed === 101, 60_000);
    w.child.kill('SIGTERM');
    await w.exited;
    const status = await runCli(['batch', 'status', '--redis', redis.url, '--queue', 'lines']);
    const lines = status.stdout.trim().split('\n');
    expect(lines[0]).toBe('done 0 · failed 101 · waiting 0 · active 0');
    expect(lines).toHaveLength(1 + 100 + 1);
    expect(lines.at(-1)).toBe('failed: 1 more image not listed (100 are)');
    expect(lines[1]).toMatch(/^failed: .*\/odd\/bad\\nx\.jpg: (?!.*odd\/).*\(1 attempt\)$/);
    for (const l of lines.slice(1, -1)) expect(l).toMatch(/^failed: .*\(1 attempt\)$/);
  }, 120_000);

  it('--no-flip and --smooth σ travel with the job: the worker\'s landmarks are the library\'s for those options', async () => {
    const dir = await dirs.make('options');
    const r = await runCli(['batch', 'submit', ASTRONAUT, '--out', dir, '--redis', redis.url, '--queue', 'options', '--model', 'light', '--formats', 'json', '--no-flip', '--smooth', '1.5']);
    expect(r.code, r.stderr).toBe(0);
    const w = startCli(['worker', '--redis', redis.url, '--queue', 'options']);
    workers.push(w);
    await w.waitFor(/astronaut\.\w+: 1 face, 1 file$/);
    w.child.kill('SIGTERM');
    await w.exited;
    const json = JSON.parse(await readFile(join(dir, 'astronaut_face0.json'), 'utf8')) as { landmarks: { '3d': number[][] }; producer: Record<string, unknown> };
    expect(json.producer).toMatchObject({ model: 'light', flip: false, smooth: 1.5 });
    const prnet = await createPrnet({ model: 'light' });
    const image = await decodeImageFile(ASTRONAUT);
    const asked = (await prnet.reconstruct(image, { flip: false, smooth: 1.5 })).faces[0].landmarks;
    const byDefault = (await prnet.reconstruct(image)).faces[0].landmarks;
    await prnet.dispose();
    const worst = (lib: Float32Array): number => Math.max(...json.landmarks['3d'].flatMap((p, i) => p.map((v, k) => Math.abs(v - lib[3 * i + k]))));
    expect(worst(asked)).toBeLessThan(0.01);
    expect(worst(byDefault)).toBeGreaterThan(0.05);
  });

  it('--max-pixels, --no-tiles and --no-orientation travel with the job: a photo over the limit fails at the worker, and is done when submitted again with a higher one', async () => {
    const dir = await dirs.make('pixels');
    const queue = ['--redis', redis.url, '--queue', 'pixels'];
    const submit = (maxPixels: string) => runCli(['batch', 'submit', ASTRONAUT, '--out', dir, ...queue, '--model', 'light', '--formats', 'json', '--no-tiles', '--no-orientation', '--max-pixels', maxPixels]);
    const r = await submit('1000');
    expect(r.code, r.stderr).toBe(0);
    const q = new Queue('pixels', { connection: { url: redis.url } });
    const [job] = await q.getJobs(['waiting']);
    await q.close();
    expect(job.data).toMatchObject({ tiles: false, orientation: false, maxPixels: 1000 });
    const w = startCli(['worker', ...queue]);
    workers.push(w);
    await w.waitFor(/failed: .*astronaut\.\w+: image is \d+×\d+ = .*, above the limit of .* \(attempt 1\)$/);
    // the same job (the limit changes no output) queued again with this submission's limit
    const again = await submit('200000000');
    expect(again.errLines).toEqual(['queued 0 · already queued or done 0 · failed ones queued again 1']);
    await w.waitFor(/astronaut\.\w+: 1 face, 1 file$/);
    w.child.kill('SIGTERM');
    await w.exited;
    expect(await listFiles(dir)).toEqual(['astronaut_face0.json']);
  });

  it('batch submit names what it leaves out of a folder, as reconstruct does (files not named as images, sub-folders)', async () => {
    const dir = await dirs.make('notes');
    await copyFile(ASTRONAUT, join(dir, 'a.png'));
    await copyFile(ASTRONAUT, join(dir, 'photo')); // an image without an extension
    await writeFile(join(dir, 'notes.txt'), 'not a list: a folder\'s .txt is not read');
    await mkdir(join(dir, 'more'));
    const submit = (...more: string[]) => runCli(['batch', 'submit', dir, '--out', join(dir, 'out'), '--redis', redis.url, '--queue', 'notes', '--model', 'light', '--formats', 'json', ...more]);
    const r = await submit();
    expect(r.code, r.stderr).toBe(0);
    // (it said only the counts)
    expect(r.errLines).toEqual([
      `prnet: ${dir}: 2 files not named as images are left out (1 .txt, 1 without an extension): name a file itself to read it anyway`,
      `prnet: ${dir}: 1 sub-folder is not searched: more (name it to include its images)`,
      'queued 1 · already queued or done 0 · failed ones queued again 0',
    ]);
    expect((await submit('--quiet')).errLines).toEqual([]);
  });

  it('does not queue a photo whose output would replace another photo of the submission (y_mesh.png of the user\'s beside y.png, in --out)', async () => {
    const dir = await dirs.make('clash');
    await copyFile(ASTRONAUT, join(dir, 'y.png'));
    // a photo of the user's named as y.png's mesh overlay
    await sharp(ASTRONAUT).resize(300, 300).png().toFile(join(dir, 'y_mesh.png'));
    // the two photos named (given as a folder, y_mesh.png is left out by its name and kept: the next test)
    const submit = (...formats: string[]) => runCli(['batch', 'submit', join(dir, 'y.png'), join(dir, 'y_mesh.png'), '--out', dir, '--redis', redis.url, '--queue', 'clash', '--model', 'light', '--formats', formats.join(',')]);
    const r = await submit('json', 'overlay');
    expect(r.code).toBe(1);
    expect(r.errLines).toEqual([
      `prnet: ${join(dir, 'y.png')}: not queued: its output ${join(dir, 'y_mesh.png')} would replace the photo ${join(dir, 'y_mesh.png')} of this submission; rename it or choose another --out`,
      'queued 1 · already queued or done 0 · failed ones queued again 0 · not queued (their outputs would replace a photo or a file prnet-ts did not write) 1',
    ]);
    // without the overlays y.png writes no y_mesh.png: queued
    const json = await submit('json');
    expect(json.errLines.at(-1)).toBe('queued 2 · already queued or done 0 · failed ones queued again 0');
  });

  it('does not queue a photo whose output would replace an image in --out that prnet-ts did not write (the folder given as the input)', async () => {
    const dir = await dirs.make('unowned');
    await copyFile(ASTRONAUT, join(dir, 'y.png'));
    // a photo of the user's named as y.png's mesh overlay: no prnet-ts mark, in no record
    await sharp(ASTRONAUT).resize(300, 300).png().toFile(join(dir, 'y_mesh.png'));
    const mine = await readFile(join(dir, 'y_mesh.png'));
    const submit = (...formats: string[]) => runCli(['batch', 'submit', dir, '--out', dir, '--redis', redis.url, '--queue', 'unowned', '--model', 'light', '--formats', formats.join(',')]);
    const r = await submit('json', 'overlay');
    expect(r.code).toBe(1);
    // (reconstruct's note: submit had its own wording)
    const note = `prnet: ${dir}: 1 image is named as prnet-ts's output but was not written by it (no prnet-ts mark, not in .prnet-done.jsonl): y_mesh.png; left out and not replaced (name it to read it)`;
    expect(r.errLines).toEqual([
      note,
      `prnet: ${join(dir, 'y.png')}: not queued: its output ${join(dir, 'y_mesh.png')} exists and prnet-ts did not write it (no prnet-ts mark, not in .prnet-done.jsonl): kept, in case it is a photo; rename it (or delete it if it is an earlier version's output) or choose another --out`,
      'queued 0 · already queued or done 0 · failed ones queued again 0 · not queued (their outputs would replace a photo or a file prnet-ts did not write) 1',
    ]);
    // without the overlays y.png writes no y_mesh.png: queued (y_mesh.png is left out as an input)
    expect((await submit('json')).errLines).toEqual([note, 'queued 1 · already queued or done 0 · failed ones queued again 0']);
    expect((await readFile(join(dir, 'y_mesh.png'))).equals(mine)).toBe(true);
    // A face's texture is the worker's to remove whatever the formats (a face beyond the count it
    // finds: removeFacesBeyond): an unmarked y_face1_texture.png keeps y.png's job out.
    const faces = await dirs.make('unowned-face');
    await copyFile(ASTRONAUT, join(faces, 'y.png'));
    await sharp(ASTRONAUT).resize(64, 64).png().toFile(join(faces, 'y_face1_texture.png'));
    const r2 = await runCli(['batch', 'submit', faces, '--out', faces, '--redis', redis.url, '--queue', 'unowned', '--model', 'light', '--formats', 'json']);
    expect(r2.code).toBe(1);
    expect(r2.errLines[1]).toBe(`prnet: ${join(faces, 'y.png')}: not queued: its output ${join(faces, 'y_face1_texture.png')} exists and prnet-ts did not write it (no prnet-ts mark, not in .prnet-done.jsonl): kept, in case it is a photo; rename it (or delete it if it is an earlier version's output) or choose another --out`);
  });

  it('a worker checks again when it writes: an unmarked image put in --out after queueing is neither replaced nor removed', async () => {
    const dir = await dirs.make('unowned-late');
    await copyFile(ASTRONAUT, join(dir, 'y.png'));
    await copyFile(ASTRONAUT, join(dir, 'z.png'));
    const queue = ['--redis', redis.url, '--queue', 'unowned-late'];
    const submit = (files: string[], ...formats: string[]) => runCli(['batch', 'submit', ...files, '--out', dir, ...queue, '--model', 'light', '--formats', formats.join(',')]);
    expect((await submit([join(dir, 'y.png')], 'json', 'overlay')).errLines.at(-1)).toBe('queued 1 · already queued or done 0 · failed ones queued again 0');
    expect((await submit([join(dir, 'z.png')], 'json')).errLines.at(-1)).toBe('queued 1 · already queued or done 0 · failed ones queued again 0');
    // queued, then the user's photos arrive: one named as y's overlay, one as z's second face's texture
    await sharp(ASTRONAUT).resize(64, 64).png().toFile(join(dir, 'y_mesh.png'));
    await sharp(ASTRONAUT).resize(48, 48).png().toFile(join(dir, 'z_face1_texture.png'));
    const mine = [await readFile(join(dir, 'y_mesh.png')), await readFile(join(dir, 'z_face1_texture.png'))];
    const w = startCli(['worker', ...queue]);
    workers.push(w);
    await waitUntil('both jobs', async () => { const st = await batchStatus(redis.url, { queue: 'unowned-late' }); return st.done + st.failed === 2; }, 60_000);
    const st = await batchStatus(redis.url, { queue: 'unowned-late' });
    expect([st.done, st.failed]).toEqual([1, 1]); // y failed (not retried: it stays so), z done with 1 face
    expect((await readFile(join(dir, 'y_mesh.png'))).equals(mine[0])).toBe(true);
    expect((await readFile(join(dir, 'z_face1_texture.png'))).equals(mine[1])).toBe(true);
    expect((await listFiles(dir)).filter((f) => !f.startsWith('.'))).toEqual(['y.png', 'y_mesh.png', 'z.png', 'z_face0.json', 'z_face1_texture.png']);
  });

  it('keeps each image\'s stem across submissions, dedupes list lines, expands folders in lists, and gives a re-queued failure fresh tries', async () => {
    const root = await dirs.make('stems');
    await mkdir(join(root, 'a'));
    await mkdir(join(root, 'b'));
    await copyFile(images[2], join(root, 'a', 'p.jpg'));
    await copyFile(images[3], join(root, 'b', 'p.jpg'));
    const out = join(root, 'out');
    const listFile = join(root, 'list.txt');
    await writeFile(listFile, 'a/p.jpg\n./a/p.jpg\n# a comment\n\nb\nmore.txt\n');
    const queue = ['--redis', redis.url, '--queue', 'stems'];
    const submit = (...inputs: string[]) => runCli(['batch', 'submit', ...inputs, '--out', out, ...queue, '--model', 'light', '--formats', 'json']);
    expect((await submit(listFile)).errLines).toEqual([
      `prnet: ${join(root, 'more.txt')}: a list inside a list is not read (give it on the command line)`,
      'queued 2 · already queued or done 0 · failed ones queued again 0 · unreadable 1',
    ]);
    const w = startCli(['worker', ...queue]);
    workers.push(w);
    await waitUntil('the two images', async () => (await batchStatus(redis.url, { queue: 'stems' })).done === 2, 60_000);
    expect(await listFiles(out)).toEqual(['.prnet-done.jsonl', 'p-2_face0.json', 'p_face0.json']); // two images: the record started
    // b/p.jpg alone: the same stem (p-2) and job, not 'p' over a/p.jpg's file.
    expect((await submit(join(root, 'b'))).errLines).toEqual(['queued 0 · already queued or done 1 · failed ones queued again 0']);
    const detector = await createDetector();
    for (const [stem, photo] of [['p', images[2]], ['p-2', images[3]]] as const) {
      const [largest] = await detector.detect(await decodeImageFile(photo));
      const { box } = JSON.parse(await readFile(join(out, `${stem}_face0.json`), 'utf8')) as { box: { x: number } };
      expect(box.x, stem).toBeCloseTo(largest.x, 1);
    }
    await detector.release?.();
    // A failure queued again gets its tries afresh: --attempts 1, failed, re-submitted, failed after 1 attempt again.
    const blocker = join(root, 'blocker');
    await writeFile(blocker, 'a file where the output folder should be');
    // (the library's submit: the CLI refuses an --out through a file it can see)
    const failing = { redis: redis.url, inputs: [images[4]], out: join(blocker, 'out'), queue: 'stems', model: 'light', formats: ['json' as const], attempts: 1 };
    await submitBatch(failing);
    await waitUntil('the failure', async () => (await batchStatus(redis.url, { queue: 'stems' })).failed === 1, 30_000);
    expect(await submitBatch(failing)).toMatchObject({ added: 0, skipped: 0, retried: 1 });
    await waitUntil('the failure again', async () => {
      const s = await batchStatus(redis.url, { queue: 'stems' });
      return s.failed === 1 && s.waiting + s.active === 0;
    }, 30_000);
    expect((await batchStatus(redis.url, { queue: 'stems' })).failures[0].attempts).toBe(1);
    w.child.kill('SIGTERM');
    await w.exited;
  });

  it("names a photo as the output folder's record does: a stem the record gives to another photo is not taken, by the submitter or the worker", async () => {
    const { root, a, b } = await sameNamedPhotos('record');
    const reconstruct = (out: string, ...args: string[]) => runCli(['reconstruct', ...args, '--out', out, '--model', 'light', '--formats', 'json', '--quiet']);
    const width = async (file: string): Promise<number> => (JSON.parse(await readFile(file, 'utf8')) as { image: { width: number } }).image.width;
    type Line = { input: string; stem: string; files: { path: string; size: number; mtimeMs: number }[] };
    const record = async (out: string): Promise<Line[]> => (await readFile(join(out, '.prnet-done.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Line);
    const settled = (queue: string, n: number) => waitUntil(`${n} jobs of ${queue}`, async () => {
      const st = await batchStatus(redis.url, { queue });
      return st.done + st.failed === n && st.waiting + st.active === 0;
    }, 60_000);

    // reconstruct a/x.png b/x.png wrote x (a's) and x-2 (b's), and recorded both; b/x.png submitted alone is x-2 again
    const out = join(root, 'out');
    expect((await reconstruct(out, a, b)).code).toBe(0);
    const aFile = await readFile(join(out, 'x_face0.json'));
    const q1 = ['--redis', redis.url, '--queue', 'record'];
    expect((await runCli(['batch', 'submit', b, '--out', out, ...q1, '--model', 'light', '--formats', 'json'])).errLines).toEqual(['queued 1 · already queued or done 0 · failed ones queued again 0']);
    const w1 = startCli(['worker', ...q1]);
    workers.push(w1);
    await settled('record', 1);
    expect((await batchStatus(redis.url, { queue: 'record' })).done).toBe(1);
    expect((await readFile(join(out, 'x_face0.json'))).equals(aFile)).toBe(true); // a's, untouched
    expect(await width(join(out, 'x-2_face0.json'))).toBe(400);
    // The worker added its line, as a one-image reconstruct into a folder that keeps the record does…
    const last = (await record(out)).at(-1)!;
    const st = await stat(join(out, 'x-2_face0.json'));
    expect(last).toMatchObject({ input: b, stem: 'x-2', files: [{ path: 'x-2_face0.json', size: st.size, mtimeMs: st.mtimeMs }] });
    // …with reconstruct's options: a resumed reconstruct of the same photo and options has it done
    const resumed = await runCli(['reconstruct', b, '--out', out, '--model', 'light', '--formats', 'json', '--resume']);
    expect(resumed.errLines).toEqual([`1 image of 1 skipped: done by an earlier run into ${out} with the same options (--resume)`]);
    w1.child.kill('SIGTERM');
    await w1.exited;

    // Queued before the record gave its stem to another photo (or by a submitter that cannot see
    // the folder): the worker does not write over that photo's files, and fails the job at once.
    const out2 = join(root, 'out2');
    const q2 = ['--redis', redis.url, '--queue', 'record2'];
    const submit2 = () => runCli(['batch', 'submit', b, '--out', out2, ...q2, '--model', 'light', '--formats', 'json']);
    expect((await submit2()).errLines).toEqual(['queued 1 · already queued or done 0 · failed ones queued again 0']); // named x: nothing there yet
    expect((await reconstruct(out2, a, '--resume')).code).toBe(0); // a/x.png as x, recorded
    const aFile2 = await readFile(join(out2, 'x_face0.json'));
    const w2 = startCli(['worker', ...q2]);
    workers.push(w2);
    await settled('record2', 1);
    const failed = await batchStatus(redis.url, { queue: 'record2' });
    expect(failed.failures).toEqual([{ path: b, attempts: 1, reason: `${b}: not written: ${join(out2, '.prnet-done.jsonl')} gives its output name 'x' to another photo (${a}), whose files are still there as written; submit it again where ${out2} can be seen (batch submit then names it after that record)` }]);
    expect((await readFile(join(out2, 'x_face0.json'))).equals(aFile2)).toBe(true);
    // Submitted again where the folder is seen: named x-2, and its refused job gives way to the new one.
    expect((await submit2()).errLines).toEqual(['queued 1 · already queued or done 0 · failed ones queued again 0']);
    await settled('record2', 1);
    expect(await batchStatus(redis.url, { queue: 'record2' })).toMatchObject({ done: 1, failed: 0 });
    expect((await readFile(join(out2, 'x_face0.json'))).equals(aFile2)).toBe(true);
    expect(await width(join(out2, 'x-2_face0.json'))).toBe(400);
    expect((await record(out2)).map((l) => [l.input, l.stem])).toEqual([[a, 'x'], [b, 'x-2']]);
    w2.child.kill('SIGTERM');
    await w2.exited;
  });

  it('a stem the record gives to this very photo is its own, whichever path Redis held it for; the path Redis held it for is named anew, its waiting job replaced', async () => {
    const { root, a, b } = await sameNamedPhotos('record-own');
    const out = join(root, 'out');
    const submit = (photo: string) => runCli(['batch', 'submit', photo, '--out', out, '--redis', redis.url, '--queue', 'record-own', '--model', 'light', '--formats', 'json']);
    const waiting = async (): Promise<[string, string][]> => {
      const q = new Queue('record-own', { connection: { url: redis.url } });
      try {
        return (await q.getJobs(['waiting'])).map((j) => [j.data.path, j.data.stem] as [string, string]).sort();
      } finally {
        await q.close();
      }
    };
    // b/x.png queued first (no worker yet): Redis gives x to it
    expect((await submit(b)).errLines).toEqual(['queued 1 · already queued or done 0 · failed ones queued again 0']);
    // then a/x.png is reconstructed as x, into a record
    expect((await runCli(['reconstruct', a, '--out', out, '--model', 'light', '--formats', 'json', '--quiet', '--resume'])).code).toBe(0);
    // a/x.png submitted: x, its own by the record (not x-2 beside it)
    expect((await submit(a)).errLines).toEqual(['queued 1 · already queued or done 0 · failed ones queued again 0']);
    expect(await waiting()).toEqual([[a, 'x'], [b, 'x']]);
    // b/x.png submitted again: x-2, and its job under x (which its worker would refuse) is gone
    expect((await submit(b)).errLines).toEqual(['queued 1 · already queued or done 0 · failed ones queued again 0']);
    expect(await waiting()).toEqual([[a, 'x'], [b, 'x-2']]);
  });

  it('a submission of several images starts the folder\'s record, as reconstruct of several does: a later one-image run keeps their names; one image alone starts none', async () => {
    const { root, a, b } = await sameNamedPhotos('record-start');
    const q = ['--redis', redis.url, '--queue', 'record-start'];
    const out = join(root, 'out');
    expect((await runCli(['batch', 'submit', a, b, '--out', out, ...q, '--model', 'light', '--formats', 'json'])).errLines).toEqual(['queued 2 · already queued or done 0 · failed ones queued again 0']);
    const w = startCli(['worker', ...q]);
    workers.push(w);
    await waitUntil('2 jobs of record-start', async () => (await batchStatus(redis.url, { queue: 'record-start' })).done === 2, 60_000);
    const lines = (await readFile(join(out, '.prnet-done.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { input: string; stem: string });
    expect(lines.map((l) => [l.input, l.stem]).sort()).toEqual([[a, 'x'], [b, 'x-2']]);
    // b/x.png reconstructed alone into that folder: x-2 again, not over a's x
    const aFile = await readFile(join(out, 'x_face0.json'));
    expect((await runCli(['reconstruct', b, '--out', out, '--model', 'light', '--formats', 'json', '--quiet'])).code).toBe(0);
    expect((await readFile(join(out, 'x_face0.json'))).equals(aFile)).toBe(true);
    expect((JSON.parse(await readFile(join(out, 'x-2_face0.json'), 'utf8')) as { image: { width: number } }).image.width).toBe(400);
    // one image alone into a new folder: a run of one image, no record
    const out1 = join(root, 'out1');
    expect((await runCli(['batch', 'submit', a, '--out', out1, ...q, '--model', 'light', '--formats', 'json'])).errLines).toEqual(['queued 1 · already queued or done 0 · failed ones queued again 0']);
    await waitUntil('3 jobs of record-start', async () => (await batchStatus(redis.url, { queue: 'record-start' })).done === 3, 60_000);
    expect(existsSync(join(out1, 'x_face0.json'))).toBe(true);
    expect(existsSync(join(out1, '.prnet-done.jsonl'))).toBe(false);
    w.child.kill('SIGTERM');
    await w.exited;
  });

  it('an idle worker says when Redis goes away and when it is back, each time', async () => {
    const w = startCli(['worker', '--redis', redis.url, '--queue', 'idle']);
    workers.push(w);
    await w.waitFor(/waiting for jobs/);
    for (let round = 1; round <= 2; round++) {
      await redis.restart(1500);
      await waitUntil(`'connected again' ${round}`, async () => w.lines.filter((l) => /Redis: connected again/.test(l)).length >= round, 30_000);
    }
    expect(w.lines.filter((l) => /Redis: connected again/.test(l))).toHaveLength(2);
    expect(w.lines.filter((l) => /Redis: .*\(retrying\)/.test(l))).toHaveLength(2);
    w.child.kill('SIGTERM');
    await w.exited;
  });

  it('stops a worker on SIGTERM after its job, exit 0', async () => {
    const b = workers[1];
    b.child.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });
    // idle (its jobs done long ago): nothing to finish, and it does not say it has (it said "finishing the jobs in progress")
    expect(b.lines.at(-1)).toBe('prnet worker: SIGTERM: stopping (no job in progress)');
  });

  it('a worker that Redis refuses (no or a wrong password) says so in one line and exits 1; it waited for ever', async () => {
    const locked = await startRedis({ password: 'sekret' });
    try {
      const port = new URL(locked.url).port;
      for (const [url, why] of [[`redis://127.0.0.1:${port}`, 'NOAUTH'], [`redis://:wrong@127.0.0.1:${port}`, 'WRONGPASS']]) {
        const w = startCli(['worker', '--redis', url, '--queue', 'refused']);
        workers.push(w);
        const ended = await Promise.race([w.exited, sleep(30_000).then(() => 'still running')]);
        expect(ended, w.lines.join('\n')).toEqual({ code: 1, signal: null });
        expect(w.lines).toEqual([expect.stringMatching(new RegExp(`^prnet: Redis at redis://(:\\*\\*\\*@)?127\\.0\\.0\\.1:${port} refused: ${why} `))]);
      }
      // the right password is let in
      const ok = startCli(['worker', '--redis', `redis://:sekret@127.0.0.1:${port}`, '--queue', 'refused']);
      workers.push(ok);
      await ok.waitFor(/waiting for jobs/);
      ok.child.kill('SIGTERM');
      expect(await ok.exited).toEqual({ code: 0, signal: null });
    } finally {
      await locked.stop();
    }
  });

  it('a worker that cannot reach Redis stops on SIGTERM (it used to wait for Redis forever)', async () => {
    const w = startCli(['worker', '--redis', 'redis://127.0.0.1:1', '--queue', 'unreachable']);
    workers.push(w);
    await w.waitFor(/Redis: .*ECONNREFUSED.*\(retrying\)/);
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('tells a Redis that went away (exit 69: try later) from one that refuses (exit 1)', () => {
    const url = 'redis://:secret@10.0.0.1:6379';
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    for (const cause of [
      new Error('Connection is closed.'),
      Object.assign(new Error('Reached the max retries per request limit (which is 2).'), { name: 'MaxRetriesPerRequestError' }),
      new Error('read ECONNRESET'),
      new Error('getaddrinfo ENOTFOUND redis'), // a stopped container's name in docker compose
      reply('LOADING Redis is loading the dataset in memory'),
      reply('ERR max number of clients reached'),
    ]) {
      const e = queueFailure(cause, url, 'lost') as Error;
      expect(e.name, cause.message).toBe('QueueUnavailableError');
      expect(e.message).toBe(`lost Redis at redis://:***@10.0.0.1:6379 (${cause.message})`);
    }
    for (const cause of [reply('WRONGPASS invalid username-password pair or user is disabled.'), reply('OOM command not allowed when used memory > \'maxmemory\'.')]) {
      const e = queueFailure(cause, url, 'lost') as Error;
      expect(e.name, cause.message).toBe('QueueError');
      expect(e.message).toBe(`Redis at redis://:***@10.0.0.1:6379 refused: ${cause.message}`);
    }
    // Not Redis's: a bug stays a bug (exit 70), a PrnetError as it is.
    const bug = new TypeError("Cannot read properties of undefined (reading 'split')");
    expect(queueFailure(bug, url, 'lost')).toBe(bug);
    const mine = new QueueError('kept');
    expect(queueFailure(mine, url)).toBe(mine);
  });

  it('says which Redis it cannot reach, in one line', async () => {
    const r = await runCli(['batch', 'status', '--redis', 'redis://127.0.0.1:1']);
    expect(r.code).toBe(69); // not 1, which status gives for failed jobs
    const s = await runCli(['batch', 'submit', ASTRONAUT, '--out', await dirs.make('unreachable'), '--redis', 'redis://127.0.0.1:1']);
    expect(s.code).toBe(69);
    expect(s.errLines).toEqual([expect.stringMatching(/^prnet: cannot reach Redis at redis:\/\/127\.0\.0\.1:1 /)]);
    // A refusal that trying later would meet again (no or a wrong password) is exit 1, not 69; the
    // right password is let in.
    const locked = await startRedis({ password: 'sekret' });
    try {
      const port = new URL(locked.url).port;
      for (const url of [`redis://127.0.0.1:${port}`, `redis://:wrong@127.0.0.1:${port}`]) {
        const r = await runCli(['batch', 'status', '--redis', url]);
        expect(r.code, `${url}: ${r.stderr}`).toBe(1);
        expect(r.errLines).toEqual([expect.stringMatching(/^prnet: Redis at redis:\/\/.* refused: (NOAUTH|WRONGPASS)/)]);
      }
      // (a queue that has never had a job: exit 1, said after Redis let it in)
      const ok = await runCli(['batch', 'status', '--redis', `redis://:sekret@127.0.0.1:${port}`]);
      expect(ok.errLines, ok.stderr).toEqual([expect.stringMatching(/^prnet: queue 'prnet-reconstruct' at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ has never had a job \(no queue there has had one\)$/)]);
    } finally {
      await locked.stop();
    }
    expect(r.errLines).toEqual([expect.stringMatching(/^prnet: cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(.*ECONNREFUSED.*\)$/)]);
    // a database the server does not have: said, not database 0 used in its place
    const db = await runCli(['batch', 'status', '--redis', `${redis.url.replace(/\/\d*$/, '')}/99`]);
    expect(db.code).toBe(1);
    expect(db.errLines).toEqual([expect.stringMatching(/^prnet: Redis at redis:\/\/127\.0\.0\.1:\d+\/99 has no database 99 \(it is using 0: see its 'databases' setting\)$/)]);
  });

  it('batch status: a queue that has never had a job (a mistyped --queue) is said, exit 1, not counted as done; a --wait whose --timeout runs out says so, exit 75', async () => {
    const dir = await dirs.make('stuck');
    const r = await runCli(['batch', 'submit', ASTRONAUT, '--out', dir, '--redis', redis.url, '--queue', 'stuck', '--model', 'light', '--formats', 'json']);
    expect(r.code, r.stderr).toBe(0);
    // (it printed "done 0 · failed 0 · waiting 0 · active 0", exit 0)
    const typo = await runCli(['batch', 'status', '--redis', redis.url, '--queue', 'stuk']);
    expect([typo.code, typo.stdout]).toEqual([1, '']);
    expect(typo.errLines).toEqual([expect.stringMatching(/^prnet: queue 'stuk' at redis:\/\/127\.0\.0\.1:\d+ has never had a job \(did you mean 'stuck'\?\)$/)]);
    const far = await runCli(['batch', 'status', '--redis', redis.url, '--queue', 'elsewhere']);
    expect(far.errLines).toEqual([expect.stringMatching(/^prnet: queue 'elsewhere' at .* has never had a job \(queues there with jobs: [a-z-]+(, [a-z-]+)*(, … \(\d+ more\))?\)$/)]);
    // no worker on it: the job stays waiting (it exited 1 without a word, as for failed jobs)
    const waited = await runCli(['batch', 'status', '--redis', redis.url, '--queue', 'stuck', '--wait', '--timeout', '1']);
    expect(waited.code).toBe(75);
    expect(waited.stdout).toBe('done 0 · failed 0 · waiting 1 · active 0\n');
    expect(waited.errLines.at(-1)).toBe('prnet: --wait timed out after 1 s with jobs still to do: done 0 · failed 0 · waiting 1 · active 0');
  });

  it('a worker refuses job data it cannot trust (a stem that climbs out of its folder, a relative path), failing the job at once', async () => {
    const dir = await dirs.make('crafted');
    const out = join(dir, 'out');
    await mkdir(out);
    // jobs put in Redis by hand, not by submit
    const queue = new Queue('crafted', { connection: { url: redis.url } });
    const base = { path: ASTRONAUT, out, stem: 'a', formats: ['json'], model: 'light' };
    await queue.add('reconstruct', { ...base, stem: '../escaped' }, { jobId: 'climb' });
    await queue.add('reconstruct', { ...base, path: 'examples/astronaut.jpg' }, { jobId: 'relative' });
    await queue.close();
    const w = startCli(['worker', '--redis', redis.url, '--queue', 'crafted']);
    workers.push(w);
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await w.waitFor(new RegExp(`failed: ${esc(ASTRONAUT)}: job data: stem must be a file name, got "\\.\\./escaped" \\(attempt 1\\)$`));
    await w.waitFor(/failed: examples\/astronaut\.jpg: job data: path and out must be absolute \(attempt 1\)$/);
    w.child.kill('SIGTERM');
    await w.exited;
    expect(await listFiles(dir)).toEqual([]); // nothing written, in the folder or beside it
    expect(await readdir(out)).toEqual([]);
  });

  it('a worker given a database the server does not have says so and takes no job (exit 1)', async () => {
    // a job waiting in database 0's queue, which the worker would have taken in its place
    const dir = await dirs.make('wrong-db');
    const r = await runCli(['batch', 'submit', ASTRONAUT, '--out', dir, '--redis', redis.url, '--queue', 'wrongdb', '--model', 'light', '--formats', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const w = startCli(['worker', '--redis', `${redis.url.replace(/\/\d*$/, '')}/99`, '--queue', 'wrongdb']);
    workers.push(w);
    expect(await w.exited).toEqual({ code: 1, signal: null });
    expect(w.lines).toEqual([expect.stringMatching(/^prnet: Redis at redis:\/\/127\.0\.0\.1:\d+\/99 has no database 99 \(it is using 0: see its 'databases' setting\)$/)]);
    const status = await runCli(['batch', 'status', '--redis', redis.url, '--queue', 'wrongdb']);
    expect(status.stdout).toBe('done 0 · failed 0 · waiting 1 · active 0\n');
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('prnet batch / worker arguments', () => {
  it('are usage errors (exit 2, one line) when incomplete or wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['batch'], /batch needs 'submit' or 'status'/],
      [['batch', 'submit', 'photos/', '--redis', 'redis://127.0.0.1:6379'], /needs --out/],
      [['batch', 'submit', 'photos/', '--out', 'o'], /needs --redis <url> \(without Redis, use prnet reconstruct\)/],
      [['batch', 'submit', 'photos/', '--out', 'o', '--redis', 'http://127.0.0.1'], /--redis must be a redis:\/\/ or rediss:\/\/ URL/],
      [['batch', 'submit', 'photos/', '--out', 'o', '--redis', 'redis://h', '--formats', 'gif'], /unknown format 'gif'/],
      [['batch', 'status'], /needs --redis/],
      // (it was accepted and did nothing)
      [['batch', 'status', '--redis', 'redis://h', '--timeout', '5'], /^prnet: --timeout is how long --wait waits: give it with --wait$/],
      [['worker'], /worker needs --redis/],
      [['worker', '--redis', 'redis://h', '--concurrency', '0'], /--concurrency must be a whole number ≥ 1/],
      // BullMQ's keys are bull:<queue>:…: a ':' was an internal error (exit 70)
      [['batch', 'submit', 'photos/', '--out', 'o', '--redis', 'redis://h', '--queue', 'a:b'], /^prnet: --queue cannot contain ':'/],
      [['batch', 'status', '--redis', 'redis://h', '--queue', 'a:b'], /^prnet: --queue cannot contain ':'/],
      [['worker', '--redis', 'redis://h', '--queue', 'a:b'], /^prnet: --queue cannot contain ':'/],
      // an --out that is a file, or a path through one: every job failed at the workers after its attempts
      [['batch', 'submit', ASTRONAUT, '--out', ASTRONAUT, '--redis', 'redis://h'], /^prnet: --out .*astronaut\.(png|jpg) is a file, not a folder$/],
      [['batch', 'submit', ASTRONAUT, '--out', `${ASTRONAUT}/out`, '--redis', 'redis://h'], /^prnet: --out .*astronaut\.(png|jpg)\/out: a part of the path is a file, not a folder$/],
    ];
    for (const [args, re] of cases) {
      const r = await runMain(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.errLines, args.join(' ')).toEqual([expect.stringMatching(re)]);
    }
    // A model file that is missing fails the submission (exit 3, before Redis is reached), not every worker's every attempt.
    const missing = await runMain(['batch', 'submit', ASTRONAUT, '--out', 'o', '--redis', 'redis://127.0.0.1:1', '--model', '/nonexistent/m.safetensors']);
    expect(missing.code).toBe(3);
    expect(missing.errLines).toEqual([expect.stringMatching(/^prnet: .*model file not found/)]);
    // A model name that is an Object property is a file name, not a bundled model.
    const proto = await runMain(['batch', 'submit', ASTRONAUT, '--out', 'o', '--redis', 'redis://127.0.0.1:1', '--model', 'constructor']);
    expect(proto.code).toBe(3);
    expect(proto.errLines).toEqual([expect.stringMatching(/no bundled model 'constructor' and no such file \(bundled models: default, light; /)]);
    const help = await runMain(['--help']);
    for (const cmd of ['prnet serve', 'prnet batch submit', 'prnet batch status', 'prnet worker']) expect(help.stdout).toContain(cmd);
    // the inputs as docs/serve.md gives them (help said <folder|list.txt>; an image named alone is queued too)
    const inputs = /prnet batch submit (\S+) --out/.exec(help.stdout)?.[1];
    expect(inputs).toBe('<folder|image|list.txt>...');
    expect(await readFile(join(REPO, 'docs/serve.md'), 'utf8')).toContain(`npx prnet batch submit ${inputs} --out <dir>`);
  });
});

describe('checkDatabase', () => {
  it('reads the database from CLIENT INFO, and where Redis has none (before 6.2, or an ACL without it) selects it again', async () => {
    const client = (info: string | null, select: string | null) => ({
      call: async (...args: string[]) => {
        if (args[0] === 'CLIENT') return info === null ? Promise.reject(new Error("ERR unknown command 'CLIENT'")) : info;
        return select === null ? 'OK' : Promise.reject(new Error(select));
      },
    });
    await expect(checkDatabase('redis://h:1/3', client('id=1 db=3 cmd=client', null))).resolves.toBeUndefined();
    await expect(checkDatabase('redis://h:1/99', client('id=1 db=0 cmd=client', null))).rejects.toThrow(/^Redis at redis:\/\/h:1\/99 has no database 99 \(it is using 0: see its 'databases' setting\)$/);
    await expect(checkDatabase('redis://h:1/99', client(null, 'ERR DB index is out of range'))).rejects.toThrow(/^Redis at redis:\/\/h:1\/99 has no database 99 \(ERR DB index is out of range: see its 'databases' setting\)$/);
    await expect(checkDatabase('redis://h:1/3', client(null, null))).resolves.toBeUndefined();
    await expect(checkDatabase('redis://h:1', client(null, 'never asked'))).resolves.toBeUndefined(); // database 0: nothing to check
  });
});

describe('removeStaleTemps', () => {
  it("removes only the temporary files of this image's outputs", async () => {
    const dir = await dirs.make('temps');
    const names = [
      '.prnet-123-0.astro_face0.json.tmp', '.prnet-9-4.astro_face1_texture.png.tmp', '.prnet-77-12.astro_depth.png.tmp', // an earlier attempt's
      '.prnet-5-0a1b2c3d4e5f-7.astro_face0.obj.tmp', // one named with a process's tag
      '.prnet-123-1.astro2_face0.json.tmp', '.astro_face0.json.tmp', '.prnet-1-2.astro_notes.txt.tmp', // another image's, or not ours
      'astro_face0.json', 'astro_face0.glb', // finished files
    ];
    for (const n of names) await writeFile(join(dir, n), 'x');
    expect(await removeStaleTemps(dir, 'astro')).toBe(4);
    expect(await listFiles(dir)).toEqual(names.slice(4).sort());
    expect(await removeStaleTemps(join(dir, 'missing'), 'astro')).toBe(0);
  });
});
