#!/usr/bin/env node
// Entry point of the `prnet` command: runs the compiled CLI (built by `npm ci` through the
// `prepare` script, or by `npm run build`).
import { main, ignoreClosedOutput } from '../dist/cli/main.js';

ignoreClosedOutput();

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`prnet: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 70; },
);
