#!/usr/bin/env bash
# Runs real libvirt (the embedded QEMU driver inside virsh: no daemon, no KVM, no GPUs) over a
# job folder prepared by conformance/. For each JOB/NAME.rng.xml, NAME.define.xml and
# NAME.argv.xml it writes:
#   NAME.rng      "ok" or xmllint's RelaxNG complaint (libvirt's domain.rng, as virt-xml-validate)
#   NAME.define   "ok" or virsh's error for `define --validate`
#   NAME.dump.xml `dumpxml --inactive` of the defined domain (then undefined)
#   NAME.argv     `domxml-to-native qemu-argv` output, or NAME.argv.err with the error
# As root it first re-runs itself in a private mount namespace: a copy-on-write /run (libvirt's
# privileged driver writes /run/libvirt), a libvirt-qemu user and group if the host has none, and
# private hugetlbfs mounts, so nothing it does reaches the host.
set -euo pipefail
export LC_ALL=C
job=$(cd "${1:?usage: libvirt-oracle.sh JOBDIR}" && pwd -P)
RNG=/usr/share/libvirt/schemas/domain.rng

for tool in xmllint virsh qemu-system-x86_64 unshare; do
  command -v "$tool" >/dev/null || { echo "libvirt-oracle: $tool not found; run scripts/install-libvirt.sh" >&2; exit 2; }
done
[ -r "$RNG" ] || { echo "libvirt-oracle: $RNG missing; run scripts/install-libvirt.sh" >&2; exit 2; }

if [ "$(id -u)" = 0 ] && [ "${ORACLE_IN_NS:-}" != "$$" ]; then
  # A private network namespace too: domxml-to-native creates tap devices, and parallel batches would collide.
  ORACLE_IN_NS=$$ exec unshare --mount --net --propagation private -- bash "$0" "$@"
fi

state=''
cleanup() {
  [ -n "$state" ] || return 0
  for d in "$state"/hugepages-*; do umount -l "$d" 2>/dev/null || true; done
  rm -rf "$state" 2>/dev/null || true
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
  exec {runfd}</run
  mount -t tmpfs -o mode=0755 libvirt-oracle /run
  mkdir /run/.lower /run/.upper /run/.work
  if mount --no-canonicalize --bind "/proc/self/fd/$runfd" /run/.lower 2>/dev/null; then
    mount -t overlay libvirt-oracle -o lowerdir=/run/.lower,upperdir=/run/.upper,workdir=/run/.work /run 2>/dev/null || true
  fi
  exec {runfd}<&-
  state=$(mktemp -d /run/libvirt-oracle.XXXXXX)
  awk '$3 == "hugetlbfs" { print $2 }' /proc/self/mounts | while read -r d; do umount -l "$d"; done
  for d in /sys/kernel/mm/hugepages/hugepages-*kB; do
    [ -d "$d" ] || continue
    size=${d##*hugepages-}
    mkdir -p "$state/hugepages-$size"
    mount -t hugetlbfs -o "pagesize=${size%B}" libvirt-oracle "$state/hugepages-$size" 2>/dev/null || true
  done
  for f in passwd group; do
    grep -q '^libvirt-qemu:' "/etc/$f" && continue
    id=$(awk -F: '{ used[$3] = 1 } END { for (i = 64055; i in used; i++); print i }' "/etc/$f")
    entry="libvirt-qemu:x:$id:$id:Libvirt Qemu:/nonexistent:/usr/sbin/nologin"
    [ "$f" = group ] && entry="libvirt-qemu:x:$id:"
    { cat "/etc/$f"; echo "$entry"; } >"$state/$f"
    mount --bind "$state/$f" "/etc/$f"
  done
  mkdir -p "$state/root/etc"
  printf 'user = "root"\ngroup = "root"\n' >"$state/root/etc/qemu.conf"
else
  state=$(cd "$(mktemp -d "${TMPDIR:-/tmp}/libvirt-oracle.XXXXXX")" && pwd -P)
  export XDG_CACHE_HOME=$state/cache XDG_CONFIG_HOME=$state/config XDG_RUNTIME_DIR=$state/run
fi
uri="qemu:///embed?root=$state/root"
virt() { virsh -q -c "$uri" "$@"; }

for rng in "$job"/*.rng.xml; do
  [ -e "$rng" ] || continue
  name=${rng%.rng.xml}
  if xmllint --noout --relaxng "$RNG" "$rng" 2>"$name.rng.err"; then echo ok >"$name.rng"; else cp "$name.rng.err" "$name.rng"; fi
  if virt define --validate "$name.define.xml" >/dev/null 2>"$name.define.err"; then
    echo ok >"$name.define"
    domain=$(xmllint --xpath 'string(/domain/name)' "$name.define.xml" 2>/dev/null || true)
    virt dumpxml --inactive "$domain" >"$name.dump.xml" 2>>"$name.define.err" || echo "dumpxml failed" >"$name.define"
    virt undefine --nvram "$domain" >/dev/null 2>&1 || virt undefine "$domain" >/dev/null 2>&1 || true
  else
    cp "$name.define.err" "$name.define"
  fi
  virt domxml-to-native qemu-argv "$name.argv.xml" >"$name.argv" 2>"$name.argv.err" || rm -f "$name.argv"
done
echo done >"$job/.complete"
