import { describeConnection } from '../libvirt/connection';
import { UnapplyOptions, UnapplyResult, unapplyPlan } from '../libvirt/unapply';
import { DEFAULT_TIMEOUT_SECONDS } from '../libvirt/virsh';
import { isPassthroughError } from '../errors';
import { Plan } from '../plan/types';
import { validatePlan } from '../plan/validate';
import { report, virshOptionsFrom } from './apply-command';
import { CliIo, UsageError, readJson } from './io';

export const UNAPPLY_HELP = `Usage: libvirt-passthrough unapply VM... [--plan PLAN.json] [--connect URI] [--dry-run] [--json]
                               [--timeout SECONDS]

Takes back what apply added, through libvirt, with apply's checks: for each VM, under the per-VM lock,
reads its persistent definition, removes the host devices, aliases, clique settings and metadata the plan
describes (without --plan: every GPU the library's metadata records), and the pcie-root-port controllers
libvirt added for them, as apply recorded, once they are empty; reads the definition again and stops if
anything changed meanwhile, defines the result, reads it back and checks that only that went. apply followed
by unapply gives back libvirt's original definition byte for byte.
  --plan FILE          the plan apply was given (JSON; see docs/plan.md); needed for devices without GPUDirect
  -c, --connect URI    libvirt connection URI (virsh --connect), e.g. qemu:///system
  --dry-run            print the unified diff of what would be defined and check it with libvirt; define nothing
  --json               one JSON array: {vm, code, message, removed} per VM (code OK or the error code)
  --timeout SECONDS    time limit of each virsh call, and of waiting for another run's lock (default ${DEFAULT_TIMEOUT_SECONDS})
Exit 0 when every VM is done (or had nothing to remove), 1 when any failed.

Example:
  libvirt-passthrough unapply vm1 --plan gpus.json --connect qemu:///system --dry-run
`;

export function runUnapply(values: Record<string, string | boolean | undefined>, positionals: string[], io: CliIo): number {
  if (positionals.length === 0) throw new UsageError('unapply needs at least one VM name');
  let plan: Plan | undefined;
  if (typeof values.plan === 'string') {
    plan = readJson(io, values.plan, 'plan') as Plan;
    validatePlan(plan);
  }
  const options: UnapplyOptions = virshOptionsFrom(values);
  let results: UnapplyResult[];
  try {
    options.connection = describeConnection(options);
    results = positionals.map((vm) => {
      const result = unapplyPlan(vm, plan, options);
      if (!values.json) report({ ...result, warnings: [] }, io);
      return result;
    });
  } catch (err) {
    if (!isPassthroughError(err)) throw err;
    results = positionals.map((vm) => ({ vm, code: err.code, message: err.message, removed: [] }));
    if (!values.json) results.forEach((r) => report({ ...r, warnings: [] }, io));
  }
  if (values.json) io.stdout(JSON.stringify(results, null, 2) + '\n');
  return results.every((r) => r.code === 'OK') ? 0 : 1;
}
