/** `prnet data …`: training-data tools (labelling with the teachers). */
import { EXIT, UsageError } from '../../src/cli/options.js';
import { LabelArgsError, runLabelCommand, USAGE } from '../data/label-runner.js';

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'label') throw new UsageError(USAGE);
  try {
    return (await runLabelCommand(rest)) ? EXIT.failed : EXIT.ok;
  } catch (e) {
    if (e instanceof LabelArgsError) throw new UsageError(e.message);
    throw e;
  }
}
