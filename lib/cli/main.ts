import { parseArgs } from 'node:util';
import { excerpt, isPassthroughError } from '../errors';
import type { Plan, PlanHostdev } from '../plan/types';
import { CliFailure, CliIo, MAX_READ_LIMIT, UsageError, blame, displayName, fileOfError, processIo, readJson, readText, writeInPlace } from './io';

// Each command loads its modules when it runs (the CLI sits on VM start paths; see docs/performance.md).
/* eslint-disable @typescript-eslint/no-require-imports */
const transformModule = () => require('../transform') as typeof import('../transform');
const gpudirectCommands = () => require('./gpudirect-commands') as typeof import('./gpudirect-commands');
const hostCommands = () => require('./host-commands') as typeof import('./host-commands');
const applyCommand = () => require('./apply-command') as typeof import('./apply-command');
const snippetModule = () => require('../snippet') as typeof import('../snippet');
const removeModule = () => require('../remove') as typeof import('../remove');
const inspectModule = () => require('../inspect') as typeof import('../inspect');
const stackDetect = () => require('./stack-detect') as typeof import('./stack-detect');
const pciAddress = () => require('../pci/address') as typeof import('../pci/address');
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
`,
    options: {
      plan: { type: 'string' }, explain: { type: 'boolean' }, 'in-place': { type: 'boolean' }, 'no-backup': { type: 'boolean' },
      'max-bytes': { type: 'string' },
      libvirt: { type: 'string' }, qemu: { type: 'string' }, 'no-detect': { type: 'boolean' },
    },
    run: ({ values, positionals }, io) => {
      if (typeof values.plan !== 'string') throw new UsageError('transform needs --plan PLAN.json');
      if (positionals.length > 1) throw new UsageError('transform takes at most one domain file');
      for (const flag of ['libvirt', 'qemu'] as const) {
        if (values[flag] !== undefined && !/^\d+(\.\d+){0,3}$/.test(String(values[flag]))) throw new UsageError(`--${flag} needs a version like 9.0.0`);
      }
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
      const xml = readText(io, positionals[0], 'domain XML', maxBytes);
      const result = blame({ xml: displayName(positionals[0]), plan: values.plan }, () => transformModule().explainTransform(xml, plan, loadOptions(maxBytes)));
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
      const address = pciAddress().parsePciAddress(positionals[0]);
      if (typeof address === 'string') {
        const why = address.startsWith('PCI ') ? address : 'write it as lspci prints it, e.g. 0000:1b:00.0 or 1b:00.0';
        throw new CliFailure(`'${excerpt(positionals[0])}' is not a PCI address: ${why}`);
      }
      const romBar = values['rom-bar'];
      if (romBar !== undefined && romBar !== 'on' && romBar !== 'off') throw new UsageError(`--rom-bar takes on or off, not '${excerpt(String(romBar))}'`);
      const entry: PlanHostdev = { address: positionals[0] };
      if (typeof values.alias === 'string') entry.alias = values.alias;
      if (values.unmanaged) entry.managed = false;
      if (typeof values['rom-bar'] === 'string') entry.rom = { bar: values['rom-bar'] as 'on' | 'off' };
      io.stdout(renderSnippet(entry));
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
  --max-bytes N    refuse a domain XML larger than N bytes (default 16 MiB)

Example:
  libvirt-passthrough remove --plan gpus.json vm1.new.xml > vm1.xml
`,
    options: {
      plan: { type: 'string' }, address: { type: 'string', multiple: true }, alias: { type: 'string', multiple: true },
      'in-place': { type: 'boolean' }, 'no-backup': { type: 'boolean' }, 'max-bytes': { type: 'string' },
    } as Command['options'],
    run: ({ values, positionals }, io) => {
      if (positionals.length > 1) throw new UsageError('remove takes at most one domain file');
      const maxBytes = readMaxBytes(values);
      const xml = readText(io, positionals[0], 'domain XML', maxBytes);
      const addresses = values.address as unknown as string[] | undefined;
      const aliases = values.alias as unknown as string[] | undefined;
      const selection =
        typeof values.plan === 'string'
          ? (readJson(io, values.plan, 'plan') as Plan)
          : addresses || aliases
            ? { addresses, aliases }
            : undefined;
      const files = { xml: displayName(positionals[0]), plan: typeof values.plan === 'string' ? values.plan : undefined };
      output(values, positionals, blame(files, () => removeModule().removePassthrough(xml, selection, loadOptions(maxBytes))), io);
    },
  },
  predict: {
    summary: 'predict where QEMU will put the GPUDirect capability for a physical GPU',
    help: `Usage: libvirt-passthrough predict --config FILE --qemu VERSION [--address ADDR] [--architecture NAME] [--json]

FILE (or - for standard input) is the GPU's config space on the host, in any form you have:
  lspci -vvv -nn -s ADDR     the text people paste (-v and -vv too; with or without -nn), as root
  lspci -xxx -s ADDR         hex (256 bytes; -xxxx: 4 KiB), as root; text and hex of one device are merged
  /sys/bus/pci/devices/0000:ADDR/config   the raw bytes
Pasted text may be quoted (> ), wrapped, CRLF, with prompts and other output around it. A capture of several
devices needs --address (or #N for its Nth block, when a block has no address line), unless it holds
exactly one NVIDIA GPU.

QEMU 8.1+ uses C8h unless a capability starts there, else D4h; older QEMU always uses C8h and refuses to
start when a GPU capability sits there (data-centre Turing and later: MSI-X at C8h). The answer gives both,
the spec's recommendation for the GPU's architecture (from its device ID), and what a disagreement means.
Exit 0: QEMU starts and the placement is known; 1: QEMU would refuse to start, the capture may be cut short,
or no capability list could be read (CONFIG_SPACE_UNREADABLE).

Example:
  sudo lspci -vvv -nn -s 3b:00.0 > gpu.txt
  libvirt-passthrough predict --config gpu.txt --qemu 8.2.0
`,
    options: { config: { type: 'string' }, qemu: { type: 'string' }, architecture: { type: 'string' }, address: { type: 'string' }, json: { type: 'boolean' } },
    run: ({ values, positionals }, io) => gpudirectCommands().runPredict(values, positionals, io),
  },
  'verify-guest': {
    summary: 'inside the guest: check that each GPU carries the planned GPUDirect clique',
    help: `Usage: libvirt-passthrough verify-guest (--domain DOMAIN.xml | --expect PLAN.json) [--lspci FILE] [--json]

Reads every PCI function's config space (from /sys/bus/pci/devices, or from an lspci -xxx dump with
--lspci) and checks each NVIDIA GPU: the P2P approval capability is present, linked into the capability
list, at the expected offset (the one \`host plan\` predicted, else the spec's), and the cliques found match
the cliques planned. Warns when the domain hides KVM (the NVIDIA driver then ignores the capability).
Exit 1 when something is wrong.

Example (in the guest, with the domain XML copied in):
  sudo libvirt-passthrough verify-guest --domain vm1.xml
`,
    options: { domain: { type: 'string' }, expect: { type: 'string' }, lspci: { type: 'string' }, json: { type: 'boolean' } },
    run: ({ values, positionals }, io) => gpudirectCommands().runVerifyGuest(values, positionals, io),
  },
  host: {
    summary: 'check the host against the NPU guide, plan GPUs with cliques from the topology, capture a snapshot',
    get help() {
      return hostCommands().HOST_HELP;
    },
    options: {
      devices: { type: 'string' }, sysfs: { type: 'string' }, json: { type: 'boolean' }, gpus: { type: 'string' },
      npus: { type: 'string' }, policy: { type: 'string' }, topo: { type: 'string' }, 'bus-ids': { type: 'string' },
      qemu: { type: 'string' }, 'no-detect': { type: 'boolean' },
    },
    run: ({ values, positionals }, io) => hostCommands().runHost(values, positionals, io),
  },
  inspect: {
    summary: 'show machine type, PCI host devices and GPUDirect cliques of a domain',
    help: `Usage: libvirt-passthrough inspect [DOMAIN.xml] [--json] [--max-bytes N]

Example:
  virsh dumpxml vm1 | libvirt-passthrough inspect
`,
    options: { json: { type: 'boolean' }, 'max-bytes': { type: 'string' } },
    run: ({ values, positionals }, io) => {
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
    },
  },
};

