/** Developer entry of `prnet data label` (same options): npx tsx scripts/label.ts --set utkface */
import { runLabelCommand } from '../tools/data/label-runner.js';

runLabelCommand(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`label: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
