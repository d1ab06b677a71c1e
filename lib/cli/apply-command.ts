import { ApplyOptions, ApplyResult, applyPlan } from '../libvirt/apply';
import { describeConnection, describeTarget, targetFromConnection } from '../libvirt/connection';
import { DEFAULT_TIMEOUT_SECONDS } from '../libvirt/virsh';
import { excerpt, isPassthroughError } from '../errors';
import { Plan } from '../plan/types';
import { validatePlan } from '../plan/validate';
import { CliIo, UsageError, readJson } from './io';

export const APPLY_HELP = `Usage: libvirt-passthrough apply VM... --plan PLAN.json [--connect URI] [--dry-run] [--json]
                             [--timeout SECONDS] [--trust-plan-target]

For each VM (name or UUID), under a per-VM lock: reads its persistent definition (virsh dumpxml
--inactive --security-info), adds what PLAN.json asks for for the libvirt and QEMU that the connection
reports (virsh version), reads the definition again and stops if anything changed meanwhile, defines the
result (virsh define, through a pipe), reads it back and checks that libvirt kept every host device, alias
and clique override. If libvirt drops any of them, the original definition is defined again, unless the
definition changed meanwhile. A running VM gets the change at its next start.
  --plan FILE          the plan (JSON; see docs/plan.md)
  -c, --connect URI    libvirt connection URI (virsh --connect), e.g. qemu:///system
  --dry-run            print the unified diff of what would be defined and check it with libvirt
                       (domxml-to-native); define nothing
  --json               one JSON array: {vm, code, message, changes} per VM (code OK or the error code)
  --timeout SECONDS    time limit of each virsh call, and of waiting for another run's lock (default ${DEFAULT_TIMEOUT_SECONDS})
  --trust-plan-target  use the plan's target versions even where the connection reports others
                       (default: such a plan is refused, TARGET_MISMATCH)
The versions used are printed on standard error (target: ...). The virsh program is \`virsh\` from PATH,
or $LIBVIRT_PASSTHROUGH_VIRSH (a wrapper, e.g. in tests).
Exit 0 when every VM is done (or already configured), 1 when any failed.

Example:
  libvirt-passthrough apply vm1 vm2 --plan gpus.json --connect qemu:///system --dry-run
  libvirt-passthrough apply vm1 vm2 --plan gpus.json --connect qemu:///system
`;

type Values = Record<string, string | boolean | undefined>;

/** The virsh options both apply and unapply read from their flags. */
export function virshOptionsFrom(values: Values): ApplyOptions {
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout);
    if (!/^\d+(\.\d+)?$/.test(String(values.timeout)) || !(timeoutSeconds > 0)) throw new UsageError('--timeout needs a positive number of seconds');
  }
  return {
    connect: typeof values.connect === 'string' ? values.connect : undefined,
    virsh: process.env.LIBVIRT_PASSTHROUGH_VIRSH || undefined,
    dryRun: values['dry-run'] === true,
    timeoutSeconds,
  };
}

export function runApply(values: Values, positionals: string[], io: CliIo): number {
  if (typeof values.plan !== 'string') throw new UsageError('apply needs --plan PLAN.json');
  if (positionals.length === 0) throw new UsageError('apply needs at least one VM name');
  const plan = readJson(io, values.plan, 'plan') as Plan;
  validatePlan(plan);
  const trustPlanTarget = values['trust-plan-target'] === true;
  const options: ApplyOptions = { ...virshOptionsFrom(values), trustPlanTarget };
  let results: ApplyResult[];
  try {
    // Asked once for all the VMs: they go through the same connection.
    options.connection = describeConnection(options);
    // As transform does: the versions decide only how cliques are written.
    if (plan.hostdevs.some((h) => h.gpudirect)) io.stderr(`${describeTarget(plan, options.connection, trustPlanTarget)}\n`);
    targetFromConnection(plan, options.connection, trustPlanTarget);
    results = positionals.map((vm) => {
      const result = applyPlan(vm, plan, options);
      if (!values.json) report(result, io);
      return result;
    });
  } catch (err) {
    // The connection failed or disagrees with the plan: the same answer for every VM.
    if (!isPassthroughError(err)) throw err;
    results = positionals.map((vm) => ({ vm, code: err.code, message: err.message, changes: [], warnings: [] }));
    if (!values.json) results.forEach((r) => report(r, io));
  }
  if (values.json) io.stdout(JSON.stringify(results.map(({ vm, code, message, changes, warnings, diff, checked }) => ({ vm, code, message, changes, warnings, diff, checked })), null, 2) + '\n');
  return results.every((r) => r.code === 'OK') ? 0 : 1;
}

/** The VM name as typed and libvirt's words (which repeat it) are echoed clipped and printable, like every value. */
export function report(result: { vm: string; code: string; message: string; warnings: string[]; diff?: string; checked?: string }, io: CliIo): void {
  const vm = excerpt(result.vm);
  for (const w of result.warnings) io.stderr(`${vm}: warning: ${excerpt(w, 2000)}\n`);
  if (result.code === 'OK') {
    if (result.diff) io.stdout(result.diff);
    io.stdout(`${vm}: ${excerpt(result.message, 2000)}\n`);
    if (result.checked) io.stdout(`${vm}: checked: ${excerpt(result.checked, 2000)}\n`);
  } else {
    io.stderr(`${vm}: ${result.code}: ${excerpt(result.message, 2000)}\n`);
  }
}
