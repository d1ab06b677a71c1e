import * as fs from 'node:fs';
import * as path from 'node:path';
import * as api from '../lib';
import { ERROR_CODES, isPassthroughError } from '../lib';
import { REPO } from './helpers/paths';

// docs/security.md: every exported function refuses an argument of the wrong type with a PassthroughError
// (INPUT_INVALID), never a TypeError. The functions are enumerated from the module, so a new export is
// covered without editing this file.

// applyPlan runs virsh: should a junk call ever reach it, it talks to libvirt's in-memory test driver.
process.env.LIBVIRT_DEFAULT_URI = 'test:///default';

const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
const snapshot = { devices: [], cmdline: 'ro', iommuGroups: new Map() };

const JUNK: [string, unknown[]][] = [
  ['no argument', []],
  ['undefined', [undefined]],
  ["'junk'", ['junk']],
  ['null', [null]],
  ['{}', [{}]],
  ['42', [42]],
  ['[]', [[]]],
  ['Uint8Array(3)', [new Uint8Array(3)]],
  ["'junk', null", ['junk', null]],
  ['{}, null', [{}, null]],
  ['Uint8Array(3), null', [new Uint8Array(3), null]],
];

// A good first argument, so that the null in the second place is what the function meets.
const GOOD_FIRST: Record<string, unknown> = {
  transformDomain: domain,
  explainTransform: domain,
  inspectDomain: domain,
  removePassthrough: domain,
  guestTreeFromDomain: domain,
  keptFacts: domain,
  droppedFacts: domain,
  onDefineDomain: '{}',
  decodeXmlBytes: new TextEncoder().encode(domain),
  readConfigSpace: '00: de 10 b1 20',
  predictP2PPlacement: new Uint8Array(256),
  parseSysfsConfig: '0000:3b:00.0',
  verifyGuest: { gpus: [] },
  assignCliques: ['3b:00.0'],
  checkHost: snapshot,
  planFromHost: snapshot,
  explainPlanFromHost: snapshot,
  encodeP2PCapability: 0,
};

const NOT_FUNCTIONS = new Set(['PassthroughError']);
const functions = Object.entries(api)
  .filter((entry): entry is [string, (...args: unknown[]) => unknown] => typeof entry[1] === 'function' && !NOT_FUNCTIONS.has(entry[0]))
  .sort(([a], [b]) => a.localeCompare(b));

const cases = functions.flatMap(([name, fn]) => [
  ...JUNK.map(([label, args]): [string, string, (...a: unknown[]) => unknown, unknown[]] => [name, label, fn, args]),
  ...(name in GOOD_FIRST ? [[name, 'good first argument, null', fn, [GOOD_FIRST[name], null]] as [string, string, (...a: unknown[]) => unknown, unknown[]]] : []),
]);

/** What the call did: 'returned', or the error's name and code. */
function outcome(fn: (...args: unknown[]) => unknown, args: unknown[]): { kind: 'returned' } | { kind: 'threw'; err: unknown } {
  try {
    fn(...args);
    return { kind: 'returned' };
  } catch (err) {
    return { kind: 'threw', err };
  }
}

test('the enumeration finds the exported functions', () => {
  const names = functions.map(([name]) => name);
  expect(names.length).toBeGreaterThan(30);
  for (const name of ['transformDomain', 'verifyGuest', 'readHostCapture', 'applyPlan', 'onDefineDomain']) expect(names).toContain(name);
  expect(names).not.toContain('PassthroughError');
});

test.each(cases)('%s(%s) returns or throws a PassthroughError', (_name, _label, fn, args) => expectRefusalOrResult(fn, args));

function expectRefusalOrResult(fn: (...args: unknown[]) => unknown, args: unknown[]): void {
  const result = outcome(fn, args);
  if (result.kind === 'returned') return;
  const { err } = result;
  if (!isPassthroughError(err)) throw new Error(`threw ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`);
  expect(ERROR_CODES).toContain(err.code);
  expect(err.message.length).toBeLessThan(400);
  expect(err.message).not.toMatch(/undefined is not|Cannot read properties|is not a function|is not iterable/);
}
