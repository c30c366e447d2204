/**
 * Service and distributed-batch benchmark (`npm run bench:serve`, after `npm run build`: it runs
 * the compiled `prnet` as a user would). Loopback only, bounded in time. Prints:
 *
 * - `prnet serve` under autocannon for --seconds at 1, 4 and 16 connections with real photos:
 *   requests/s, p50/p99 latency, status codes (only 200 and 503 are acceptable), errors, peak RSS;
 * - SIGTERM to the server under load: responses cut off (must be 0), in-flight requests answered;
 * - --images photos through Redis + `prnet worker`: images/s with 1 and with 2 workers (scaling
 *   efficiency), then a fault run with 2 workers where one is SIGKILLed halfway and Redis is
 *   restarted at three quarters: every image's files present exactly once, none partial.
 *
 *   npm run bench:serve -- [--seconds 30] [--images 200] [--model default] [--batch-model light]
 *                          [--formats json,glb,ply] [--workers n] [--skip-serve] [--skip-batch]
 */
import { readdir, readFile, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { openQueue } from '../src/batch/jobs.js';
import { batchStatus } from '../src/batch/status.js';
import { startRedis, type TestRedis } from '../test/helpers/redis.js';
import { startCli, type RunningCli } from '../test/helpers/spawn.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    images: { type: 'string', default: '200' },
    model: { type: 'string', default: 'default' },
    'batch-model': { type: 'string', default: 'light' },
    formats: { type: 'string', default: 'json,glb,ply' },
    workers: { type: 'string' },
    'skip-serve': { type: 'boolean' },
    'skip-batch': { type: 'boolean' },
  },
});
const SECONDS = Number(values.seconds);
const IMAGES = Number(values.images);
const CORES = availableParallelism();
const WORKERS = Number(values.workers ?? CORES);
const SHARED = resolve(import.meta.dirname, '../../shared/eval');
const out = (line = '') => process.stdout.write(`${line}\n`);
const fmt = (x: number, d = 1) => x.toFixed(d);

function rssOf(pid: number): Promise<{ rss: number; hwm: number }> {
  return readFile(`/proc/${pid}/status`, 'utf8').then(
    (s) => ({ rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024, hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024 }),
    () => ({ rss: 0, hwm: 0 }),
  );
}

async function photos(): Promise<Buffer[]> {
  const names = ['portraits/astronaut.png', 'aflw2000-3d/image00050.jpg', 'ibug68/2008_001322.jpg'];
  const dev = join(SHARED, 'aflw2000-3d-dev');
  const more = (await readdir(dev)).filter((f) => f.endsWith('.jpg')).sort().slice(100, 105).map((f) => join(dev, f));
  return Promise.all([...names.map((n) => join(SHARED, n)), ...more].map((p) => readFile(p)));
}

