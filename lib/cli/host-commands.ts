import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { captureHost, unpackCapture } from '../host/capture';
import { checkHost } from '../host/check';
import { cliquesFromTopology } from '../host/cliques';
import { explainPlanFromHost } from '../host/plan';
import { HostSnapshot, readHostSnapshot } from '../host/snapshot';
import { CliquePolicy } from '../host/topology';
import { CliIo, UsageError } from './io';

export const HOST_HELP = `Usage: libvirt-passthrough host check [--devices ADDR,…] [--sysfs DIR|FILE.tar] [--json]
       libvirt-passthrough host plan --gpus all|ADDR,… [--npus all|ADDR,…] [--policy socket|host-bridge|switch]
                                     [--topo FILE --bus-ids FILE] [--sysfs DIR|FILE.tar]
       libvirt-passthrough host capture OUT.tar

check    the host against the NPU guide: IOMMU on, the recommended kernel parameters, and for each
         device: present, alone in its IOMMU group, which driver holds it. Exit 1 on an error finding.
plan     a plan for transform: the selected GPUs with GPUDirect cliques from the PCIe topology
         (sysfs; or nvidia-smi topo -m text with --topo/--bus-ids, or live nvidia-smi when present),
         and the selected accelerators. Reasons go to standard error.
capture  what check and plan read from this host, as a tar file to attach to a bug report.
Reads the live /sys and /proc unless --sysfs names a capture.

Example:
  libvirt-passthrough host check --devices 1b:00.0
  libvirt-passthrough host plan --gpus all --npus all > plan.json
`;

function withSnapshot<T>(source: unknown, fn: (s: HostSnapshot) => T): T {
  if (typeof source !== 'string') return fn(readHostSnapshot('/'));
  if (fs.statSync(source).isDirectory()) return fn(readHostSnapshot(source));
  const dir = unpackCapture(source);
  try {
    return fn(readHostSnapshot(dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const list = (v: unknown): 'all' | string[] | undefined => (typeof v !== 'string' ? undefined : v === 'all' ? 'all' : v.split(',').map((s) => s.trim()).filter(Boolean));

/** nvidia-smi's own view, when it runs here (GPUs still on the NVIDIA driver). */
function liveNvidiaSmi(): { topo: string; busIds: string } | undefined {
  const topo = spawnSync('nvidia-smi', ['topo', '-m'], { encoding: 'utf8' });
  const ids = spawnSync('nvidia-smi', ['--query-gpu=index,pci.bus_id', '--format=csv'], { encoding: 'utf8' });
  return topo.status === 0 && ids.status === 0 ? { topo: topo.stdout, busIds: ids.stdout } : undefined;
}

export function runHost(values: Record<string, unknown>, positionals: string[], io: CliIo): number {
  const [sub, ...rest] = positionals;
  if (sub === 'capture') {
    if (rest.length !== 1) throw new UsageError('host capture takes one OUT.tar');
    const { files } = captureHost(rest[0], typeof values.sysfs === 'string' ? values.sysfs : '/');
    io.stderr(`wrote ${rest[0]} (${files} files)\n`);
    return 0;
  }
  if (sub === 'check') {
    const findings = withSnapshot(values.sysfs, (s) => checkHost(s, (list(values.devices) as string[] | undefined) ?? []));
    if (values.json) io.stdout(JSON.stringify(findings, null, 2) + '\n');
    else for (const f of findings) io.stdout(`${f.level.toUpperCase().padEnd(7)} ${f.what}\n        why: ${f.why}\n${f.fix ? `        fix: ${f.fix}\n` : ''}`);
    return findings.some((f) => f.level === 'error') ? 1 : 0;
  }
  if (sub === 'plan') {
    const gpus = list(values.gpus);
    const npus = list(values.npus);
    if (!gpus && !npus) throw new UsageError('host plan needs --gpus and/or --npus');
    const policy = values.policy as CliquePolicy | undefined;
    if (policy !== undefined && !['socket', 'host-bridge', 'switch'].includes(policy)) throw new UsageError(`unknown --policy ${policy}`);
    const { plan, reasons } = withSnapshot(values.sysfs, (s) => explainPlanFromHost(s, { gpus, npus, policy }));
    const topo = typeof values.topo === 'string'
      ? { topo: fs.readFileSync(values.topo, 'utf8'), busIds: typeof values['bus-ids'] === 'string' ? fs.readFileSync(values['bus-ids'], 'utf8') : undefined }
      : values.sysfs === undefined ? liveNvidiaSmi() : undefined;
    if (topo) {
      const fromSmi = cliquesFromTopology({ ...topo, policy });
      for (const h of plan.hostdevs) if (h.gpudirect && fromSmi.cliques[String(h.address)] !== undefined) h.gpudirect.clique = fromSmi.cliques[String(h.address)];
      reasons.splice(0, reasons.length, ...fromSmi.reasons);
    }
    io.stdout(JSON.stringify(plan, null, 2) + '\n');
    for (const r of reasons) io.stderr(`${r}\n`);
    return 0;
  }
  throw new UsageError(`unknown host command '${sub ?? ''}': use check, plan or capture`);
}
