#!/usr/bin/env bash
# Optional: installs Debian's virtinst so that `npm run bench` can compare with `virt-xml`. Not used by CI.
set -euo pipefail
command -v virt-xml >/dev/null && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends virtinst >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends virtinst; }
virt-xml --version
