#!/usr/bin/env bash
# The project's test command: unit tests first (fast), then real clients against the socket
# daemon, then the CUSE job in a VM (this machine's kernel has no CUSE).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
scripts/setup.sh --tests   # the Debian packages the tests use (only the missing ones)
swift build
swift test
scripts/client-tests.sh
scripts/fault-tests.sh   # every fault kind seen from a client, then scripts/soak.sh --kills 60
scripts/compositor-tests.sh   # weston 10 and sway 1.7 with clients, ctl, faults (docs/compositors.md)
scripts/wayland-host-tests.sh # the card as a window of a host weston: pixels, figures, host gone (docs/wayland-display.md)
scripts/sanitizer-tests.sh    # the client suite against ThreadSanitizer and AddressSanitizer builds (docs/limits.md)
scripts/fuzz-tests.sh         # a minute of libFuzzer from the recorded corpus (docs/fuzzing.md)
scripts/readme-check.sh       # README's first command in a fresh clone, as a newcomer runs it
# The VM job is part of the suite: a VM that cannot boot is a failure, not a skip, unless the
# caller opts out explicitly (FAKEDRM_SKIP_VM=1, e.g. on a machine without QEMU).
if [ "${FAKEDRM_SKIP_VM:-0}" = 1 ]; then
  echo "scripts/test.sh: CUSE VM job skipped (FAKEDRM_SKIP_VM=1)"
else
  scripts/cuse-vm-tests.sh
fi
