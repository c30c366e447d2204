/** Label-file fixtures for the labeller's tests. */
import type { LabelRecord } from '../../tools/data/labels-file.js';

/** A record of zeros (1 × 1 photo, unit box and crop): for tests of the file's framing, not of its values. */
export function blankLabelRecord(faceCount = 1): Omit<LabelRecord, 'line'> {
  return {
    width: 1, height: 1, box: { x: 0, y: 0, width: 1, height: 1 }, cropSide: 1, score: 1, boxScore: 1, faceScore: 1,
    crop: { cx: 0, cy: 0, side: 1 }, faceCount, disagreement: 0,
    facemesh: new Float32Array(1404), tddfa: new Float32Array(204), params: new Float32Array(62),
  };
}
