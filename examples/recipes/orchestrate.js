#!/usr/bin/env node
// Recipe: orchestration code that adds pass-through devices to an existing VM.
//   node examples/recipes/orchestrate.js VM_NAME PLAN.json
// Reads the persistent definition with `virsh dumpxml --inactive`, transforms it, and defines it again.
// VIRSH (default "virsh") and VIRSH_URI (e.g. qemu:///system) choose the client and connection.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { explainTransform, isPassthroughError } = require('libvirt-passthrough');

function virsh(args, input) {
  const uri = process.env.VIRSH_URI ? ['-c', process.env.VIRSH_URI] : [];
  return execFileSync(process.env.VIRSH || 'virsh', [...uri, ...args], { encoding: 'utf8', input });
}

function main([vm, planFile]) {
  if (!vm || !planFile) {
    console.error('usage: orchestrate.js VM_NAME PLAN.json');
    return 2;
  }
  const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));
  const before = virsh(['dumpxml', '--inactive', vm]);
  let result;
  try {
    result = explainTransform(before, plan);
  } catch (err) {
    if (!isPassthroughError(err)) throw err;
    console.error(`${vm}: ${err.code}: ${err.message}`);
    return 1;
  }
  for (const w of result.warnings) console.error(`${vm}: warning: ${w}`);
  if (result.xml === before) {
    console.log(`${vm}: already configured, nothing to do`);
    return 0;
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vm-')), `${vm}.xml`);
  fs.writeFileSync(file, result.xml);
  virsh(['define', file]);
  const added = result.changes.filter((c) => c.kind.endsWith('-added'));
  console.log(`${vm}: defined with ${added.map((c) => `${c.kind} ${c.alias ?? c.address ?? ''}`.trim()).join(', ')}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
