#!/usr/bin/env bash
# CUSE front end tests: real clients against `fakedrm cuse` in a VM (scripts/linux-vm).
#
#   scripts/cuse-vm-tests.sh [--bench]      on the host: builds (--bench: a release build),
#                                           boots the VM, runs the tests
#   scripts/cuse-vm-tests.sh --in-vm [--bench]   inside the VM (what the host form runs)
#
# Exit 0: all passed; 1: a check failed; 77: skipped (prints why: no QEMU/kernel obtainable).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
bench=
[[ " $* " == *" --bench "* ]] && bench=--bench

if [[ " $* " != *" --in-vm "* ]]; then
    export PATH=/opt/swift/usr/bin:$PATH
    # The benchmark measures a release build: a debug build's Swift work per request is
    # several times larger, and TCG multiplies it.
    config=debug; [[ -n $bench ]] && config=release
    bin=${FAKEDRM_BIN:-$repo/.build/$config/fakedrm}
    [[ -n ${FAKEDRM_BIN:-} ]] || swift build -q -c $config 2>&1 | tail -20 || exit 1
    [[ -x $bin ]] || { echo "cuse-vm-tests: no binary at $bin"; exit 1; }
    if ! command -v qemu-system-x86_64 >/dev/null && ((EUID != 0)); then
        echo "cuse-vm-tests: SKIP: qemu-system-x86_64 missing and not root to install it"; exit 77
    fi
    mkdir -p out
    # The client library (plain C) for the attach checks, where the VM (uid nobody) can read it.
    sh scripts/build-preload.sh "$repo/out" >/dev/null || exit 1
    if [[ -n $bench ]]; then
        cc -O2 -o out/cuse-bench scripts/bench/cuse-bench.c $(pkg-config --cflags --libs libdrm) &&
        cc -O2 -o out/cuse-echo scripts/bench/cuse-echo.c $(pkg-config --cflags --libs fuse3) || exit 1
    fi
    # --bench also loads vkms (built once from linux-source) for side-by-side figures.
    FAKEDRM_BIN=$bin scripts/linux-vm --modules cuse${bench:+,vkms} --timeout "${FAKEDRM_VM_TIMEOUT:-420}" -- \
        env FAKEDRM_BIN="$bin" bash scripts/cuse-vm-tests.sh --in-vm $bench
    rc=$?
    ((rc == 125)) && { echo "cuse-vm-tests: SKIP: the VM could not run (see above)"; exit 77; }
    exit $rc
fi

# ---------------------------------------------------------------- inside the VM
bin=${FAKEDRM_BIN:?}
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
video=$(getent group video | cut -d: -f3)
# A non-root member of `video` (the host's /etc is read-only here: uid nobody + group video).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin   # not root's pyenv shims
as_user() { setpriv --reuid=65534 --regid=65534 --groups="${video:-44}" --inh-caps=-all -- "$@"; }
as_outsider() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$@"; }
log=/tmp/daemon.log
wait_node() { for _ in $(seq 100); do [[ -e $1 ]] && return 0; sleep 0.05; done; return 1; }
start_daemon() {   # minor [args]
    local m=$1; shift
    "$bin" cuse --minor "$m" "$@" >>"$log" 2>&1 &
    daemon=$!
    wait_node /dev/dri/card$m || { fail "daemon did not create /dev/dri/card$m"; cat "$log"; exit 1; }
    # udevadm settle refuses to work in a chroot: wait for the rules' effect instead.
    [[ -n ${udev:-} ]] && for _ in $(seq 100); do [[ $(stat -c %G /dev/dri/card$m) == video ]] && break; sleep 0.05; done
}
stop_daemon() { kill -TERM "$daemon" 2>/dev/null; wait "$daemon"; local rc=$?; daemon=; return $rc; }
trap '[[ -n ${daemon:-} ]] && kill -9 $daemon 2>/dev/null' EXIT

# udev: our rules only, from /run (the host's /etc is read-only and may lack them).
if [[ -x /lib/systemd/systemd-udevd ]]; then
    mkdir -p /run/udev/rules.d
    cp udev/70-fakedrm.rules /run/udev/rules.d/
    /lib/systemd/systemd-udevd --daemon 2>/dev/null
    udev=1
else
    echo "NOTE: no systemd-udevd in the image: rules not exercised, the node is chgrp'd by hand"
    udev=
fi

