import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildPack, canonicalKeypoints, dealShard, faceStats, mixOrder, mixStratum, poseBin, readPack, relativeWeights, samplingWeight, type MixCandidate,
} from '../scripts/pack-training.js';
import { labelsDir, readLabels } from '../tools/data/labels-file.js';
import { loadLayout } from '../src/layout/node.js';
import { fnv1a } from '../src/util/hash.js';

/** Strata of the given sizes, names and hashes from a fixed FNV-1a of their index. */
function candidates(sizes: Record<string, number>): MixCandidate[] {
  const out: MixCandidate[] = [];
  for (const [stratum, n] of Object.entries(sizes)) for (let i = 0; i < n; i++) out.push({ stratum, name: `${stratum}-${i}`, hash: fnv1a(`${stratum}-${i}`) });
  return out;
}

/** Water-filling: how many of each stratum (sizes n) a prefix of `take` holds at shares ∝ n^alpha. */
function waterFill(sizes: Record<string, number>, alpha: number, take: number): Record<string, number> {
  let lo = 0, hi = 1e6;
  for (let k = 0; k < 100; k++) {
    const L = (lo + hi) / 2;
    const sum = Object.values(sizes).reduce((a, n) => a + Math.min(n, L * n ** alpha), 0);
    if (sum < take) lo = L; else hi = L;
  }
  return Object.fromEntries(Object.entries(sizes).map(([s, n]) => [s, Math.min(n, lo * n ** alpha)]));
}

/** Counts per stratum among the first `take` of an order. */
function prefixCounts(cands: MixCandidate[], order: number[], take: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of order.slice(0, take)) m.set(cands[i]!.stratum, (m.get(cands[i]!.stratum) ?? 0) + 1);
  return m;
}

