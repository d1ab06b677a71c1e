#!/usr/bin/env bash
# A `virsh` for tests: runs the real virsh against libvirt's embedded QEMU driver (no daemon) whose
# root is $LP_EMBED_ROOT, so `apply` is tested against real libvirt with `--connect qemu:///embed?root=...`
# passed through unchanged. Every call starts a fresh driver over the same root; persistent definitions
# live in ROOT/etc. As root it runs in a private mount namespace with its own /run (the privileged
# driver writes /run/libvirt) and a libvirt-qemu user if the host has none (the driver refuses to
# start without one); ROOT/etc/qemu.conf lets QEMU's capability probe run as root. The same set-up as
# scripts/libvirt-oracle.sh, per call.
set -euo pipefail
root=${LP_EMBED_ROOT:?LP_EMBED_ROOT must name the embedded driver root}
if [ "$(id -u)" != 0 ]; then
  export XDG_CACHE_HOME=$root/xdg/cache XDG_CONFIG_HOME=$root/xdg/config XDG_RUNTIME_DIR=$root/xdg/run
  mkdir -p "$XDG_RUNTIME_DIR"
  exec virsh "$@"
fi
if [ "${LP_EMBED_NS:-}" != "$$" ]; then
  mkdir -p "$root/etc"
  [ -e "$root/etc/qemu.conf" ] || printf 'user = "root"\ngroup = "root"\n' >"$root/etc/qemu.conf"
  LP_EMBED_NS=$$ exec unshare --mount --propagation private -- bash "$0" "$@"
fi
mount -t tmpfs -o mode=0755 lp-embedded /run
for f in passwd group; do
  grep -q '^libvirt-qemu:' "/etc/$f" && continue
  id=$(awk -F: '{ used[$3] = 1 } END { for (i = 64055; i in used; i++); print i }' "/etc/$f")
  entry="libvirt-qemu:x:$id:$id:Libvirt Qemu:/nonexistent:/usr/sbin/nologin"
  [ "$f" = group ] && entry="libvirt-qemu:x:$id:"
  { cat "/etc/$f"; echo "$entry"; } >"/run/$f"
  mount --bind "/run/$f" "/etc/$f"
done
exec virsh "$@"
