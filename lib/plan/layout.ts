import { PassthroughError, excerpt } from '../errors';
import { checkBusNumbers } from '../layout/bus-numbers';
import { LayoutController, LayoutControllerModel, PlanLayout } from '../layout/types';
import { PlannedHostdev } from './types';

/** What each model may sit on (0 = pcie.0). */
const PARENTS: Record<LayoutControllerModel, (LayoutControllerModel | 'pcie.0')[]> = {
  'pcie-expander-bus': ['pcie.0'],
  'pcie-root-port': ['pcie.0', 'pcie-expander-bus'],
  'pcie-switch-upstream-port': ['pcie-root-port', 'pcie-switch-downstream-port'],
  'pcie-switch-downstream-port': ['pcie-switch-upstream-port'],
};
const PORTS: ReadonlySet<string> = new Set(['pcie-root-port', 'pcie-switch-downstream-port']);

const refuse = (message: string, path: string): never => {
  throw new PassthroughError('LAYOUT_INVALID', `The plan's layout is invalid: ${message}`, { path });
};

/**
 * Checks what the schema cannot: a layout written by hand (or edited) that libvirt would refuse, or that the guest
 * would silently get wrong. The schema has already checked the shape. Errors are LAYOUT_INVALID with the plan path.
 */
export function checkPlanLayout(layout: PlanLayout, hostdevs: PlannedHostdev[]): void {
  if (layout.kind === 'flat' && (layout.controllers.length > 0 || layout.cells.length > 0)) {
    refuse('a flat layout adds no controllers or cells; give kind "numa" or "mirror", or leave them out.', 'layout.kind');
  }
  checkCells(layout);
  const byIndex = new Map<number, LayoutController>();
  layout.controllers.forEach((c, i) => {
    const at = `layout.controllers[${i}]`;
    if (byIndex.has(c.index)) refuse(`index ${c.index} is used twice (controllers[${layout.controllers.indexOf(byIndex.get(c.index)!)}] and [${i}]); each controller needs its own.`, `${at}.index`);
    byIndex.set(c.index, c);
  });
  layout.controllers.forEach((c, i) => checkController(c, `layout.controllers[${i}]`, byIndex, layout));
  checkSlots(layout, hostdevs, byIndex);
  checkBusNumbers(layout);
}

function checkCells(layout: PlanLayout): void {
  const cells = new Set<number>();
  const nodes = new Set<number>();
  layout.cells.forEach((c, i) => {
    if (cells.has(c.cell)) refuse(`guest cell ${c.cell} is listed twice.`, `layout.cells[${i}].cell`);
    if (nodes.has(c.hostNode)) refuse(`host node ${c.hostNode} is given two guest cells; one cell serves one host node.`, `layout.cells[${i}].hostNode`);
    cells.add(c.cell);
    nodes.add(c.hostNode);
  });
}

function checkController(c: LayoutController, at: string, byIndex: Map<number, LayoutController>, layout: PlanLayout): void {
  const parent = c.bus === 0 ? 'pcie.0' : byIndex.get(c.bus)?.model;
  if (parent === undefined) refuse(`bus ${c.bus} names no controller of the layout (0 is pcie.0, others are the index of a controller).`, `${at}.bus`);
  if (c.bus !== 0 && c.bus >= c.index) refuse(`controller ${c.index} sits on controller ${c.bus}, but libvirt wants a controller's index above its bus's: give it an index above ${c.bus}.`, `${at}.index`);
  if (!PARENTS[c.model].includes(parent!)) refuse(`a ${c.model} cannot sit on ${parent === 'pcie.0' ? 'pcie.0' : `a ${parent}`}; it sits on ${PARENTS[c.model].join(' or ')}.`, `${at}.bus`);
  if (parent !== undefined && PORTS.has(parent) && c.slot !== 0) refuse(`a ${parent} has one slot, 0; controller ${c.index} is at slot ${c.slot}.`, `${at}.slot`);
  const expander = c.model === 'pcie-expander-bus';
  if (expander && c.busNr === undefined) refuse(`pcie-expander-bus ${c.index} needs a busNr (its guest bus number; host plan counts down from 254).`, at);
  for (const key of ['busNr', 'node'] as const) if (!expander && c[key] !== undefined) refuse(`${key} belongs to a pcie-expander-bus, not a ${c.model}.`, `${at}.${key}`);
  for (const key of ['chassis', 'port'] as const) if (!PORTS.has(c.model) && c[key] !== undefined) refuse(`${key} belongs to a root or downstream port, not a ${c.model}.`, `${at}.${key}`);
  if (c.node !== undefined && !layout.cells.some((cell) => cell.cell === c.node)) {
    refuse(`expander bus ${c.index} is on guest cell ${c.node}, which layout.cells does not list; add { "cell": ${c.node}, "hostNode": N } there.`, `${at}.node`);
  }
}

/** One device per bus/slot/function, function 0 marked multifunction where a slot has more, hostdevs on ports only. */
function checkSlots(layout: PlanLayout, hostdevs: PlannedHostdev[], byIndex: Map<number, LayoutController>): void {
  const taken = new Map<string, string>();
  const take = (bus: number, slot: number, fn: number, what: string, at: string) => {
    const key = `${bus}:${slot}.${fn}`;
    const other = taken.get(key);
    if (other) refuse(`${what} and ${other} both sit at bus ${bus}, slot ${slot}, function ${fn}.`, at);
    taken.set(key, what);
  };
  layout.controllers.forEach((c, i) => {
    take(c.bus, c.slot, c.function, `controller ${c.index}`, `layout.controllers[${i}].slot`);
    if (c.function > 0 && !layout.controllers.some((o) => o.bus === c.bus && o.slot === c.slot && o.function === 0 && o.multifunction)) {
      refuse(`controller ${c.index} is function ${c.function} of bus ${c.bus} slot ${c.slot}, so function 0 there needs "multifunction": true.`, `layout.controllers[${i}].function`);
    }
  });
  if (layout.controllers.length === 0) return;
  for (const h of hostdevs) {
    const g = h.guestAddress;
    if (!g) continue;
    const at = `hostdevs[${h.index}].guestAddress`;
    const port = byIndex.get(g.bus);
    if (g.bus !== 0 && !port) refuse(`with a layout, a guestAddress bus names a layout controller (or 0 for pcie.0); ${g.bus} is none.`, at);
    if (port && !PORTS.has(port.model)) refuse(`${excerpt(h.alias ?? h.addressKey)} sits on a ${port.model}; a device sits on a root or downstream port.`, at);
    if (port && g.slot !== 0) refuse(`a ${port.model} has one slot, 0; ${excerpt(h.alias ?? h.addressKey)} is at slot ${g.slot}.`, at);
    take(g.bus, g.slot, g.function, excerpt(h.alias ?? h.addressKey), at);
  }
}
