import type { Plan } from '../plan/types';
import { CommandArgs, commandLineAddress, loadOptions, output, readDomain, readMaxBytes, refuseTwoFromStdin } from './command';
import { CliIo, UsageError, blame, displayName, readJson } from './io';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const removeModule = () => require('../remove') as typeof import('../remove');

export const REMOVE_HELP = `Usage: libvirt-passthrough remove [DOMAIN.xml] [--plan PLAN.json] [--address ADDR]... [--alias NAME]... [--in-place [--no-backup]]

The inverse of transform: takes back what the domain's metadata records the transform added
(<hostdev> entries, aliases, clique settings as <qemu:override> properties or -set arguments,
the MMIO window) and their metadata; what the transform created (<metadata>, the qemu namespace
declaration) goes when nothing else needs it. A selection only narrows that: what you wrote stays.
Without a selection: everything recorded (a record written before the added list: every GPU).
Something selected that is not in the domain (a typo, an alias without its device) is an error
(REMOVE_NOT_FOUND, exit 1), and then nothing is removed or written.
  --plan FILE      remove everything this plan added (- : from standard input; then give DOMAIN.xml)
  --address ADDR   a host PCI address (repeatable)
  --alias NAME     a device alias, with or without ua- (repeatable)
  --in-place       rewrite DOMAIN.xml as transform --in-place does (keeps DOMAIN.xml.bak, or .bak.1 …)
  --no-backup      with --in-place: no .bak
  --max-bytes N    refuse a domain XML larger than N bytes (default 16 MiB)

Example:
  libvirt-passthrough remove --plan gpus.json vm1.new.xml > vm1.xml
`;

export function runRemove({ values, positionals }: CommandArgs, io: CliIo): void {
  if (positionals.length > 1) throw new UsageError('remove takes at most one domain file');
  refuseTwoFromStdin(values.plan, positionals[0]);
  for (const address of (values.address as unknown as string[] | undefined) ?? []) commandLineAddress('--address', address);
  const maxBytes = readMaxBytes(values);
  const { xml, source } = readDomain(values, positionals, io, maxBytes);
  const addresses = values.address as unknown as string[] | undefined;
  const aliases = values.alias as unknown as string[] | undefined;
  const selection =
    typeof values.plan === 'string'
      ? (readJson(io, values.plan, 'plan') as Plan)
      : addresses || aliases
        ? { addresses, aliases }
        : undefined;
  const files = { xml: displayName(positionals[0]), plan: typeof values.plan === 'string' ? displayName(values.plan) : undefined };
  output(values, source, blame(files, () => removeModule().removePassthrough(xml, selection, loadOptions(maxBytes))), io);
}
