import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError, decodeXmlBytes, inspectDomain, removePassthrough, transformDomain } from '../lib';
import type { Plan } from '../lib';
import { checkedTransform } from './helpers/invariants';
import { REPO } from './helpers/paths';

// Hostile and odd input: each either gives a correct document or a PassthroughError with a code.
const artifact = (name: string) => fs.readFileSync(path.join(REPO, '__tests__', 'artifacts', name), 'utf8');
const example = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
const npu: Plan = { hostdevs: [{ address: '1b:00.0' }] };

function refusal(fn: () => unknown): PassthroughError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PassthroughError);
    return err as PassthroughError;
  }
  throw new Error('expected a refusal');
}

describe('XML that must be refused', () => {
  test.each([
    ['billion-laughs.xml', 'XML_FORBIDDEN', 2],
    ['external-entity.xml', 'XML_FORBIDDEN', 2],
    ['undefined-entity.xml', 'XML_MALFORMED', 2],
    ['duplicated-attribute.xml', 'XML_MALFORMED', 3],
    ['text-after-root.xml', 'XML_MALFORMED', undefined],
  ])('%s → %s', (file, code, line) => {
    const err = refusal(() => transformDomain(artifact(file), npu));
    expect(err.code).toBe(code);
    if (line !== undefined) expect(err.line).toBe(line);
    expect(err.message).not.toContain('lol;&lol');
  });

  test('nothing is expanded: the billion laughs are refused in well under a second', () => {
    const started = process.hrtime.bigint();
    refusal(() => transformDomain(artifact('billion-laughs.xml'), npu));
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
  });

  test('a 50 MB document is refused by size before it is parsed', () => {
    const big = `<domain type='kvm'>${'<!-- padding -->'.repeat(50 * 1024 * 1024 / 16)}</domain>`;
    const err = refusal(() => transformDomain(big, npu));
    expect(err.code).toBe('XML_TOO_LARGE');
    expect(err.message.length).toBeLessThan(300);
  });

  test('maxBytes is configurable', () => {
    expect(refusal(() => transformDomain(example, npu, { maxBytes: 1024 })).code).toBe('XML_TOO_LARGE');
    expect(() => transformDomain(example, npu, { maxBytes: 1024 * 1024 })).not.toThrow();
  });

  test('100,000-deep nesting is a typed error, not a stack overflow', () => {
    const deep = `<domain type='kvm'><os><type machine='q35'>hvm</type></os><devices>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</devices></domain>`;
    const err = refusal(() => transformDomain(deep, npu));
    expect(err.code).toBe('XML_MALFORMED');
    expect(err.message).toMatch(/nest more than 256/);
  });

  test('invalid UTF-8 and UTF-16 are refused when decoding bytes', () => {
    expect(refusal(() => decodeXmlBytes(Uint8Array.of(0x3c, 0x61, 0xc3, 0x28, 0x3e))).message).toMatch(/not valid UTF-8/);
    expect(refusal(() => decodeXmlBytes(Uint8Array.of(0xff, 0xfe, 0x3c, 0x00))).message).toMatch(/UTF-16/);
    expect(refusal(() => transformDomain('<domain>\uFFFD</domain>', npu)).code).toBe('XML_MALFORMED');
  });

  test('error messages never echo megabytes of input', () => {
    const long = `<domain type='kvm'><name>${'x'.repeat(1_000_000)}</name><os><type machine='pc'>hvm</type></os></domain>`;
    expect(refusal(() => transformDomain(long, npu)).message.length).toBeLessThan(600);
  });

  test.each([
    // Names over 50,000 bytes are over libxml2's limit (XML_TOO_LARGE) before anything else is wrong with them.
    ['a megabyte element name left open', `<domain><${'n'.repeat(1_000_000)}></domain>`, 'XML_TOO_LARGE'],
    ['a megabyte attribute name repeated', `<domain ${'a'.repeat(1_000_000)}='1' ${'a'.repeat(1_000_000)}='2'/>`, 'XML_TOO_LARGE'],
    ['a megabyte entity name', `<domain>&${'e'.repeat(1_000_000)};</domain>`, 'XML_MALFORMED'],
  ])('error messages never echo megabytes of markup: %s', (_, xml, code) => {
    const err = refusal(() => transformDomain(xml, npu));
    expect(err.code).toBe(code);
    expect(err.message.length).toBeLessThan(600);
  });
});

