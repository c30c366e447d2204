/** Option parsing shared by the commands, with the limits that protect the machine. */
import { availableParallelism } from 'node:os';
import { intOption, UsageError } from './main.js';

/**
 * `--threads n`: a whole number from 1 to the cores of this machine (more threads than cores only
 * slow onnxruntime down, and tens of thousands of threads exhaust memory).
 */
export function threadsOption(value: string | undefined): number | undefined {
  const n = intOption(value, 'threads');
  const cores = availableParallelism();
  if (n !== undefined && n > cores) {
    throw new UsageError(`--threads must be between 1 and ${cores} (the cores of this machine), got '${value}'`);
  }
  return n;
}