echo "== daemon"
# card0 belongs to vkms when it is loaded (--bench): then test on card1.
minor=0; [[ -e /sys/module/vkms ]] && minor=1
start_daemon $minor
card=/dev/dri/card$minor
[[ -z $udev ]] && { chgrp video $card; chmod 660 $card; }
perm=$(stat -c '%G %a' $card)
[[ $perm == "video 660" ]] && pass "node $card is $perm (udev rules: $([[ -n $udev ]] && echo applied || echo "not run"))" || fail "node $card is $perm, want video 660"
if [[ -n $udev ]]; then
    props=$(udevadm info -q property -n $card 2>&1)
    grep -q '^ID_SEAT=seat0' <<<"$props" && grep -q '^FAKEDRM_CUSE=1' <<<"$props" &&
        grep -q 'TAGS=.*uaccess' <<<"$props" && pass "udev properties: $(grep -E '^(ID_SEAT|DEVTYPE|TAGS)=' <<<"$props" | tr '\n' ' ')" ||
        fail "udev properties: $props"
fi
as_outsider cat $card 2>/dev/null; [[ $? -ne 0 ]] && pass "a user outside video cannot open it" || fail "a user outside video opened the node"

echo "== drm_info (non-root, group video)"
out=$(as_user timeout 60 drm_info $card 2>&1); rc=$?
grep -q 'Driver: fakedrm' <<<"$out" && grep -q 'Connector 0' <<<"$out" && grep -q 'Plane 0' <<<"$out" && ((rc == 0)) &&
    pass "drm_info: $(grep -c '' <<<"$out") lines, $(grep -m1 'Driver:' <<<"$out" | sed 's/.*Driver: //')" || { fail "drm_info rc=$rc"; head -20 <<<"$out"; }
out=$(as_user timeout 60 drm_info -j $card 2>/dev/null) && python3 -c 'import json,sys; d=json.load(sys.stdin); assert d' <<<"$out" &&
    pass "drm_info -j: valid JSON" || fail "drm_info -j"

echo "== modetest -M fakedrm (listing)"
out=$(as_user timeout 60 modetest -M fakedrm 2>&1); rc=$?
for s in Encoders: Connectors: CRTCs: Planes: Frame; do grep -q "^$s" <<<"$out" || { fail "modetest: no '$s' section"; rc=1; }; done
((rc == 0)) && pass "modetest listing: $(grep -c '' <<<"$out") lines, $(grep -cE '^[0-9]+\s' <<<"$out") objects" || { fail "modetest rc=$rc"; tail -5 <<<"$out"; }
out=$(as_user timeout 60 modetest -M fakedrm -a -c 2>&1) && pass "modetest -a -c" || { fail "modetest -a -c"; tail -5 <<<"$out"; }

echo "== proptest"
out=$(as_user timeout 60 proptest -M fakedrm 2>&1); rc=$?
((rc == 0)) && grep -q 'CRTC' <<<"$out" && pass "proptest: $(grep -c '' <<<"$out") lines" || { fail "proptest rc=$rc"; tail -5 <<<"$out"; }

echo "== vbltest"
out=$(as_user timeout 10 vbltest -M fakedrm 2>&1); rc=$?
grep -q 'drmWaitVBlank (relative) failed' <<<"$out" && pass "vbltest with CRTCs off fails like vkms: $(head -1 <<<"$out")" ||
    fail "vbltest with CRTCs off: rc=$rc $(head -2 <<<"$out")"
# vbltest loops until stdin is readable and prints its rate every 60 vblanks: give it a stdin
# that stays empty (a pipe from sleep), and a time limit.
out=$(sleep 8 | as_user python3 scripts/cuse_client.py modeset $card -- timeout 4 vbltest -M fakedrm 2>&1)
grep -q 'mode .* set' <<<"$out" && grep -qE 'freq: [0-9.]+Hz' <<<"$out" &&
    pass "vbltest after a mode set (poll+read of vblank events): $(grep -m1 -oE 'freq: [0-9.]+Hz' <<<"$out")" ||
    { fail "vbltest after a mode set"; tail -5 <<<"$out"; }

echo "== bad input"
out=$(as_user python3 scripts/cuse_client.py badinput $card 2>&1); rc=$?
echo "$out"
((rc == 0)) && kill -0 $daemon && pass "kernel errnos for bad requests, daemon alive after a fuzz burst" || fail "bad input"
out=$(as_user python3 scripts/cuse_client.py nonblock $card 2>&1) && pass "$out" || fail "$out"

