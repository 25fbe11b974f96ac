#!/bin/bash
# Records the fuzz corpus (fuzz/corpus/*.rec, docs/fuzzing.md): real clients on `fakedrm run
# --record`, each recording cut at 32 KiB (a prefix of the session; libFuzzer's inputs stay
# small). Run as root (clients as nobody) or as a user; rerun when clients or the format change.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/test-env.sh
make_work fuzz-corpus
trap 'rm -rf "$work"' EXIT
out="$root/fuzz/corpus"
mkdir -p "$out"
chmod 0777 "$work"
record() {
    local name=$1; shift
    timeout 60 "${AS[@]}" "$FAKEDRM_BIN" run --record "$work/$name.rec" --record-limit 32768 -- "$@" >"$work/$name.log" 2>&1
    if [ -s "$work/$name.rec" ]; then cp "$work/$name.rec" "$out/$name.rec"; echo "$name: $(stat -c %s "$out/$name.rec") bytes"
    else echo "$name: nothing recorded"; sed 's/^/  | /' "$work/$name.log" | head -5; fi
}
record drm_info drm_info
record modetest-list modetest -M fakedrm
record modetest-flip sh -c '(sleep 1; echo) | modetest -M fakedrm -s Virtual-1:1024x768 -v'
record modetest-atomic sh -c '(sleep 1; echo) | modetest -M fakedrm -a -s Virtual-1:1024x768 -P 36@33:256x256 -v'
record proptest proptest -M fakedrm
record kmscube sh -c 'sleep 10 | kmscube -c 10'
for probe in syncobj lease dmabuf; do
    cc -O2 -o "$work/$probe" "tests/clients/$probe.c" $(pkg-config --cflags --libs libdrm) && chmod 0755 "$work/$probe" &&
        record "$probe" "$work/$probe"
done
record weston tests/clients/weston-session.sh
record sway tests/clients/sway-session.sh
