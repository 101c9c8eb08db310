#!/usr/bin/env bash
# Installs the system packages Tern needs to build and test, if any are missing.
# Debian 12 with Swift already installed; runs apt-get as root or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(zlib1g-dev openssl python3 systemd ostree skopeo umoci curl bsdutils
    # zero-touch install: boot images (kernel, busybox, isolinux, xorriso, cpio, xz),
    # the qemu machine that boots them, and the Redfish emulator's venv and htpasswd
    linux-image-amd64 busybox-static xorriso isolinux syslinux-common cpio xz-utils file binutils
    qemu-system-x86 apache2-utils python3-venv
    # the dashboard's browser tests: headless Chromium driven by Selenium
    chromium chromium-driver fonts-dejavu-core
    # the PostgreSQL store (controller replicas): the store tests and the replica test
    # run against a throwaway cluster (scripts/postgres-cluster.sh)
    postgresql postgresql-client)
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

# The Redfish BMC emulator (sushy-tools), in a venv of the project's own.
if [ ! -x .build/sushy-venv/bin/sushy-emulator ]; then
    echo "installing sushy-tools into .build/sushy-venv"
    mkdir -p .build
    /usr/bin/python3 -m venv .build/sushy-venv
    .build/sushy-venv/bin/pip install -q sushy-tools
fi

# Selenium for the dashboard's browser tests, in a venv of the project's own (it
# drives Debian's chromium through Debian's chromedriver: nothing is downloaded).
if [ ! -x .build/browser-venv/bin/python3 ] || ! .build/browser-venv/bin/python3 -c "import selenium" 2>/dev/null; then
    echo "installing selenium into .build/browser-venv"
    mkdir -p .build
    /usr/bin/python3 -m venv .build/browser-venv
    .build/browser-venv/bin/pip install -q selenium
fi
