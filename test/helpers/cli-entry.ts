// Runs the `prnet` command from source (spawned by cli.ts with tsx).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
