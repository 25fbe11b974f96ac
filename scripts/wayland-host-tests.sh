#!/bin/bash
# The Wayland scanout backend (`fakedrm run --backend wayland=SOCKET`): each CRTC of the fake
# card is an xdg_toplevel window on a HOST Wayland compositor. The host here is weston 10,
# headless, pixman, desktop-shell, its output the size of the card's connector mode (1024x768),
# so the window covers it at (0,0) and a host screenshot (weston-screenshooter) is the guest's
# frame. The guest is weston 10 (DRM backend on the fake card, tests/clients/compositor-weston.sh
# window) with a #336699 background and weston-simple-shm. Checked: the host shows the guest
# desktop (pixels), the host screenshot equals `fakedrm ctl capture` of the CRTC, the card is
# clean after the guest exits; the daemon's figures and `fakedrm bench --wayland`; the host
# killed under a running guest: the guest stays up, the connector goes disconnected, and
# plugged in again (ctl hotplug) the guest's desktop is on the virtual display; and with
# `--backend vhost-user-gpu --host-display wayland`, the backend's scanout in the host window
# (fakedrm as QEMU's UI); hosts that misbehave (tests/clients/bad-host.c: no frame callbacks,
# no releases, a closed window). Run as root;
# host, card and guest all run as `nobody`. About 20 s.
#
# Usage: scripts/wayland-host-tests.sh        (builds with swift build --scratch-path $SCRATCH)
#        FAKEDRM_BIN=/path/to/fakedrm scripts/wayland-host-tests.sh
# Env: SCRATCH (default .build), KEEP=1 keeps the work directory (screenshots, logs),
#      FAKEDRM_DOCS_SHOT=PATH copies the host screenshot of the guest desktop there.
# Exit status: 0 all passed (or "skipped: ..." without weston), 1 a check failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
T="$root/tests/clients"

for c in weston weston-screenshooter weston-simple-shm wayland-info; do
    command -v "$c" >/dev/null || { echo "skipped: needs $c (apt-get install weston wayland-utils)"; exit 0; }
done

. scripts/test-env.sh
make_work wl-host
W=1024 H=768                       # the default card's preferred mode (Virtual-1)
BG=336699                          # the guest desktop's background
x="$work/hostxdg"                  # the host's XDG_RUNTIME_DIR (mandatory, 0700, nobody's)
HOST_SOCK="$x/host-0"
mkdir -m 0700 "$x"
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$x"
mkdir -m 0777 "$work/out" "$work/shots"
# Clean environments: nothing of the caller's WAYLAND_DISPLAY / XDG_RUNTIME_DIR leaks in.
NOBODY=("${AS[@]}" env -i PATH=/usr/bin:/bin HOME="$work" TMPDIR="$work/tmp")
ONHOST=("${NOBODY[@]}" XDG_RUNTIME_DIR="$x" WAYLAND_DISPLAY=host-0)
RUN=("${NOBODY[@]}" "$FAKEDRM_BIN" run)
ENV=(env COMP_FAKEDRM="$FAKEDRM_BIN" COMP_OUT="$work/out" COMP_WESTON_CONFIG="$work/guest.ini")
printf '[core]\nidle-time=0\n[shell]\npanel-position=none\nbackground-color=0xff000000\n' >"$work/host.ini"
printf '[core]\nidle-time=0\n[shell]\nbackground-color=0xff%s\n' "$BG" >"$work/guest.ini"
chmod 0644 "$work/host.ini" "$work/guest.ini"

