#!/usr/bin/env node
'use strict';
// npm run bench: speed and memory of transformDomain, as ratios to xmldom's parse of the same text in the
// same process (machine speed cancels out). Prints a table and one JSON line; with --write-docs also
// rewrites the table and the chart in docs/performance.md / docs/performance.svg.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DOMParser } = require('@xmldom/xmldom');
const { transformDomain } = require('..');
const { domainOfSize, gpuPlan } = require('./inputs');
const { renderChart } = require('./chart');

const SIZES_KB = [8, 16, 32, 64, 256, 1024, 2048, 4096];

/** Median over batches of the mean time per call, in ms; batches sized to ~`batchMs`. */
function measure(fn, { batches = 15, batchMs = 40 } = {}) {
  const start = process.hrtime.bigint();
  let calls = 0;
  while (Number(process.hrtime.bigint() - start) / 1e6 < batchMs * 2 || calls < 3) {
    fn();
    calls++;
  }
  const perCall = Number(process.hrtime.bigint() - start) / 1e6 / calls;
  const n = Math.max(1, Math.round(batchMs / perCall));
  const samples = [];
  for (let b = 0; b < batches; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6 / n);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const parse = (xml) => new DOMParser().parseFromString(xml, 'text/xml');

/** Medians of interleaved batches, so that drift in machine speed hits every function alike. */
function compare(fns, opts) {
  fns.forEach((fn) => measure(fn, { batches: 3, batchMs: opts?.batchMs ?? 40 })); // warm-up
  const samples = fns.map(() => []);
  for (let round = 0; round < 5; round++) fns.forEach((fn, i) => samples[i].push(measure(fn, { batches: 3, ...opts })));
  return samples.map((s) => s.sort((a, b) => a - b)[2]);
}

function typical() {
  const xml = domainOfSize(8);
  const plan = gpuPlan(8, 4);
  const [parseMs, transformMs, emptyMs] = compare([() => parse(xml), () => transformDomain(xml, plan), () => transformDomain(xml, { hostdevs: [] })]);
  return { bytes: xml.length, parseMs, transformMs, ratio: transformMs / parseMs, emptyRatio: emptyMs / parseMs, perSecond: 1000 / transformMs };
}

function scaling() {
  const plan = gpuPlan(64, 8);
  return SIZES_KB.map((kb) => {
    const xml = domainOfSize(kb);
    const opts = kb >= 1024 ? { batches: 1, batchMs: 300 } : { batchMs: 40 };
    const [parseMs, transformMs] = compare([() => parse(xml), () => transformDomain(xml, plan)], opts);
    return { kb: xml.length / 1024, devices: (xml.match(/^    <(disk|controller|interface) /gm) || []).length, parseMs, transformMs, ratio: transformMs / parseMs };
  });
}

/** Least-squares slope of log(time) against log(size): 1 means linear. */
function slope(rows, key) {
  const xs = rows.map((r) => Math.log(r.kb));
  const ys = rows.map((r) => Math.log(r[key]));
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return num / den;
}

/** Memory of one call on the 1 MB domain, each mode in a fresh process (see bench/memory.js). */
function memory() {
  const run = (mode, semiSpaceMb) => {
    const child = spawnSync(process.execPath, ['--expose-gc', `--min-semi-space-size=${semiSpaceMb}`, `--max-semi-space-size=${semiSpaceMb}`, path.join(__dirname, 'memory.js'), mode], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    return JSON.parse(child.stdout);
  };
  const peak = run('peak', 1);
  const all = run('allocation', 256);
  const ratio = (bytes) => bytes / peak.inputBytes;
  return {
    peakRatio: ratio(peak.transform.bytes),
    parsePeakRatio: ratio(peak.parse.bytes),
    allocatedRatio: ratio(all.transform.bytes),
    parseAllocatedRatio: ratio(all.parse.bytes),
    liveTreeRatio: ratio(peak.liveTreeBytes),
    liveDomRatio: ratio(peak.liveDomBytes),
  };
}

/** virt-xml (Debian's virtinst) doing the same single-hostdev edit, when installed (bench/setup-virtinst.sh). */
function virtXml() {
  if (spawnSync('sh', ['-c', 'command -v virt-xml']).status !== 0) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-virtxml-'));
  const file = path.join(dir, 'in.xml');
  fs.writeFileSync(file, domainOfSize(8));
  // A bare PCI address makes virt-xml look for a host node device; the xpath form writes the same element.
  const hostdev = ['type=pci', './@mode=subsystem', './@managed=yes', './source/address/@domain=0x0000', './source/address/@bus=0x1b',
    './source/address/@slot=0x00', './source/address/@function=0x0'].map((v, i) => (i === 0 ? v : `xpath${i}.set=${v}`)).join(',');
  const args = ['--connect', 'test:///default', '--add-device', '--hostdev', hostdev, '--print-xml'];
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    const run = spawnSync('virt-xml', args, { input: fs.readFileSync(file), encoding: 'utf8' });
    if (run.status !== 0) return { error: run.stderr.trim().split('\n').pop() };
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  fs.rmSync(dir, { recursive: true });
  times.sort((a, b) => a - b);
  const xml = domainOfSize(8);
  const oneEdit = measure(() => transformDomain(xml, { hostdevs: [{ address: '0000:1b:00.0' }] }));
  return { virtXmlMs: times[2], ratio: times[2] / oneEdit };
}

const f = (n, d = 3) => n.toFixed(d);

function main() {
  const t = typical();
  const rows = scaling();
  const mem = memory();
  const vx = virtXml();
  const perKb = (r) => r.transformMs / r.kb;
  const perKbRatio = perKb(rows[rows.length - 1]) / perKb(rows[0]);
  const bigEndPerKbRatio = perKb(rows[rows.length - 1]) / perKb(rows.find((r) => r.kb >= 1024));
  const parsePerKbRatio = rows[rows.length - 1].parseMs / rows[rows.length - 1].kb / (rows[0].parseMs / rows[0].kb);

  console.log(`node ${process.version}, ${os.cpus()[0].model}, ${process.execArgv.join(' ')}`);
  console.log(`\ntypical domain (${(t.bytes / 1024).toFixed(1)} KB, 8 GPUs in 2 cliques)`);
  console.log(`  xmldom parse       ${f(t.parseMs)} ms`);
  console.log(`  transformDomain    ${f(t.transformMs)} ms   ratio ${f(t.ratio, 2)} (target <= 1.5)   ${Math.round(t.perSecond)} transforms/s (target >= 1000)`);
  console.log(`  empty plan         ratio ${f(t.emptyRatio, 2)} (target <= 1.2)`);
  console.log('\nscaling (64-GPU plan)\n      KB  devices   parse ms  transform ms  ratio');
  for (const r of rows) console.log(`${r.kb.toFixed(0).padStart(8)} ${String(r.devices).padStart(8)} ${f(r.parseMs).padStart(10)} ${f(r.transformMs).padStart(13)} ${f(r.ratio, 2).padStart(6)}`);
  console.log(`  slope (log time / log size): transform ${f(slope(rows, 'transformMs'), 2)}, parse ${f(slope(rows, 'parseMs'), 2)}`);
  console.log(`  time per KB, largest / smallest: transform ${f(perKbRatio, 2)} (target <= 1.5), parse ${f(parsePerKbRatio, 2)}; transform 4 MB / 1 MB ${f(bigEndPerKbRatio, 2)}`);
  console.log('\nmemory, 1 MB domain, as multiples of the input size');
  console.log(`  peak extra heap during one transform ${f(mem.peakRatio, 1)}x (target <= 10); xmldom parse alone ${f(mem.parsePeakRatio, 1)}x`);
  console.log(`  all allocation, garbage included: transform ${f(mem.allocatedRatio, 1)}x, xmldom parse ${f(mem.parseAllocatedRatio, 1)}x`);
  console.log(`  kept alive: the library's located element tree ${f(mem.liveTreeRatio, 1)}x, xmldom's DOM ${f(mem.liveDomRatio, 1)}x`);
  if (vx) console.log(vx.error ? `virt-xml: ${vx.error}` : `virt-xml single hostdev edit: ${f(vx.virtXmlMs, 0)} ms, ${Math.round(vx.ratio)}x slower than transformDomain`);
  else console.log('virt-xml: not installed (bash bench/setup-virtinst.sh to compare)');

  const summary = {
    parseMs: +f(t.parseMs, 4), transformMs: +f(t.transformMs, 4), ratio: +f(t.ratio), emptyRatio: +f(t.emptyRatio),
    transformsPerSecond: Math.round(t.perSecond), scalingSlope: +f(slope(rows, 'transformMs')), perKbRatio: +f(perKbRatio), bigEndPerKbRatio: +f(bigEndPerKbRatio),
    parsePerKbRatio: +f(parsePerKbRatio), peakHeapRatio: +f(mem.peakRatio, 2), parsePeakHeapRatio: +f(mem.parsePeakRatio, 2),
    allocatedHeapRatio: +f(mem.allocatedRatio, 2), parseAllocatedHeapRatio: +f(mem.parseAllocatedRatio, 2), liveTreeRatio: +f(mem.liveTreeRatio, 2), liveDomRatio: +f(mem.liveDomRatio, 2), virtXmlRatio: vx && !vx.error ? Math.round(vx.ratio) : null,
  };
  console.log(JSON.stringify(summary));
  if (process.argv.includes('--write-docs')) writeDocs(rows, summary);
}

function writeDocs(rows, summary) {
  const docs = path.join(__dirname, '..', 'docs');
  fs.writeFileSync(path.join(docs, 'performance.svg'), renderChart(rows));
  const file = path.join(docs, 'performance.md');
  const table = [
    '| KB | devices | xmldom parse ms | transformDomain ms | ratio |',
    '|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.kb.toFixed(0)} | ${r.devices} | ${f(r.parseMs)} | ${f(r.transformMs)} | ${f(r.ratio, 2)} |`),
  ].join('\n');
  const text = fs.readFileSync(file, 'utf8')
    .replace(/<!-- table -->[\s\S]*<!-- \/table -->/, `<!-- table -->\n${table}\n<!-- /table -->`)
    .replace(/<!-- summary -->[\s\S]*<!-- \/summary -->/, `<!-- summary -->\n\`\`\`json\n${JSON.stringify(summary)}\n\`\`\`\n<!-- /summary -->`);
  fs.writeFileSync(file, text);
}

main();
