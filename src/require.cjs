// `require('prnet-ts')`: the package is ES modules. Node.js ≥ 20.19 / ≥ 22.12 can require() them
// (no top-level await here), which this passes through; older versions get a clear message.
'use strict';
try {
  module.exports = require('./index.js');
} catch (e) {
  if (e && (e.code === 'ERR_REQUIRE_ESM' || e.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
    throw new Error(
      "prnet-ts is an ES module package and this Node.js cannot require() it (require() of ES modules needs " +
        "Node.js ≥ 20.19 or ≥ 22.12, and is off under --no-experimental-require-module): use `import { createPrnet } from 'prnet-ts'` " +
        "in an ES module, or from CommonJS `import('prnet-ts')` inside an async function: " +
        "`(async () => { const { createPrnet } = await import('prnet-ts'); /* … */ })()`.",
      { cause: e },
    );
  }
  throw e;
}
