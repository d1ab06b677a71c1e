#!/bin/sh
# Lays out the KubeVirt hook under DEST as the image has it (examples/kubevirt/Containerfile runs this; so does
# __tests__/kubevirt-image.test.ts, on a temporary DEST):
#
#   install-hook.sh DEST TARBALL NODE
#
#   DEST/usr/lib/libvirt-passthrough/           the package, from the `npm pack` tarball
#   DEST/usr/lib/libvirt-passthrough/node/      NODE and the shared libraries it links that glibc does not provide
#   DEST/usr/bin/onDefineDomain                 the name KubeVirt's sidecar-shim looks up on PATH (a regular file)
#
# /usr/bin/onDefineDomain is a regular file and never a link: a ConfigMap hook is mounted at that path, and a mount
# over a link lands on the link's target. Over a link into the package it would replace the package's own entry
# point, and a ConfigMap script handing over to that entry point would start itself forever.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DEST TARBALL NODE" >&2; exit 2; }
dest=$1 tarball=$2 node=$3
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
lib=$dest/usr/lib/libvirt-passthrough
mkdir -p "$lib/node/bin" "$lib/node/lib" "$dest/usr/bin"
tar -xzf "$tarball" -C "$lib" --strip-components=1 --no-same-owner
cp -L "$node" "$lib/node/bin/node"
# glibc's own libraries come from the image; the rest stay private to node (LD_LIBRARY_PATH in the launcher), so
# they never replace a library of the image that its other programs use.
ldd "$node" | awk '/=> \// { print $3 }' | grep -Ev '/(libc|libm|libpthread|libdl|librt|libresolv|libutil|ld-linux[^/]*)\.so' |
  while read -r so; do cp -L "$so" "$lib/node/lib/"; done
cp "$here/onDefineDomain" "$dest/usr/bin/onDefineDomain"
chmod 0755 "$dest/usr/bin/onDefineDomain" "$lib/node/bin/node" "$lib/bin/onDefineDomain.js"
