#!/usr/bin/env node
'use strict';
// npm run bench:deps — the measurements behind docs/design.md "Dependencies": why the runtime keeps its own
// parser and templates, and @xmldom/xmldom, xpath and xmlbuilder2 serve the tests. Prints a report and one JSON line.
//   1. speed at 8 KB: the library's transform (its parse included) and an xmldom + xpath + xmlbuilder2 transform,
//      as ratios to xmldom's parse of the same text (interleaved medians, as bench/run.js does);
//   2. peak heap of each on the 1 MB domain, in a fresh process (see bench/memory.js for the method);
//   3. xpath 0.0.34 over N hostdev siblings: one `devices/hostdev` query, against a DOM walk of the same children;
//   4. verdicts of xmldom, the library and xmllint (libxml2, libvirt's parser) on documents libxml2 refuses.
// Needs `npm run build` (the library is loaded from dist/).
const { spawnSync } = require('node:child_process');
const v8 = require('node:v8');
const { DOMParser, XMLSerializer } = require('@xmldom/xmldom');
const xpath = require('xpath');
const { create } = require('xmlbuilder2');
const { inspectDomain, transformDomain } = require('..');
const { QEMU_NS, buildDomain, domainOfSize, gpuPlan, serialise } = require('./inputs');

const METADATA_NS = 'urn:libvirt-passthrough:metadata:1';
const select = xpath.useNamespaces({ qemu: QEMU_NS });

// ---- the alternative: the same transform on a DOM ---------------------------------------------------------------

const key = (a) => ['domain', 'bus', 'slot', 'function'].map((n) => parseInt(a.getAttribute(n) || '0', 16)).join(':');
const planKey = (address) => {
  const [d, b, sf] = address.split(':');
  const [s, f] = sf.split('.');
  return [d, b, s, f].map((x) => parseInt(x, 16)).join(':');
};

/**
 * Parse with xmldom, look up with xpath, build the new elements with xmlbuilder2 (one builder per kind of
 * fragment: xmlbuilder2 has its own DOM, so fragments cross to xmldom as text), import them, serialise the DOM.
 */
function domTransform(xml, plan) {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  const machine = select('string(os/type/@machine)', root);
  if (!/^(q35|pc-q35-)/.test(machine)) throw new Error('not q35');
  const devices = select('devices', root, true);
  const present = new Set(select('hostdev/source/address', devices).map(key));
  const aliases = new Set(select('*/alias/@name', devices).map((a) => a.value));
  const hostdevs = create().ele('fragment');
  const gpus = [];
  for (const h of plan.hostdevs) {
    const alias = `ua-${h.alias}`;
    if (present.has(planKey(h.address)) || aliases.has(alias)) throw new Error('conflict');
    const [d, b, sf] = h.address.split(':');
    const [s, f] = sf.split('.');
    const hostdev = hostdevs.ele('hostdev', { mode: 'subsystem', type: 'pci', managed: 'yes' });
    hostdev.ele('source').ele('address', { domain: `0x${d}`, bus: `0x${b}`, slot: `0x${s}`, function: `0x${f}` });
    hostdev.ele('alias', { name: alias });
    if (h.gpudirect) gpus.push({ alias, clique: h.gpudirect.clique });
  }
  for (const node of imported(doc, hostdevs)) devices.appendChild(node);
  if (gpus.length === 0) return new XMLSerializer().serializeToString(doc);
  const override = create().ele('fragment').ele(QEMU_NS, 'qemu:override');
  for (const g of gpus) {
    override.ele(QEMU_NS, 'qemu:device', { alias: g.alias }).ele(QEMU_NS, 'qemu:frontend').ele(QEMU_NS, 'qemu:property', { name: 'x-nv-gpudirect-clique', type: 'unsigned', value: g.clique });
  }
  root.setAttribute('xmlns:qemu', QEMU_NS);
  for (const node of imported(doc, override.root())) root.appendChild(node);
  const metadata = create().ele('fragment').ele('metadata').ele(METADATA_NS, 'passthrough:gpudirect');
  for (const g of gpus) metadata.ele(METADATA_NS, 'passthrough:gpu', { alias: g.alias, clique: g.clique, offset: '0xd4' });
  for (const node of imported(doc, metadata.root())) root.insertBefore(node, select('memory', root, true));
  return new XMLSerializer().serializeToString(doc);
}

