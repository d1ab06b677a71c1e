import { parseArgs } from 'node:util';
import { isPassthroughError } from '../errors';
import type { Plan, PlanHostdev } from '../plan/types';
import { CliIo, UsageError, processIo, readJson, readText, writeInPlace } from './io';

// Each command loads its modules when it runs (the CLI sits on VM start paths; see docs/performance.md).
/* eslint-disable @typescript-eslint/no-require-imports */
const transformModule = () => require('../transform') as typeof import('../transform');
const gpudirectCommands = () => require('./gpudirect-commands') as typeof import('./gpudirect-commands');
const hostCommands = () => require('./host-commands') as typeof import('./host-commands');
const applyCommand = () => require('./apply-command') as typeof import('./apply-command');
const snippetModule = () => require('../snippet') as typeof import('../snippet');
const removeModule = () => require('../remove') as typeof import('../remove');
const inspectModule = () => require('../inspect') as typeof import('../inspect');
/* eslint-enable @typescript-eslint/no-require-imports */

export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 1;
export const EXIT_USAGE = 2;

interface Command {
  summary: string;
  help: string;
  options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
  /** Returns the exit status when it is not simply 0. */
  run: (args: { values: Record<string, string | boolean | undefined>; positionals: string[] }, io: CliIo) => void | number;
}

