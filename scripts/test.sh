#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, build, unit,
# conformance, integration and process tests, and the independent vector check.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== building (debug, with tests)"
swift build --build-tests

echo "== building the agent boot images carry"
scripts/build-boot-agent.sh

echo "== checking the golden vectors with the independent decoder"
python3 Tests/ConformanceTests/annotate.py --check

echo "== a throwaway PostgreSQL cluster for the store and replica tests"
pg_dir=$(mktemp -d /tmp/tern-pg.XXXXXX)
trap 'scripts/postgres-cluster.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
TERN_POSTGRES_URL=$(scripts/postgres-cluster.sh start "$pg_dir")
export TERN_POSTGRES_URL TERN_REQUIRE_POSTGRES=1
echo "PostgreSQL at $TERN_POSTGRES_URL"

echo "== swift test"
# The qemu install boots a machine under TCG (a core for most of a minute): it runs
# on its own afterwards, so it does not starve the timing of the other tests.
TERN_QEMU_TESTS=0 TERN_REPLICA_TESTS=0 swift test --skip-build

echo "== swift test: two controller replicas on PostgreSQL, one killed with -9"
swift test --skip-build --filter "ReplicaTests"

echo "== swift test: a qemu machine installed through its BMC"
swift test --skip-build --filter "ZeroTouchTests/qemuBoot"
