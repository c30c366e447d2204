// Runs the `prnet` command from source (spawned by cli.ts with tsx).
import { main, stopQuietlyOnClosedStdout } from '../../src/cli/main.js';

stopQuietlyOnClosedStdout();
process.exitCode = await main(process.argv.slice(2));
