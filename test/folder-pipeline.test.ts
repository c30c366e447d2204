/**
 * `prnet reconstruct <folder>`'s pipeline (src/cli/reconstruct.ts inPipeline): decoding ahead and
 * writing behind overlap the network stage, which takes one image at a time; every image is
 * reported once, in order, and one image's failure in any stage leaves the others.
 */
import { describe, expect, it } from 'vitest';
import { DECODE_AHEAD, inPipeline } from '../src/cli/reconstruct.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('folder pipeline', () => {
  it('overlaps decoding and writing with a one-at-a-time network stage, reporting in order', async () => {
    const log: string[] = [];
    let inNetwork = 0;
    let maxInNetwork = 0;
    let maxDecodedAhead = 0;
    let networkDone = -1;
    const done: [number, unknown][] = [];
    await inPipeline(8, {
      decode: async (i) => {
        maxDecodedAhead = Math.max(maxDecodedAhead, i - networkDone - 1);
        log.push(`decode ${i}`);
        await tick(2);
        return i * 10;
      },
      network: async (i, x) => {
        expect(x).toBe(i * 10);
        inNetwork++;
        maxInNetwork = Math.max(maxInNetwork, inNetwork);
        log.push(`network ${i}`);
        await tick(5);
        inNetwork--;
        networkDone = i;
        return x + 1;
      },
      output: async (i, y) => {
        expect(y).toBe(i * 10 + 1);
        log.push(`output ${i}`);
        await tick(8);
        log.push(`output end ${i}`);
      },
    }, (i, e) => done.push([i, e]));
    expect(done).toEqual(Array.from({ length: 8 }, (_, i) => [i, undefined]));
    expect(maxInNetwork).toBe(1);
    // the next image is decoded before the current one's network stage ends, but no further ahead than DECODE_AHEAD
    expect(log.indexOf('decode 1')).toBeLessThan(log.indexOf('network 0') + 1);
    expect(maxDecodedAhead).toBeLessThanOrEqual(DECODE_AHEAD);
    // image i + 1's network stage runs while image i's outputs are written
    for (let i = 0; i < 7; i++) expect(log.indexOf(`network ${i + 1}`)).toBeLessThan(log.indexOf(`output end ${i}`));
    expect(log.filter((l) => l.startsWith('output end')).length).toBe(8);
  });

  it('reports a failure in any stage for its image and goes on with the others', async () => {
    const done: [number, string | undefined][] = [];
    await inPipeline(6, {
      decode: async (i) => {
        if (i === 1) throw new Error('bad image');
        return i;
      },
      network: async (i) => {
        if (i === 3) throw new Error('no face');
        return i;
      },
      output: async (i) => {
        if (i === 4) throw new Error('disk full');
      },
    }, (i, e) => done.push([i, e === undefined ? undefined : (e as Error).message]));
    expect(done).toEqual([[0, undefined], [1, 'bad image'], [2, undefined], [3, 'no face'], [4, 'disk full'], [5, undefined]]);
  });
});

