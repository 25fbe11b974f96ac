#!/bin/bash
# The daemon built with ThreadSanitizer (-sanitize=thread, scratch path .build-tsan), driven by
# the real-client suite (scripts/client-tests.sh: every client, the exhaustion test, hotplug,
# leases, fences). Passes when the suite passes and TSan wrote no report. The fault and
# compositor suites run the same way by hand (docs/limits.md, "Sanitizers").
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
scratch=${TSAN_SCRATCH:-.build-tsan}
if ! swift build --scratch-path "$scratch" -Xswiftc -sanitize=thread >"/tmp/fakedrm-tsan-build.log" 2>&1; then
    echo "FAIL - swift build -sanitize=thread"; tail -20 /tmp/fakedrm-tsan-build.log; exit 1
fi
bin="$(swift build --scratch-path "$scratch" --show-bin-path)/fakedrm"
reports=$(mktemp -d /tmp/fakedrm-tsan.XXXXXX)
chmod 1777 "$reports"
trap 'rm -rf "$reports"' EXIT
TSAN_OPTIONS="log_path=$reports/report exitcode=0 halt_on_error=0" FAKEDRM_BIN="$bin" scripts/client-tests.sh
rc=$?
n=$(ls "$reports" | wc -l)
if [ "$n" != 0 ]; then
    echo "FAIL - ThreadSanitizer: $n report file(s):"
    grep -h "^SUMMARY" "$reports"/* | sort | uniq -c
    exit 1
fi
echo "ok   - ThreadSanitizer: no report over the client suite"
exit $rc