host=""     # the host weston's pid
ctlsock="" out=""
guest=""    # the running guest session's pid (timeout -> fakedrm run -> compositor-weston.sh)
cleanup() {
    set +e
    if [ -n "$guest" ]; then   # a session cut short: its weston first (it would outlive the card)
        wp=$(sed -n 's/^weston_pid: //p' "$out" 2>/dev/null | head -1)
        [ -n "$wp" ] && kill -TERM "$wp" 2>/dev/null
        kill -TERM "$guest" 2>/dev/null && sleep 0.5 && kill -KILL "$guest" 2>/dev/null
        [ -n "$wp" ] && kill -KILL "$wp" 2>/dev/null
    fi
    [ -n "$host" ] && kill -KILL "$host" 2>/dev/null
    wait 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

pass=0
fail=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
bad() {
    echo "FAIL - $1"; fail=$((fail + 1))
    if [ -n "${2:-}" ] && [ -f "$2" ]; then grep -v "^pres: " "$2" | sed 's/^/       | /' | head -"${3:-40}" || true; fi
}
field() { { sed -n "s/^$1: //p" "$2" 2>/dev/null || true; } | head -1; }
hcheck() { "$PY" "$T/wayland-host-check.py" "$@"; }
ctl() { "${NOBODY[@]}" "$FAKEDRM_BIN" ctl --control "$ctlsock" "$@"; }
alive() {   # a process that exists and is not a zombie
    local st
    st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
    [ -n "$st" ] && [ "$st" != Z ]
}

# host_start: the host weston (headless, pixman, --debug for weston-screenshooter), up to 10 s
# for its socket.
host_start() {
    rm -f "$HOST_SOCK" "$HOST_SOCK.lock"
    "${NOBODY[@]}" XDG_RUNTIME_DIR="$x" weston --backend=headless-backend.so --use-pixman \
        --width=$W --height=$H --socket=host-0 --config="$work/host.ini" --debug --log="$work/host.log" \
        >"$work/host.out" 2>&1 &
    host=$!
    local i
    for i in $(seq 100); do
        [ -S "$HOST_SOCK" ] && return 0
        alive "$host" || break
        sleep 0.1
    done
    return 1
}

# shoot NAME: a host screenshot into $work/NAME.png (weston-screenshooter writes
# wayland-screenshot-<date>.png into its working directory).
shoot() {
    rm -f "$work/shots/"*.png "$work/$1.png"
    (cd "$work/shots" && timeout 10 "${ONHOST[@]}" weston-screenshooter) >"$work/shots.log" 2>&1 || return 1
    local f
    f=$(ls "$work/shots/"*.png 2>/dev/null | head -1 || true)
    [ -n "$f" ] && mv "$f" "$work/$1.png"
}

CARD_DISPLAY=(--backend "wayland=$HOST_SOCK")   # how guest_start's card reaches the host
# guest_start NAME: fakedrm run "${CARD_DISPLAY[@]}" -- weston + simple-shm in the
# background (45 s at most); up to 15 s until it scans out ("ready: yes"). Sets $guest, $out,
# $ctlsock (the card's control socket, $FAKEDRM_CONTROL inside) and $done (touch: stop it).
guest_start() {
    out="$work/$1.txt" done="$work/$1.done"
    rm -f "$done"
    timeout 45 "${RUN[@]}" "${CARD_DISPLAY[@]}" -- "${ENV[@]}" COMP_DONE="$done" \
        COMP_LOG_OUT="$work/$1-weston.log" "$T/compositor-weston.sh" window >"$out" 2>&1 &
    guest=$!
    local i
    for i in $(seq 150); do
        grep -q "^ready: yes" "$out" && break
        alive "$guest" || break
        sleep 0.1
    done
    ctlsock=$(field control "$out")
    grep -q "^ready: yes" "$out"
}

# guest_stop: $done, then up to 15 s for the session to end; sets $grc.
guest_stop() {
    touch "$done"
    local i
    for i in $(seq 150); do alive "$guest" || break; sleep 0.1; done
    grc=0
    wait "$guest" || grc=$?
    guest=""
}

# report_figures STATE.json SESSION-OUTPUT SECONDS: what the daemon reported about the Wayland
# display for a guest session that ran SECONDS from scanout to stop: its summary line (logged at
# notice when the card stops: frames submitted, without a copy, composed, frame callbacks,
# presented, buffer releases), and the card's state taken while the guest ran (STATE.json,
# `fakedrm ctl state`, whose `display` section has windows, copies and host-held buffers).
report_figures() {
    local line n
    echo "       figures (report_figures):"
    line=$(grep "wayland display .*frames submitted" "$2" | tail -1 || true)
    if [ -n "$line" ]; then
        echo "       | daemon: ${line#*\] }"
        n=$(echo "$line" | grep -o '[0-9]* frames submitted' | cut -d' ' -f1 || true)
        [ -n "$n" ] && awk -v n="$n" -v s="$3" 'BEGIN { if (s > 0) printf "       | %d frames in %.1f s of guest scanout: %.1f frames/s\n", n, s, n / s }'
    else echo "       | daemon: no \"wayland display ...: N frames submitted\" line in $2"; fi
    "$PY" - "$1" <<'PYEOF' || echo "       | (no ctl state from the running guest)"
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("summary", {})
print("       | ctl state while running: " + ", ".join("%s=%s" % (k, s[k]) for k in
      ("framebuffers", "buffers", "pending_commits", "release_fences_pending", "queued_events") if k in s))
for k, v in d.items():
    if "wayland" in k.lower() or "backend" in k.lower() or "display" in k.lower():
        print("       | ctl state[%s]: %s" % (k, json.dumps(v)[:300]))
PYEOF
}

# ms since the epoch
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

echo "       fakedrm: $FAKEDRM_BIN"
# (help texts read whole first: grep -q under pipefail could see the writer's SIGPIPE)
run_help=$("$FAKEDRM_BIN" run --help 2>&1 || true)
bench_help=$("$FAKEDRM_BIN" bench --help 2>&1 || true)
if [[ "$run_help" != *"wayland"* ]]; then
    bad "fakedrm run --help has no --backend wayland (this fakedrm predates the Wayland backend)"
fi

# --- the host alone: up, an empty screenshot --------------------------------------------------
t0=$SECONDS
if host_start && shoot empty && hcheck empty "$work/empty.png" $W $H >"$work/empty-px.txt" 2>&1; then
    ok "host weston (headless, pixman, desktop-shell) on $HOST_SOCK: screenshot $(head -1 "$work/empty-px.txt")"
else
    bad "host weston headless + weston-screenshooter" "$work/empty-px.txt"
    for f in "$work/host.out" "$work/host.log" "$work/shots.log"; do [ -f "$f" ] && sed 's/^/       | /' "$f" | tail -15; done
    echo "$pass passed, $fail failed"
    exit 1
fi

# --- a guest weston on the card, shown in a window on the host --------------------------------
if guest_start guest; then
    t_ready=$(ms_now)
    echo "       guest up after $((SECONDS - t0)) s (control socket $ctlsock)"
    # desktop-shell fades the desktop and the new window in: shoot until the guest desktop
    # shows (8 s at most).
    shown=no
    for i in $(seq 12); do
        ctl capture "$work/out/guest-crtc.png" >/dev/null 2>&1 || true
        if shoot guest && hcheck guest "$work/guest.png" $BG >"$work/guest-px.txt" 2>&1; then shown=yes; break; fi
        sleep 0.3
    done
    if [ $shown = yes ]; then
        ok "host shows the guest desktop after $i screenshot(s): $(grep -h 'guest background\|white bbox' "$work/guest-px.txt" | paste -sd ';')"
        if [ -n "${FAKEDRM_DOCS_SHOT:-}" ]; then hcheck opaque "$work/guest.png" "$FAKEDRM_DOCS_SHOT" | sed 's/^/       docs screenshot: /'; fi
        if [ -f "$work/out/guest-crtc.png" ] && hcheck same "$work/guest.png" "$work/out/guest-crtc.png" >"$work/same.txt" 2>&1; then
            ok "$(cat "$work/same.txt") (fakedrm ctl capture just before the screenshot)"
        else bad "host screenshot against ctl capture of CRTC 0" "$work/same.txt"; fi
    else
        bad "the host does not show the guest desktop (last screenshot: $work/guest.png)" "$work/guest-px.txt"
        [ -n "${FAKEDRM_DOCS_SHOT:-}" ] && [ -f "$work/guest.png" ] && cp "$work/guest.png" "$FAKEDRM_DOCS_SHOT.failed.png" || true
        { sed 's/^/       | /' "$out" | head -30; } || true
    fi
    ctl state >"$work/guest-state.json" 2>/dev/null || true
    guest_stop
    report_figures "$work/guest-state.json" "$out" "$(awk -v a="$t_ready" -v b="$(ms_now)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')"
    # No copy on the shm path, and vblanks counted at the host's pace (a free-running 60 Hz
    # clock would count ~1.6 per host frame on this ~38 Hz host).
    if "$PY" - "$work/guest-state.json" >"$work/pace.txt" 2>&1 <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
disp, crtc = d["display"], d["crtcs"][0]
frames, copies, callbacks, vbl = disp["frames_submitted"], disp["frame_copies"], disp["frame_callbacks"], crtc["vblank"]["count"]
print("%d frames submitted, %d copies; vblank count %d over %d host frame callbacks (%.2f per frame)" % (frames, copies, vbl, callbacks, vbl / max(callbacks, 1)))
assert frames >= 30 and copies * 20 <= frames, "copies on the shm path"
assert vbl <= 1.25 * callbacks + 10, "the vblank clock does not follow the host's frames"
PYEOF
    then ok "no copy, host-paced vblanks: $(cat "$work/pace.txt")"
    else bad "shm path copies or vblank pacing" "$work/pace.txt"; fi
    if [ $grc = 0 ] && [ "$(field weston_exit "$out")" = 0 ] && [ "$(field simple_shm "$out")" = running ] &&
        "$PY" "$T/compositor-check.py" leak "$out" idle after >"$work/guest-leak.txt" 2>&1; then
        ok "guest stopped: weston exit 0 in $(field weston_stop_ms "$out") ms, fakedrm run exit 0; card state clean ($(tr '\n' ' ' <"$work/guest-leak.txt"))"
    else bad "guest session end (rc=$grc, weston_exit=$(field weston_exit "$out"), simple-shm $(field simple_shm "$out"))" "$work/guest-leak.txt"; { sed 's/^/       | /' "$out" | tail -25; } || true; fi
else
    bad "guest weston through --backend wayland=$HOST_SOCK: no scanout within 15 s" "$out"
    guest_stop
fi
echo "       guest session: $((SECONDS - t0)) s"

# --- fakedrm bench --wayland: fps with the release fence vs release tied to the flip ------------
if [[ "$bench_help" == *"--wayland"* ]]; then
    t1=$SECONDS
    brc=0
    timeout 40 "${NOBODY[@]}" XDG_RUNTIME_DIR="$x" "$FAKEDRM_BIN" bench --wayland="$HOST_SOCK" --seconds 3 >"$work/bench.txt" 2>&1 || brc=$?
    # The release fence lets rendering overlap the pending flip: it must beat the tied case
    # (1.5x here), with no copy in either.
    ratio=$(sed -n 's/.*ratio (fenced \/ tied) *//p' "$work/bench.txt")
    copies=$(grep -E "release tied|with the release fence" "$work/bench.txt" | awk '{ print $NF }' | sort -u | tr '\n' ' ')
    if [ $brc = 0 ] && awk -v r="${ratio:-0}" 'BEGIN { exit !(r >= 1.15) }' && [ "$copies" = "0.00 " ]; then
        ok "fakedrm bench --wayland=$HOST_SOCK --seconds 3 ($((SECONDS - t1)) s): fenced / tied $ratio, copies per frame 0:"
        sed 's/^/       | /' "$work/bench.txt"
    else bad "fakedrm bench --wayland (rc=$brc, ratio ${ratio:-?}, copies per frame: ${copies:-?})" "$work/bench.txt"; fi
else
    echo "skip - fakedrm bench --help has no --wayland: no release-fence figures"
fi

# --- ,tied: flips also wait for the host's release of the older buffers ---------------------------
# weston re-shows its current buffer when it restarts its repaint loop; such a flip replaced
# nothing, so it must not wait for a release that cannot come while the buffer is on screen.
t4=$SECONDS
CARD_DISPLAY=(--backend "wayland=$HOST_SOCK,tied")
if guest_start tied; then
    sleep 3
    guest_stop
    line=$(grep "wayland display .*frames submitted" "$out" | tail -1 || true)
    n=$(echo "$line" | grep -o '[0-9]* frame callbacks' | cut -d' ' -f1 || true)
    if [ $grc = 0 ] && [ "${n:-0}" -ge 60 ] && [ "$(field weston_exit "$out")" = 0 ]; then
        ok "--backend wayland,tied: the guest weston flips on (${line#*\] })"
    else bad "--backend wayland,tied: the guest stalled (rc=$grc, ${n:-no} frame callbacks)" "$out"; fi
else
    bad "guest weston through --backend wayland=$HOST_SOCK,tied: no scanout within 15 s" "$out"
    guest_stop
fi
CARD_DISPLAY=(--backend "wayland=$HOST_SOCK")
echo "       tied session: $((SECONDS - t4)) s"

# --- vhost-user-gpu into the host window: fakedrm as QEMU's UI too ------------------------------
vhost_bin=/usr/lib/qemu/vhost-user-gpu
if [ -x "$vhost_bin" ]; then
    t3=$SECONDS
    CARD_DISPLAY=(--backend vhost-user-gpu --host-display "wayland=$HOST_SOCK")
    if guest_start vhost; then
        shown=no
        for i in $(seq 12); do
            if shoot vhost && hcheck guest "$work/vhost.png" $BG >"$work/vhost-px.txt" 2>&1; then shown=yes; break; fi
            sleep 0.3
        done
        # For a failure: what the card and the virtio-gpu display had while the host showed it.
        [ $shown = yes ] || { ctl state >"$work/vhost-state.json" 2>/dev/null || true; ctl capture "$work/out/vhost-capture.png" >/dev/null 2>&1 || true; }
        guest_stop
        line=$(grep "host display .*pictures shown" "$out" | tail -1 || true)
        if [ $shown = yes ]; then
            ok "--backend vhost-user-gpu --host-display wayland: the backend's scanout in the host window ($(grep -h 'guest background' "$work/vhost-px.txt" | cut -d, -f2-)); ${line#*\] }"
        else
            bad "--backend vhost-user-gpu --host-display wayland: the host does not show the guest desktop" "$work/vhost-px.txt"
            echo "       | daemon: ${line:-no \"host display ... pictures shown\" line}"
            [ -s "$work/out/vhost-capture.png" ] && echo "       | ctl capture of the card: $(hcheck guest "$work/out/vhost-capture.png" $BG 2>&1 | head -1)"
            [ -s "$work/vhost-state.json" ] && "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("       | ctl state: display", json.dumps(d.get("display"))[:400], "crtcs", json.dumps(d.get("crtcs"))[:300])' "$work/vhost-state.json"
            grep -i "warn\|error\|lost" "$out" | grep -v logind | head -8 | sed 's/^/       | /'
        fi
    else
        bad "guest weston through --backend vhost-user-gpu --host-display wayland=$HOST_SOCK: no scanout within 15 s" "$out"
        guest_stop
    fi
    CARD_DISPLAY=(--backend "wayland=$HOST_SOCK")
    echo "       vhost-user-gpu session: $((SECONDS - t3)) s"
else
    echo "skip - no $vhost_bin (qemu-system-gui): vhost-user-gpu into the host window not checked"
fi

# --- the host goes away under a running guest ----------------------------------------------------
t2=$SECONDS
if guest_start gone; then
    wpid=$(field weston_pid "$out")
    fpid=$(pgrep -P "$guest" | head -1 || true)
    sleep 1   # flips in flight when the host goes
    ctl state 2>/dev/null | "$PY" "$T/compositor-check.py" state-line >"$work/gone-before.json" 2>&1 || true
    kill -KILL "$host"; wait "$host" 2>/dev/null || true; host=""
    sleep 2
    live=""
    for p in "$fpid" "$wpid"; do [ -n "$p" ] && alive "$p" && live="$live $p($(cat /proc/$p/comm 2>/dev/null || true))"; done
    status=""
    for i in $(seq 30); do
        status=$(ctl state 2>/dev/null | "$PY" -c 'import json,sys; print(" ".join("%s:%s" % (c["name"], c["status"]) for c in json.load(sys.stdin)["connectors"]))' || true)
        [[ "$status" == *"Virtual-1:disconnected"* ]] && break
        sleep 0.1
    done
    if [ -n "$fpid" ] && [ -n "$wpid" ] && alive "$fpid" && alive "$wpid"; then
        ok "host weston killed (SIGKILL): 2 s later fakedrm run and the guest weston are alive ($live)"
    else bad "host killed: guest processes gone (fakedrm pid ${fpid:-?}, weston pid ${wpid:-?}; alive:${live:- none})" "$out"; fi
    disp=$(ctl state 2>/dev/null | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("display", "none"))[:200])' || true)
    if [[ "$status" == *"Virtual-1:disconnected"* ]]; then
        ok "host killed: ctl state shows $status; display: $disp"
    else bad "host killed: connector not disconnected (ctl state: ${status:-none}; before: $(cat "$work/gone-before.json"))"; fi
    # The card keeps serving on the virtual display: the connector plugged in again, the guest
    # sets its output up again and shows its desktop (ctl capture; 5 s at most).
    back=no
    if ctl hotplug Virtual-1 connected >"$work/back.txt" 2>&1; then
        for i in $(seq 20); do
            rm -f "$work/out/back.png"
            if ctl capture "$work/out/back.png" >>"$work/back.txt" 2>&1 &&
                hcheck guest "$work/out/back.png" $BG >"$work/back-px.txt" 2>&1; then back=yes; break; fi
            sleep 0.25
        done
    fi
    if [ $back = yes ]; then
        ok "after the host went: ctl hotplug Virtual-1 connected -> the guest desktop on the virtual display ($(head -1 "$work/back-px.txt" | cut -d, -f2-))"
    else bad "after the host went: no guest desktop on the virtual display after ctl hotplug Virtual-1 connected" "$work/back-px.txt"; { sed 's/^/       | /' "$work/back.txt" | tail -5; } || true; fi
    guest_stop
    if [ $grc = 0 ] && [ "$(field weston_exit "$out")" = 0 ] &&
        "$PY" "$T/compositor-check.py" leak "$out" idle after >"$work/gone-leak.txt" 2>&1; then
        ok "guest without a host stopped cleanly: weston exit 0 in $(field weston_stop_ms "$out") ms, fakedrm run exit 0, guest wl_outputs at the end: $(field outputs_end "$out"); $(head -1 "$work/gone-leak.txt")"
    else bad "guest stop after the host went away (rc=$grc, weston_exit=$(field weston_exit "$out"))" "$out" 30; fi
