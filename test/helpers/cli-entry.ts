// Runs the `prnet` command from source (spawned by cli.ts with tsx).
import { main, ignoreClosedOutput } from '../../src/cli/main.js';

ignoreClosedOutput();
process.exitCode = await main(process.argv.slice(2));