echo "== control socket (fakedrm ctl) beside the CUSE card"
ctl=/run/fakedrm/card$minor.control
[[ $(stat -c '%F %a %U' $ctl 2>&1) == "socket 600 root" ]] && pass "control socket $ctl (socket 600 root)" || fail "control socket: $(stat -c '%F %a %U' $ctl 2>&1)"
out=$("$bin" ctl --control $ctl state 2>&1) && python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["connectors"][0]["name"] == "Virtual-1"' <<<"$out" &&
    pass "ctl state: JSON, $(grep -c '' <<<"$out") lines" || { fail "ctl state"; head -5 <<<"$out"; }
as_user "$bin" ctl --control $ctl state >/dev/null 2>&1; rc=$?
((rc == 2)) && pass "a card user cannot reach the control socket (ctl exit $rc)" || fail "card user reached the control socket: rc=$rc"
"$bin" ctl --control $ctl fault add "ioctl name=GET_CAP errno=EIO once" >/dev/null
out=$(as_user python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
res = []
for _ in range(2):
    try:
        fcntl.ioctl(fd, 0xC010640C, bytearray(struct.pack("QQ", 1, 0))); res.append("0")
    except OSError as e:
        res.append(str(e.errno))
print(",".join(res))' $card 2>&1)
log_n=$("$bin" ctl --control $ctl fault log | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
"$bin" ctl --control $ctl fault clear >/dev/null
[[ $out == "5,0" && $log_n == 1 ]] && pass "ioctl fault through CUSE: GET_CAP gave EIO once then 0 ($out), one injection logged" ||
    fail "ioctl fault through CUSE: got '$out', log entries $log_n"

echo "== client library attached to the CUSE card (DRM_IOCTL_FAKEDRM_ATTACH)"
lib=${FAKEDRM_PRELOAD_LIB:-$repo/out/libfakedrm-preload.so}
sock=/run/fakedrm/card$minor.sock
[[ $(stat -c '%F %a' $sock 2>&1) == "socket 666" ]] && pass "attach socket $sock (socket 666)" || fail "attach socket: $(stat -c '%F %a' $sock 2>&1)"
out=$(as_user env LD_PRELOAD="$lib" timeout 60 python3 scripts/cuse_client.py attach $card 2>&1); rc=$?
echo "$out" | sed 's/^/  /'
((rc == 0)) && pass "attached: PRIME cap, dumb mmap, PRIME fd, out-fence fd" || fail "attach checks rc=$rc"
out=$(as_user python3 scripts/cuse_client.py attachdeny $card 2>&1) && pass "$out" || fail "$out"
out=$(as_user timeout 60 python3 scripts/cuse_client.py passed $card "$lib" 2>&1) && pass "$out" || fail "a card fd passed over SCM_RIGHTS: $out"
# While a kernel DRM driver holds major 226 (vkms loaded), a CUSE card gets a dynamic major:
# a passed fd of it is still attached (the library goes by its /dev/dri/ path, not the major).
"$bin" cuse --minor 9 --major 0 >>"$log" 2>&1 & dyn=$!
wait_node /dev/dri/card9
if [[ -n ${udev:-} ]]; then for _ in $(seq 100); do [[ $(stat -c %G /dev/dri/card9) == video ]] && break; sleep 0.05; done
else chgrp video /dev/dri/card9; chmod 660 /dev/dri/card9; fi
for _ in $(seq 100); do [[ -S /run/fakedrm/card9.sock ]] && break; sleep 0.05; done
dmaj=$(( 0x$(stat -c %t /dev/dri/card9) ))
out=$(as_user timeout 60 python3 scripts/cuse_client.py passed /dev/dri/card9 "$lib" 2>&1)
[[ $? == 0 && $dmaj != 226 ]] && pass "dynamic major $dmaj: $out" || fail "a passed fd of a card with dynamic major $dmaj: $out"
kill -TERM $dyn; wait $dyn
conn=$(as_user timeout 60 modetest -M fakedrm -c 2>/dev/null | awk '/^Connectors:/ {getline; getline; print $1; exit}')
# modetest -v flips until stdin is readable: Enter after 4 s. Without the library its mmap of
# the dumb buffer fails on CUSE (ENODEV); with it, it maps through the socket.
out=$( (sleep 4; echo) | as_user env LD_PRELOAD="$lib" timeout 60 modetest -M fakedrm -s "$conn:1024x768" -v 2>&1); rc=$?
freq=$(grep -cE 'freq: [0-9.]+Hz' <<<"$out")
((rc == 0 && freq > 0)) && pass "modetest -s $conn:1024x768 -v under the library: rc=$rc, $freq freq lines, last '$(grep -E 'freq:' <<<"$out" | tail -1)'" ||
    { fail "modetest -s -v under the library: rc=$rc"; tail -8 <<<"$out"; }
out=$( (sleep 2; echo) | as_user timeout 60 modetest -M fakedrm -s "$conn:1024x768" -v 2>&1); rc=$?
# modetest reports the failed buffer and exits 0 anyway: judged by its output.
! grep -qE 'freq: [0-9.]+Hz' <<<"$out" && grep -qiE 'fail' <<<"$out" &&
    pass "modetest -s -v without the library fails as before (CUSE has no mmap): rc=$rc, '$(grep -m1 -iE 'fail' <<<"$out")'" ||
    { fail "modetest -s -v without the library: rc=$rc"; tail -8 <<<"$out"; }

echo "== sway on the CUSE card (a member of video, the library attached, udev rules applied)"
if command -v sway >/dev/null; then
    sxdg=/tmp/sway-xdg; mkdir -p $sxdg; chown 65534 $sxdg; chmod 700 $sxdg
    printf 'output * bg #336699 solid_color\n' >/tmp/sway.conf; chmod 644 /tmp/sway.conf
    # libseat's builtin seatd opens the card in a fork and passes the fd to sway, which
    # attaches it on first use; wlroots' empty lease is adopted through the same socket;
    # libdrm's primary-node check reads the card's sysfs view (docs/cuse.md).
    setpriv --reuid=65534 --regid=65534 --groups="${video:-44}" --inh-caps=-all -- env HOME=$sxdg XDG_RUNTIME_DIR=$sxdg \
        LD_PRELOAD="$lib" WLR_DRM_DEVICES=$card LIBSEAT_BACKEND=builtin SEATD_VTBOUND=0 WLR_RENDERER=pixman \
        WLR_BACKENDS=drm WLR_LIBINPUT_NO_DEVICES=1 sway -c /tmp/sway.conf >/tmp/sway.log 2>&1 &
    sway_pid=$!
    for _ in $(seq 300); do [[ -S $sxdg/wayland-1 ]] && break; kill -0 $sway_pid 2>/dev/null || break; sleep 0.1; done
    shown=
    for _ in $(seq 30); do
        "$bin" ctl --control $ctl capture /tmp/sway.png >/dev/null 2>&1 &&
            shown=$(python3 tests/clients/compositor-check.py sway-bg /tmp/sway.png 336699 2>&1) && break
        shown=; sleep 0.5
    done
    kill -TERM $sway_pid 2>/dev/null; wait $sway_pid; src=$?
    [[ -n $shown && $src == 0 ]] && pass "sway on $card: $shown (ctl capture), exit 0 on SIGTERM" ||
        { fail "sway on $card: exit $src, capture '${shown:-none}'"; grep -E "ERROR|rror" /tmp/sway.log | head -8; }
else
    echo "NOTE: no sway in the image: the CUSE desktop check is skipped"
fi

echo "== weston (pixman) on the CUSE card (a member of video, the library and umockdev attached)"
umockdev=$(ls /usr/lib/*/libumockdev-preload.so.0 2>/dev/null | head -1)
if command -v weston >/dev/null && [[ -n $umockdev ]]; then
    wxdg=/tmp/weston-xdg; mkdir -p $wxdg; chown 65534 $wxdg; chmod 700 $wxdg
    tree=/run/fakedrm/card$minor.sysfs
    # weston resolves --drm-device through libudev, which reads sysfs itself: umockdev serves it
    # the daemon's sysfs view, where the node is a drm device (the real one is in class cuse).
    setpriv --reuid=65534 --regid=65534 --groups="${video:-44}" --inh-caps=-all -- env HOME=$wxdg XDG_RUNTIME_DIR=$wxdg \
        LD_PRELOAD="$lib $umockdev" UMOCKDEV_DIR=$tree weston --backend=drm-backend.so --use-pixman \
        --continue-without-input --idle-time=0 --seat=seat1 --drm-device=card$minor --log=/tmp/weston.log &
    weston_pid=$!
    for _ in $(seq 300); do [[ -S $wxdg/wayland-1 ]] && break; kill -0 $weston_pid 2>/dev/null || break; sleep 0.1; done
    shown=
    for _ in $(seq 30); do
        "$bin" ctl --control $ctl capture /tmp/weston.png >/dev/null 2>&1 &&
            shown=$(python3 tests/clients/compositor-check.py weston-desktop-only /tmp/weston.png 2>&1) && break
        shown=; sleep 0.5
    done
    kill -TERM $weston_pid 2>/dev/null; wait $weston_pid; wrc=$?
    [[ -n $shown && $wrc == 0 ]] && pass "weston on $card: ${shown//$'\n'/, } (ctl capture), exit 0 on SIGTERM" ||
        { fail "weston on $card: exit $wrc, capture '${shown:-none}'"; tail -15 /tmp/weston.log; }
else
    echo "NOTE: no weston or libumockdev-preload in the image: the CUSE weston check is skipped"
fi

echo "== a caller's page that does not come in holds only its own ioctl"
out=$(timeout 60 python3 scripts/cuse_client.py stall $card 2>&1); rc=$?
if ((rc == 0)); then pass "$out"; elif ((rc == 77)); then echo "NOTE: $out"; else fail "stalled page: rc=$rc $out"; fi
grep -q 'cannot reach the memory' "$log" && fail "the daemon fell back to retries for a root daemon's clients: $(grep -m1 'cannot reach' "$log")" ||
    pass "every client of the root daemon was answered in place (no 'cannot reach' in its log)"

echo "== client killed inside a blocking read"
# Not through the as_user function: $! must be the reader itself (setpriv execs python).
setpriv --reuid=65534 --regid=65534 --groups="${video:-44}" --inh-caps=-all -- python3 scripts/cuse_client.py blockread $card & reader=$!
sleep 1
kill -9 $reader; wait $reader 2>/dev/null
sleep 0.5
out=$(as_user python3 scripts/cuse_client.py master $card 2>&1) && pass "killed reader released (next open is master): $out" ||
    fail "killed reader not released: $out"

echo "== second daemon, SIGKILL, restart"
out=$("$bin" cuse --minor $minor 2>&1); rc=$?
((rc != 0)) && grep -q 'already' <<<"$out" && pass "second daemon for minor $minor: exit $rc, '$out'" || fail "second daemon: rc=$rc $out"
kill -9 $daemon; wait $daemon 2>/dev/null; daemon=
sleep 0.3
[[ ! -e $card ]] && pass "SIGKILL: no stale node" || fail "SIGKILL left $card"
start_daemon $minor
as_user timeout 30 modetest -M fakedrm -c >/dev/null 2>&1 && pass "restart after SIGKILL serves again" || fail "restart after SIGKILL"
stop_daemon; rc=$?
((rc == 0)) && [[ ! -e $card ]] && pass "SIGTERM: exit 0, node removed" || fail "SIGTERM: rc=$rc, node $(ls $card 2>&1)"

echo "== a daemon without ptrace rights answers through CUSE's retries"
# Root without CAP_SYS_PTRACE may not reach another user's memory (process_vm_readv: EPERM),
# so every ioctl of these clients goes the retry way (IoctlRetry), as for an unprivileged daemon.
: >/tmp/noptrace.log
setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace -- "$bin" cuse --minor $minor --no-socket >/tmp/noptrace.log 2>&1 & daemon=$!
wait_node $card || fail "no node from the daemon without CAP_SYS_PTRACE"
[[ -z $udev ]] && { chgrp video $card; chmod 660 $card; }
for _ in $(seq 100); do [[ $(stat -c %G $card) == video ]] && break; sleep 0.05; done
out=$(as_user timeout 60 modetest -M fakedrm -c 2>&1) && grep -q '^Connectors:' <<<"$out" && rc1=0 || rc1=1
out2=$(as_user python3 scripts/cuse_client.py badinput $card 2>&1); rc2=$?
stop_daemon
grep -q 'cannot reach the memory of pid' /tmp/noptrace.log && ((rc1 == 0 && rc2 == 0)) &&
    pass "no CAP_SYS_PTRACE: modetest listing and the bad-input errnos through retries ($(grep -m1 -o 'cannot reach[^(]*' /tmp/noptrace.log))" ||
    { fail "daemon without CAP_SYS_PTRACE: modetest rc=$rc1, badinput rc=$rc2"; echo "$out2"; cat /tmp/noptrace.log; }

if [[ -n $bench ]]; then
    echo "== benchmark (TCG, one vCPU: compare ratios, not absolute times)"
    bash scripts/bench/run-in-vm.sh "$bin" || fail "benchmark"
fi

echo "== daemon log"; cat "$log"
((failures == 0)) && { echo "cuse-vm-tests: all passed"; exit 0; }
echo "cuse-vm-tests: $failures failed"; exit 1
