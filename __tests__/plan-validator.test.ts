import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import generated from '../lib/plan/plan-shape.generated';
import { REPO } from './helpers/paths';

// The plan validator is ajv's standalone code, generated at build time; it must be exactly what the
// generator renders from the current schema, and judge plans as ajv compiling the schema would.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { render, OUT } = require('../scripts/gen-plan-validator.js');

test('lib/plan/plan-shape.generated.ts is what scripts/gen-plan-validator.js renders (run it after changing the schema)', () => {
  expect(fs.readFileSync(OUT, 'utf8')).toBe(render());
});

const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', 'plan.schema.json'), 'utf8'));
const compiled = new Ajv2020({ allErrors: false, strict: true }).compile(schema);
const examplePlans = fs.readdirSync(path.join(REPO, 'examples')).filter((f) => f.endsWith('.plan.json'));
const casePlans = fs.readdirSync(path.join(REPO, '__tests__', 'cases')).map((c) => path.join('__tests__', 'cases', c, 'plan.json'));

test.each([
  ...examplePlans.map((f): [string, unknown] => [f, JSON.parse(fs.readFileSync(path.join(REPO, 'examples', f), 'utf8'))]),
  ...casePlans.filter((f) => fs.existsSync(path.join(REPO, f))).map((f): [string, unknown] => [f, JSON.parse(fs.readFileSync(path.join(REPO, f), 'utf8'))]),
  ['rom file: empty string', { hostdevs: [{ address: '1b:00.0', rom: { file: '' } }] }],
  ['rom file: astral characters count once (ucs2length)', { hostdevs: [{ address: '1b:00.0', rom: { file: '/\u{1F600}' } }] }],
  ['unknown key', { hostdevs: [], extra: 1 }],
  ['address object out of range', { hostdevs: [{ address: { bus: 256, slot: 0, function: 0 } }] }],
  ['clique as a string', { hostdevs: [{ address: '1b:00.0', gpudirect: { clique: '1' } }] }],
  ['not an object', null],
  ['a layout from host plan', { hostdevs: [{ address: '85:00.0', guestAddress: { bus: 2, slot: 0, function: 0 } }], layout: { kind: 'mirror', cells: [{ cell: 0, hostNode: 1 }], controllers: [{ index: 1, model: 'pcie-expander-bus', bus: 0, slot: 10, function: 0, busNr: 254, node: 0, mirrors: 'pci0000:80' }, { index: 2, model: 'pcie-root-port', bus: 1, slot: 0, function: 0, mirrors: '0000:80:01.0', link: { speed: '16.0 GT/s PCIe', width: 16 } }] } }],
  ['a layout with a busNr of 255', { hostdevs: [], layout: { kind: 'numa', cells: [], controllers: [{ index: 1, model: 'pcie-expander-bus', bus: 0, slot: 10, function: 0, busNr: 255 }] } }],
  ['a layout without cells', { hostdevs: [], layout: { kind: 'flat', controllers: [] } }],
  ['a link speed in Gb/s', { hostdevs: [], layout: { kind: 'mirror', cells: [], controllers: [{ index: 1, model: 'pcie-root-port', bus: 0, slot: 3, function: 0, link: { speed: '16 Gb/s', width: 16 } }] } }],
])('%s: same verdict and first error as compiled ajv', (_name, plan) => {
  const ok = (generated as unknown as typeof compiled)(plan);
  expect(ok).toBe(compiled(plan));
  const errors = (generated as unknown as typeof compiled).errors;
  expect(errors ?? null).toEqual(compiled.errors ?? null);
});

test('the schema\'s layout controller keys are the ones host plan writes, in its order (lib/layout/types.ts is the contract)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { CONTROLLER_KEYS } = require('../lib/layout/plan-layout') as typeof import('../lib/layout/plan-layout');
  expect(Object.keys(schema.$defs.layoutController.properties)).toEqual(CONTROLLER_KEYS);
});