describe('pack mix (stratified budget)', () => {
  const sizes = { common: 4000, medium: 400, rare: 30, single: 1 };

  it('puts the held-out candidates first, chosen by hash alone, in hash order', () => {
    const cands = candidates(sizes);
    const below = Math.floor(0.05 * 2 ** 32);
    const order = mixOrder(cands, below, 0.5);
    expect(new Set(order).size).toBe(cands.length);
    const held = cands.filter((c) => c.hash < below).length;
    expect(held).toBeGreaterThan(100);
    const head = order.slice(0, held).map((i) => cands[i]!.hash);
    expect(head.every((h) => h < below)).toBe(true);
    expect(head).toEqual([...head].sort((a, b) => a - b));
    expect(order.slice(held).every((i) => cands[i]!.hash >= below)).toBe(true);
  });

  it('keeps every prefix in proportion to (stratum size)^alpha until a stratum runs out', () => {
    const cands = candidates(sizes);
    for (const alpha of [0, 0.5, 1]) {
      const order = mixOrder(cands, 0, alpha);
      for (const take of [50, 300, 1000]) {
        const got = prefixCounts(cands, order, take);
        // each stratum within one of its water-filling share
        const want = waterFill(sizes, alpha, take);
        for (const s of Object.keys(sizes)) expect(Math.abs((got.get(s) ?? 0) - want[s]!), `alpha ${alpha}, ${take}, ${s}`).toBeLessThanOrEqual(1);
      }
    }
    // alpha 0.5 at 1,000 of 4,431: the rare strata are whole (30 of 30 against 7 in proportion),
    // the common one still the largest (~753 against the medium's ~238).
    const got = prefixCounts(cands, mixOrder(cands, 0, 0.5), 1000);
    expect(got.get('rare')).toBe(30);
    expect(got.get('single')).toBe(1);
    expect(got.get('common')!).toBeGreaterThan(2 * got.get('medium')!);
  });

  it('deals samples to shards in proportion to their budgets, each an interleaved share of the order, until the least full one cannot take the next', () => {
    const budgets = [58, 44];
    const used = [1, 1];
    const got: number[] = [];
    // costs cycling through 1..5 units, as JPEGs vary
    for (let i = 0; ; i++) {
      const k = dealShard(used, budgets, 1 + (i % 5));
      if (k < 0) break;
      got.push(k);
    }
    expect(used[0]).toBeLessThanOrEqual(58);
    expect(used[1]).toBeLessThanOrEqual(44);
    expect(used[0]! + used[1]!).toBeGreaterThan(0.9 * (58 + 44));  // neither budget left half used
    expect(Math.abs(used[0]! / 58 - used[1]! / 44)).toBeLessThan(5 / 44);
    // interleaved: every run of 4 consecutive samples reaches both shards
    for (let i = 0; i + 4 <= got.length; i++) expect(new Set(got.slice(i, i + 4)).size).toBe(2);
    // one budget: every sample to shard 0 until it is full
    const one = [0];
    expect([1, 2, 3, 4].map((c) => dealShard(one, [6], c))).toEqual([0, 0, 0, -1]);
    expect(one).toEqual([6]);
    // equal budgets, equal costs: in turn
    const eq = [0, 0, 0];
    expect(Array.from({ length: 6 }, () => dealShard(eq, [10, 10, 10], 1))).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('gives weights relative within the pack: mean 1; `mix` keeps samplingWeight ratios, `cache` restores the whole cache\'s draws', () => {
    const perStratum = new Map([['a', 900], ['b', 100]]);
    // packed: 90 of a (weight 1 or 2), all 100 of b (weight 4), plus 5 held out
    const packed = [
      ...Array.from({ length: 90 }, (_, i) => ({ stratum: 'a', weight: i % 2 ? 2 : 1, holdout: false })),
      ...Array.from({ length: 100 }, () => ({ stratum: 'b', weight: 4, holdout: false })),
      ...Array.from({ length: 5 }, () => ({ stratum: 'a', weight: 1, holdout: true })),
    ];
    for (const draw of ['mix', 'cache'] as const) {
      const w = relativeWeights(packed, perStratum, draw);
      const train = [...w].filter((_, i) => !packed[i]!.holdout);
      expect(train.reduce((a, b) => a + b, 0) / train.length).toBeCloseTo(1, 5);
      expect(w[1]! / w[0]!).toBeCloseTo(2, 5);
      const share = (s: string) => packed.reduce((a, p, i) => a + (!p.holdout && p.stratum === s ? w[i]! : 0), 0) / train.length;
      // cache: a's 900 candidates (mean weight 1.5) against b's 100 (weight 4): 1350 : 400
      if (draw === 'cache') expect(share('b')).toBeCloseTo(400 / 1750, 5);
      else expect(share('b')).toBeCloseTo(400 / (400 + 135), 5);
    }
  });
});

const haveLabels = existsSync(labelsDir('eval')) && readLabels(labelsDir('eval')).records.length > 0;

describe.runIf(haveLabels)('pack mix on real labels', () => {
  it('a budgeted pack holds the stratified order\'s prefix, keeps the held-out rule, and draws by samplingWeight relative within it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-packmix-'));
    try {
      // ~10 of the eval set's faces fit (fixed files ~98 KB, ~20 KB per sample)
      const meta = await buildPack({ out: join(dir, 'pack'), sets: ['eval'], holdoutFraction: 0.05, maxMiB: 0.3, log: () => {} });
      const pack = readPack(join(dir, 'pack'));
      expect((meta.counts as { dropped: Record<string, number> }).dropped.budget).toBeGreaterThan(0);
      const names = readFileSync(join(dir, 'pack', 'names.txt'), 'utf8').trim().split('\n');
      names.forEach((n, i) => expect((pack.flags[i]! & 2) !== 0).toBe(fnv1a(n) < 0.05 * 2 ** 32));
      const kc = canonicalKeypoints(await loadLayout());
      const recs = readLabels(labelsDir('eval')).records;
      const stats = new Map(recs.map((r) => [r.file, faceStats(r.tddfa, kc)]));
      // the packed names are the stratified order with only target-check drops taken out
      const cands = recs.map((r) => ({ name: r.file, hash: fnv1a(r.file), stratum: mixStratum('eval', stats.get(r.file)!) }));
      const order = mixOrder(cands, Math.floor(0.05 * 2 ** 32)).map((i) => cands[i]!.name);
      const last = order.indexOf(names[names.length - 1]!);
      const dropped = order.slice(0, last + 1).filter((n) => !names.includes(n)).length;
      expect(dropped).toBeLessThanOrEqual(3);
      expect(names).toEqual(order.slice(0, last + 1).filter((n) => names.includes(n)));
      // the strata (pose bins) in their water-filling shares of the packed training samples
      const train = names.filter((_, i) => !(pack.flags[i]! & 2));
      expect(train.length).toBeGreaterThan(4);
      expect(train.length).toBeLessThan(cands.filter((c) => c.hash >= Math.floor(0.05 * 2 ** 32)).length);
      const sizes: Record<string, number> = {};
      for (const c of cands) if (c.hash >= Math.floor(0.05 * 2 ** 32)) sizes[c.stratum] = (sizes[c.stratum] ?? 0) + 1;
      const want = waterFill(sizes, 0.5, train.length + dropped);
      const got: Record<string, number> = {};
      for (const n of train) got[mixStratum('eval', stats.get(n)!)] = (got[mixStratum('eval', stats.get(n)!)] ?? 0) + 1;
      for (const st of Object.keys(sizes)) expect(Math.abs((got[st] ?? 0) - want[st]!), st).toBeLessThanOrEqual(1 + dropped);
      expect(poseBin(stats.get('eval/aflw2000-3d/image00050.jpg')!)).toBe('y0p1m0');
      // draw weights: mean 1 over the training samples, in samplingWeight's ratios
      const trainIdx = names.map((_, i) => i).filter((i) => !(pack.flags[i]! & 2));
      const mean = trainIdx.reduce((a, i) => a + pack.sampleWeights[i]!, 0) / trainIdx.length;
      expect(mean).toBeCloseTo(1, 4);
      const r0 = pack.sampleWeights[trainIdx[0]!]! / samplingWeight(stats.get(names[trainIdx[0]!]!)!);
      for (const i of trainIdx) expect(pack.sampleWeights[i]! / samplingWeight(stats.get(names[i]!)!)).toBeCloseTo(r0, 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('--max-mib 0.3,0.2 writes two shards under their budgets: disjoint, the held-out rule in each', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prnet-packshards-'));
    try {
      await buildPack({ out: join(dir, 'pack'), sets: ['eval'], holdoutFraction: 0.05, maxMiB: [0.3, 0.2], log: () => {} });
      const names = [0, 1].map((k) => readFileSync(join(dir, `pack-${k}`, 'names.txt'), 'utf8').trim().split('\n'));
      const bytes = [0, 1].map((k) => readdirSync(join(dir, `pack-${k}`)).reduce((a, f) => a + statSync(join(dir, `pack-${k}`, f)).size, 0));
      expect(bytes[0]).toBeLessThanOrEqual(0.3 * 1048576);
      expect(bytes[1]).toBeLessThanOrEqual(0.2 * 1048576);
      expect(names[0]!.length).toBeGreaterThan(names[1]!.length);
      expect(names[1]!.length).toBeGreaterThan(0);
      expect(names[0]!.filter((n) => names[1]!.includes(n))).toEqual([]);
      for (const k of [0, 1]) {
        const pack = readPack(join(dir, `pack-${k}`));
        expect(pack.count).toBe(names[k]!.length);
        names[k]!.forEach((n, i) => expect((pack.flags[i]! & 2) !== 0).toBe(fnv1a(n) < 0.05 * 2 ** 32));
      }
      expect(existsSync(join(dir, 'pack'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
