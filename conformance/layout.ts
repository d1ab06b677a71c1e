import { Plan } from '../lib/plan/types';

/** What the QEMU command line must show for one controller of a plan's layout (libvirt names it `pci.INDEX`). */
export interface ControllerExpectation {
  id: string;
  driver: string;
  busNr?: number;
  node?: number;
}

/** libvirt's QEMU device for each layout controller model: the expander bus, and the switch ports the guest sees as TI's. */
const DRIVERS: Record<string, string> = {
  'pcie-expander-bus': 'pxb-pcie',
  'pcie-root-port': 'pcie-root-port',
  'pcie-switch-upstream-port': 'x3130-upstream',
  'pcie-switch-downstream-port': 'xio3130-downstream',
};

/**
 * The plan's layout read without the library (the conformance run judges the library, so it does not ask it). The
 * transform gives the plan's controllers, in index order, the next indexes above the domain's own PCI controllers
 * (docs/plan.md, Layouts): `domainXml` is the domain before the transform.
 */
export function controllerExpectations(plan: Plan, domainXml = ''): ControllerExpectation[] {
  const layout = (plan as { layout?: { controllers?: { index: number; model: string; busNr?: number; node?: number }[] } }).layout;
  const controllers = layout?.controllers ?? [];
  const own = [...domainXml.matchAll(/<controller\b[^>]*>/g)].filter((m) => /type=['"]pci['"]/.test(m[0])).map((m) => Number(/index=['"](\d+)['"]/.exec(m[0])?.[1] ?? 0));
  const base = Math.max(0, ...own);
  const rank = new Map([...controllers].sort((a, b) => a.index - b.index).map((c, i) => [c.index, base + i + 1]));
  return controllers.map((c) => ({ id: `pci.${rank.get(c.index)}`, driver: DRIVERS[c.model] ?? c.model, busNr: c.busNr, node: c.node }));
}

/** Each `-device` JSON of the command line whose id is a planned controller, checked for driver, bus_nr and numa_node. */
export function controllerProblems(deviceJson: string[], expected: ControllerExpectation[]): string[] {
  const byId = new Map<string, Record<string, unknown>>();
  for (const json of deviceJson) {
    try {
      const device = JSON.parse(json) as Record<string, unknown>;
      if (typeof device.id === 'string') byId.set(device.id, device);
    } catch {
      // Not JSON (an old stack's key=value -device): no controller of ours looks like that.
    }
  }
  const problems: string[] = [];
  for (const want of expected) {
    const device = byId.get(want.id);
    if (!device) {
      problems.push(`argv: no -device ${want.id} (${want.driver})`);
      continue;
    }
    if (device.driver !== want.driver) problems.push(`argv: ${want.id} is ${String(device.driver)}, expected ${want.driver}`);
    if (want.busNr !== undefined && device.bus_nr !== want.busNr) problems.push(`argv: ${want.id} has bus_nr ${String(device.bus_nr)}, expected ${want.busNr}`);
    if (want.node !== undefined && device.numa_node !== want.node) problems.push(`argv: ${want.id} has numa_node ${String(device.numa_node)}, expected ${want.node}`);
  }
  return problems;
}
