'use strict';
// Run by bench/run.js in a fresh process, as `node --expose-gc FLAGS bench/memory.js MODE`:
//   peak        with 1 MB semi-spaces (--min/max-semi-space-size=1), V8's GC profiler records the heap in use
//               before every collection during one call; the peak is the largest of those and the heap at the
//               end, above the heap before the call. Garbage is collected every ~1 MB, so this is the memory
//               the call really needs, to within about 1 MB.
//   allocation  with 256 MB semi-spaces fixed from the start (no GC midway), the heap growth across one call: everything it
//               allocates, garbage included (an upper bound of the peak).
// Each mode measures transformDomain on the 1 MB domain with a 64-GPU plan, xmldom's parse of the same text,
// and what stays alive when the result is kept (the library's located element tree; xmldom's DOM).
const v8 = require('node:v8');
const { DOMParser } = require('@xmldom/xmldom');
const { transformDomain } = require('..');
const { loadDomainXml } = require('../dist/load/load');
const { domainOfSize, gpuPlan } = require('./inputs');

const xml = domainOfSize(1024);
const plan = gpuPlan(64, 8);
const calls = {
  transform: () => transformDomain(xml, plan),
  parse: () => new DOMParser().parseFromString(xml, 'text/xml'),
};
for (const fn of Object.values(calls)) fn();

// The result of the call being measured stays reachable until its measurement is over, and not after.
let lastResult;

function settle() {
  lastResult = undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function peakGrowth(fn) {
  const before = settle();
  const profiler = new v8.GCProfiler();
  profiler.start();
  const result = fn();
  const atEnd = process.memoryUsage().heapUsed;
  const { statistics } = profiler.stop();
  const beforeEachGc = statistics.map((s) => s.beforeGC.heapStatistics.usedHeapSize);
  lastResult = result;
  return { bytes: Math.max(atEnd, ...beforeEachGc) - before, collections: statistics.length };
}

function allocation(fn) {
  const before = settle();
  const result = fn();
  const bytes = process.memoryUsage().heapUsed - before;
  lastResult = result;
  return { bytes };
}

function retained(fn) {
  const before = settle();
  const result = fn();
  const bytes = settle() - before;
  lastResult = result;
  return bytes;
}

const mode = process.argv[2];
const measure = mode === 'peak' ? peakGrowth : allocation;
const out = { mode, inputBytes: Buffer.byteLength(xml) };
for (const [name, fn] of Object.entries(calls)) out[name] = measure(fn);
out.liveTreeBytes = retained(() => loadDomainXml(xml));
out.liveDomBytes = retained(() => calls.parse());
console.log(JSON.stringify(out));