describe('odd but valid XML is kept byte for byte', () => {
  test('a UTF-8 BOM and CRLF survive', () => {
    const crlf = '\uFEFF' + example.replace(/\n/g, '\r\n');
    const out = checkedTransform(crlf, npu).xml;
    expect(out.startsWith('\uFEFF<domain')).toBe(true);
    expect(out.replace(/\r\n/g, '')).not.toMatch(/\n/);
  });

  test('attributes over several lines, double quotes, usb and capabilities hostdevs', () => {
    const xml = artifact('attributes-over-lines.xml');
    const out = checkedTransform(xml, { hostdevs: [{ address: '3b:00.0', alias: 'gpu0', gpudirect: { clique: 1, architecture: 'ampere' } }] }).xml;
    expect(out).toContain('<hostdev mode="subsystem" type="pci" managed="yes">');
    expect(out).toContain('<domain\n    type="kvm"\n    id="7" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">');
    expect(inspectDomain(out).hostdevs.map((h) => h.source)).toEqual(['0000:3b:00.0']);
    // the new hostdev goes after the last <hostdev>, whatever its type
    expect(out.indexOf('type="pci" managed')).toBeGreaterThan(out.indexOf("mode='capabilities'"));
  });

  test('a hostdev of type usb at the same address is not mistaken for the PCI device', () => {
    const usb = example.replace('<memballoon', "<hostdev mode='subsystem' type='usb'><source><address bus='0x1b' device='0'/></source></hostdev>\n    <memballoon");
    expect(inspectDomain(checkedTransform(usb, npu).xml).hostdevs).toHaveLength(1);
  });

  test('an existing override for the same alias and property is merged, not duplicated', () => {
    const plan: Plan = { hostdevs: [{ address: '3b:00.0', alias: 'gpu0', gpudirect: { clique: 2, architecture: 'volta' } }] };
    const once = transformDomain(example, plan);
    const withoutMetadata = removeMetadata(once);
    const again = checkedTransform(withoutMetadata, plan).xml;
    expect(again.match(/x-nv-gpudirect-clique/g)).toHaveLength(1);
  });
});

function removeMetadata(xml: string): string {
  return xml.replace(/\n\s*<metadata>[\s\S]*?<\/metadata>/, '');
}

describe('plans that must be refused, with the JSON path', () => {
  test.each([
    [{ hostdevs: [{ address: '1b:00.0', gpudirect: { clique: '1', architecture: 'volta' } }] }, 'hostdevs[0].gpudirect.clique', /integer/],
    [{ hostdevs: [{ address: '1b:00.0', gpudirect: { clique: -1, architecture: 'volta' } }] }, 'hostdevs[0].gpudirect.clique', />= 0/],
    [{ hostdevs: [{ address: '1b:00.0', gpudirect: { clique: 16, architecture: 'volta' } }] }, 'hostdevs[0].gpudirect.clique', /<= 15/],
    [{ hostdevs: [{ address: { bus: 0x100, slot: 0, function: 0 } }] }, 'hostdevs[0].address.bus', /<= 255/],
    [{ hostdevs: [{ address: '100:00.0' }] }, 'hostdevs[0].address', /PCI address/],
    [{ hostdevs: [{ address: '1b:00.0', alias: 'gpu 0' }] }, 'hostdevs[0].alias', /letters, digits/],
    [{ hostdevs: [{ address: '1b:00.0', alias: 'gpu.0' }] }, 'hostdevs[0].alias', /letters, digits/],
    [{ hostdevs: [{ address: '1b:00.0', colour: 'red' }] }, 'hostdevs[0]', /unknown key "colour"/],
    [{ hostdevs: [], extra: true }, '(root)', /unknown key "extra"/],
    [{ hostdevs: 'all' }, 'hostdevs', /array/],
    [{ target: { qemu: 'latest' }, hostdevs: [] }, 'target.qemu', /version/],
  ])('%j', (plan, where, message) => {
    const err = refusal(() => transformDomain(example, plan as unknown as Plan));
    expect(err.code).toBe('PLAN_INVALID');
    expect(err.path).toBe(where);
    expect(err.message).toMatch(message);
  });

  test('a 10,000-entry plan is handled in one pass', () => {
    const hostdevs = Array.from({ length: 10_000 }, (_, i) => ({ address: `${(i >> 8).toString(16).padStart(4, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}:00.0` }));
    const out = checkedTransform(example, { hostdevs }).xml;
    expect(inspectDomain(out).hostdevs).toHaveLength(10_000);
    expect(removePassthrough(out, { hostdevs })).toBe(example);
  });
});
