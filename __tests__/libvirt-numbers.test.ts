import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError, explainTransform } from '../lib';
import { readDomainFacts } from '../lib/domain/facts';
import { loadDomainXml } from '../lib/load/load';

// Issue 21 item 7: a number in a PCI address is read as libvirt reads it. spellings.txt holds each spelling (JSON,
// then as XML attribute text); libvirt-9.0.tsv and libvirt-11.3.tsv what real libvirt made of it (probe.sh: define,
// dumpxml --inactive; the bus written back, or "refused"). The library's reader must agree with every row; where
// the stacks differ (`0b…`, glibc 2.38+ C23 strtoul), it reads what the stack that accepts the spelling reads.
const here = path.join(__dirname, 'libvirt-numbers');
const rows = (file: string) =>
  fs.readFileSync(path.join(here, file), 'utf8').split('\n').filter(Boolean).map((line) => line.split('\t'));
const spellings = rows('spellings.txt');
const stacks = { '9.0': new Map(rows('libvirt-9.0.tsv') as [string, string][]), '11.3': new Map(rows('libvirt-11.3.tsv') as [string, string][]) };

const domain = (bus: string) => `<domain type='kvm'>
  <name>n</name>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='${bus}' slot='0x00' function='0x0'/></source>
    </hostdev>
  </devices>
</domain>
`;

/** The bus as libvirt writes it back (`0x1b`), or "refused" when the library cannot read the address (or the XML). */
function libraryBus(xmlText: string): string {
  let hostdevs;
  try {
    hostdevs = readDomainFacts(loadDomainXml(domain(xmlText))).hostdevs;
  } catch (e) {
    if (e instanceof PassthroughError && e.code === 'XML_MALFORMED') return 'refused';
    throw e;
  }
  if (hostdevs.length === 0) return 'refused';
  const bus = hostdevs[0].source.bus;
  return bus > 0xff ? 'refused' : `0x${bus.toString(16).padStart(2, '0')}`;
}

test('every spelling was put to both stacks', () => {
  for (const [json] of spellings) for (const stack of Object.values(stacks)) expect(stack.has(json)).toBe(true);
});

test.each(spellings)('bus=%s reads as libvirt reads it', (json, xmlText) => {
  const [old, current] = [stacks['9.0'].get(json), stacks['11.3'].get(json)];
  const expected = old === current ? old : [old, current].find((b) => b !== 'refused');
  expect(libraryBus(xmlText)).toBe(expected);
});

test("bus='+27' is the plan's 1b:00.0: the transform adds no second hostdev", () => {
  const changes = explainTransform(domain('+27'), { hostdevs: [{ address: '0000:1b:00.0' }] }).changes;
  expect(changes.map((c) => c.kind)).toEqual(['hostdev-unchanged', 'metadata-written']);
});
