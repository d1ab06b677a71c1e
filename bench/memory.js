'use strict';
// Run by bench/run.js as `node --expose-gc --max-semi-space-size=512 bench/memory.js`: heap growth across one
// call with no GC midway (all allocation, an upper bound of the peak), and the DOM xmldom keeps alive.
const { DOMParser } = require('@xmldom/xmldom');
const { transformDomain } = require('..');
const { domainOfSize, gpuPlan } = require('./inputs');

const xml = domainOfSize(1024);
const plan = gpuPlan(64, 8);
transformDomain(xml, plan);
new DOMParser().parseFromString(xml, 'text/xml');

function heapGrowth(fn) {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  fn();
  return process.memoryUsage().heapUsed - before;
}

const transformBytes = heapGrowth(() => transformDomain(xml, plan));
const parseBytes = heapGrowth(() => new DOMParser().parseFromString(xml, 'text/xml'));
let kept;
gc();
gc();
const base = process.memoryUsage().heapUsed;
kept = new DOMParser().parseFromString(xml, 'text/xml');
gc();
gc();
const liveDomBytes = process.memoryUsage().heapUsed - base;
console.log(JSON.stringify({ inputBytes: Buffer.byteLength(xml), transformBytes, parseBytes, liveDomBytes, root: kept.documentElement.tagName }));
