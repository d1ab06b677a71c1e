import type { Plan } from '../plan/types';
import { CommandArgs, loadOptions, output, readDomain, readMaxBytes, refuseTwoFromStdin } from './command';
import { CliIo, UsageError, blame, displayName, readJson } from './io';

/* eslint-disable @typescript-eslint/no-require-imports */
const transformModule = () => require('../transform') as typeof import('../transform');
const stackDetect = () => require('./stack-detect') as typeof import('./stack-detect');
/* eslint-enable @typescript-eslint/no-require-imports */

export const TRANSFORM_HELP = `Usage: libvirt-passthrough transform --plan PLAN.json [DOMAIN.xml] [--explain] [--in-place [--no-backup]]

Reads the domain XML from DOMAIN.xml (or standard input), adds what PLAN.json asks for, and
prints the new XML on standard output. Nothing else in the document changes.
  --plan FILE    the plan (JSON; see docs/plan.md); - reads it from standard input (then give DOMAIN.xml)
  --explain      also print what was added, with output line numbers, on standard error
  --in-place     rewrite DOMAIN.xml atomically instead of printing; keeps the old text as
                 DOMAIN.xml.bak (or .bak.1, .2 … : an earlier backup is never overwritten), and
                 refuses when another program changed the file while this one ran
  --no-backup    with --in-place: no .bak
  --max-bytes N  refuse a domain XML larger than N bytes (default 16 MiB)
  --libvirt VER  the libvirt version of the host that runs the domain (default: the plan's target,
                 else libvirtd/virtqemud/virsh --version here)
  --qemu VER     the QEMU version there (default: the plan's target, else qemu-system-x86_64 --version)
  --no-detect    do not read versions from local tools (when this machine is not the VM host)
For plans with GPUDirect cliques the versions used, and where they came from, are printed on
standard error; they decide how the cliques are written (docs/gpudirect.md, Versions).

Example:
  virsh dumpxml --inactive vm1 | libvirt-passthrough transform --plan gpus.json > vm1.xml
  virsh define vm1.xml
  libvirt-passthrough host plan --gpus all | libvirt-passthrough transform --plan - vm1.xml > vm1.new.xml
`;

export function runTransform({ values, positionals }: CommandArgs, io: CliIo): void {
  if (typeof values.plan !== 'string') throw new UsageError('transform needs --plan PLAN.json');
  if (positionals.length > 1) throw new UsageError('transform takes at most one domain file');
  refuseTwoFromStdin(values.plan, positionals[0]);
  // The one version grammar (lib/plan/version.ts), read only when a flag is given: no tool module loads otherwise.
  for (const flag of ['libvirt', 'qemu'] as const) if (values[flag] !== undefined) stackDetect().versionFlag(values, flag);
  const maxBytes = readMaxBytes(values);
  let plan = readJson(io, values.plan, 'plan') as Plan;
  // Versions decide only how cliques are written: no GPUDirect, no tools run.
  if (Array.isArray(plan?.hostdevs) && plan.hostdevs.some((h) => h?.gpudirect)) {
    const detect = !values['no-detect'];
    const { chooseTarget, describeChoice, runLocalTool } = stackDetect();
    const chosen = chooseTarget(
      plan,
      { libvirt: values.libvirt as string | undefined, qemu: values.qemu as string | undefined, detect },
      io.runTool ?? runLocalTool,
    );
    plan = chosen.plan;
    io.stderr(`${describeChoice(chosen.choice, detect)}\n`);
  }
  const { xml, source } = readDomain(values, positionals, io, maxBytes);
  const result = blame({ xml: displayName(positionals[0]), plan: displayName(values.plan) }, () => transformModule().explainTransform(xml, plan, loadOptions(maxBytes)));
  output(values, source, result.xml, io);
  for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
  if (values.explain) for (const c of result.changes) io.stderr(describeChange(c) + '\n');
}

function describeChange(c: import('../edit/changes').Change): string {
  const parts = [`line ${c.line ?? '?'}`, c.kind];
  if (c.address) parts.push(c.address);
  if (c.alias) parts.push(c.alias);
  if (c.clique !== undefined) parts.push(`clique ${c.clique}`, `offset ${c.capabilityOffset}`, c.architecture ?? '', `via ${c.via}`);
  return parts.filter(Boolean).join('  ');
}
