import { describe, expect, it } from 'vitest';
import { boxSize, nme, scoredByAll, summariseNme, summariseSuspect, suspectLine, yawBucket } from '../tools/eval/nme.js';

// Ground truth: four points spanning a 4 × 9 box → sqrt(w·h) = 6.
const gt = new Float64Array([
  0, 0, 10,
  4, 0, 20,
  0, 9, 30,
  4, 9, 40,
]);

describe('NME', () => {
  it('normalises by sqrt(w·h) of the ground-truth box', () => {
    expect(boxSize(gt)).toBe(6);
  });

  it('is zero for identical points, in 2D and 3D', () => {
    expect(nme(gt, gt, 2)).toBe(0);
    expect(nme(gt, gt, 3)).toBe(0);
  });

  it('2D: a shift of (3, 4) for every point gives 5 / 6', () => {
    const p = gt.map((v, i) => (i % 3 === 0 ? v + 3 : i % 3 === 1 ? v + 4 : v + 100));
    expect(nme(p, gt, 2)).toBeCloseTo(5 / 6, 12);
  });

  it('3D ignores a constant z offset (zero-mean z) but counts z shape', () => {
    const shifted = gt.map((v, i) => (i % 3 === 2 ? v + 123 : v));
    expect(nme(shifted, gt, 3)).toBeCloseTo(0, 12);
    // z of the first point +6, others unchanged: mean z shifts by 1.5; point errors
    // |6 − 1.5| = 4.5 and three times 1.5 → mean 9 / 4 = 2.25 → NME 2.25 / 6.
    const bent = Float64Array.from(gt);
    bent[2] = (bent[2] as number) + 6;
    expect(nme(bent, gt, 3)).toBeCloseTo(2.25 / 6, 12);
    // 2D of the same is 0.
    expect(nme(bent, gt, 2)).toBe(0);
  });

  it('mixes x, y and z distances: one point off by (1, 2, 2) after z centring', () => {
    const p = Float64Array.from(gt);
    // Move point 3 by (1, 2, +8) → z mean shifts +2 → per-point z errors −2, −2, −2, +6.
    p[9] = 5; p[10] = 11; p[11] = 48;
    const expected = (2 + 2 + 2 + Math.sqrt(1 + 4 + 36)) / 4 / 6;
    expect(nme(p, gt, 3)).toBeCloseTo(expected, 12);
    expect(nme(p, gt, 2)).toBeCloseTo(Math.sqrt(5) / 4 / 6, 12);
  });

  it('accepts N×2 points for 2D and rejects mismatched counts', () => {
    const g2 = new Float64Array([0, 0, 4, 0, 0, 9, 4, 9]);
    const p2 = g2.map((v) => v + 1);
    expect(nme(p2, g2, 2, 2)).toBeCloseTo(Math.SQRT2 / 6, 12);
    expect(() => nme(new Float64Array(9), gt)).toThrow();
  });

  it('buckets yaw at 30° and 60° by absolute value', () => {
    const d = Math.PI / 180;
    expect(yawBucket(0)).toBe('0-30');
    expect(yawBucket(-29.9 * d)).toBe('0-30');
    expect(yawBucket(30 * d)).toBe('30-60');
    expect(yawBucket(-59 * d)).toBe('30-60');
    expect(yawBucket(60 * d)).toBe('60-90');
    expect(yawBucket(95 * d)).toBe('60-90');
    const s = summariseNme([0.02, 0.04, 0.06], [0.1, -0.7, 1.2]);
    expect(s.mean).toBeCloseTo(0.04, 12);
    expect(s.byYaw['30-60']).toEqual({ count: 1, mean: 0.04 });
    expect(s.balanced).toBeCloseTo(0.04, 12);
    expect(s.buckets).toBe(3);
    // An empty bucket has no mean (null in JSON, not 0), and the balanced figure says it averages 2.
    const two = summariseNme([0.02, 0.06], [0.1, 1.2]);
    expect(two.byYaw['30-60'].count).toBe(0);
    expect(JSON.parse(JSON.stringify(two.byYaw['30-60']))).toEqual({ count: 0, mean: null });
    expect(two.buckets).toBe(2);
    expect(two.balanced).toBeCloseTo(0.04, 12);
  });

  it('finds the rows every method scored, where their means compare like with like', () => {
    const ours = [{ nme2d: 0.03 }, { nme2d: 0.15 }, { nme2d: null }];
    const peer = [{ nme2d: 0.02 }, { nme2d: null }, { nme2d: 0.04 }];
    expect(scoredByAll([ours, peer])).toEqual([true, false, false]);
    expect(scoredByAll([ours])).toEqual([true, true, false]);
    expect(() => scoredByAll([ours, peer.slice(1)])).toThrow(/different numbers of rows/);
  });
});

describe('summariseSuspect (how well Face.suspect picked out the failures)', () => {
  it('counts verdicts, suspect failures, failures and the mean of the faces not suspect; rows without a verdict or an NME are left out', () => {
    const rows = [
      { nme2d: 0.2, suspect: true },
      { nme2d: 0.05, suspect: true },
      { nme2d: 0.12, suspect: false },
      { nme2d: 0.04, suspect: false },
      { nme2d: 0.5 }, // no verdict (no signal)
      { nme2d: null, suspect: true }, // not scored
    ];
    const s = summariseSuspect(rows)!;
    expect(s).toMatchObject({ faces: 4, suspect: 2, suspectFailures: 1, failures: 2 });
    expect(s.meanNotSuspect).toBeCloseTo(0.08, 12);
    expect(suspectLine(s)).toBe('suspect faces (flip disagreement > 0.1 or keypoints > 0.12): 2 of 4 (1 of them over 10 % NME); 1 of the 2 over 10 % are suspect; the others\' mean 8.00 %');
    expect(summariseSuspect([{ nme2d: 0.1 }])).toBeNull();
    // all suspect: no mean of the others
    expect(summariseSuspect([{ nme2d: 0.3, suspect: true }])).toEqual({ faces: 1, suspect: 1, suspectFailures: 1, failures: 1, meanNotSuspect: null });
    // exactly 10 % is not a failure (over 10 %)
    expect(summariseSuspect([{ nme2d: 0.1, suspect: false }])!.failures).toBe(0);
  });
});
