#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what shmcache needs from Debian's packages, only when something
# is missing (so re-runs are quick). Used by run.sh, test.sh and .ci/run.
# Extra package names may be passed as arguments.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libapr1-dev libaprutil1-dev
      libxxhash-dev check apache2 apache2-dev openssl curl python3
      xz-utils zstd memcached redis-server "$@")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps.sh: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
