// The help of the gpudirect commands, apart from their bodies so that `--help` loads no reader.

export const PREDICT_HELP = `Usage: libvirt-passthrough predict --config FILE [--qemu VERSION | --no-detect] [--address ADDR] [--architecture NAME] [--json]

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
--qemu is the QEMU of the host that will run the VM; without it, qemu-system-x86_64 --version here is
read (as transform and host plan do; --no-detect: never), and standard error says which QEMU was used.
Exit 0: QEMU starts and the placement is known; 1: QEMU would refuse to start, the capture may be cut short,
or no capability list could be read (CONFIG_SPACE_UNREADABLE).

Example:
  sudo lspci -vvv -nn -s 3b:00.0 > gpu.txt
  libvirt-passthrough predict --config gpu.txt --qemu 8.2.0
`;

export const VERIFY_GUEST_HELP = `Usage: libvirt-passthrough verify-guest (--domain DOMAIN.xml | --expect PLAN.json) [--lspci FILE]
                                      [--sysfs DIR|FILE.tar] [--host DIR|FILE.tar] [--cpu intel|amd] [--json]

Reads every PCI function's config space (from /sys/bus/pci/devices, or from an lspci -xxx dump with
--lspci) and checks each NVIDIA GPU: the P2P approval capability is present, linked into the capability
list, at the expected offset (the one \`host plan\` predicted, else the spec's), and the cliques found match
the cliques planned. Warns when the domain hides KVM (the NVIDIA driver then ignores the capability).

Then, from the guest's PCI tree (the live /sys, or --sysfs: a folder or a \`host capture\` tar taken in the
guest; not with only --lspci), what NCCL will do: per GPU pair and GPU-NIC pair its path type (PIX, PXB,
PHB, SYS), whether it uses P2P and GPUDirect RDMA (the rule differs on AMD: --cpu, else the guest's CPU),
and each device's NUMA node. --host (a host capture; needs --domain) sets each pair next to the same pair
on the host. Exit 1 when something is wrong.

Example (in the guest, with the domain XML copied in):
  sudo libvirt-passthrough verify-guest --domain vm1.xml
`;
