#!/usr/bin/env node
'use strict';
// A closed pipe (`... | head`) is not an error of ours; any other failure to write the output (a full disk,
// /dev/full) is one line and exit 1 like every other failure (the stack only with --debug).
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode || 0);
  process.stderr.write(`libvirt-passthrough: cannot write standard output: ${err.message}\n${process.argv.includes('--debug') ? `${err.stack}\n` : ''}`);
  process.exit(1);
});
process.exitCode = require('../dist/cli/main.js').runCli(process.argv.slice(2));
