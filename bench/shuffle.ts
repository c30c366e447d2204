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

/** A timed benchmark case: a function of one input, and each call's wall and CPU milliseconds. */
export interface TimedCase<I> {
  run: (input: I) => Promise<unknown>;
  /** Wall time of each call, in the order of the calls: round r, input i at r × inputs + i. */
  ms: number[];
  /** CPU time of the process during each call (every thread: onnxruntime's, tfjs-wasm's workers). */
  cpu: number[];
}

/**
 * Times interleaved cases: a warm-up (every case on every input once), then `rounds` rounds in
 * which, per input, the cases run in a fresh seeded shuffle (caseOrder), each call's wall and CPU
 * time appended to its case.
 */
export async function timeRounds<I>(cases: readonly TimedCase<I>[], inputs: readonly I[], rounds: number, order: CaseOrder = caseOrder()): Promise<void> {
  for (const input of inputs) for (const c of cases) await c.run(input);
  for (let r = 0; r < rounds; r++) {
    for (const input of inputs) {
      for (const c of order.shuffled(cases)) {
        const cpu = process.cpuUsage();
        const t = performance.now();
        await c.run(input);
        c.ms.push(performance.now() - t);
        const used = process.cpuUsage(cpu);
        c.cpu.push((used.user + used.system) / 1000);
      }
    }
  }
}
