import { CommandArgs, loadOptions, readMaxBytes } from './command';
import { CliIo, UsageError, blame, displayName, readText } from './io';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const inspectModule = () => require('../inspect') as typeof import('../inspect');

export const INSPECT_HELP = `Usage: libvirt-passthrough inspect [DOMAIN.xml] [--json] [--max-bytes N]

Example:
  virsh dumpxml vm1 | libvirt-passthrough inspect
`;

export function runInspect({ values, positionals }: CommandArgs, io: CliIo): void {
  if (positionals.length > 1) throw new UsageError('inspect takes at most one domain file');
  const maxBytes = readMaxBytes(values);
  const xml = readText(io, positionals[0], 'domain XML', maxBytes);
  const info = blame({ xml: displayName(positionals[0]) }, () => inspectModule().inspectDomain(xml, loadOptions(maxBytes)));
  if (values.json) {
    io.stdout(JSON.stringify(info, null, 2) + '\n');
    return;
  }
  io.stdout(`machine  ${info.machine ?? '(default)'}${info.isQ35 ? ' (q35)' : ' (not q35)'}  arch ${info.arch ?? '(default)'}\n`);
  io.stdout(`hostdevs ${info.hostdevs.length}\n`);
  for (const h of info.hostdevs) {
    const g = h.alias ? info.gpudirect[h.alias] : undefined;
    const clique = g ? `clique ${g.clique} via ${g.via}${g.capabilityOffset ? ` at ${g.capabilityOffset}` : ''}` : '';
    io.stdout(`  ${h.source}  ${(h.alias ?? '-').padEnd(24)} ${h.managed ? 'managed' : 'unmanaged'}  ${clique}\n`.replace(/\s+\n$/, '\n'));
  }
  if (info.hidesKvm) io.stdout('warning: the domain hides KVM; the NVIDIA driver ignores the GPUDirect capability\n');
}