const COMMANDS: Record<string, Command> = {
  transform: {
    summary: 'add the planned host devices (and GPUDirect cliques) to a domain XML',
    help: `Usage: libvirt-passthrough transform --plan PLAN.json [DOMAIN.xml] [--explain] [--in-place [--no-backup]]

Reads the domain XML from DOMAIN.xml (or standard input), adds what PLAN.json asks for, and
prints the new XML on standard output. Nothing else in the document changes.
  --plan FILE    the plan (JSON; see docs/plan.md)
  --explain      also print what was added, with output line numbers, on standard error
  --in-place     rewrite DOMAIN.xml atomically instead of printing (keeps DOMAIN.xml.bak)
  --no-backup    with --in-place: no .bak

Example:
  virsh dumpxml --inactive vm1 | libvirt-passthrough transform --plan gpus.json > vm1.xml
  virsh define vm1.xml
`,
    options: { plan: { type: 'string' }, explain: { type: 'boolean' }, 'in-place': { type: 'boolean' }, 'no-backup': { type: 'boolean' } },
    run: ({ values, positionals }, io) => {
      if (typeof values.plan !== 'string') throw new UsageError('transform needs --plan PLAN.json');
      if (positionals.length > 1) throw new UsageError('transform takes at most one domain file');
      const plan = readJson(io, values.plan, 'plan') as Plan;
      const xml = readText(io, positionals[0], 'domain XML');
      const result = transformModule().explainTransform(xml, plan);
      output(values, positionals, result.xml, io);
      for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
      if (values.explain) for (const c of result.changes) io.stderr(describeChange(c) + '\n');
    },
  },
  apply: {
    summary: "transform libvirt domains' persistent definitions in place: dumpxml, transform, define, check",
    get help() {
      return applyCommand().APPLY_HELP;
    },
    options: { plan: { type: 'string' }, connect: { type: 'string', short: 'c' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
    run: ({ values, positionals }, io) => applyCommand().runApply(values, positionals, io),
  },
  hostdev: {
    summary: "print the <hostdev> snippet for 'virsh attach-device DOMAIN FILE --config'",
    help: `Usage: libvirt-passthrough hostdev ADDRESS [--alias NAME] [--unmanaged] [--rom-bar on|off]

Prints the <hostdev> element for one PCI device, as the NPU pass-through guide writes it.
  ADDRESS        host PCI address as lspci prints it: 0000:1b:00.0 or 1b:00.0
  --alias NAME   device alias (written as ua-NAME)
  --unmanaged    managed='no': you bind the device to vfio-pci yourself
  --rom-bar      on|off

Example:
  libvirt-passthrough hostdev 1b:00.0 > npu-device.xml
  virsh attach-device vm-name npu-device.xml --config
`,
    options: { alias: { type: 'string' }, unmanaged: { type: 'boolean' }, 'rom-bar': { type: 'string' } },
    run: ({ values, positionals }, io) => {
      if (positionals.length !== 1) throw new UsageError('hostdev takes exactly one PCI address');
      const entry: PlanHostdev = { address: positionals[0] };
      if (typeof values.alias === 'string') entry.alias = values.alias;
      if (values.unmanaged) entry.managed = false;
      if (typeof values['rom-bar'] === 'string') entry.rom = { bar: values['rom-bar'] as 'on' | 'off' };
      io.stdout(snippetModule().renderHostdev(entry));
    },
  },
  remove: {
    summary: 'remove pass-through devices and their GPUDirect settings from a domain XML',
    help: `Usage: libvirt-passthrough remove [DOMAIN.xml] [--plan PLAN.json] [--address ADDR]... [--alias NAME]... [--in-place [--no-backup]]

The inverse of transform: removes the selected <hostdev> entries, their clique settings
(<qemu:override> properties or -set arguments) and their metadata; what the transform created
(<metadata>, the qemu namespace declaration) goes when nothing else needs it.
Without a selection: every GPU recorded in the library's metadata.
Something selected that is not in the domain (a typo, an alias without its device) is an error
(REMOVE_NOT_FOUND, exit 1), and then nothing is removed or written.
  --plan FILE      remove everything this plan added
  --address ADDR   a host PCI address (repeatable)
  --alias NAME     a device alias, with or without ua- (repeatable)

Example:
  libvirt-passthrough remove --plan gpus.json vm1.new.xml > vm1.xml
`,
    options: {
      plan: { type: 'string' }, address: { type: 'string', multiple: true }, alias: { type: 'string', multiple: true },
      'in-place': { type: 'boolean' }, 'no-backup': { type: 'boolean' },
    } as Command['options'],
    run: ({ values, positionals }, io) => {
      if (positionals.length > 1) throw new UsageError('remove takes at most one domain file');
      const xml = readText(io, positionals[0], 'domain XML');
      const addresses = values.address as unknown as string[] | undefined;
      const aliases = values.alias as unknown as string[] | undefined;
      const selection =
        typeof values.plan === 'string'
          ? (readJson(io, values.plan, 'plan') as Plan)
          : addresses || aliases
            ? { addresses, aliases }
            : undefined;
      output(values, positionals, removeModule().removePassthrough(xml, selection), io);
    },
  },
  predict: {
    summary: 'predict where QEMU will put the GPUDirect capability for a physical GPU',
    help: `Usage: libvirt-passthrough predict --config FILE --qemu VERSION [--architecture NAME] [--json]

FILE is the GPU's config space on the host: the output of \`lspci -xxx -s ADDR\` (as root), or a copy of
/sys/bus/pci/devices/ADDR/config. QEMU 8.1+ uses C8h unless a capability starts there, else D4h;
older QEMU always uses C8h and fails to start when that clashes (Turing and later: MSI-X at C8h).
Exit 1 when QEMU would refuse to start.

Example:
  sudo lspci -xxx -s 3b:00.0 > gpu.txt
  libvirt-passthrough predict --config gpu.txt --qemu 7.2.0 --architecture hopper
`,
    options: { config: { type: 'string' }, qemu: { type: 'string' }, architecture: { type: 'string' }, json: { type: 'boolean' } },
    run: ({ values }, io) => gpudirectCommands().runPredict(values, io),
  },
  'verify-guest': {
    summary: 'inside the guest: check that each GPU carries the planned GPUDirect clique',
    help: `Usage: libvirt-passthrough verify-guest (--domain DOMAIN.xml | --expect PLAN.json) [--lspci FILE] [--json]

Reads every PCI function's config space (from /sys/bus/pci/devices, or from an lspci -xxx dump with
--lspci) and checks each NVIDIA GPU: the P2P approval capability is present, linked into the capability
list, at the expected offset, and the cliques found match the cliques planned. Warns when the domain
hides KVM (the NVIDIA driver then ignores the capability). Exit 1 when something is wrong.

Example (in the guest, with the domain XML copied in):
  sudo libvirt-passthrough verify-guest --domain vm1.xml
`,
    options: { domain: { type: 'string' }, expect: { type: 'string' }, lspci: { type: 'string' }, json: { type: 'boolean' } },
    run: ({ values }, io) => gpudirectCommands().runVerifyGuest(values, io),
  },
  host: {
    summary: 'check the host against the NPU guide, plan GPUs with cliques from the topology, capture a snapshot',
    get help() {
      return hostCommands().HOST_HELP;
    },
    options: {
      devices: { type: 'string' }, sysfs: { type: 'string' }, json: { type: 'boolean' }, gpus: { type: 'string' },
      npus: { type: 'string' }, policy: { type: 'string' }, topo: { type: 'string' }, 'bus-ids': { type: 'string' },
    },
    run: ({ values, positionals }, io) => hostCommands().runHost(values, positionals, io),
  },
  inspect: {
    summary: 'show machine type, PCI host devices and GPUDirect cliques of a domain',
    help: `Usage: libvirt-passthrough inspect [DOMAIN.xml] [--json]

Example:
  virsh dumpxml vm1 | libvirt-passthrough inspect
`,
    options: { json: { type: 'boolean' } },
    run: ({ values, positionals }, io) => {
      const info = inspectModule().inspectDomain(readText(io, positionals[0], 'domain XML'));
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
    },
  },
};

/** Standard output, or with --in-place an atomic rewrite of the input file. */
function output(values: Record<string, unknown>, positionals: string[], text: string, io: CliIo): void {
  if (!values['in-place']) {
    if (values['no-backup']) throw new UsageError('--no-backup goes with --in-place');
    io.stdout(text);
    return;
  }
  if (positionals[0] === undefined || positionals[0] === '-') throw new UsageError('--in-place needs a domain file, not standard input');
  writeInPlace(positionals[0], text, !values['no-backup']);
}

function describeChange(c: import('../edit/changes').Change): string {
  const parts = [`line ${c.line ?? '?'}`, c.kind];
  if (c.address) parts.push(c.address);
  if (c.alias) parts.push(c.alias);
  if (c.clique !== undefined) parts.push(`clique ${c.clique}`, `offset ${c.capabilityOffset}`, c.architecture ?? '', `via ${c.via}`);
  return parts.filter(Boolean).join('  ');
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: libvirt-passthrough COMMAND [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'libvirt-passthrough COMMAND --help' for a command's options and an example.\nExit status: 0 done, 1 bad input (the message names the code and line:column), 2 usage error.\n`;
}

/** The whole CLI as a function of argv and io; returns the exit status. */
export function runCli(argv: string[], io: CliIo = processIo): number {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version') {
    io.stdout(`${require('../../package.json').version}\n`);
    return EXIT_OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`libvirt-passthrough: unknown command '${name}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    const parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (parsed.values.help) {
      io.stdout(command.help);
      return EXIT_OK;
    }
    return command.run(parsed as never, io) ?? EXIT_OK;
  } catch (err) {
    return reportError(err, name, command, io);
  }
}

function reportError(err: unknown, name: string, command: Command, io: CliIo): number {
  if (isPassthroughError(err)) {
    io.stderr(`libvirt-passthrough ${name}: ${err.code}: ${err.message}\n`);
    return EXIT_BAD_INPUT;
  }
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    io.stderr(`libvirt-passthrough ${name}: ${(err as Error).message}\n\n${command.help}`);
    return EXIT_USAGE;
  }
  throw err;
}
