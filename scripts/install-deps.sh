#!/usr/bin/env bash
# Installs the system packages Tern needs to build and test, if any are missing.
# Debian 12 with Swift already installed; runs apt-get as root or through sudo.
set -euo pipefail

packages=(zlib1g-dev openssl python3 systemd ostree skopeo umoci curl bsdutils)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    echo "installing: ${missing[*]}"
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later first" >&2; exit 1; }