else
    bad "second guest through --backend wayland=$HOST_SOCK: no scanout within 15 s" "$out"
    guest_stop
fi
echo "       host-gone session: $((SECONDS - t2)) s; total $SECONDS s"

# --- bad hosts (tests/clients/bad-host.c): no frame callbacks, no releases, a closed window ---------
# kmsprobe flips 5 times with out- and release fences on a card whose host misbehaves; then, in
# the same card, `fakedrm ctl state` (release fences pending, host-held buffers).
bh="$work/bad-host"
mkdir -m 0755 "$bh"
xml=/usr/share/wayland-protocols/stable/xdg-shell/xdg-shell.xml
if wayland-scanner server-header "$xml" "$bh/xdg-shell-server-protocol.h" && wayland-scanner private-code "$xml" "$bh/xdg-shell-protocol.c" &&
    cc -O2 -Wall -I"$bh" -o "$bh/bad-host" "$T/bad-host.c" "$bh/xdg-shell-protocol.c" $(pkg-config --cflags --libs wayland-server) 2>"$bh/cc.log" &&
    cc -O2 -Wall -o "$bh/kmsprobe" "$T/kmsprobe.c" $(pkg-config --cflags --libs libdrm) 2>>"$bh/cc.log"; then
    chmod -R a+rX "$bh"
    # bad_run NAME MODE...: the bad host, then the card with kmsprobe and ctl state; output in $bh/NAME.*
    bad_run() {
        local name=$1 hp; shift
        rm -f "$x/bad-0" "$x/bad-0.lock"
        "${NOBODY[@]}" XDG_RUNTIME_DIR="$x" "$bh/bad-host" bad-0 "$@" >"$bh/$name.host" 2>&1 &
        hp=$!
        for _ in $(seq 50); do [ -S "$x/bad-0" ] && break; sleep 0.1; done
        timeout 40 "${RUN[@]}" --backend "wayland=$x/bad-0${BAD_OPTS:-}" -- sh -c \
            "'$bh/kmsprobe' flip 5 --out-fence --release-fence --timeout-ms 1000 --fence-timeout-ms 300 ${BAD_FLIP:-}; '$FAKEDRM_BIN' ctl --control \"\$FAKEDRM_CONTROL\" state" \
            >"$bh/$name.out" 2>&1 || true
        kill -TERM $hp 2>/dev/null; wait $hp 2>/dev/null || true
    }
    summary() { grep "^summary" "$bh/$1.out" || true; }
    statef() { "$PY" -c 'import json,sys
t=sys.stdin.read(); d=json.JSONDecoder().raw_decode(t[t.index("{"):])[0]
print(d["summary"]["release_fences_pending"], (d.get("display") or {}).get("host_held_buffers"))' <"$bh/$1.out" 2>/dev/null || true; }

    bad_run no-frames no-frames
    s=$(summary no-frames)
    if grep -q "^modeset .*event=timeout" "$bh/no-frames.out" && [[ "$s" == *"flips_ok=0"*"errors=EBUSY:5"* ]] && grep -q " 0 frame callbacks" "$bh/no-frames.out"; then
        ok "a host that never sends frame callbacks: the modeset's flip stays pending (no event), later flips EBUSY as on a kernel waiting for flip_done; ${s#summary }"
    else bad "host without frame callbacks" "$bh/no-frames.out"; fi

    bad_run no-release no-release
    s=$(summary no-release)
    read -r pending held <<<"$(statef no-release)"
    if [[ "$s" == *"flips_ok=5"*"release_signalled=0"*"release_pending=4"* ]] && [ "${pending:-x}" = 0 ] && [ "${held:-0}" -ge 2 ]; then
        ok "a host that never releases: 5 flips, every release fence pending while the client ran; after its close ctl state: release_fences_pending $pending, host_held_buffers $held"
    else bad "host without buffer releases (ctl state: pending=${pending:-?} held=${held:-?})" "$bh/no-release.out"; fi

    # ,tied with flips to the fb already on screen (a host that behaves): such a flip replaced
    # nothing, so it waits for no release (the host cannot release what it shows).
    BAD_OPTS=,tied BAD_FLIP=--same-fb bad_run tied-same close-after 1000
    s=$(summary tied-same)
    if [[ "$s" == *"flips_ok=5"*"timeouts=0"*"errors=none"* ]]; then
        ok "--backend wayland,tied: flips that re-show the fb on screen complete at the host's frame callbacks; ${s#summary }"
    else bad "--backend wayland,tied with the same fb" "$bh/tied-same.out"; fi

    bad_run close close-after 3
    s=$(summary close)
    if [[ "$s" == *"flips_ok=5"*"out_error=1"* ]] && grep -q "lost: the host closed CRTC 0's window" "$bh/close.out" &&
        grep -q "closes=1" "$bh/close.host"; then
        ok "the host closes the window after 3 frames: the pending out-fence fails (ENODEV), the card flips on without a host; ${s#summary }"
    else bad "host closing the window" "$bh/close.out"; sed 's/^/       | /' "$bh/close.host"; fi
else
    bad "build tests/clients/bad-host.c or kmsprobe.c" "$bh/cc.log"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
