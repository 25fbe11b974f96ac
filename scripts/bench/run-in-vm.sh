#!/usr/bin/env bash
# Inside the VM (scripts/cuse-vm-tests.sh --bench): the same C client against fakedrm's CUSE
# card, a do-nothing C CUSE daemon (the floor) and, when /dev/dri/card0 is a kernel vkms card
# (FAKEDRM_VKMS=1 with vkms.ko loaded), vkms. Prints medians/p99 in µs and ratios.
set -uo pipefail
bin=${1:?fakedrm binary}
n=${FAKEDRM_BENCH_N:-2000}
out=out
"$out/cuse-echo" cuse-echo & echo_pid=$!
"$bin" cuse --minor 7 --virtual-time >/dev/null 2>&1 & fd_pid=$!
for _ in $(seq 100); do [[ -e /dev/cuse-echo && -e /dev/dri/card7 ]] && break; sleep 0.05; done
trap 'kill $echo_pid $fd_pid 2>/dev/null' EXIT
declare -A med
run() {   # label args...
    local label=$1; shift
    while read -r line; do
        echo "$label  $line"
        name=$(sed -E 's/ +[0-9.]+ +[0-9.]+$//' <<<"$line")
        med["$label/$name"]=$(awk '{print $(NF-1)}' <<<"$line")
    done < <("$out/cuse-bench" "$@" "$n")
}
printf '%-10s %-28s %9s %9s\n' path request median p99
run echo --echo /dev/cuse-echo
run fakedrm /dev/dri/card7
if [[ -e /sys/module/vkms ]]; then run vkms /dev/dri/card0; else echo "vkms: not loaded (needs vkms.ko built from linux-source-6.1; see docs/cuse.md)"; fi
floor=${med["echo/echo _IOWR 16 B (1 retry)"]:-}
[[ -n $floor && -n ${med["fakedrm/GET_CAP"]:-} ]] || { echo "benchmark: no figures"; exit 1; }
# The floor for the same number of retries as fakedrm needs for each request.
declare -A floor_of=(["GET_CAP"]="echo _IOWR 16 B (1 retry)" ["GETRESOURCES (filled)"]="echo _IOWR 64 B (2 retries)"
                     ["atomic TEST_ONLY modeset"]="echo _IOWR 56 B (3 retries)")
echo "ratios fakedrm CUSE / C CUSE echo floor with the same number of retries (median):"
for r in "GET_CAP" "GETRESOURCES (filled)" "atomic TEST_ONLY modeset"; do
    f=${med["echo/${floor_of[$r]}"]:-}
    [[ -n $f ]] || continue
    awk -v r="$r" -v a="${med["fakedrm/$r"]}" -v f="$f" -v fl="${floor_of[$r]#echo }" \
        'BEGIN { printf "  %-28s %6.2fx  (floor %s: %s µs)\n", r, a / f, fl, f }'
done
if [[ -n ${med["vkms/GET_CAP"]:-} ]]; then
    echo "ratios fakedrm CUSE / vkms in-kernel (median):"
    for r in "GET_CAP" "GETRESOURCES (filled)" "atomic TEST_ONLY modeset"; do
        awk -v r="$r" -v a="${med["fakedrm/$r"]}" -v v="${med["vkms/$r"]}" 'BEGIN { printf "  %-28s %7.1fx\n", r, a / v }'
    done
fi
