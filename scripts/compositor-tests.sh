#!/bin/bash
# Real compositors on fakedrm, unmodified (issue 8): weston 10 (DRM backend, pixman,
# desktop-shell) and sway 1.7 (wlroots 0.15, pixman, libseat builtin) under `fakedrm run`, each
# with a Wayland client inside, checked in the frames fakedrm captured and in the presentation
# timing the client reports; then through the control socket (`fakedrm ctl`): the card's state
# after they exit, hotplug, vblank stepping, an injected fault. Run as root, everything (card
# and compositor) runs as `nobody`. See docs/compositors.md.
#
# Usage: scripts/compositor-tests.sh        (builds with swift build --scratch-path $SCRATCH)
#        FAKEDRM_BIN=/path/to/fakedrm scripts/compositor-tests.sh
# Env: SCRATCH (default .build), KEEP=1 keeps the work directory (frames, logs).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
T="$root/tests/clients"
. scripts/test-env.sh
make_work compositor-tests
if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi
RUN=("${AS[@]}" "$FAKEDRM_BIN" run)
ENV=(env COMP_FAKEDRM="$FAKEDRM_BIN" COMP_OUT="$work/out")
mkdir -m 0777 "$work/out"

pass=0
fail=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); [ -n "${2:-}" ] && grep -v "^pres: " "$2" | sed 's/^/       | /' | head -${3:-40}; }
field() { sed -n "s/^$1: //p" "$2" | head -1; }
check() { "$PY" "$T/compositor-check.py" "$@"; }

# A session as nobody: no uid 0, compositor exit 0 within 3 s of SIGTERM, its helpers gone.
clean_stop() {   # $1 name, $2 session output
    local uid rc ms left
    uid=$(field uid "$2"); rc=$(field "$1_exit" "$2"); ms=$(field "$1_stop_ms" "$2"); left=$(field children "$2")
    if [ -n "$uid" ] && { [ "$(id -u)" != 0 ] || [ "$uid" != 0 ]; } && [ "$rc" = 0 ] && [ -n "$ms" ] && [ "$ms" -lt 3000 ] &&
        [[ "$left" == *"left: none"* ]]; then
        ok "$1: SIGTERM -> exit 0 in $ms ms as uid $uid, child processes ($left) gone"
    else bad "$1 shutdown (uid=$uid exit=$rc stop_ms=$ms children: $left)" "$2"; fi
}

# The card after the compositor exited: every per-client counter 0 (and, with a restart, the
# object count stable); then the object count against what the kernel would keep (the idle
# card plus the mode blob of a CRTC left lit; a blob kept alive by state, e.g. FB_DAMAGE_CLIPS
# carried from commit to commit, shows up here).
after_exit() {   # $1 name, $2 session output, [$3: label of a second run]
    if check leak "$2" idle after ${3:-} >"$work/$1-leak.txt" 2>&1; then
        ok "$1 exited: card state clean ($(tr '\n' ' ' <"$work/$1-leak.txt"))"
    else bad "$1: card state after exit" "$work/$1-leak.txt"; fi
    if check kernel-objects "$2" idle after >"$work/$1-objects.txt" 2>&1; then
        ok "$1 exited: $(head -1 "$work/$1-objects.txt")"
    else bad "$1 exited: object count not what the kernel keeps" "$work/$1-objects.txt"; fi
}

# hotplug / fault lines of a session
hotplug_ok() {   # $1 name, $2 session output, $3 capture label before, $4 check description
    local c1 c2
    c1=$(field "capture_$3" "$2"); c2=$(field capture_reconnected "$2")
    if [[ "$c1" == ok* ]] && [ "$(field hotplug_disconnected "$2")" = ok ] && [ "$(field alive_disconnected "$2")" = yes ] &&
        [ "$(field hotplug_connected "$2")" = ok ] && [[ "$c2" == ok* ]]; then
        ok "$1: hotplug Virtual-1 disconnected -> wl_output withdrawn, $1 alive; connected -> wl_output back, $4 in a ctl capture again (${c2%%:*})"
    else bad "$1 hotplug (before: $c1; after: $c2)" "$2"; fi
}

have() { for c in "$@"; do command -v "$c" >/dev/null || { echo "skip - needs $c"; return 1; }; done; }

# pacing_ok NAME OUTPUT: presentation-shm's lines in OUTPUT, in real time, on the vblank grid.
pacing_ok() {
    if check pacing "$2" --min-frames 30 >"$work/$1-pacing.txt" 2>&1; then
        ok "$1: weston-presentation-shm, real time: $(head -1 "$work/$1-pacing.txt")"
    else bad "$1 presentation-shm pacing" "$work/$1-pacing.txt"; grep "^pres: " "$2" | head -5; fi
}

