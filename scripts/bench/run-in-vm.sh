#!/usr/bin/env bash
# Inside the VM (scripts/cuse-vm-tests.sh --bench): the same C client against fakedrm's CUSE
# card answering in place (the default: the caller's memory reached with process_vm_readv/
# writev, one round trip per ioctl) and answering through CUSE's retries (--ioctl-retries),
# against two do-nothing C CUSE daemons, the floors of each way (cuse-echo, cuse-echo
# --in-place), and, when /dev/dri/card0 is a kernel vkms card (vkms.ko loaded), vkms.
# Prints medians/p99 in µs and ratios.
set -uo pipefail
bin=${1:?fakedrm binary}
n=${FAKEDRM_BENCH_N:-2000}
out=out
"$out/cuse-echo" cuse-echo & echo_pid=$!
"$out/cuse-echo" cuse-echo-in-place --in-place & echo2_pid=$!
"$bin" cuse --minor 7 --no-socket --virtual-time >/dev/null 2>&1 & fd_pid=$!
"$bin" cuse --minor 8 --no-socket --virtual-time --ioctl-retries >/dev/null 2>&1 & fd2_pid=$!
trap 'kill $echo_pid $echo2_pid $fd_pid $fd2_pid 2>/dev/null' EXIT
for _ in $(seq 200); do
    [[ -e /dev/cuse-echo && -e /dev/cuse-echo-in-place && -e /dev/dri/card7 && -e /dev/dri/card8 ]] && break
    sleep 0.05
done
declare -A med
run() {   # label args...
    local label=$1; shift
    while read -r line; do
        echo "$label  $line"
        name=$(sed -E 's/ +[0-9.]+ +[0-9.]+$//' <<<"$line")
        med["$label/$name"]=$(awk '{print $(NF-1)}' <<<"$line")
    done < <("$out/cuse-bench" "$@" "$n")
}
printf '%-10s %-32s %9s %9s\n' path request median p99
run echo --echo /dev/cuse-echo
run echo --echo-in-place /dev/cuse-echo-in-place
run fakedrm /dev/dri/card7
run retries /dev/dri/card8
if [[ -e /sys/module/vkms ]]; then run vkms /dev/dri/card0; else echo "vkms: not loaded (needs vkms.ko built from linux-source-6.1; see docs/cuse.md)"; fi
[[ -n ${med["echo/echo _IOWR 16 B (1 retry)"]:-} && -n ${med["fakedrm/GET_CAP"]:-} && -n ${med["retries/GET_CAP"]:-} ]] ||
    { echo "benchmark: no figures"; exit 1; }
rows=("GET_CAP" "GETRESOURCES (filled)" "atomic TEST_ONLY modeset")
# Per row: the C floor with the retries the planner needs, and the C in-place floor with the
# copies fakedrm makes in place.
declare -A retry_floor=(["GET_CAP"]="echo _IOWR 16 B (1 retry)" ["GETRESOURCES (filled)"]="echo _IOWR 64 B (2 retries)"
                        ["atomic TEST_ONLY modeset"]="echo _IOWR 56 B (3 retries)")
declare -A place_floor=(["GET_CAP"]="echo in place 16 B (1 in, 1 out)" ["GETRESOURCES (filled)"]="echo in place 64 B (1 in, 4 out)"
                        ["atomic TEST_ONLY modeset"]="echo in place 56 B (5 in, 1 out)")
ratios() {   # title label floors-array
    local title=$1 label=$2 r f; local -n floors=$3
    echo "$title"
    for r in "${rows[@]}"; do
        f=${med["echo/${floors[$r]}"]:-}
        [[ -n $f ]] || continue
        awk -v r="$r" -v a="${med["$label/$r"]}" -v f="$f" -v fl="${floors[$r]#echo }" \
            'BEGIN { printf "  %-28s %6.2fx  (floor %s: %s µs)\n", r, a / f, fl, f }'
    done
}
ratios "ratios fakedrm CUSE in place / C CUSE in-place floor with the same copies (median):" fakedrm place_floor
ratios "ratios fakedrm CUSE in place / C CUSE floor with the retries the planner needs (median):" fakedrm retry_floor
ratios "ratios fakedrm CUSE --ioctl-retries / C CUSE floor with the same retries (median):" retries retry_floor
if [[ -n ${med["vkms/GET_CAP"]:-} ]]; then
    echo "ratios fakedrm CUSE in place / vkms in-kernel (median):"
    for r in "${rows[@]}"; do
        awk -v r="$r" -v a="${med["fakedrm/$r"]}" -v v="${med["vkms/$r"]}" 'BEGIN { printf "  %-28s %7.1fx\n", r, a / v }'
    done
fi
