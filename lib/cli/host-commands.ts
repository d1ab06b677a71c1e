import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { excerpt } from '../errors';
import { FULL_CONFIG_BYTES, captureHost, readHostCapture } from '../host/capture';
import { Finding, checkHost } from '../host/check';
import { cliquesFromTopology } from '../host/cliques';
import { explainPlanFromHost } from '../host/plan';
import { HostSnapshot, isAccelerator, isNetwork, isNvidiaGpu, readHostSnapshot } from '../host/snapshot';
import { formatPciAddress, parsePciAddress } from '../pci/address';
import { CLIQUE_POLICIES, CliquePolicy } from '../host/topology';
import { LAYOUT_KINDS } from '../layout/place';
import { LayoutKind } from '../layout/types';
import { CliFailure, CliIo, UsageError, readText } from './io';
import { planAwayFromGpuHost } from './host-plan-away';
import { FoundVersion, ToolRunner, chooseTarget, runLocalTool, versionFlag } from './stack-detect';

export const HOST_HELP = `Usage: libvirt-passthrough host check [--devices ADDR,…] [--sysfs DIR|FILE.tar] [--json]
       libvirt-passthrough host plan --gpus all|ADDR,… [--npus all|ADDR,…] [--nics all|ADDR,…]
                                     [--layout flat|numa|mirror] [--policy socket|host-bridge|switch]
                                     [--topo FILE --bus-ids FILE] [--sysfs DIR|FILE.tar] [--qemu VERSION] [--no-detect]
       libvirt-passthrough host capture OUT.tar

check    the host against the NPU guide: IOMMU on, the recommended kernel parameters, and for each
         device: present, alone in its IOMMU group, which driver holds it. Exit 1 on an error finding.
plan     a plan for transform: the selected GPUs with GPUDirect cliques from the PCIe topology
         (sysfs; or nvidia-smi topo -m text with --topo/--bus-ids, or live nvidia-smi when present),
         and the selected accelerators. Each GPU's capability offset is predicted from its sysfs
         config (as predict does) for the QEMU the plan targets, recorded with it as target.qemu:
         --qemu VERSION, else on the live host qemu-system-x86_64 --version (not with --sysfs: the
         capture's host may run another QEMU; not with --no-detect). Without a QEMU the offset is
         recorded only where every QEMU agrees. Which QEMU was used, and reasons, go to standard error.
         --nics adds network functions (class 02h; a named one brings the other ports of its card).
         --layout: the guest's PCI tree. mirror: one pcie-expander-bus per host root complex on the
         guest NUMA cell of its host node, host PCIe switches mirrored, so NCCL in the guest sees the
         host's paths; numa: one expander bus per host node, a root port per device; flat: each device
         on its own root port of pcie.0 (as before). Default: mirror when the devices span more than
         one host switch or NUMA node, else flat. Every device gets an alias: gpuN, npuN, nicN.
capture  what check and plan read from this host, as a tar file to attach to a bug report; run it
         as root, so it holds each NVIDIA GPU's full config space (serial numbers zeroed).
Reads the live /sys and /proc unless --sysfs names a capture.

Example:
  libvirt-passthrough host check --devices 1b:00.0
  libvirt-passthrough host plan --gpus all --npus all > plan.json
  libvirt-passthrough host plan --gpus all --nics all --layout mirror > plan.json
`;

function readSnapshot(source: unknown, liveRoot: string): HostSnapshot {
  return typeof source === 'string' ? readHostCapture(source) : readHostSnapshot(liveRoot);
}

const list = (v: unknown): 'all' | string[] | undefined => (typeof v !== 'string' ? undefined : v === 'all' ? 'all' : v.split(',').map((s) => s.trim()).filter(Boolean));

/** Each address given to an option, canonical; a malformed one is refused, naming it. */
function addresses(option: string, given: string[]): string[] {
  return given.map((a) => {
    const parsed = parsePciAddress(a);
    if (typeof parsed === 'string') throw new UsageError(`${option}: '${excerpt(a)}' is not a PCI address; write it as lspci prints it, e.g. 0000:3b:00.0 or 3b:00.0`);
    return formatPciAddress(parsed);
  });
}

