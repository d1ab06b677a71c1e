import { excerpt } from '../errors';
import { ApplyResult, applyPlan, withDaemonTarget } from '../libvirt/apply';
import { Plan } from '../plan/types';
import { validatePlan } from '../plan/validate';
import { CliIo, UsageError, readJson } from './io';

export const APPLY_HELP = `Usage: libvirt-passthrough apply VM... --plan PLAN.json [--connect URI] [--dry-run] [--json]

For each VM (name or UUID): reads its persistent definition (virsh dumpxml --inactive --security-info),
adds what PLAN.json asks for, defines the result (virsh define), reads it back and checks that libvirt
kept every host device, alias and clique override. If libvirt refuses the definition or drops any of
them, the original definition is defined again. A running VM gets the change at its next start.
  --plan FILE      the plan (JSON; see docs/plan.md)
  -c, --connect    libvirt connection URI (virsh -c), e.g. qemu:///system
  --dry-run        print the unified diff of what would be defined; define nothing
  --json           one JSON array: {vm, code, message, changes} per VM (code OK or the error code)
The virsh program is \`virsh\` from PATH, or $LIBVIRT_PASSTHROUGH_VIRSH (a wrapper, e.g. in tests).
Exit 0 when every VM is done (or already configured), 1 when any failed.

Example:
  libvirt-passthrough apply vm1 vm2 --plan gpus.json --connect qemu:///system --dry-run
  libvirt-passthrough apply vm1 vm2 --plan gpus.json --connect qemu:///system
`;

export function runApply(values: Record<string, string | boolean | undefined>, positionals: string[], io: CliIo): number {
  if (typeof values.plan !== 'string') throw new UsageError('apply needs --plan PLAN.json');
  if (positionals.length === 0) throw new UsageError('apply needs at least one VM name');
  const plan = readJson(io, values.plan, 'plan') as Plan;
  validatePlan(plan);
  const options = {
    connect: typeof values.connect === 'string' ? values.connect : undefined,
    virsh: process.env.LIBVIRT_PASSTHROUGH_VIRSH || undefined,
    dryRun: values['dry-run'] === true,
  };
  // One `virsh version` for all the VMs: they go through the same connection.
  const targeted = withDaemonTarget(plan, options);
  const results: ApplyResult[] = [];
  for (const vm of positionals) {
    const result = applyPlan(vm, targeted, options);
    results.push(result);
    if (!values.json) report(result, io);
  }
  if (values.json) io.stdout(JSON.stringify(results.map(({ vm, code, message, changes, warnings, diff }) => ({ vm, code, message, changes, warnings, diff })), null, 2) + '\n');
  return results.every((r) => r.code === 'OK') ? 0 : 1;
}

/** The VM name as typed and libvirt's words (which repeat it) are echoed clipped and printable, like every value. */
function report(result: ApplyResult, io: CliIo): void {
  const vm = excerpt(result.vm);
  for (const w of result.warnings) io.stderr(`${vm}: warning: ${excerpt(w, 2000)}\n`);
  if (result.code === 'OK') {
    if (result.diff) io.stdout(result.diff);
    io.stdout(`${vm}: ${excerpt(result.message, 2000)}\n`);
  } else {
    io.stderr(`${vm}: ${result.code}: ${excerpt(result.message, 2000)}\n`);
  }
}
