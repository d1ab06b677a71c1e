import { excerpt, isPassthroughError } from '../errors';
import type { PlanHostdev } from '../plan/types';
import { CommandArgs, commandLineAddress } from './command';
import { CliFailure, CliIo, UsageError } from './io';

/* eslint-disable @typescript-eslint/no-require-imports */
const snippetModule = () => require('../snippet') as typeof import('../snippet');
/* eslint-enable @typescript-eslint/no-require-imports */

export const HOSTDEV_HELP = `Usage: libvirt-passthrough hostdev ADDRESS [--alias NAME] [--unmanaged] [--rom-bar on|off]

Prints the <hostdev> element for one PCI device, as the NPU pass-through guide writes it.
  ADDRESS        host PCI address as lspci prints it: 0000:1b:00.0 or 1b:00.0
  --alias NAME   device alias (written as ua-NAME)
  --unmanaged    managed='no': you bind the device to vfio-pci yourself
  --rom-bar      on|off

Example:
  libvirt-passthrough hostdev 1b:00.0 > npu-device.xml
  virsh attach-device vm-name npu-device.xml --config
`;

export function runHostdev({ values, positionals }: CommandArgs, io: CliIo): void {
  if (positionals.length !== 1) throw new UsageError('hostdev takes exactly one PCI address');
  commandLineAddress(undefined, positionals[0]);
  const romBar = values['rom-bar'];
  if (romBar !== undefined && romBar !== 'on' && romBar !== 'off') throw new UsageError(`--rom-bar takes on or off, not '${excerpt(String(romBar))}'`);
  const entry: PlanHostdev = { address: positionals[0] };
  if (typeof values.alias === 'string') entry.alias = values.alias;
  if (values.unmanaged) entry.managed = false;
  if (typeof values['rom-bar'] === 'string') entry.rom = { bar: values['rom-bar'] as 'on' | 'off' };
  io.stdout(renderSnippet(entry));
}

/** The hostdev snippet; a refused alias is named as the option the user typed, with its value. */
function renderSnippet(entry: PlanHostdev): string {
  try {
    return snippetModule().renderHostdev(entry);
  } catch (err) {
    if (isPassthroughError(err) && err.path?.endsWith('.alias')) {
      throw new CliFailure(`--alias '${excerpt(String(entry.alias))}' is not an alias libvirt keeps: letters, digits, _ and -, starting with a letter, at most 63 characters`);
    }
    throw err;
  }
}
