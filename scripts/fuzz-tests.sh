#!/bin/bash
# The bounded fuzz run of .ci/run (docs/fuzzing.md): FakeDRMFuzz built with libFuzzer and
# AddressSanitizer (release, scratch path .build-fuzz), started from the committed corpus
# (fuzz/corpus, recorded from real clients) for FUZZ_SECONDS (default 60). Fails on a crash,
# a leak, a 10 s hang or a broken RecordingReplay rule; the input that did it is kept in
# /tmp/fakedrm-fuzz-artifacts for `FakeDRMFuzz INPUT` (the plain build) to replay.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
scratch=${FUZZ_SCRATCH:-.build-fuzz}
secs=${FUZZ_SECONDS:-60}
flags=(-c release --scratch-path "$scratch" --product FakeDRMFuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)
if ! swift build "${flags[@]}" >/tmp/fakedrm-fuzz-build.log 2>&1; then
    echo "FAIL - swift build -sanitize=fuzzer,address"; tail -20 /tmp/fakedrm-fuzz-build.log; exit 1
fi
fuzzer="$(swift build "${flags[@]}" --show-bin-path)/FakeDRMFuzz"
work=$(mktemp -d /tmp/fakedrm-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
artifacts=/tmp/fakedrm-fuzz-artifacts
mkdir -p "$work/new" "$artifacts"
# New inputs go to the first directory; the committed corpus is only read.
# -max_len 32768: the recordings whole (libFuzzer cuts seeds to max_len), so the states deep
# in a weston or sway session are mutated too.
"$fuzzer" -max_len=32768 -timeout=10 -rss_limit_mb=4096 -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work/new" fuzz/corpus >"$work/log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
cov=$(grep -oE "cov: [0-9]+" "$work/log" | tail -1)
if [ $rc = 0 ] && [ -n "$runs" ]; then
    echo "ok   - fuzz: $runs inputs in ${secs} s from $(ls fuzz/corpus | wc -l) recordings, $cov edges, $(ls "$work/new" | wc -l) new inputs; no crash, leak or hang"
else
    echo "FAIL - fuzz (rc=$rc): input kept in $artifacts"
    grep -E "ERROR|Fatal error|SUMMARY|==[0-9]+==" "$work/log" | head -20 | sed 's/^/       | /'
    exit 1
fi
