#!/usr/bin/env bash
# Runs one command inside the Debian 13 chroot (libvirt 11.3 + QEMU 10.0) that
# ../shared/tools/libvirt/trixie/install.sh builds (scripts/install-libvirt.sh --trixie calls it),
# the way that folder's check.sh does: private mount and network namespaces, /proc, /sys, a private
# /dev, tmpfs /run and /tmp, so nothing stays mounted and neither the host nor the chroot changes.
#
#   scripts/in-trixie.sh [--bind DIR] CMD ARG...
#
# --bind DIR (under /tmp) shows the host folder DIR at the same path inside the chroot, read-write:
# the conformance harness passes its job folder this way. Exit status: CMD's, or 2 (no chroot, not root).
set -euo pipefail
ROOT=${LP_TRIXIE_ROOT:-/var/tmp/lp-trixie}
bind=''
if [ "${1:-}" = --bind ]; then bind=$(cd "$2" && pwd -P); shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [--bind DIR] CMD ARG..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "in-trixie.sh: must run as root (chroot, mount)" >&2; exit 2; }
[ -r "$ROOT/.lp-oracle.stamp" ] || { echo "in-trixie.sh: no trixie chroot at $ROOT: run scripts/install-libvirt.sh --trixie" >&2; exit 2; }
case $bind in '' | /tmp/?*) ;; *) echo "in-trixie.sh: --bind needs a folder under /tmp, not $bind" >&2; exit 2 ;; esac

if [ "${LP_IN_TRIXIE_NS:-}" != "$$" ]; then
  LP_IN_TRIXIE_NS=$$ exec unshare --mount --net --propagation private -- bash "$0" ${bind:+--bind "$bind"} "$@"
fi

mount --bind "$ROOT" "$ROOT" # libvirt-oracle.sh's own unshare needs / to be a mount point
mount -t proc proc "$ROOT/proc"
mount --rbind /sys "$ROOT/sys"
mount -t tmpfs -o mode=0755 tmpfs "$ROOT/run"
mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"
mount -t tmpfs -o mode=0755,size=16m lp-dev "$ROOT/dev"
for n in null zero full random urandom tty kvm net/tun vhost-net userfaultfd; do
  [ -c "/dev/$n" ] || continue
  mkdir -p "$ROOT/dev/$(dirname "$n")"
  touch "$ROOT/dev/$n" && mount --bind "/dev/$n" "$ROOT/dev/$n"
done
mkdir "$ROOT/dev/pts" "$ROOT/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOT/dev/pts" 2>/dev/null && ln -s pts/ptmx "$ROOT/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$ROOT/dev/shm"
ln -s /proc/self/fd "$ROOT/dev/fd"
for n in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${n%%:*}" "$ROOT/dev/${n#*:}"; done
# libvirt refuses VFIO in domxml-to-native on a host without an IOMMU ("host doesn't support passthrough
# of host PCI devices"): show it an empty IOMMU group and a /dev/vfio/vfio, as trixie/check.sh does (nothing
# is ever opened).
if [ ! -e /dev/vfio/vfio ]; then
  mkdir "$ROOT/dev/vfio" && touch "$ROOT/dev/vfio/vfio"
  if [ -d /sys/kernel/iommu_groups ] && [ -z "$(ls -A /sys/kernel/iommu_groups)" ]; then
    mount -t tmpfs -o mode=0755,size=1m lp-iommu "$ROOT/sys/kernel/iommu_groups" && mkdir "$ROOT/sys/kernel/iommu_groups/0"
  fi
fi
if [ -n "$bind" ]; then
  mkdir -p "$ROOT$bind"
  mount --bind "$bind" "$ROOT$bind"
fi
exec chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C "$@"
