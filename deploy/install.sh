#!/usr/bin/env bash
# Installs tern-controller and/or tern-agent from a build of this repository.
#   deploy/install.sh controller      # on the central site
#   deploy/install.sh agent           # on an edge server, then: tern-agent enroll ...
# Builds a release binary with the Swift runtime linked in, installs it to
# /usr/local/bin, installs the systemd unit and creates the service user.
set -euo pipefail
cd "$(dirname "$0")/.."
role=${1:?usage: deploy/install.sh controller|agent}
case "$role" in
    controller|agent) ;;
    *) echo "usage: deploy/install.sh controller|agent" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }

scripts/install-deps.sh
swift build -c release --static-swift-stdlib --product "tern-$role"
install -m 0755 "$(swift build -c release --show-bin-path)/tern-$role" "/usr/local/bin/tern-$role"
install -m 0644 "deploy/tern-$role.service" "/etc/systemd/system/tern-$role.service"
if [ "$role" = controller ]; then
    id -u tern >/dev/null 2>&1 || useradd --system --home /var/lib/tern-controller --shell /usr/sbin/nologin tern
fi
if command -v systemd-analyze >/dev/null; then systemd-analyze verify "/etc/systemd/system/tern-$role.service"; fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$role" = controller ]; then
        systemctl enable --now tern-controller
        echo "controller running; add a site with: tern-controller subcloud add NAME"
    else
        systemctl enable tern-agent
        echo "enrol this node, then: systemctl start tern-agent"
    fi
fi