async function benchServe(): Promise<void> {
  out(`## prnet serve: --workers ${WORKERS}, model '${values.model}', ${SECONDS} s per run, 8 real photos (one to three faces, 450² to 640×480)`);
  const cli = startCli(['serve', '--port', '0', '--workers', String(WORKERS), '--models', `${values.model}`], {}, { dist: true });
  const url = (await cli.waitFor(/listening on (http:\/\/\S+)/))[1];
  const t0 = performance.now();
  await cli.waitFor(/ready/, 120_000);
  out(`models loaded in ${fmt((performance.now() - t0) / 1000)} s; RSS idle ${fmt((await rssOf(cli.child.pid!)).rss / 2 ** 20, 0)} MiB`);
  const bodies = await photos();
  out();
  out('| connections | requests/s (200) | 503/s | p50 ms | p99 ms | status codes | errors | peak RSS MiB |');
  out('|---|---|---|---|---|---|---|---|');
  for (const connections of [1, 4, 16]) {
    let peak = 0;
    const sampler = setInterval(() => void rssOf(cli.child.pid!).then((r) => (peak = Math.max(peak, r.rss))), 250);
    const r = await autocannon({
      url: `${url}/v1/reconstruct`,
      connections,
      duration: SECONDS,
      timeout: 60,
      requests: bodies.map((b) => ({ method: 'POST', body: b, headers: { 'content-type': 'image/jpeg' } })),
    });
    clearInterval(sampler);
    const codes = Object.entries(r.statusCodeStats ?? {}).map(([c, s]) => `${c}×${(s as { count: number }).count}`).join(' ');
    const ok = (r.statusCodeStats as Record<string, { count: number }> | undefined)?.['200']?.count ?? 0;
    const busy = (r.statusCodeStats as Record<string, { count: number }> | undefined)?.['503']?.count ?? 0;
    out(`| ${connections} | ${fmt(ok / r.duration, 2)} | ${fmt(busy / r.duration, 1)} | ${r.latency.p50} | ${r.latency.p99} | ${codes} | ${r.errors + r.timeouts} | ${fmt(peak / 2 ** 20, 0)} |`);
    // Let the queue drain between runs (requests autocannon abandoned are still answered).
    for (;;) {
      const m = await (await fetch(`${url}/metrics`)).text();
      if (/^prnet_queue_depth 0$/m.test(m) && /^prnet_http_requests_in_flight 1$/m.test(m)) break;
      await sleep(250);
    }
  }
  out(`peak RSS over the runs (VmHWM): ${fmt((await rssOf(cli.child.pid!)).hwm / 2 ** 20, 0)} MiB (limit 1536)`);

  // SIGTERM under load.
  let stop = false;
  let termAt = Number.POSITIVE_INFINITY;
  const tally = { ok: 0, okAfterTerm: 0, busy: 0, refused: 0, cut: 0, other: 0 };
  const client = async (i: number) => {
    while (!stop) {
      let res: Response;
      try {
        res = await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: new Uint8Array(bodies[i % bodies.length]), headers: { 'content-type': 'image/jpeg' } });
      } catch {
        tally.refused++;
        await sleep(50);
        continue;
      }
      try {
        await res.arrayBuffer();
        if (res.status === 200) {
          tally.ok++;
          if (performance.now() > termAt) tally.okAfterTerm++;
        } else if (res.status === 503) tally.busy++;
        else tally.other++;
      } catch {
        tally.cut++;
      }
    }
  };
  const clients = Array.from({ length: 8 }, (_, i) => client(i));
  await sleep(5000);
  termAt = performance.now();
  cli.child.kill('SIGTERM');
  const exit = await cli.exited;
  const stopMs = performance.now() - termAt;
  stop = true;
  await Promise.all(clients);
  out();
  out(`SIGTERM under load (8 clients): exit ${exit.code} after ${fmt(stopMs / 1000)} s; responses 200: ${tally.ok} (${tally.okAfterTerm} finished after the signal), ` +
    `503: ${tally.busy}, other: ${tally.other}, cut off mid-response: ${tally.cut}, refused after close: ${tally.refused}`);
  out();
}

async function batchImages(): Promise<string[]> {
  const dev = join(SHARED, 'aflw2000-3d-dev');
  return (await readdir(dev)).filter((f) => f.endsWith('.jpg')).sort().slice(0, IMAGES).map((f) => join(dev, f));
}

interface RunResult {
  imagesPerSecond: number;
  done: number;
  failed: number;
}

/** The queue's status, or null while Redis cannot be reached (it is restarted on purpose). */
const statusOf = (redis: TestRedis, queue: string) => batchStatus(redis.url, { queue }).catch(() => null);

async function runBatch(redis: TestRedis, queue: string, workers: number, outDir: string, list: string, fault?: (w: RunningCli[]) => Promise<void>): Promise<{ r: RunResult; workers: RunningCli[] }> {
  const submit = startCli(['batch', 'submit', list, '--out', outDir, '--redis', redis.url, '--queue', queue, '--model', values['batch-model']!, '--formats', values.formats!], {}, { dist: true });
  if ((await submit.exited).code !== 0) throw new Error(`submit failed:\n${submit.lines.join('\n')}`);
  const threads = String(Math.max(1, Math.floor(CORES / workers)));
  const ws = Array.from({ length: workers }, () => startCli(['worker', '--redis', redis.url, '--queue', queue, '--threads', threads, '--lock-seconds', '5'], {}, { dist: true }));
  const faultDone = fault ? fault(ws) : Promise.resolve();
  const until = Date.now() + 30 * 60_000;
  for (;;) {
    const s = await statusOf(redis, queue);
    if (s && s.waiting + s.active === 0 && s.done + s.failed >= IMAGES) break;
    if (Date.now() > until) throw new Error(`batch did not finish: ${JSON.stringify(s)}`);
    await sleep(500);
  }
  await faultDone;
  const q = await openQueue(redis.url, queue);
  const jobs = await q.getCompleted(0, IMAGES);
  await q.close();
  const start = Math.min(...jobs.map((j) => j.processedOn ?? Infinity));
  const end = Math.max(...jobs.map((j) => j.finishedOn ?? 0));
  const s = await batchStatus(redis.url, { queue });
  for (const w of ws) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(ws.map((w) => w.exited));
  return { r: { imagesPerSecond: jobs.length / ((end - start) / 1000), done: s.done, failed: s.failed }, workers: ws };
}

