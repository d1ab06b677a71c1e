#!/usr/bin/env bash
# Runs qemu-system-x86_64 once per DIR/N.args (its arguments, NUL-separated), output and errors to DIR/N.out.
# The conformance harness batches its QEMU checks through this, so a chroot stack is entered once per run
# (scripts/in-trixie.sh) instead of once per check. A probe QEMU accepts stays paused (-S): 20 s timeout.
set -uo pipefail
for f in "${1:?usage: qemu-probes.sh DIR}"/*.args; do
  [ -e "$f" ] || continue
  mapfile -d '' args <"$f"
  timeout 20 qemu-system-x86_64 "${args[@]}" >"${f%.args}.out.tmp" 2>&1 </dev/null
  mv "${f%.args}.out.tmp" "${f%.args}.out"
done