/** The children of a builder's `<fragment>`, parsed by xmldom and imported into `doc`. */
function imported(doc, fragment) {
  const wrapper = new DOMParser().parseFromString(fragment.end({ headless: true }), 'text/xml').documentElement;
  const nodes = [];
  for (let c = wrapper.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) nodes.push(doc.importNode(c, true));
  return nodes;
}

// ---- timing ---------------------------------------------------------------------------------------------------

function measure(fn, batchMs = 40, batches = 3) {
  const start = process.hrtime.bigint();
  let calls = 0;
  while (Number(process.hrtime.bigint() - start) / 1e6 < batchMs * 2 || calls < 3) {
    fn();
    calls++;
  }
  const n = Math.max(1, Math.round(batchMs / (Number(process.hrtime.bigint() - start) / 1e6 / calls)));
  const samples = [];
  for (let b = 0; b < batches; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6 / n);
  }
  return samples.sort((a, b) => a - b)[1];
}

function compare(fns) {
  fns.forEach((fn) => measure(fn));
  const samples = fns.map(() => []);
  for (let round = 0; round < 7; round++) fns.forEach((fn, i) => samples[i].push(measure(fn)));
  return samples.map((s) => s.sort((a, b) => a - b)[3]);
}

function speed() {
  const xml = domainOfSize(8);
  const plan = gpuPlan(8, 4);
  const [parseMs, ownMs, domMs] = compare([
    () => new DOMParser().parseFromString(xml, 'text/xml'),
    () => transformDomain(xml, plan),
    () => domTransform(xml, plan),
  ]);
  return { bytes: xml.length, xmldomParseMs: parseMs, ownTransformMs: ownMs, domTransformMs: domMs, ownRatio: ownMs / parseMs, domRatio: domMs / parseMs };
}

// ---- peak heap (child process) -------------------------------------------------------------------------------

function peakChild(which) {
  const xml = domainOfSize(1024);
  const plan = gpuPlan(64, 8);
  const fn = { own: () => transformDomain(xml, plan), dom: () => domTransform(xml, plan), parse: () => new DOMParser().parseFromString(xml, 'text/xml') }[which];
  fn();
  let keep = null;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const profiler = new v8.GCProfiler();
  profiler.start();
  keep = fn();
  const atEnd = process.memoryUsage().heapUsed;
  const { statistics } = profiler.stop();
  const peak = Math.max(atEnd, ...statistics.map((s) => s.beforeGC.heapStatistics.usedHeapSize)) - before;
  process.stdout.write(JSON.stringify({ which, inputBytes: xml.length, peakBytes: peak, kept: typeof keep }));
}

function peakHeap() {
  const out = {};
  for (const which of ['own', 'parse', 'dom']) {
    const run = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=1', '--max-semi-space-size=1', __filename, '--peak', which], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(run.stderr);
    const r = JSON.parse(run.stdout);
    out[which] = { peakMB: r.peakBytes / 2 ** 20, timesInput: r.peakBytes / r.inputBytes };
  }
  return out;
}

// ---- xpath over many siblings ---------------------------------------------------------------------------------

function xpathSiblings() {
  return [250, 500, 1000, 2000].map((n) => {
    const devices = [{ kind: 'emulator', i: 0 }];
    for (let i = 0; i < n; i++) devices.push({ kind: 'hostdev', i, source: { domain: i >> 8, bus: i & 0xff, slot: 0, function: 0 } });
    const xml = serialise(buildDomain({ name: 'many', machine: 'q35', devices }));
    const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    const devicesEl = select('devices', root, true);
    let t = process.hrtime.bigint();
    const found = select('hostdev', devicesEl).length;
    const xpathMs = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    let walked = 0;
    for (let c = devicesEl.firstChild; c; c = c.nextSibling) if (c.nodeType === 1 && c.localName === 'hostdev') walked++;
    const walkMs = Number(process.hrtime.bigint() - t) / 1e6;
    if (found !== n || walked !== n) throw new Error('count mismatch');
    return { hostdevs: n, xpathMs, walkMs };
  });
}

// ---- what each parser accepts ---------------------------------------------------------------------------------

