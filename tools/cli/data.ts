/** `prnet data …`: training-data tools (labelling with the teachers). */
import { EXIT, UsageError } from '../../src/cli/options.js';
import { runLabelCommand } from '../data/label-runner.js';

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'label') throw new UsageError('usage: prnet data label [--set eval|utkface|misc|all] [--limit n] [--workers k] [--summary]');
  return (await runLabelCommand(rest)) ? EXIT.failed : EXIT.ok;
}
