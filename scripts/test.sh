#!/usr/bin/env bash
# The project's test command: unit tests first (fast), then real clients against the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
swift build
swift test
if [ -x scripts/client-tests.sh ]; then
  scripts/client-tests.sh
fi
