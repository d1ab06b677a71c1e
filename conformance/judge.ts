import { ControllerExpectation, controllerProblems } from './layout';
import { OracleVerdict } from './oracle';

/** What a transformed file must show on the QEMU command line: per host PCI address, its clique or none. */
export interface CliqueExpectation {
  /** `0000:3b:00.0` → clique; `null` for a planned device that must have no clique (an NPU). */
  hosts: Record<string, number | null>;
  /** The clique reaches QEMU as `-set` (old stacks): libvirt passes JSON -device there, so QEMU must refuse it, as documented. */
  commandlineStyle?: boolean;
  /** The planned 64-bit MMIO window: it must reach QEMU as q35-pcihost.pci-hole64-size (and OVMF's fw_cfg). */
  mmioGiB?: number;
  ovmf?: boolean;
  /** The plan's layout controllers: each must reach QEMU as its device (pxb-pcie with bus_nr and numa_node, switch ports). */
  controllers?: ControllerExpectation[];
}

export type Status = 'pass' | 'fail' | 'refused-before';

export interface Judgement {
  status: Status;
  reasons: string[];
}

/**
 * Judges a verdict, relative to the original file's verdict when there is one: a file libvirt
 * refused before the transform is reported, not counted against us; a check that already failed
 * on the original is not required of the output either.
 */
export function judge(verdict: OracleVerdict, expect: CliqueExpectation | undefined, baseline?: OracleVerdict): Judgement {
  if (baseline && baseline.define !== 'ok') return { status: 'refused-before', reasons: [baseline.define] };
  const reasons: string[] = [];
  const required = (field: 'rng' | 'define' | 'argv') => !baseline || baseline[field] === 'ok';
  if (required('rng') && verdict.rng !== 'ok') reasons.push(`schema: ${verdict.rng}`);
  if (verdict.define !== 'ok') reasons.push(`define: ${verdict.define}`);
  const alreadyDropped = new Set(baseline?.dropped ?? []);
  const dropped = verdict.dropped.filter((d) => !alreadyDropped.has(d));
  if (dropped.length > 0) reasons.push(`dropped: ${dropped.join('; ')}`);
  if (required('argv') && verdict.argv !== 'ok') reasons.push(`argv: ${verdict.argv}`);
  if (verdict.argv === 'ok' && expect) reasons.push(...cliqueProblems(verdict, expect));
  const qemuRequired = !baseline || baseline.qemu === 'ok';
  if (expect?.commandlineStyle) {
    if (!/there is no device ".*" defined/.test(verdict.qemu)) reasons.push(`qemu: expected QEMU to refuse -set for a JSON -device, got: ${verdict.qemu}`);
  } else if (qemuRequired && verdict.argv === 'ok' && verdict.qemu !== 'ok') {
    reasons.push(`qemu: ${verdict.qemu}`);
  }
  return { status: reasons.length === 0 ? 'pass' : 'fail', reasons };
}

function cliqueProblems(verdict: OracleVerdict, expect: CliqueExpectation): string[] {
  const problems: string[] = [];
  if (expect.mmioGiB !== undefined) {
    const hole = `q35-pcihost.pci-hole64-size=${expect.mmioGiB * 1024 * 1024}K`;
    if (!verdict.globals.includes(hole)) problems.push(`argv: no -global ${hole}`);
    const fwCfg = `name=opt/ovmf/X-PciMmio64Mb,string=${expect.mmioGiB * 1024}`;
    if (expect.ovmf && !verdict.fwCfg.includes(fwCfg)) problems.push(`argv: no -fw_cfg ${fwCfg}`);
  }
  if (expect.controllers) problems.push(...controllerProblems(verdict.deviceJson, expect.controllers));
  for (const [host, clique] of Object.entries(expect.hosts)) {
    const device = verdict.devices.find((d) => JSON.parse(d.json).host === host);
    if (!device) {
      problems.push(`argv: no vfio-pci -device for host ${host}`);
      continue;
    }
    const want = clique === null || expect.commandlineStyle ? undefined : String(clique);
    if (device.clique !== want) {
      problems.push(`argv: ${host} (${device.id}) has x-nv-gpudirect-clique ${device.clique ?? '(none)'}, expected ${want ?? '(none)'}`);
    }
  }
  return problems;
}
