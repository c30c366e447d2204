/**
 * The order of interleaved benchmark cases: a fresh seeded shuffle per photo and round, so that no
 * case always runs right after the same one. A rotation is not enough: it moves the start but keeps
 * every case's predecessor, and a case that follows FaceMesh or a network call waits for their
 * threads (with the rotation, the detector's whole call always followed FaceMesh in `npm run bench`
 * and read ~1.4× its time).
 */
import { createRng } from '../src/model/weights.js';

export interface CaseOrder {
  /** The items in a new random order (Fisher–Yates). */
  shuffled<T>(items: readonly T[]): T[];
}

export function caseOrder(seed = 20261204): CaseOrder {
  const rng = createRng(seed);
  return {
    shuffled<T>(items: readonly T[]): T[] {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(rng.uniform() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    },
  };
}