const DOCS = {
  'bare &': "<domain type='kvm'><name>a & b</name></domain>",
  ']]> in text': "<domain type='kvm'><name>a ]]> b</name></domain>",
  'U+0001 in text': "<domain type='kvm'><name>a\u0001b</name></domain>",
  '&#0;': "<domain type='kvm'><name>a&#0;b</name></domain>",
  'unbound element prefix': "<domain type='kvm'><qemu:commandline/></domain>",
  'unbound attribute prefix': "<domain type='kvm' qemu:x='1'/>",
  "prefix bound to ''": "<domain type='kvm' xmlns:q=''/>",
  'attribute twice via two prefixes': "<domain type='kvm' xmlns:a='urn:x' xmlns:b='urn:x' a:n='1' b:n='2'/>",
  'well-formed control': "<domain type='kvm'><name>a &amp; b</name></domain>",
};

function verdicts() {
  return Object.entries(DOCS).map(([name, xml]) => {
    const reports = [];
    let xmldom;
    try {
      new DOMParser({ onError: (level, msg) => reports.push(`${level}: ${msg.split('\n')[0]}`) }).parseFromString(xml, 'text/xml');
      xmldom = reports.some((r) => r.startsWith('fatalError')) ? 'refuses' : reports.length > 0 ? `accepts (${reports[0]})` : 'accepts';
    } catch (err) {
      xmldom = `refuses (${String(err.message).split('\n')[0]})`;
    }
    let library;
    try {
      inspectDomain(xml);
      library = 'accepts';
    } catch (err) {
      library = `refuses (${err.code})`;
    }
    const lint = spawnSync('xmllint', ['--noout', '-'], { input: xml, encoding: 'utf8' });
    // libxml2 reports namespace errors without failing the parse (exit 0, message on stderr); libvirt treats
    // documents with them as broken, and so do this library and this report.
    const message = (lint.stderr.split('\n')[0] || '').replace(/^-:\d+: /, '');
    const xmllint = lint.error ? 'xmllint not found' : lint.status === 0 && lint.stderr === '' ? 'accepts' : `refuses, exit ${lint.status} (${message})`;
    return { document: name, xmldom, library, xmllint };
  });
}

// ---- main -----------------------------------------------------------------------------------------------------

if (require.main !== module) {
  module.exports = { domTransform };
} else if (process.argv[2] === '--peak') {
  peakChild(process.argv[3]);
} else {
  const lint = spawnSync('xmllint', ['--version'], { encoding: 'utf8' });
  const report = {
    node: process.version,
    versions: { xmldom: require('@xmldom/xmldom/package.json').version, xpath: require('xpath/package.json').version, xmlbuilder2: require('xmlbuilder2/package.json').version, libxml2: (lint.stderr || '').split('\n')[0] },
    speed: speed(),
    peakHeap: peakHeap(),
    xpathSiblings: xpathSiblings(),
    verdicts: verdicts(),
  };
  const s = report.speed;
  console.log(`speed at ${s.bytes} bytes, 8 GPUs (ratio to xmldom parse ${s.xmldomParseMs.toFixed(3)} ms):`);
  console.log(`  library transform           ${s.ownTransformMs.toFixed(3)} ms  ${s.ownRatio.toFixed(2)}x`);
  console.log(`  xmldom+xpath+xmlbuilder2    ${s.domTransformMs.toFixed(3)} ms  ${s.domRatio.toFixed(2)}x`);
  console.log('peak heap on the 1 MB domain, 64 GPUs:');
  for (const [k, v] of Object.entries(report.peakHeap)) console.log(`  ${k.padEnd(6)} ${v.peakMB.toFixed(1)} MB  ${v.timesInput.toFixed(1)}x input`);
  console.log('xpath "hostdev" from <devices> over N hostdev siblings vs a DOM walk:');
  for (const r of report.xpathSiblings) console.log(`  ${String(r.hostdevs).padStart(5)}  xpath ${r.xpathMs.toFixed(1)} ms  walk ${r.walkMs.toFixed(2)} ms`);
  console.log('verdicts (xmldom | library | xmllint):');
  for (const v of report.verdicts) console.log(`  ${v.document.padEnd(34)} ${v.xmldom} | ${v.library} | ${v.xmllint}`);
  console.log(JSON.stringify(report));
}
