#!/bin/bash
# The daemon built with ThreadSanitizer (scratch path .build-tsan) and with AddressSanitizer
# plus LeakSanitizer (.build-asan), each driven by the real-client suite
# (scripts/client-tests.sh: every client, the exhaustion and two-user tests, hotplug, leases,
# fences) and by scripts/wayland-host-tests.sh. Passes when the suite passes and the sanitizer wrote no report. The fault and
# compositor suites run the same way by hand (docs/limits.md, "Sanitizers").
# SANITIZERS="thread address" (default) picks which.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
status=0
for san in ${SANITIZERS:-thread address}; do
    case $san in
        thread) scratch=${TSAN_SCRATCH:-.build-tsan} name=ThreadSanitizer var=TSAN_OPTIONS opts="exitcode=0 halt_on_error=0" ;;
        # detect_leaks: LeakSanitizer's report at the daemon's exit, after every client closed.
        address) scratch=${ASAN_SCRATCH:-.build-asan} name=AddressSanitizer var=ASAN_OPTIONS opts="detect_leaks=1" ;;
        *) echo "FAIL - unknown sanitizer $san"; status=1; continue ;;
    esac
    if ! swift build --scratch-path "$scratch" -Xswiftc -sanitize=$san >"/tmp/fakedrm-$san-build.log" 2>&1; then
        echo "FAIL - swift build -sanitize=$san"; tail -20 "/tmp/fakedrm-$san-build.log"; status=1; continue
    fi
    bin="$(swift build --scratch-path "$scratch" --show-bin-path)/fakedrm"
    reports=$(mktemp -d "/tmp/fakedrm-$san.XXXXXX")
    chmod 1777 "$reports"
    lsan="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
    env "$var=log_path=$reports/report $opts" LSAN_OPTIONS="$lsan" FAKEDRM_BIN="$bin" scripts/client-tests.sh
    rc=$?
    # The Wayland host display's thread and the device lock (a host weston, bad hosts, the
    # host killed under a running guest).
    env "$var=log_path=$reports/report $opts" LSAN_OPTIONS="$lsan" FAKEDRM_BIN="$bin" scripts/wayland-host-tests.sh || rc=1
    # A file holding only LeakSanitizer's "Suppressions used" table (every leak in it
    # suppressed) is no report; print_suppressions=0 should keep it from being written.
    n=$(grep -lE "ERROR|WARNING|SUMMARY" "$reports"/* 2>/dev/null | wc -l)
    if [ "$n" != 0 ]; then
        echo "FAIL - $name: $n report file(s):"
        grep -h "^SUMMARY" "$reports"/* | sort | uniq -c
        rm -rf "/tmp/fakedrm-$san-reports" && cp -r "$reports" "/tmp/fakedrm-$san-reports"
        echo "       (kept in /tmp/fakedrm-$san-reports)"
        status=1
    else
        echo "ok   - $name: no report over the client suite"
    fi
    rm -rf "$reports"
    [ $rc = 0 ] || status=1
done
exit $status
