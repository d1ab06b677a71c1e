'use strict';
// Deterministic benchmark inputs: q35 domains of a given size, like `virsh dumpxml` prints them.

const HEAD = `<domain type='kvm' id='7'>
  <name>bench-vm</name>
  <uuid>6f2a8e4c-1b3d-4c8e-9a41-2f6b7d0c5e19</uuid>
  <memory unit='KiB'>67108864</memory>
  <currentMemory unit='KiB'>67108864</currentMemory>
  <vcpu placement='static'>16</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram>/var/lib/libvirt/qemu/nvram/bench-vm_VARS.fd</nvram>
  </os>
  <features>
    <acpi/>
    <apic/>
    <vmport state='off'/>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'>
    <topology sockets='1' dies='1' cores='8' threads='2'/>
  </cpu>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
`;
const TAIL = `    <memballoon model='virtio'>
      <alias name='balloon0'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;

function hex(n, w) {
  return n.toString(16).padStart(w, '0');
}

/** The i-th filler device: a disk, a root port or a NIC, each with alias and guest address. */
function device(i) {
  const bus = hex(1 + (i % 250), 2);
  switch (i % 3) {
    case 0:
      return `    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/bench-${i}.qcow2' index='${i + 1}'/>
      <backingStore/>
      <target dev='vd${i}' bus='virtio'/>
      <alias name='virtio-disk${i}'/>
      <address type='pci' domain='0x0000' bus='0x${bus}' slot='0x00' function='0x0'/>
    </disk>
`;
    case 1:
      return `    <controller type='pci' index='${i + 1}' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='${i + 1}' port='0x${hex(0x10 + (i % 200), 2)}'/>
      <alias name='pci.${i + 1}'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x${(i % 8).toString(16)}'/>
    </controller>
`;
    default:
      return `    <interface type='network'>
      <mac address='52:54:00:${hex((i >> 16) & 0xff, 2)}:${hex((i >> 8) & 0xff, 2)}:${hex(i & 0xff, 2)}'/>
      <source network='default' portid='0b6e6d8e-${hex(i, 4)}-4e1d-9b7c-2f6c1f4b5a3d' bridge='virbr0'/>
      <target dev='vnet${i}'/>
      <model type='virtio'/>
      <alias name='net${i}'/>
      <address type='pci' domain='0x0000' bus='0x${bus}' slot='0x01' function='0x0'/>
    </interface>
`;
  }
}

/** A domain of about `kb` kilobytes. */
function domainOfSize(kb) {
  const parts = [HEAD];
  let size = HEAD.length + TAIL.length;
  for (let i = 0; size < kb * 1024; i++) {
    const d = device(i);
    parts.push(d);
    size += d.length;
  }
  parts.push(TAIL);
  return parts.join('');
}

/** n GPUs on buses 0x80.., split into cliques of `perClique`. */
function gpuPlan(n, perClique) {
  return {
    target: { libvirt: '9.0.0', qemu: '8.2.0' },
    hostdevs: Array.from({ length: n }, (_, i) => ({
      address: `${hex(Math.floor(i / 32), 4)}:${hex(0x80 + (i % 32) * 3, 2)}:00.0`,
      alias: `gpu${i}`,
      device: '10de:2330',
      gpudirect: { clique: Math.floor(i / perClique) % 16 },
    })),
  };
}

module.exports = { domainOfSize, gpuPlan };
