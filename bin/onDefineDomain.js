#!/usr/bin/env node
'use strict';
// KubeVirt onDefineDomain hook: install (or link) it as `onDefineDomain` on the sidecar-shim's PATH.
// See docs/integrations.md.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode || 1);
  throw err;
});
process.exitCode = require('../dist/kubevirt/main.js').runOnDefineDomain(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