# late_flip_ok NAME OUTPUT: the 250 ms late flip was injected once, shows as one long
# presentation interval, and the client kept presenting.
late_flip_ok() {
    local l inj fr mx
    l=$(field late_flip "$2")
    inj=$(echo "$l" | grep -o 'injections=[0-9]*' | cut -d= -f2)
    fr=$(echo "$l" | grep -o 'frames=[0-9]*' | cut -d= -f2)
    mx=$(echo "$l" | grep -o 'max_p2p_us=[0-9]*' | cut -d= -f2)
    if [ "${inj:-0}" = 1 ] && [ "${fr:-0}" -ge 30 ] && [ "${mx:-0}" -ge 250000 ]; then
        ok "$1: a flip 250 ms late (commit-late ms=250 once): one presentation interval of $((mx / 1000)) ms, then $fr more frames"
    else bad "$1 late flip ($l)" "$2"; fi
}

# --- weston 10: desktop-shell + weston-simple-shm, then weston-presentation-shm ------------------
if have weston wayland-info weston-simple-shm weston-presentation-shm stdbuf; then
    cap="$work/weston-cap"; mkdir -m 0777 "$cap"; out="$work/weston.txt"
    t0=$SECONDS
    timeout 60 "${RUN[@]}" --capture "$cap" -- "${ENV[@]}" COMP_CAPTURE="$cap" COMP_LOG_OUT="$work/weston.log" \
        "$T/compositor-weston.sh" desktop >"$out" 2>&1
    rc=$?
    echo "       weston session: rc=$rc, $((SECONDS - t0)) s, $(ls "$cap" | wc -l) frames captured"
    f=$(field frame_client "$out")
    if [ $rc = 0 ] && [ -n "$f" ] && check weston-desktop "$cap/$f" >"$work/weston-px.txt" 2>&1; then
        ok "weston: desktop-shell panel + background and weston-simple-shm's window in $f ($(grep -h 'white bbox\|interior' "$work/weston-px.txt" | tr '\n' ' '))"
    else bad "weston desktop + simple-shm (rc=$rc, frame=${f:-none})" "$work/weston-px.txt"; grep -v "^pres: " "$out" | sed 's/^/       | /' | head -30; fi
    pacing_ok weston "$out"
    clean_stop weston "$out"
    after_exit weston "$out"
fi

# --- weston's gl-renderer: Mesa llvmpipe through GBM on the card ------------------------------
# Mesa finds no fakedrm_dri.so and falls back to kms_swrast (llvmpipe, dumb buffers + PRIME).
if have weston wayland-info weston-simple-shm weston-presentation-shm stdbuf; then
    cap="$work/weston-gl-cap"; mkdir -m 0777 "$cap"; out="$work/weston-gl.txt"
    timeout 60 "${RUN[@]}" --capture "$cap" -- "${ENV[@]}" COMP_RENDERER=gl COMP_CAPTURE="$cap" COMP_LOG_OUT="$work/weston-gl.log" \
        "$T/compositor-weston.sh" desktop >"$out" 2>&1
    rc=$?
    f=$(field frame_client "$out")
    if [ $rc = 0 ] && [ -n "$f" ] && grep -q "gl-renderer" "$work/weston-gl.log" && check weston-desktop "$cap/$f" >"$work/weston-gl-px.txt" 2>&1; then
        ok "weston gl-renderer (llvmpipe): panel + background and weston-simple-shm's window in $f ($(grep -h 'white bbox' "$work/weston-gl-px.txt"))"
    else bad "weston gl-renderer (rc=$rc, frame=${f:-none})" "$work/weston-gl-px.txt"; grep -v "^pres: " "$out" | sed 's/^/       | /' | head -20; fi
fi

