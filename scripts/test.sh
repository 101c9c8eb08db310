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

echo "== swift test"
swift test --skip-build
