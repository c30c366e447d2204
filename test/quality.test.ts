/** Face.suspect's verdict from the two quality signals (src/pipeline/quality.ts). */
import { describe, expect, it } from 'vitest';
import { FLIP_SUSPECT, KEYPOINT_SUSPECT, suspectFace, suspectReasons } from '../src/pipeline/quality.js';

describe('suspectFace', () => {
  it('is undefined without either signal, and decided by whichever signals a face has', () => {
    expect(suspectFace({})).toBeUndefined();
    expect(suspectFace({ flipDisagreement: 0.05 })).toBe(false);
    expect(suspectFace({ keypointDisagreement: 0.05 })).toBe(false);
    expect(suspectFace({ flipDisagreement: 0.05, keypointDisagreement: 0.05 })).toBe(false);
    expect(suspectFace({ flipDisagreement: 0.11 })).toBe(true);
    expect(suspectFace({ keypointDisagreement: 0.13 })).toBe(true);
    // either one over its own threshold is enough; the keypoints' threshold is the higher
    expect(suspectFace({ flipDisagreement: 0.11, keypointDisagreement: 0.02 })).toBe(true);
    expect(suspectFace({ flipDisagreement: 0.02, keypointDisagreement: 0.121 })).toBe(true);
    expect(suspectFace({ flipDisagreement: 0.02, keypointDisagreement: 0.11 })).toBe(false);
  });

  it('is strict at the thresholds (0.1 and 0.12, as docs/evaluation.md §0.17 measured them)', () => {
    expect([FLIP_SUSPECT, KEYPOINT_SUSPECT]).toEqual([0.1, 0.12]);
    expect(suspectFace({ flipDisagreement: FLIP_SUSPECT, keypointDisagreement: KEYPOINT_SUSPECT })).toBe(false);
    expect(suspectFace({ flipDisagreement: FLIP_SUSPECT + 1e-9 })).toBe(true);
    expect(suspectFace({ keypointDisagreement: KEYPOINT_SUSPECT + 1e-9 })).toBe(true);
  });

  it('says which signals are over, never a value that reads as its threshold', () => {
    expect(suspectReasons({ flipDisagreement: 0.05, keypointDisagreement: 0.05 })).toEqual([]);
    expect(suspectReasons({ flipDisagreement: 0.296, keypointDisagreement: 0.19 })).toEqual(['flip disagreement 0.30 > 0.1', 'keypoint disagreement 0.19 > 0.12']);
    expect(suspectReasons({ flipDisagreement: 0.1027 })).toEqual(['flip disagreement 0.103 > 0.1']);
    expect(suspectReasons({ keypointDisagreement: 0.1230, flipDisagreement: 0.01 })).toEqual(['keypoint disagreement 0.123 > 0.12']);
    // within 0.0005 of the threshold: as many decimals as it takes
    expect(suspectReasons({ flipDisagreement: 0.10003 })).toEqual(['flip disagreement 0.10003 > 0.1']);
    expect(suspectReasons({ keypointDisagreement: 0.1200004 })).toEqual(['keypoint disagreement 0.1200004 > 0.12']);
  });

  it('calls a face with a signal that is not a number suspect, and says so (degenerate landmarks give NaN)', () => {
    expect(suspectFace({ flipDisagreement: NaN })).toBe(true);
    expect(suspectFace({ flipDisagreement: 0.02, keypointDisagreement: Infinity })).toBe(true);
    expect(suspectReasons({ flipDisagreement: NaN, keypointDisagreement: 0.01 })).toEqual(['flip disagreement not a number (degenerate landmarks)']);
  });
});