/** Standard output, or with --in-place an atomic rewrite of the input file (left alone when nothing changed). */
function output(values: Record<string, unknown>, positionals: string[], text: string, io: CliIo): void {
  if (!values['in-place']) {
    if (values['no-backup']) throw new UsageError('--no-backup goes with --in-place');
    io.stdout(text);
    return;
  }
  if (positionals[0] === undefined || positionals[0] === '-') throw new UsageError('--in-place needs a domain file, not standard input');
  writeInPlace(positionals[0], text, !values['no-backup']);
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

const loadOptions = (maxBytes: number | undefined) => (maxBytes === undefined ? {} : { maxBytes });

function readMaxBytes(values: Record<string, unknown>): number | undefined {
  const given = values['max-bytes'];
  if (given === undefined) return undefined;
  const n = typeof given === 'string' && /^[0-9]+$/.test(given) ? Number(given) : NaN;
  if (!(n >= 1 && n <= MAX_READ_LIMIT)) throw new UsageError(`--max-bytes takes a whole number from 1 to ${MAX_READ_LIMIT}, not '${excerpt(String(given))}'`);
  return n;
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
  return `Usage: libvirt-passthrough COMMAND [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'libvirt-passthrough COMMAND --help' for a command's options and an example.\nExit status: 0 done, 1 bad input (one line: FILE:LINE:COLUMN: CODE: message), 2 usage error.\nAdd --debug to any command to print the stack trace of an error as well.\n`;
}

/** The whole CLI as a function of argv and io; returns the exit status. `--debug` anywhere adds the stack trace to an error. */
export function runCli(argv: string[], io: CliIo = processIo): number {
  const debug = argv.includes('--debug');
  const [name, ...rest] = argv.filter((a) => a !== '--debug');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version') {
    io.stdout(`${require('../../package.json').version}\n`);
    return EXIT_OK;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`libvirt-passthrough: unknown command '${excerpt(name)}'\n\n${usage()}`);
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
    return reportError(err, name, command, io, debug);
  }
}

