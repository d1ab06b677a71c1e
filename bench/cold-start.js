#!/usr/bin/env node
'use strict';
// Cold start of the CLI: wall time of `libvirt-passthrough transform` (the typical 2-GPU plan, stack stated) as a whole
// process, against `node -e 0` (what any Node.js command costs). The two run in turn, A B A B…, and the
// ratio is taken pair by pair, so drift in machine speed hits both alike; prints medians and one JSON line.
// Part of `npm run bench` (after the build); never of `npm test`.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const RUNS = Number(process.env.COLD_START_RUNS || 30);
const transform = [path.join(ROOT, 'bin', 'libvirt-passthrough.js'), 'transform', '--plan', path.join(ROOT, 'examples', '2gpu-k80.plan.json'), path.join(ROOT, 'examples', 'domain.xml')];
// The VM start path states its stack (a hook's annotation, a plan's target): no local tool is run.
const stated = [...transform, '--libvirt', '11.3.0', '--qemu', '10.0.0'];
// A plan without a target on a host with libvirt and QEMU installed: the CLI runs virsh and QEMU for their versions.
const detected = transform;
const bare = ['-e', '0'];

function wallMs(args) {
  const start = process.hrtime.bigint();
  const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (run.status !== 0) throw new Error(`${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function paired(cli, runs) {
  wallMs(cli); // warm-up: file cache
  wallMs(bare);
  const pairs = [];
  for (let i = 0; i < runs; i++) {
    const a = wallMs(cli);
    const b = wallMs(bare);
    pairs.push({ a, b, ratio: a / b });
  }
  return {
    runs,
    transformMs: Number(median(pairs.map((p) => p.a)).toFixed(1)),
    nodeMs: Number(median(pairs.map((p) => p.b)).toFixed(1)),
    ratio: Number(median(pairs.map((p) => p.ratio)).toFixed(2)),
    ratioRange: [Math.min(...pairs.map((p) => p.ratio)), Math.max(...pairs.map((p) => p.ratio))].map((r) => Number(r.toFixed(2))),
  };
}

const describe = (r) =>
  `transform ${r.transformMs} ms, node -e 0 ${r.nodeMs} ms (medians of ${r.runs}); ratio ${r.ratio} (pairwise median; range ${r.ratioRange.join('–')})`;
const result = paired(stated, RUNS);
console.log(`cold start, stack stated: ${describe(result)}; target <= 1.5`);
const withDetection = paired(detected, Math.max(5, Math.round(RUNS / 3)));
console.log(`cold start, versions detected from local virsh/QEMU: ${describe(withDetection)}; no target (two child processes)`);
console.log(JSON.stringify({ coldStart: { ...result, withDetection } }));
