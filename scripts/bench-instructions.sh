#!/usr/bin/env bash
# Instructions per operation on the Direct path, counted by valgrind's callgrind (stable where
# timings are not): each row runs alone (`fakedrm bench --only ROW`) at two iteration counts,
# counted only inside DirectBench.run, and the difference is divided by the difference in runs,
# so the card's creation and the row's set-up cancel out. What is left per operation includes
# the two clock reads and the sample store of the timing loop.
# Two columns: `fakedrm` counts only inside DirectClient.ioctl and DirectClient.read, that is the
# card's work from the raw request to the bytes copied back (its reads of client memory included);
# `whole sample` also counts the bench's own client, which builds the request's bytes in Swift
# arrays (a C client pays next to nothing for that).
# The "CUSE planner" rows are the requests of the CUSE bench in the VM through the retry planner
# against a simulated kernel (Bench/CuseRetryBench.swift): their `fakedrm` column counts the
# daemon's rounds (IoctlRetry.round: planner, codec, core), the rows above them the same
# requests on the Direct path. The "CUSE in place" rows are the same requests answered in one
# round (Bench/CuseInPlaceBench.swift: InPlaceIoctl with this process as the caller); their
# `fakedrm` column counts the daemon's answer in user space, the copies' syscalls not included.
# Usage: scripts/bench-instructions.sh [ROW...]   (default: the Direct rows GET_CAP, GETRESOURCES,
# TEST_ONLY, commit -> event, TEST_ONLY modeset, then the three CUSE planner and the three CUSE
# in-place rows; release
# build; BIN=path to compare another build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-.build/release/fakedrm}
command -v valgrind >/dev/null || { echo "bench-instructions: needs valgrind" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench-instructions: build first: swift build -c release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# callgrind cannot read the Swift toolchain's DWARF ("Possibly corrupted debuginfo file"); the
# symbol table is enough to find the function to count in.
objcopy --strip-debug "$bin" "$work/fakedrm"
sym=$(nm "$work/fakedrm" | awk '/ T \$s7FakeDRM11DirectBenchO3run10iterations4only/ && !s {s = $3} END {print s}')
[ -n "$sym" ] || { echo "bench-instructions: DirectBench.run(iterations:only:) not found in $bin" >&2; exit 1; }
card=$(nm "$work/fakedrm" | awk '/ [tT] \$s7FakeDRM(12DirectClientC(5ioctl|4read3max)|19CuseRetrySimulationC11daemonRound|21CuseInPlaceSimulationC13daemonRequest)/ {printf "--toggle-collect=%s ", $3}')
[ -n "$card" ] || { echo "bench-instructions: DirectClient.ioctl/read not found in $bin" >&2; exit 1; }
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=("GET_CAP" "GETRESOURCES (filled)" "atomic TEST_ONLY (plane flip)" "atomic commit -> flip event read"
                               "atomic TEST_ONLY modeset" "CUSE planner: GET_CAP" "CUSE planner: GETRESOURCES (filled)"
                               "CUSE planner: atomic TEST_ONLY modeset" "CUSE in place: GET_CAP"
                               "CUSE in place: GETRESOURCES (filled)" "CUSE in place: atomic TEST_ONLY modeset")
n1=1000 n2=3000
# measure() runs n samples plus min(n/10 + 1, 1000) warm-up calls.
runs() { local w=$(( $1 / 10 + 1 )); [ $w -gt 1000 ] && w=1000; echo $(( $1 + w )); }
# count ROW N TOGGLES
count() {
    # shellcheck disable=SC2086 # one --toggle-collect per word
    valgrind --tool=callgrind --callgrind-out-file="$work/cg" $3 \
        "$work/fakedrm" bench --only "$1" --iterations "$2" >/dev/null 2>"$work/vg.log"
    awk '/^summary:/ {print $2}' "$work/cg"
}
printf '%-42s %10s %14s\n' "operation" "fakedrm" "whole sample"
for row in "${rows[@]}"; do
    a=$(count "$row" $n1 "$card") b=$(count "$row" $n2 "$card")
    wa=$(count "$row" $n1 "--toggle-collect=$sym") wb=$(count "$row" $n2 "--toggle-collect=$sym")
    d=$(( $(runs $n2) - $(runs $n1) ))
    printf '%-42s %10d %14d\n' "$row" $(( (b - a) / d )) $(( (wb - wa) / d ))
done
