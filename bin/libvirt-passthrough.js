#!/usr/bin/env node
'use strict';
// A closed pipe (`... | head`) is not an error of ours.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode || 0);
  throw err;
});
process.exitCode = require('../dist/cli/main.js').runCli(process.argv.slice(2));