# --- weston on a shared daemon: drm_info and ctl capture from other processes -----------------
# fakedrm serve, weston through `fakedrm run --attach`; then drm_info -j (another
# `run --attach`) sees weston's mode and framebuffer on the CRTC, and `fakedrm ctl capture` on the
# daemon's control socket shows weston's desktop.
if have weston wayland-info; then
    sock="$work/shared.sock" out="$work/weston-shared.txt"
    "${AS[@]}" "$FAKEDRM_BIN" serve --socket "$sock" 2>"$work/shared-serve.log" &
    spid=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    timeout 60 "${AS[@]}" "$FAKEDRM_BIN" run --attach "$sock" -- "${ENV[@]}" COMP_DONE="$work/shared.done" \
        "$T/compositor-weston.sh" shared >"$out" 2>&1 &
    wpid=$!
    for _ in $(seq 200); do grep -q "^ready: yes" "$out" && break; kill -0 $wpid 2>/dev/null || break; sleep 0.1; done
    timeout 30 "${AS[@]}" "$FAKEDRM_BIN" run --attach "$sock" -- drm_info -j >"$work/shared-drm_info.json" 2>"$work/shared-drm_info.err"
    # desktop-shell fades in: capture until the desktop shows (5 s at most).
    for _ in $(seq 25); do
        "${AS[@]}" "$FAKEDRM_BIN" ctl --control "$sock.control" capture "$work/out/shared.png" >>"$out" 2>&1 &&
            check weston-desktop-only "$work/out/shared.png" >"$work/shared-px.txt" 2>&1 && break
        sleep 0.2
    done
    "$PY" - "$work/shared-drm_info.json" >"$work/shared-check.txt" 2>&1 <<'EOF'
import json, sys
n = json.load(open(sys.argv[1]))["/dev/dri/card0"]
crtc = n["crtcs"][0]
assert crtc["mode"] and crtc["mode"]["hdisplay"] == 1024 and crtc["mode"]["vdisplay"] == 768, crtc["mode"]
fb = crtc["fb_id"] or next(p["fb_id"] for p in n["planes"] if p["crtc_id"] == crtc["id"])
assert fb != 0, crtc
print("drm_info: CRTC %d shows 1024x768, fb %d" % (crtc["id"], fb))
EOF
    drc=$?
    touch "$work/shared.done"
    wait $wpid
    wrc=$?
    kill $spid 2>/dev/null; wait $spid 2>/dev/null
    cat "$work/shared-px.txt" >>"$work/shared-check.txt"
    if [ $wrc = 0 ] && [ $drc = 0 ] && check weston-desktop-only "$work/out/shared.png" >/dev/null 2>&1; then
        ok "weston on a shared daemon (run --attach): $(head -1 "$work/shared-check.txt") from a second process; ctl capture shows the desktop"
    else bad "weston on a shared daemon (weston rc=$wrc, drm_info check rc=$drc)" "$work/shared-check.txt"; sed 's/^/       | /' "$out" | head -20; fi
fi

# --- weston: hotplug, a commit fault, restart --------------------------------------------------
if have weston wayland-info weston-presentation-shm stdbuf; then
    out="$work/weston-hotplug.txt"
    timeout 60 "${RUN[@]}" -- "${ENV[@]}" COMP_LOG_OUT="$work/weston-hotplug.log" "$T/compositor-weston.sh" hotplug-fault >"$out" 2>&1
    echo "       weston hotplug/fault session: rc=$?"
    hotplug_ok weston "$out" desktop "panel + background"
    late_flip_ok weston "$out"
    inj=$(field fault_injections "$out"); rec=$(field fault_recovery "$out"); rec=${rec%% *}
    if [ "${inj:-0}" -ge 1 ] && [ "$(field alive_fault "$out")" = yes ] && [ "$(field wayland_after_fault "$out")" = ok ] &&
        grep -q "couldn't commit new state: Device or resource busy" "$out" && [ "$(field after_fault_hotplug_connected "$out")" = ok ] &&
        [ "${rec:-0}" -ge 30 ]; then
        ok "weston: fault \"commit-fail errno=EBUSY count=3\": $inj injected, weston logs \"$(grep -o "atomic: couldn't commit.*" "$out" | head -1)\" and stays up; $(field fault_frames "$out") (weston 10 stops repainting after a failed repaint-flush); after a hotplug cycle presentation-shm runs again ($rec frames)"
    else bad "weston under a commit fault (injections=$inj, recovery=$rec)" "$out"; fi
    if [ "$(field restart_scanout "$out")" = ok ] && [ "$(field weston_restart_exit "$out")" = 0 ] && check leak "$out" idle after after2 >"$work/weston-restart.txt" 2>&1; then
        ok "weston restarted on the same card: scanout again, exit 0, $(tail -1 "$work/weston-restart.txt")"
    else bad "weston restart" "$work/weston-restart.txt"; fi
fi

