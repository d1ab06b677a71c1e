#!/usr/bin/env bash
# Installs what the real-libvirt conformance tests need, from Debian's packages: xmllint, virsh with
# libvirt's embedded QEMU driver (no daemon), QEMU itself, and OVMF (UEFI domains need its firmware
# descriptors for domxml-to-native). Idempotent: apt runs only when a package is missing.
# Prints the libvirt and QEMU versions last.
#
#   scripts/install-libvirt.sh            the host's packages (Debian 12 here: libvirt 9.0, QEMU 7.2)
#   scripts/install-libvirt.sh --trixie   the second stack: a Debian 13 chroot (libvirt 11.3, QEMU 10.0) built by
#                                         ../shared/tools/libvirt/trixie/install.sh (root; about a minute cold, cached,
#                                         under a second when built; LP_ORACLE_SHARED names another tools folder)
set -euo pipefail
if [ "${1:-}" = --trixie ]; then
  tools=${LP_ORACLE_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared/tools/libvirt}
  [ -r "$tools/trixie/install.sh" ] || { echo "install-libvirt.sh: $tools/trixie/install.sh not found (a checkout of ../shared beside the repository, or set LP_ORACLE_SHARED)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "install-libvirt.sh --trixie: run as root (debootstrap, chroot)" >&2; exit 1; }
  exec bash "$tools/trixie/install.sh"
fi
pkgs=(libxml2-utils libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86 ovmf)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-libvirt.sh: run as root (sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  install() { apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  install 2>/dev/null || { apt-get update -qq >/dev/null && install; }
fi
echo "libvirt $(virsh --version), QEMU $(qemu-system-x86_64 --version | sed -n '1s/^.*version \([^ ]*\).*$/\1/p')"
