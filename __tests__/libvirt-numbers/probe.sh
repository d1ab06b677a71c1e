#!/usr/bin/env bash
# Asks real libvirt how it reads each spelling of a PCI address number: for every line of spellings.txt
# (the spelling as a JSON string, a tab, the same as XML attribute text), a domain whose hostdev source has bus= that spelling is defined (virsh define) in
# an embedded QEMU driver and dumped; prints one TSV line per spelling: the JSON spelling, then the bus
# libvirt wrote back (0x1b) or "refused". Run as root with the oracle's lib.sh folder:
#   probe.sh /work/shared/tools/libvirt            (host, libvirt 9.0)
#   scripts/in-trixie.sh --bind /tmp/X bash /tmp/X/probe.sh /opt/lp-oracle   (chroot, libvirt 11.3)
set -euo pipefail
oracle=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$oracle/lib.sh"
lvo_enter_ns "$0" "$@"
lvo_start
while IFS=$'	' read -r json value; do
  [ -n "$json" ] || continue
  cat >"$LVO_STATE/n.xml" <<XML
<domain type='qemu'>
  <name>lp-numbers</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='$value' slot='0x00' function='0x0'/></source>
    </hostdev>
  </devices>
</domain>
XML
  if lvo_virsh define "$LVO_STATE/n.xml" >/dev/null 2>&1; then
    bus=$(lvo_virsh dumpxml --inactive lp-numbers | perl -ne "print \$1 if m{<source>} .. m{</source>} and /\\bbus='([^']*)'/")
    lvo_virsh undefine lp-numbers >/dev/null 2>&1
    printf '%s\t%s\n' "$json" "$bus"
  else
    printf '%s\trefused\n' "$json"
  fi
done <"$here/spellings.txt"