# --- weston: presentation-shm in virtual time, driven by fakedrm ctl vblank -------------------
if have weston wayland-info weston-presentation-shm stdbuf; then
    out="$work/weston-vblank.txt"
    timeout 60 "${RUN[@]}" --manual-vblank -- "${ENV[@]}" "$T/compositor-weston.sh" vblank >"$out" 2>&1
    echo "       weston vblank session: rc=$?"
    sf=$(field step_frames "$out"); fr=$(field frozen "$out"); r=$(field rate_120 "$out"); rs=$(field restart_flips "$out")
    rv=$(echo "$r" | awk '{print $1}'); rf=$(echo "$r" | awk '{print $3}')
    if [ "$sf" = "30 steps, 30 frames, 0 steps without a frame" ] && [[ "$fr" == "30 -> 30 "* ]] &&
        [ -n "$rv" ] && [ "$rv" -ge 60 ] && [ "$rv" -le 180 ] && [ "$rf" -ge $((rv / 2)) ] && [ "$rf" -le $((rv + 1)) ] &&
        check pacing "$out" --virtual >"$work/weston-vblank-pacing.txt" 2>&1; then
        ok "weston --manual-vblank: ctl vblank step -> $sf (and ${rs:-0} more steps completed weston's repaint-loop restart, a flip of the fb on screen); no step -> no frame; vblank rate 120 for 1 s -> $r; $(cut -d';' -f1-2 "$work/weston-vblank-pacing.txt")"
    else bad "weston vblank stepping (steps: $sf; frozen: $fr; rate: $r)" "$out"; cat "$work/weston-vblank-pacing.txt" 2>/dev/null | tail -2; fi
fi

# --- sway 1.7: swaybg + weston-presentation-shm -------------------------------------------------
if have sway swaybg wayland-info weston-presentation-shm stdbuf; then
    cap="$work/sway-cap"; mkdir -m 0777 "$cap"; out="$work/sway.txt"
    t0=$SECONDS
    timeout 60 "${RUN[@]}" --capture "$cap" -- "${ENV[@]}" COMP_CAPTURE="$cap" COMP_LOG_OUT="$work/sway.log" SWAY_BG="#336699" \
        "$T/compositor-sway.sh" desktop >"$out" 2>&1
    rc=$?
    echo "       sway session: rc=$rc, $((SECONDS - t0)) s, $(ls "$cap" | wc -l) frames captured"
    f=$(field frame_client "$out")
    if [ $rc = 0 ] && [ -n "$f" ] && check sway-client "$cap/$f" 336699 >"$work/sway-px.txt" 2>&1; then
        ok "sway: swaybg #336699 and weston-presentation-shm's floating window in $f ($(grep -h 'bbox\|window pixels' "$work/sway-px.txt" | tr '\n' ' '))"
    else bad "sway background + client (rc=$rc, frame=${f:-none})" "$work/sway-px.txt"; grep -v "^pres: " "$out" | sed 's/^/       | /' | head -30; fi
    pacing_ok sway "$out"
    clean_stop sway "$out"
    after_exit sway "$out"
fi

# --- sway with WLR_RENDERER=gles2 (llvmpipe) ----------------------------------------------------
if have sway swaybg wayland-info weston-presentation-shm stdbuf; then
    cap="$work/sway-gl-cap"; mkdir -m 0777 "$cap"; out="$work/sway-gl.txt"
    timeout 60 "${RUN[@]}" --capture "$cap" -- "${ENV[@]}" COMP_RENDERER=gl COMP_CAPTURE="$cap" COMP_LOG_OUT="$work/sway-gl.log" SWAY_BG="#336699" \
        "$T/compositor-sway.sh" desktop >"$out" 2>&1
    rc=$?
    f=$(field frame_client "$out")
    # About one run in five, sway 1.7 + Mesa 22.3 ignores SIGTERM: its main thread is left with
    # every signal blocked (Mesa's thread-creation mask, SigBlk fffffffe3ffbfaff) and SIGTERM
    # stays pending; nothing of the card's is outstanding then. Reported, not failed.
    sigs=$(field sway_signals "$out")
    if [ $rc = 137 ] && [[ "$sigs" == *"SigBlk: fffffffe3ffbfaff"* ]]; then
        echo "known - sway gles2: SIGTERM blocked in sway's main thread ($sigs), killed after 10 s"; rc=0
    fi
    if [ $rc = 0 ] && [ -n "$f" ] && grep -q "Creating GLES2 renderer" "$work/sway-gl.log" && check sway-client "$cap/$f" 336699 >"$work/sway-gl-px.txt" 2>&1; then
        ok "sway gles2 (llvmpipe): swaybg #336699 and weston-presentation-shm's window in $f ($(grep -h 'bbox' "$work/sway-gl-px.txt" | head -1))"
    else bad "sway gles2 (rc=$rc, frame=${f:-none})" "$work/sway-gl-px.txt"; grep -v "^pres: " "$out" | sed 's/^/       | /' | head -20; fi
