/** Face.suspect's verdict from the two quality signals (src/pipeline/quality.ts). */
import { describe, expect, it } from 'vitest';
import { detectorKeypointDisagreement, FLIP_SUSPECT, KEYPOINT_SUSPECT, suspectFace, suspectReasons } from '../src/pipeline/quality.js';

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

describe('detectorKeypointDisagreement (the gate of Face.keypointDisagreement)', () => {
  // A face box and six keypoints where an upright face has them; landmarks on those same points
  const box = { x: 100, y: 100, width: 100, height: 100, score: 0.9 };
  const keypoints = Float32Array.from([130, 140, 170, 140, 150, 160, 150, 180, 105, 150, 195, 150]);
  const landmarks = (at: (i: number) => [number, number]): Float32Array => {
    const l = new Float32Array(68 * 3);
    for (let i = 0; i < 68; i++) [l[3 * i], l[3 * i + 1]] = at(i);
    return l;
  };
  // the eyes (36–47) on the eye keypoints, point 30 on the nose, the mouth (48–67) on the mouth, the rest on a ring
  const good = landmarks((i) => (i >= 36 && i <= 41 ? [130, 140] : i >= 42 && i <= 47 ? [170, 140] : i === 30 ? [150, 160] : i >= 48 ? [150, 180] : [150 + 45 * Math.cos(i), 150 + 45 * Math.sin(i)]));

  it('is small for landmarks on the keypoints, undefined where the keypoints cannot be trusted, NaN (suspect) for collapsed landmarks', () => {
    expect(detectorKeypointDisagreement(good, { ...box, keypoints }, 0)).toBeLessThan(1e-6);
    expect(detectorKeypointDisagreement(good, box, 0)).toBeUndefined(); // no keypoints
    expect(detectorKeypointDisagreement(good, { ...box, keypoints }, (50 * Math.PI) / 180)).toBeUndefined(); // past 45°
    expect(detectorKeypointDisagreement(good, { ...box, x: 400, keypoints }, 0)).toBeUndefined(); // left behind by a moved box
    const collapsed = landmarks(() => [150, 150]);
    const d = detectorKeypointDisagreement(collapsed, { ...box, keypoints }, 0);
    expect(d).toBeNaN();
    expect(suspectFace({ keypointDisagreement: d })).toBe(true);
  });
});