/** Every failure becomes one line on standard error and an exit status; the stack only with --debug. */
function reportError(err: unknown, name: string, command: Command, io: CliIo, debug: boolean): number {
  const prefix = `libvirt-passthrough ${name}: `;
  const trace = () => {
    if (debug) io.stderr(`${typeof stackOf(err) === 'string' ? stackOf(err) : String(err)}\n`);
  };
  if (isPassthroughError(err)) {
    io.stderr(`${prefix}${locatedMessage(err, fileOfError(err))}\n`);
    trace();
    return EXIT_BAD_INPUT;
  }
  if (err instanceof UsageError || (err as { code?: string } | null)?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    io.stderr(`${prefix}${oneLine((err as Error).message)}\n\n${command.help}`);
    trace();
    return EXIT_USAGE;
  }
  if (err instanceof CliFailure) {
    io.stderr(`${prefix}${oneLine(err.message)}\n`);
    trace();
    return EXIT_BAD_INPUT;
  }
  const what = String(err); // Error.prototype.toString: "TypeError: message", also for errors from another realm
  io.stderr(`${prefix}unexpected error: ${oneLine(what)}${debug ? '' : ' (run again with --debug for the stack trace, and please report it)'}\n`);
  trace();
  return EXIT_BAD_INPUT;
}

/** `vm.xml:8:5: MACHINE_NOT_Q35: The machine type ...`, like a compiler; the location leaves the message's tail. */
function locatedMessage(err: import('../errors').PassthroughError, file: string | undefined): string {
  const message = oneLine(err.message);
  if (file === undefined) return `${err.code}: ${message}`;
  if (err.line === undefined) return `${excerpt(file, 200)}: ${err.code}: ${message}`;
  return `${excerpt(file, 200)}:${err.line}:${err.column ?? 1}: ${err.code}: ${oneLine(err.reason ?? err.message)}`;
}

const stackOf = (err: unknown): unknown => (typeof err === 'object' && err !== null ? (err as { stack?: unknown }).stack : undefined);

function oneLine(text: string): string {
  return excerpt(text, 2000);
}