fi

# --- sway: hotplug, an ioctl fault, restart ---------------------------------------------------
if have sway swaybg wayland-info weston-presentation-shm stdbuf; then
    out="$work/sway-hotplug.txt"
    timeout 60 "${RUN[@]}" -- "${ENV[@]}" COMP_LOG_OUT="$work/sway-hotplug.log" SWAY_BG="#336699" "$T/compositor-sway.sh" hotplug-fault >"$out" 2>&1
    echo "       sway hotplug/fault session: rc=$?"
    hotplug_ok sway "$out" background "#336699"
    late_flip_ok sway "$out"
    inj=$(field fault_injections "$out"); ff=$(field fault_frames "$out"); after=$(echo "$ff" | awk '{print $3}')
    if [ "${inj:-0}" = 3 ] && [ "$(field alive_fault "$out")" = yes ] && grep -q "Atomic .* failed .*Device or resource busy" "$out" &&
        [ "${after:-0}" -ge 30 ]; then
        ok "sway: fault \"ioctl name=MODE_ATOMIC errno=EBUSY count=3\": 3 injected, wlroots logs \"$(grep -o "Atomic .* failed.*" "$out" | head -1)\" and keeps presenting ($ff)"
    else bad "sway under an ioctl fault (injections=$inj, frames: $ff)" "$out"; fi
    if [ "$(field restart_scanout "$out")" = ok ] && [ "$(field sway_restart_exit "$out")" = 0 ] && check leak "$out" idle after after2 >"$work/sway-restart.txt" 2>&1; then
        ok "sway restarted on the same card: scanout again, exit 0, $(tail -1 "$work/sway-restart.txt")"
    else bad "sway restart" "$work/sway-restart.txt"; fi
fi

# --- a second head plugged in while they run (tests/clients/two-heads.yaml) --------------------
second_ok() {   # $1 name, $2 session output, $3 what the second head shows
    local out=$2
    if [ "$(field second_connected "$out")" = ok ] && [[ "$(field capture_second "$out")" == ok* ]] &&
        [ "$(field second_disconnected "$out")" = ok ] && [ "$(field alive_second "$out")" = yes ] &&
        check leak "$out" idle after >"$work/$1-second-leak.txt" 2>&1; then
        ok "$1: Virtual-2 plugged in (800x600) -> a second wl_output, $3 on CRTC 1 ($(field capture_second "$out" | cut -d: -f1)); unplugged -> one output; exit leaves nothing"
    else bad "$1 second head" "$out"; cat "$work/$1-second-leak.txt" 2>/dev/null | sed 's/^/       | /'; fi
}
if have weston wayland-info stdbuf; then
    out="$work/weston-second.txt"
    timeout 60 "${RUN[@]}" --config "$T/two-heads.yaml" -- "${ENV[@]}" "$T/compositor-weston.sh" second-output >"$out" 2>&1
    echo "       weston second-head session: rc=$?"
    second_ok weston "$out" "panel + background"
fi
if have sway swaybg wayland-info stdbuf; then
    out="$work/sway-second.txt"
    timeout 60 "${RUN[@]}" --config "$T/two-heads.yaml" -- "${ENV[@]}" SWAY_BG="#336699" "$T/compositor-sway.sh" second-output >"$out" 2>&1
    echo "       sway second-head session: rc=$?"
    second_ok sway "$out" "#336699"
fi

# --- sway: presentation-shm in virtual time (flat out) ---------------------------------------
if have sway swaybg wayland-info weston-presentation-shm stdbuf; then
    out="$work/sway-virtual.txt"
    timeout 60 "${RUN[@]}" --virtual-time -- "${ENV[@]}" "$T/compositor-sway.sh" virtual-time >"$out" 2>&1
    echo "       sway virtual-time session: rc=$?"
    # 1.5 s of real time; more than twice what 60 Hz real time allows
    if check pacing "$out" --virtual --every-vblank --min-frames 180 >"$work/sway-virtual-pacing.txt" 2>&1 && [ "$(field sway_exit "$out")" = 0 ]; then
        ok "sway --virtual-time: weston-presentation-shm in 1.5 s: $(cut -d';' -f1-2 "$work/sway-virtual-pacing.txt")"
    else bad "sway virtual time" "$work/sway-virtual-pacing.txt"; fi
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
