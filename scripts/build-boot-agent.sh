#!/usr/bin/env bash
# Builds the tern-agent that boot images carry (zero-touch install): the Swift
# runtime and Foundation linked in statically (--static-swift-stdlib), so the
# initramfs needs only the few glibc libraries the controller copies in beside it.
# It has a build folder of its own (.build-boot): objects compiled against the
# static Foundation cannot be linked into the normal, dynamic build.
#   scripts/build-boot-agent.sh            debug build (what the tests use)
#   scripts/build-boot-agent.sh release    release build (smaller image; ~10 min more)
# Result: .build/boot/tern-agent (stripped). Point the controller at it
# with `--boot-agent` or `boot_agent` in controller.conf.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-debug}"
swift build -c "$mode" --static-swift-stdlib --product tern-agent --scratch-path .build-boot
mkdir -p .build/boot
cp ".build-boot/$mode/tern-agent" .build/boot/tern-agent.new
strip .build/boot/tern-agent.new
mv .build/boot/tern-agent.new .build/boot/tern-agent
echo "boot agent: .build/boot/tern-agent ($(du -h .build/boot/tern-agent | cut -f1), $mode)"
