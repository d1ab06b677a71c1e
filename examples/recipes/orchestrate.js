#!/usr/bin/env node
// Recipe: orchestration code that gives several existing VMs their pass-through devices, with the code
// behind `libvirt-passthrough apply` (applyPlan): dumpxml, transform, define, read-back check, rollback.
//   node examples/recipes/orchestrate.js PLAN.json VM...
// A dry run first shows each VM's diff, where your own policy can decide (here: apply whatever changes).
// VIRSH (default "virsh") and VIRSH_URI (e.g. qemu:///system) choose the client and connection.
'use strict';
const fs = require('node:fs');
const { applyPlan } = require('libvirt-passthrough');

function main([planFile, ...vms]) {
  if (!planFile || vms.length === 0) {
    console.error('usage: orchestrate.js PLAN.json VM...');
    return 2;
  }
  const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));
  const options = { connect: process.env.VIRSH_URI, virsh: process.env.VIRSH };
  let failed = 0;
  for (const vm of vms) {
    const preview = applyPlan(vm, plan, { ...options, dryRun: true });
    if (preview.code === 'OK' && preview.diff) {
      const lines = preview.diff.split('\n').filter((l) => /^[+-][^+-]/.test(l)).length;
      console.log(`${vm}: ${lines} changed lines; applying`);
    }
    const result = preview.code === 'OK' && preview.diff ? applyPlan(vm, plan, options) : preview;
    for (const w of result.warnings) console.error(`${vm}: warning: ${w}`);
    if (result.code === 'OK') console.log(`${vm}: ${result.message}`);
    else {
      console.error(`${vm}: ${result.code}: ${result.message}`);
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
