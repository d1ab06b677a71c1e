import type { ErrorObject, ValidateFunction } from 'ajv';
import { PassthroughError } from '../errors';
import { PciAddress, checkPciRanges, formatPciAddress, parsePciAddress } from '../pci/address';
import generatedValidator from './plan-shape.generated';
import { Plan, PlanAddress } from './types';

// ajv's code for schemas/plan.schema.json, generated at build time (scripts/gen-plan-validator.js):
// loading ajv and compiling the schema at start-up was most of the CLI's cold start.
const validatePlanShape = generatedValidator as unknown as ValidateFunction<Plan>;

/** Checks a plan against schemas/plan.schema.json; the error names the JSON path that is wrong. */
export function validatePlan(plan: unknown): asserts plan is Plan {
  if (validatePlanShape(plan)) return;
  const error = mostSpecificError(validatePlanShape.errors ?? []);
  throw new PassthroughError('PLAN_INVALID', `The plan is invalid: ${describeSchemaError(error)}.`, {
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
    case 'additionalProperties':
      return `unknown key "${String(p.additionalProperty)}" in ${where}`;
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

function patternHint(instancePath: string): string {
  if (/address$|guestAddress$/i.test(instancePath)) return 'a PCI address like 0000:1b:00.0 or 1b:00.0';
  if (/alias$/.test(instancePath)) return 'letters, digits, _ and -, starting with a letter, at most 63 characters';
  if (/device$/.test(instancePath)) return 'vendor:device in hex, like 10de:2330';
  if (/architecture$/.test(instancePath)) return 'a lower-case architecture name, like hopper';
  if (/rom\/file$/.test(instancePath)) return 'an absolute path';
  return 'a version like 9.0.0';
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** `/hostdevs/1/gpudirect/clique` → `hostdevs[1].gpudirect.clique`. */
export function jsonPath(pointer: string): string {
  if (!pointer) return '(root)';
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

/** Turns either address form into numbers, range-checked; errors name the plan path. */
export function readPlanAddress(value: PlanAddress, path: string): PciAddress {
  const parsed =
    typeof value === 'string' ? parsePciAddress(value) : checkPciRanges({ domain: value.domain ?? 0, ...value });
  if (typeof parsed === 'string') throw new PassthroughError('PLAN_INVALID', `The plan is invalid: ${parsed}.`, { path });
  return parsed;
}

export { formatPciAddress };