describe('folder progress', () => {
  /** A progress line writer for `total` photos and the lines it writes (not a terminal). */
  const progress = async (total: number): Promise<{ p: InstanceType<typeof import('../src/cli/progress.js').Progress>; lines: string[] }> => {
    const { Progress } = await import('../src/cli/progress.js');
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    return { p: new Progress(total, { label: 'reconstruct', unit: 'photos', stream }), lines };
  };

  it('shows the rate in photos per second', async () => {
    const { p, lines } = await progress(2);
    p.tick(true);
    p.tick(true);
    expect(lines.at(-1)).toMatch(/^reconstruct █+ 2\/2 [\d.]+ photos\/s ETA 0s\n$/);
  });

  it('finish() ends a bar that fell short of its total; an unknown total shows the count alone', async () => {
    const { Progress } = await import('../src/cli/progress.js');
    const lines: string[] = [];
    const tty = { isTTY: true, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const short = new Progress(158, { label: 'video', stream: tty });
    short.tick(true);
    expect(lines.at(-1)).not.toMatch(/\n$/); // a terminal line in progress
    short.finish();
    // eslint-disable-next-line no-control-regex
    expect(lines.at(-1)).toMatch(/^\r\x1b\[Kvideo █* *░+ 1\/158 [\d.]+\/s ETA .*\n$/);
    const before = lines.length;
    new Progress(5, { stream: tty }).finish(); // not started: a line with 0 done, ended
    expect(lines.length).toBe(before + 1);
    // A job that ended where it should, short of an estimated total: the total becomes the count.
    const estimated = new Progress(57, { label: 'video', stream: tty });
    for (let k = 0; k < 56; k++) estimated.tick(true);
    estimated.finish('', true);
    // eslint-disable-next-line no-control-regex
    expect(lines.at(-1)).toMatch(/^\r\x1b\[Kvideo █{24} 56\/56 [\d.]+\/s ETA 0s\n$/);
    // An estimate one too low (56 for 57 frames): one bar to the end, no second line.
    const low: string[] = [];
    const lowTty = { isTTY: true, write: (t: string) => low.push(t) } as unknown as NodeJS.WriteStream;
    const under = new Progress(56, { label: 'video', stream: lowTty, estimated: true });
    for (let k = 0; k < 57; k++) under.tick(true);
    under.finish('', true);
    under.finish('', true); // a second finish draws nothing
    expect(low.filter((l) => l.endsWith('\n'))).toHaveLength(1);
    // eslint-disable-next-line no-control-regex
    expect(low.at(-1)).toMatch(/^\r\x1b\[Kvideo █{24} 57\/57 [\d.]+\/s ETA 0s\n$/);
    const unknown = new Progress(Infinity, { label: 'video', stream: { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream });
    unknown.tick(true);
    expect(lines.at(-1)).toMatch(/^video ░+ 1 –\/s ETA \?\n$/);
    unknown.finish('', true);
    expect(lines.at(-1)).toMatch(/^video █{24} 1\/1 [\d.]+\/s ETA 0s\n$/); // complete: the count is the total
    // A job of unknown total that failed (a video without a frame): no full bar at 0.
    const failed = new Progress(Infinity, { label: 'video', stream: tty });
    failed.finish();
    // eslint-disable-next-line no-control-regex
    expect(lines.at(-1)).toMatch(/^\r\x1b\[Kvideo ░{24} 0 –\/s ETA \?\n$/);
  });

  it('counts the rate from the first item done: the start-up before it does not slow it (a video\'s first line read "0.5/s ETA 32m59s")', async () => {
    const { p, lines } = await progress(1000);
    const t0 = Date.now();
    while (Date.now() - t0 < 1200) await new Promise((r) => setTimeout(r, 50)); // loading
    p.tick(true);
    expect(lines.at(-1)).toMatch(/ – photos\/s ETA \?\n$/); // one item: no rate yet
    const t1 = Date.now();
    let n = 1;
    while (Date.now() - t1 < 1100) {
      await new Promise((r) => setTimeout(r, 10));
      p.tick(true);
      n++;
    }
    (p as unknown as { lastDraw: number }).lastDraw = 0; // draw now (the log interval is 5 s)
    p.tick(true);
    const rate = Number(/ ([\d.]+) photos\/s/.exec(lines.at(-1)!)![1]);
    // about n items a second since the first, not n / 2.3 s
    expect(rate).toBeGreaterThan(0.75 * (n / ((Date.now() - t1) / 1000)));
    // items that finish together (4 a second): 4/s, not inflated by the first burst
    const burst = await progress(100);
    for (let k = 0; k < 4; k++) burst.p.tick(true);
    const t2 = Date.now();
    while (Date.now() - t2 < 1000) await new Promise((r) => setTimeout(r, 20));
    for (let k = 0; k < 3; k++) burst.p.tick(true);
    (burst.p as unknown as { lastDraw: number }).lastDraw = 0; // draw the fourth
    burst.p.tick(true);
    const r4 = Number(/ ([\d.]+) photos\/s/.exec(burst.lines.at(-1)!)![1]);
    expect(r4).toBeGreaterThan(3);
    expect(r4).toBeLessThan(4.5);
    // a final line soon after the first item: the rate over the whole time (start-up included), not two items 5 ms apart
    const quick = await progress(2);
    const t3 = Date.now();
    while (Date.now() - t3 < 1100) await new Promise((r) => setTimeout(r, 50));
    quick.p.tick(true);
    await new Promise((r) => setTimeout(r, 60));
    quick.p.tick(true);
    expect(Number(/ ([\d.]+) photos\/s/.exec(quick.lines.at(-1)!)![1])).toBeLessThan(3);
  });

  it('shows no rate before a second has passed (a fast first failure is not "200 photos/s")', async () => {
    const { p, lines } = await progress(100);
    p.tick(false);
    expect(lines).toEqual(['reconstruct ░░░░░░░░░░░░░░░░░░░░░░░░ 1/100 (1 failed) – photos/s ETA ?\n']);
  });
});
