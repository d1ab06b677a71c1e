import { isObject } from '../arguments';
import { PassthroughError, excerpt } from '../errors';
import { LayoutController, LayoutControllerModel, PlanLayout } from '../layout/types';

const MODELS: readonly LayoutControllerModel[] = ['pcie-expander-bus', 'pcie-root-port', 'pcie-switch-upstream-port', 'pcie-switch-downstream-port'];
const KINDS = ['flat', 'numa', 'mirror'];

/** Which parent buses each model may sit on: libvirt's own rules (a root port on pcie-root or an expander bus, …). */
const PARENTS: Record<LayoutControllerModel, readonly (LayoutControllerModel | 'pcie-root')[]> = {
  'pcie-expander-bus': ['pcie-root'],
  'pcie-root-port': ['pcie-root', 'pcie-expander-bus'],
  'pcie-switch-upstream-port': ['pcie-root-port', 'pcie-switch-downstream-port'],
  'pcie-switch-downstream-port': ['pcie-switch-upstream-port'],
};

/**
 * The plan's `layout` section, checked for what the transform relies on: the shape (until the plan schema
 * carries it, this is the only check), then that every controller sits on a bus that exists and suits its model,
 * that indexes are unique and above the controllers they sit on (libvirt refuses otherwise), and that every
 * expander bus names a cell of the layout.
 */
export function readPlanLayout(plan: unknown): PlanLayout | undefined {
  if (!isObject(plan) || plan.layout === undefined) return undefined;
  const layout = plan.layout;
  if (!isObject(layout)) fail('layout', 'must be an object with kind, cells and controllers');
  if (!KINDS.includes(layout.kind as string)) fail('layout.kind', `must be one of ${KINDS.join(', ')}`);
  if (!Array.isArray(layout.cells)) fail('layout.cells', 'must be an array of { cell, hostNode }');
  if (!Array.isArray(layout.controllers)) fail('layout.controllers', 'must be an array of controllers');
  layout.cells.forEach((c, i) => {
    if (!isObject(c)) fail(`layout.cells[${i}]`, 'must be an object { cell, hostNode }');
    requireInteger(c.cell, `layout.cells[${i}].cell`, 0, 127);
    requireInteger(c.hostNode, `layout.cells[${i}].hostNode`, 0, 1023);
  });
  layout.controllers.forEach((c, i) => checkControllerShape(c, `layout.controllers[${i}]`));
  const checked = layout as unknown as PlanLayout;
  checkCells(checked);
  checkTree(checked);
  return checked;
}

function checkControllerShape(c: unknown, path: string): void {
  if (!isObject(c)) fail(path, 'must be an object');
  if (!MODELS.includes(c.model as LayoutControllerModel)) fail(`${path}.model`, `must be one of ${MODELS.join(', ')}`);
  requireInteger(c.index, `${path}.index`, 1, 255);
  requireInteger(c.bus, `${path}.bus`, 0, 255);
  requireInteger(c.slot, `${path}.slot`, 0, 31);
  requireInteger(c.function, `${path}.function`, 0, 7);
  for (const key of ['busNr', 'node', 'chassis', 'port'] as const) if (c[key] !== undefined) requireInteger(c[key], `${path}.${key}`, 0, 255);
  if (c.multifunction !== undefined && typeof c.multifunction !== 'boolean') fail(`${path}.multifunction`, 'must be true or false');
  if (c.mirrors !== undefined && typeof c.mirrors !== 'string') fail(`${path}.mirrors`, 'must be a string');
  if (c.link !== undefined) {
    if (!isObject(c.link) || typeof c.link.speed !== 'string') fail(`${path}.link`, 'must be { speed, width } as sysfs reports them');
    requireInteger(c.link.width, `${path}.link.width`, 1, 32);
  }
  if (c.model === 'pcie-expander-bus') {
    requireInteger(c.busNr, `${path}.busNr`, 1, 254);
    requireInteger(c.node, `${path}.node`, 0, 127);
  } else if (c.busNr !== undefined || c.node !== undefined) {
    fail(path, 'only a pcie-expander-bus has busNr and node');
  }
}

function checkCells(layout: PlanLayout): void {
  const seen = new Set<number>();
  layout.cells.forEach((c, i) => {
    if (seen.has(c.cell)) fail(`layout.cells[${i}].cell`, `names guest cell ${c.cell} twice`);
    seen.add(c.cell);
  });
  layout.controllers.forEach((c, i) => {
    if (c.node !== undefined && !seen.has(c.node)) fail(`layout.controllers[${i}].node`, `is guest cell ${c.node}, which layout.cells does not list`);
  });
}

function checkTree(layout: PlanLayout): void {
  const byIndex = new Map<number, LayoutController>();
  layout.controllers.forEach((c, i) => {
    if (byIndex.has(c.index)) fail(`layout.controllers[${i}].index`, `uses controller index ${c.index} twice`);
    byIndex.set(c.index, c);
  });
  layout.controllers.forEach((c, i) => {
    const parent = c.bus === 0 ? 'pcie-root' : byIndex.get(c.bus)?.model;
    if (parent === undefined) fail(`layout.controllers[${i}].bus`, `is bus ${c.bus}, which no controller of the layout provides`);
    if (!PARENTS[c.model].includes(parent)) fail(`layout.controllers[${i}].bus`, `puts a ${c.model} on a ${parent}; it belongs on ${PARENTS[c.model].join(' or ')}`);
    if (c.bus !== 0 && c.index <= c.bus) fail(`layout.controllers[${i}].index`, `must be above the index of the controller it sits on (${c.bus}): libvirt refuses a controller numbered below its bus`);
    if (parent === 'pcie-expander-bus' || parent === 'pcie-root-port' || parent === 'pcie-switch-downstream-port') {
      if (c.slot !== 0 && parent !== 'pcie-expander-bus') fail(`layout.controllers[${i}].slot`, `must be 0: a ${parent} has one slot`);
    }
  });
}

function requireInteger(value: unknown, path: string, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `must be a whole number from ${min} to ${max}${value === undefined ? '' : `, not ${excerpt(JSON.stringify(value) ?? String(value), 20)}`}`);
  }
}

function fail(path: string, problem: string): never {
  throw new PassthroughError('PLAN_INVALID', `The plan is invalid: ${path} ${problem}.`, { path });
}

/** The plan without its `layout`, for the hostdev validator (the plan schema does not know `layout` yet). */
export function withoutLayout<T>(plan: T): T {
  if (!isObject(plan) || !('layout' in plan)) return plan;
  const { layout: _layout, ...rest } = plan as Record<string, unknown>;
  return rest as T;
}
