import { excerpt } from '../errors';
import { explainPlanFromNvidiaSmi } from '../host/smi-plan';
import { HostSnapshot } from '../host/snapshot';
import { CliquePolicy, parseBusIds } from '../host/topology';
import { CliFailure, CliIo, UsageError, readText } from './io';
import { versionFlag } from './stack-detect';

/**
 * `host plan --topo FILE --bus-ids FILE` away from the GPU host: when the snapshot read here (this machine, or
 * `--sysfs`) holds none of the GPUs nvidia-smi listed, the plan comes from nvidia-smi's files alone. Returns the exit
 * status when it planned, undefined when the GPUs are on this snapshot (the host plan proper).
 */
export function planAwayFromGpuHost(values: Record<string, unknown>, io: CliIo, snapshot: HostSnapshot): number | undefined {
  if (typeof values.topo !== 'string' || typeof values['bus-ids'] !== 'string') return undefined;
  const busIds = readText(io, values['bus-ids'], 'bus ID list');
  const here = new Set(snapshot.devices.map((d) => d.address));
  if ([...parseBusIds(busIds).values()].some((a) => here.has(a))) return undefined;
  if (values.npus !== undefined) throw new UsageError('--npus needs the host itself (or its capture with --sysfs): nvidia-smi\'s files name GPUs only');
  if (values.nics !== undefined) throw new UsageError('--nics needs the host itself (or its capture with --sysfs): nvidia-smi\'s files name GPUs only');
  if (values.layout !== undefined && values.layout !== 'flat') {
    throw new UsageError(`--layout ${excerpt(String(values.layout))} needs the host's PCI tree (the host itself, or its capture with --sysfs): nvidia-smi's files have none`);
  }
  if (values.gpus === undefined) throw new UsageError('host plan needs --gpus');
  const gpus = values.gpus === 'all' ? 'all' : String(values.gpus).split(',').map((s) => s.trim()).filter(Boolean);
  const qemu = versionFlag(values, 'qemu');
  let planned;
  try {
    planned = explainPlanFromNvidiaSmi(readText(io, values.topo, 'topology'), busIds, { gpus, policy: values.policy as CliquePolicy | undefined, qemu });
  } catch (err) {
    if ((err as { code?: string }).code === 'INPUT_INVALID') throw new CliFailure(`--gpus: ${(err as Error).message}`);
    throw err;
  }
  io.stdout(JSON.stringify(planned.plan, null, 2) + '\n');
  const target = qemu !== undefined
    ? `target: QEMU ${qemu} (from --qemu)`
    : 'target: QEMU unknown (not read from this machine: the GPUs are on another host; give --qemu VERSION, its qemu-system-x86_64 --version)';
  const where = `planned away from the GPU host: this ${values.sysfs === undefined ? 'machine' : 'capture'} has none of the GPUs nvidia-smi lists; from its files alone`;
  for (const line of [target, where, ...planned.reasons]) io.stderr(`${line}\n`);
  return 0;
}
