import { PassthroughError, excerpt } from '../errors';
import { Plan } from '../plan/types';
import { VirshOptions, requireVirshOptions, runVirsh } from './virsh';
import { requireOptionalString, requireOptions } from '../arguments';

/** What the libvirt at the other end of the connection says about itself (`virsh uri`, `virsh version`). */
export interface Connection {
  /** The canonical URI (`virsh uri`): the lock key, and named in messages. */
  uri: string;
  /** The daemon's libvirt (`Running against daemon`), or the library's when there is no daemon (embedded driver). */
  libvirt?: string;
  /** The hypervisor's version (`Running hypervisor: QEMU X`). */
  qemu?: string;
}

const NOTHING_DONE = 'nothing was defined';

/** Asks the connection once: callers applying to several domains pass the answer to each applyPlan call. */
export function describeConnection(options: VirshOptions = {}): Connection {
  requireOptions(options, 'describeConnection', 'its options as an object (or nothing)');
  requireOptionalString(options.connect, 'describeConnection', 'options.connect as a libvirt URI string');
  requireOptionalString(options.virsh, 'describeConnection', 'options.virsh as the path of the virsh program');
  requireVirshOptions(options as Record<string, unknown>, 'describeConnection');
  const uri = runVirsh(['uri'], options, { step: 'connection URI', ifHung: NOTHING_DONE }).trim();
  const text = runVirsh(['version'], options, { step: 'versions', ifHung: NOTHING_DONE });
  const libvirt = /Running against daemon: (\d+\.\d+\.\d+)/.exec(text)?.[1] ?? /Using library: libvirt (\d+\.\d+\.\d+)/.exec(text)?.[1];
  const qemu = /Running hypervisor: QEMU (\d+\.\d+\.\d+)/.exec(text)?.[1];
  return { uri, ...(libvirt && { libvirt }), ...(qemu && { qemu }) };
}

/**
 * The plan with the connection's versions as its target: the stack that will run the domain is the one
 * libvirt reports, not what the plan was written for. A plan target that disagrees is refused
 * (TARGET_MISMATCH) unless `trustPlanTarget` (a vendor build with backports), when the plan's values win.
 */
export function targetFromConnection(plan: Plan, connection: Connection, trustPlanTarget = false): Plan {
  const planned = plan.target ?? {};
  const found = { libvirt: connection.libvirt, qemu: connection.qemu };
  if (!trustPlanTarget) {
    for (const name of ['libvirt', 'qemu'] as const) {
      const wanted = planned[name];
      const actual = found[name];
      if (typeof wanted !== 'string' || actual === undefined || sameVersion(wanted, actual)) continue;
      const label = name === 'qemu' ? 'QEMU' : 'libvirt';
      throw new PassthroughError(
        'TARGET_MISMATCH',
        `The plan's target says ${label} ${excerpt(wanted, 20)}, but ${excerpt(connection.uri, 80)} runs ${label} ${actual} (virsh version); nothing was defined. Remove target.${name} from the plan (apply uses what the connection reports), or pass --trust-plan-target if the plan is right (a vendor build with backports).`,
      );
    }
  }
  const target = trustPlanTarget ? { ...definedOnly(found), ...planned } : { ...planned, ...definedOnly(found) };
  return Object.keys(target).length === 0 ? plan : { ...plan, target };
}

/** `8.2` agrees with `8.2.0` and `8.2.5`: the plan names as many components as it cares about. */
function sameVersion(wanted: string, actual: string): boolean {
  const w = wanted.split('.').map(Number);
  const a = actual.split('.').map(Number);
  return w.every((n, i) => n === (a[i] ?? 0));
}

function definedOnly(found: { libvirt?: string; qemu?: string }): { libvirt?: string; qemu?: string } {
  return { ...(found.libvirt && { libvirt: found.libvirt }), ...(found.qemu && { qemu: found.qemu }) };
}

/** The `target:` line transform prints, for apply: which versions the transform used, and from where. */
export function describeTarget(plan: Plan, connection: Connection, trustPlanTarget: boolean): string {
  const part = (label: string, name: 'libvirt' | 'qemu') => {
    const planned = plan.target?.[name];
    const actual = connection[name];
    if (trustPlanTarget && planned !== undefined) return `${label} ${excerpt(planned, 20)} (from the plan, --trust-plan-target)`;
    if (actual !== undefined) return `${label} ${actual} (from virsh version on ${excerpt(connection.uri, 80)})`;
    return planned !== undefined ? `${label} ${excerpt(planned, 20)} (from the plan)` : `${label} unknown (virsh version did not say)`;
  };
  return `target: ${part('libvirt', 'libvirt')}, ${part('QEMU', 'qemu')}`;
}
