/** Developer entry of `prnet data label` (same options and exit codes): npx tsx scripts/label.ts --set utkface */
import { reportError } from '../src/cli/options.js';
import { run } from '../tools/cli/data.js';

run(['label', ...process.argv.slice(2)]).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => { process.exitCode = reportError(e); },
);
