#!/usr/bin/env node
// Recipe: a KubeVirt-style sidecar hook (onDefineDomain): domain XML in on stdin, domain XML out on stdout.
//   PASSTHROUGH_PLAN=/etc/passthrough/plan.json node examples/recipes/kubevirt-hook.js < domain.xml
// No libvirt needed. On a refusal it writes the code and message to stderr and exits 1, so the
// launcher fails visibly instead of starting a VM without its GPUs.
'use strict';
const fs = require('node:fs');
const { transformDomain, isPassthroughError, decodeXmlBytes } = require('libvirt-passthrough');

try {
  const plan = JSON.parse(fs.readFileSync(process.env.PASSTHROUGH_PLAN, 'utf8'));
  process.stdout.write(transformDomain(decodeXmlBytes(fs.readFileSync(0), 'stdin'), plan));
} catch (err) {
  process.stderr.write(isPassthroughError(err) ? `${err.code}: ${err.message}\n` : `${err.stack || err}\n`);
  process.exitCode = 1;
}
