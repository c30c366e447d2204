// `require('prnet-ts')`: the package is ES modules. Node.js ≥ 20.19 / ≥ 22.12 can require() them
// (no top-level await here), which this passes through; older versions get a clear message.
'use strict';
try {
  module.exports = require('./index.js');
} catch (e) {
  if (e && (e.code === 'ERR_REQUIRE_ESM' || e.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
    throw new Error(
      "prnet-ts is an ES module package and this Node.js cannot require() it: use `import { createPrnet } from 'prnet-ts'`, " +
        "or from CommonJS `const { createPrnet } = await import('prnet-ts')` (or Node.js ≥ 20.19).",
      { cause: e },
    );
  }
  throw e;
}
