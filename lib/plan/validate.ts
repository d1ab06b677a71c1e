import type { ErrorObject, ValidateFunction } from 'ajv';
import { PassthroughError, excerpt } from '../errors';
import { PciAddress, checkPciRanges, formatPciAddress, parsePciAddress } from '../pci/address';
import generatedValidator from './plan-shape.generated';
import { Plan, PlanAddress } from './types';
import { closest } from '../suggest';

// ajv's code for schemas/plan.schema.json, generated at build time (scripts/gen-plan-validator.js):
// loading ajv and compiling the schema at start-up was most of the CLI's cold start.
const validatePlanShape = generatedValidator as unknown as ValidateFunction<Plan>;

/** Checks a plan against schemas/plan.schema.json; the error names the JSON path that is wrong. */
export function validatePlan(plan: unknown): asserts plan is Plan {
  if (validatePlanShape(plan)) return;
  const error = mostSpecificError(validatePlanShape.errors ?? []);
  const problem = misspeltKey(error, plan) ?? describeSchemaError(error);
  throw new PassthroughError('PLAN_INVALID', `The plan is invalid: ${problem}${problem.endsWith('?') ? '' : '.'}`, {
    path: jsonPath(error?.instancePath ?? ''),
  });
}

// For `oneOf` (string or object address) ajv reports each branch; the deepest path is the useful one.
function mostSpecificError(errors: ErrorObject[]): ErrorObject | undefined {
  return [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
}

function describeSchemaError(error: ErrorObject | undefined): string {
  if (!error) return 'it does not match the plan schema';
  const where = jsonPath(error.instancePath);
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const guess = closest(key, knownKeys(error.instancePath));
      return `unknown key "${excerpt(key)}" in ${where}${guess ? `; did you mean "${guess}"?` : ''}`;
    }
    case 'required':
      return `${where} needs "${String(p.missingProperty)}"`;
    case 'type':
      return `${where} must be ${article(String(p.type))}`;
    case 'enum':
      return `${where} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'minimum':
    case 'maximum':
      return `${where} ${error.message ?? 'is out of range'}`;
    case 'pattern':
      return `${where} has the wrong form (${patternHint(error.instancePath)})`;
    default:
      return `${where} ${error.message ?? 'is invalid'}`;
  }
}

/**
 * ajv stops at the first problem, which for `{"adress": …}` is the missing "address": name the unknown key
 * that is probably the missing one instead.
 */
function misspeltKey(error: ErrorObject | undefined, plan: unknown): string | undefined {
  if (error?.keyword !== 'required') return undefined;
  const missing = String((error.params as { missingProperty?: unknown }).missingProperty);
  const known = knownKeys(error.instancePath);
  const object = instanceAt(plan, error.instancePath);
  if (!object || typeof object !== 'object') return undefined;
  const typo = Object.keys(object).find((key) => !known.includes(key) && closest(key, known) === missing);
  return typo === undefined ? undefined : `unknown key "${excerpt(typo)}" in ${jsonPath(error.instancePath)}; did you mean "${missing}"?`;
}

/** `/hostdevs/1/a~1b` → `['hostdevs', '1', 'a/b']` (JSON Pointer, RFC 6901). */
function pointerParts(pointer: string): string[] {
  return pointer.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function instanceAt(data: unknown, pointer: string): unknown {
  let node = data;
  for (const part of pointerParts(pointer)) node = (node as Record<string, unknown> | undefined)?.[part];
  return node;
}

/** The keys the schema allows for the object at this instance path (following $ref and items; ajv's schemaPath restarts at each $ref). */
function knownKeys(instancePath: string): string[] {
  type Node = { $ref?: string; items?: Node; properties?: Record<string, Node> } | undefined;
  // Read only when a plan has an unknown key: the happy path never loads the schema (cold start).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const planSchema = require('../../schemas/plan.schema.json') as Node;
  const resolve = (node: Node): Node => {
    let n = node;
    while (n?.$ref?.startsWith('#/')) n = n.$ref.slice(2).split('/').reduce<Node>((acc, key) => (acc as Record<string, Node>)?.[key], planSchema);
    return n;
  };
  let node = resolve(planSchema);
  for (const part of pointerParts(instancePath)) node = resolve(/^\d+$/.test(part) ? node?.items : node?.properties?.[part]);
  return node?.properties ? Object.keys(node.properties) : [];
}

function patternHint(instancePath: string): string {
  if (/address$|guestAddress$/i.test(instancePath)) return 'a PCI address like 0000:1b:00.0 or 1b:00.0';
  if (/alias$/.test(instancePath)) return 'letters, digits, _ and -, starting with a letter, at most 63 characters';
  if (/device$/.test(instancePath)) return 'vendor:device in hex, like 10de:2330';
  if (/architecture$/.test(instancePath)) return 'a lower-case architecture name, like hopper';
  if (/rom\/file$/.test(instancePath)) return 'an absolute path';
  if (/mirrors$/.test(instancePath)) return 'a host bridge like pci0000:3a or a PCI address like 0000:3a:00.0';
  if (/link\/speed$/.test(instancePath)) return 'a link speed as sysfs prints it, like 16.0 GT/s PCIe';
  return 'a version like 9.0.0';
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** `/hostdevs/1/gpudirect/clique` → `hostdevs[1].gpudirect.clique`. */
export function jsonPath(pointer: string): string {
  if (!pointer) return '(root)';
  return pointerParts(pointer).reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

/** Turns either address form into numbers, range-checked; errors name the plan path. */
export function readPlanAddress(value: PlanAddress, path: string): PciAddress {
  const parsed =
    typeof value === 'string' ? parsePciAddress(value) : checkPciRanges({ domain: value.domain ?? 0, ...value });
  if (typeof parsed === 'string') throw new PassthroughError('PLAN_INVALID', `The plan is invalid: ${parsed}.`, { path });
  return parsed;
}

export { formatPciAddress };