/** `all` or the named devices, every one of which must be on the host: a plan never silently drops a device. */
function selected(option: string, value: unknown, snapshot: HostSnapshot): 'all' | string[] | undefined {
  const given = list(value);
  if (given === undefined || given === 'all') return given;
  if (given.length === 0) throw new UsageError(`${option} needs all or PCI addresses`);
  const wanted = addresses(option, given);
  const present = new Set(snapshot.devices.map((d) => d.address));
  const missing = wanted.filter((a) => !present.has(a));
  if (missing.length) throw new CliFailure(`${option}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not on this host (lspci -D lists its PCI addresses)`);
  return wanted;
}


/** nvidia-smi's own view, when it runs here (GPUs still on the NVIDIA driver). */
function liveNvidiaSmi(): { topo: string; busIds: string } | undefined {
  const topo = spawnSync('nvidia-smi', ['topo', '-m'], { encoding: 'utf8' });
  const ids = spawnSync('nvidia-smi', ['--query-gpu=index,pci.bus_id', '--format=csv'], { encoding: 'utf8' });
  return topo.status === 0 && ids.status === 0 ? { topo: topo.stdout, busIds: ids.stdout } : undefined;
}

/**
 * The QEMU a host plan targets: --qemu, else (on the live host, unless --no-detect) the local QEMU, the way
 * transform detects it. A capture may come from another machine, so the QEMU here is not its QEMU. `said`:
 * the line for standard error, which version it used and from where, or why none.
 */
export function qemuTarget(values: Record<string, unknown>, io: CliIo): { found?: FoundVersion; said?: string } {
  const flag = versionFlag(values, 'qemu');
  if (flag === undefined && values.gpus === undefined) return {}; // accelerators only: no offset to predict
  const fromCapture = values.sysfs !== undefined;
  const detect = !values['no-detect'] && !fromCapture && flag === undefined;
  // Only QEMU's version decides the offsets; libvirt's is read where the plan is transformed.
  const run = io.runTool ?? runLocalTool;
  const qemuOnly: ToolRunner = (command, args) => (command.startsWith('qemu-') ? run(command, args) : undefined);
  const found = chooseTarget({ hostdevs: [] }, { qemu: flag, detect }, qemuOnly).choice.qemu;
  const why = found
    ? `QEMU ${found.version} (from ${found.source})`
    : fromCapture
      ? 'QEMU unknown (not read from this machine: the capture\'s host may run another QEMU; give --qemu VERSION, its qemu-system-x86_64 --version)'
      : values['no-detect']
        ? 'QEMU unknown (--no-detect; give --qemu VERSION)'
        : 'QEMU unknown (qemu-system-x86_64 not found here; give --qemu VERSION)';
  return { found, said: `target: ${why}` };
}

/**
 * One line per finding; findings in a row that share their why and fix (each missing kernel parameter) print them
 * once, after the last of them, so one fix line is not repeated eight times.
 */
function findingsText(findings: Finding[]): string {
  return findings
    .map((f, i) => {
      const next = findings[i + 1];
      const sameAsNext = next !== undefined && next.why === f.why && next.fix === f.fix;
      const head = `${f.level.toUpperCase().padEnd(7)} ${f.what}\n`;
      return sameAsNext ? head : `${head}        why: ${f.why}\n${f.fix ? `        fix: ${f.fix}\n` : ''}`;
    })
    .join('');
}