/** Every completed image's files exactly once and whole; nothing else in the folder. */
async function checkOutputs(redis: TestRedis, queue: string, outDir: string): Promise<string> {
  const q = await openQueue(redis.url, queue);
  const jobs = await q.getCompleted(0, IMAGES);
  await q.close();
  const expected = jobs.flatMap((j) => j.returnvalue.files).sort();
  const present = (await readdir(outDir)).sort();
  const tmp = present.filter((f) => f.endsWith('.tmp'));
  const extra = present.filter((f) => !expected.includes(f));
  const missing = expected.filter((f) => !present.includes(f));
  const dupes = expected.length - new Set(expected).size;
  let broken = 0;
  for (const f of expected.filter((x) => present.includes(x))) {
    const b = await readFile(join(outDir, f));
    const ok = f.endsWith('.json') ? (() => { try { JSON.parse(b.toString()); return true; } catch { return false; } })()
      : f.endsWith('.glb') ? b.readUInt32LE(0) === 0x46546c67 && b.readUInt32LE(8) === b.length
      : f.endsWith('.ply') ? b.subarray(0, 200).toString('latin1').startsWith('ply') && b.length > 100_000
      : f.endsWith('.png') ? b.subarray(b.length - 8, b.length - 4).toString('latin1') === 'IEND'
      : b.length > 0;
    if (!ok) broken++;
  }
  return `${jobs.length} images done, ${expected.length} files expected: missing ${missing.length}, duplicated ${dupes}, unexpected ${extra.length}, temporary ${tmp.length}, partial/unreadable ${broken}`;
}

async function benchBatch(): Promise<void> {
  const images = await batchImages();
  out(`## Distributed batch: ${images.length} AFLW2000-3D photos, model '${values['batch-model']}', formats ${values.formats}, Redis on loopback (append-only file)`);
  const redis = await startRedis({ persist: true });
  const root = await mkdtemp(join(tmpdir(), 'prnet-bench-batch-'));
  const list = join(root, 'images.txt');
  await writeFile(list, images.join('\n') + '\n');
  try {
    out();
    out('| workers (threads each) | images/s | done | failed (no face) | efficiency |');
    out('|---|---|---|---|---|');
    const one = await runBatch(redis, 'bench-1', 1, join(root, 'out-1'), list);
    out(`| 1 (${CORES}) | ${fmt(one.r.imagesPerSecond, 2)} | ${one.r.done} | ${one.r.failed} | 1.00 |`);
    const two = await runBatch(redis, 'bench-2', 2, join(root, 'out-2'), list);
    out(`| 2 (${Math.max(1, Math.floor(CORES / 2))}) | ${fmt(two.r.imagesPerSecond, 2)} | ${two.r.done} | ${two.r.failed} | ${fmt(two.r.imagesPerSecond / one.r.imagesPerSecond / 2, 2)} |`);

    // Faults: SIGKILL one worker halfway, restart Redis at three quarters.
    const events: string[] = [];
    const fault = async (ws: RunningCli[]) => {
      for (;;) {
        const s = await statusOf(redis, 'bench-fault');
        if (s && s.done >= IMAGES / 2) break;
        await sleep(200);
      }
      ws[0].child.kill('SIGKILL');
      events.push(`SIGKILL worker A at ${(await batchStatus(redis.url, { queue: 'bench-fault' })).done} done`);
      for (;;) {
        const s = await statusOf(redis, 'bench-fault');
        if (s && s.done >= (IMAGES * 3) / 4) break;
        await sleep(200);
      }
      const t = performance.now();
      await redis.restart(2000);
      events.push(`Redis restarted (down ${fmt((performance.now() - t) / 1000)} s) at ${(await batchStatus(redis.url, { queue: 'bench-fault' })).done} done`);
    };
    const faulty = await runBatch(redis, 'bench-fault', 2, join(root, 'out-fault'), list, fault);
    out();
    out(`Fault run (2 workers): ${events.join('; ')}; finished: done ${faulty.r.done}, failed ${faulty.r.failed}, ${fmt(faulty.r.imagesPerSecond, 2)} images/s overall`);
    const b = faulty.workers[1].lines.join('\n');
    out(`Worker B ${/Redis: .*retrying/.test(b) ? 'lost Redis and reconnected' : 'did not notice the Redis restart'}; exit on SIGTERM: ${(await faulty.workers[1].exited).code}`);
    out(`Outputs: ${await checkOutputs(redis, 'bench-fault', join(root, 'out-fault'))}`);
  } finally {
    await redis.stop();
    await rm(root, { recursive: true, force: true });
  }
}

out(`# bench:serve — ${new Date().toISOString()}, ${CORES} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((x) => fmt(x, 1)).join(' ')}`);
out();
if (!values['skip-serve']) await benchServe();
if (!values['skip-batch']) await benchBatch();
out(`load average at the end: ${loadavg().map((x) => fmt(x, 1)).join(' ')}`);
