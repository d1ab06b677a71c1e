import { PassthroughError, excerpt } from '../errors';
import { DomainFacts, positionOf } from './facts';

const Q35 = /^(q35|pc-q35-.+)$/;
const X86 = new Set(['x86_64', 'i686']);

export function isQ35(machine: string | undefined, arch: string | undefined): boolean {
  return machine !== undefined && Q35.test(machine) && (arch === undefined || X86.has(arch));
}

const WHY =
  'PCI pass-through of GPUs and NPUs needs the q35 machine type: it gives the guest a native PCI Express topology ' +
  '(root ports, extended config space), which i440fx lacks.';
const HOW =
  "Change <type machine='…'> to machine='q35' (virsh edit DOMAIN) — on an existing guest this changes its PCI layout, " +
  'so new guests are easier: virt-install --machine q35.';

/** The NPU guide's precondition: the VM machine type must be q35 (x86 only). */
export function requireQ35(facts: DomainFacts): void {
  if (isQ35(facts.machine, facts.arch)) return;
  const where = facts.osType ?? facts.os ?? facts.root;
  throw new PassthroughError('MACHINE_NOT_Q35', `${describeMachine(facts)} ${WHY} ${HOW}`, positionOf(facts, where));
}

function describeMachine(facts: DomainFacts): string {
  if (facts.arch !== undefined && !X86.has(facts.arch)) {
    return `The domain's architecture is ${excerpt(facts.arch)}; q35 exists only for x86 guests (x86_64, i686).`;
  }
  if (!facts.osType) return 'The domain has no <os><type> element, so libvirt would pick the default machine (i440fx on x86).';
  if (facts.machine === undefined) {
    return "<os><type> has no machine attribute, so libvirt picks its default machine, which is i440fx ('pc') on x86.";
  }
  return `The machine type is '${excerpt(facts.machine)}', not q35.`;
}