/** `liveRoot`: where the live host's /sys and /proc are (tests give a fake tree). */
export function runHost(values: Record<string, unknown>, positionals: string[], io: CliIo, liveRoot = '/'): number {
  const [sub, ...rest] = positionals;
  if (sub === 'capture') {
    if (rest.length !== 1) throw new UsageError('host capture takes one OUT.tar');
    if (fs.existsSync(rest[0]) && fs.statSync(rest[0]).isDirectory()) throw new UsageError(`host capture writes a tar file; ${excerpt(rest[0], 200)} is a folder`);
    const { files, configs } = captureHost(rest[0], typeof values.sysfs === 'string' ? values.sysfs : liveRoot);
    io.stderr(`wrote ${excerpt(rest[0], 200)} (${files} files)\n`);
    const short = Object.entries(configs).filter(([, bytes]) => bytes < FULL_CONFIG_BYTES).map(([address]) => address);
    if (short.length) {
      io.stderr(
        `warning: only the ${Math.min(...short.map((a) => configs[a]))}-byte header of ${short.join(', ')}'s config space could be read (not root?): ` +
          `host plan --qemu cannot predict the GPUDirect offset from this capture; run host capture as root\n`,
      );
    }
    return 0;
  }
  if (sub !== undefined && rest.length > 0) throw new UsageError(`host ${sub} takes no arguments, only options (got '${excerpt(rest[0])}')`);
  if (sub === 'check') {
    const devices = list(values.devices);
    if (devices === 'all') throw new UsageError('--devices takes PCI addresses, not all');
    const findings = checkHost(readSnapshot(values.sysfs, liveRoot), addresses('--devices', devices ?? []));
    if (values.json) io.stdout(JSON.stringify(findings, null, 2) + '\n');
    else io.stdout(findingsText(findings));
    return findings.some((f) => f.level === 'error') ? 1 : 0;
  }
  if (sub === 'plan') {
    if (values.gpus === undefined && values.npus === undefined && values.nics === undefined) throw new UsageError('host plan needs --gpus, --npus and/or --nics');
    const layout = values.layout as LayoutKind | undefined;
    if (layout !== undefined && !LAYOUT_KINDS.includes(layout)) throw new UsageError(`unknown --layout '${excerpt(String(layout))}': use flat, numa or mirror`);
    const policy = values.policy as CliquePolicy | undefined;
    if (policy !== undefined && !CLIQUE_POLICIES.includes(policy)) throw new UsageError(`unknown --policy '${excerpt(String(policy))}': use ${CLIQUE_POLICIES.slice(0, -1).join(', ')} or ${CLIQUE_POLICIES[CLIQUE_POLICIES.length - 1]}`);
    if (values['bus-ids'] !== undefined && values.topo === undefined) throw new UsageError('--bus-ids goes with --topo');
    versionFlag(values, 'qemu');
    const snapshot = readSnapshot(values.sysfs, liveRoot);
    const away = planAwayFromGpuHost(values, io, snapshot);
    if (away !== undefined) return away;
    const gpus = selected('--gpus', values.gpus, snapshot);
    const npus = selected('--npus', values.npus, snapshot);
    const nics = selected('--nics', values.nics, snapshot);
    const qemu = qemuTarget(values, io);
    const kinds = [['--gpus', gpus, isNvidiaGpu, 'NVIDIA GPUs'], ['--npus', npus, isAccelerator, 'accelerators'], ['--nics', nics, isNetwork, 'network functions']] as const;
    for (const [option, which, isKind, kind] of kinds) {
      if (which === 'all' && !snapshot.devices.some(isKind)) io.stderr(`${option} all: no ${kind} found on this host\n`);
    }
    const { plan, reasons, topologyReasons } = explainPlanFromHost(snapshot, { gpus, npus, nics, layout, policy, qemu: qemu.found?.version });
    if (plan.hostdevs.length === 0) throw new CliFailure('no GPUs, accelerators or network functions found to plan: nothing to write');
    const topo = typeof values.topo === 'string'
      ? { topo: readText(io, values.topo, 'topology'), busIds: typeof values['bus-ids'] === 'string' ? readText(io, values['bus-ids'], 'bus ID list') : undefined }
      : values.sysfs === undefined ? liveNvidiaSmi() : undefined;
    if (topo) {
      const fromSmi = cliquesFromTopology({ ...topo, policy });
      for (const h of plan.hostdevs) if (h.gpudirect && fromSmi.cliques[String(h.address)] !== undefined) h.gpudirect.clique = fromSmi.cliques[String(h.address)];
      reasons.splice(0, topologyReasons, ...fromSmi.reasons); // the offset and MMIO reasons stay
    }
    io.stdout(JSON.stringify(plan, null, 2) + '\n');
    for (const r of qemu.said ? [qemu.said, ...reasons] : reasons) io.stderr(`${r}\n`);
    return 0;
  }
  throw new UsageError(`unknown host command '${excerpt(sub ?? '')}': use check, plan or capture`);
}
