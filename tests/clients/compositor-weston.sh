#!/bin/bash
# weston 10 (DRM backend, pixman, desktop-shell), unmodified, on the card of `fakedrm run`.
# Runs inside fakedrm run; prints "key: value" lines for scripts/compositor-tests.sh.
#
# Usage: compositor-weston.sh desktop | hotplug-fault | vblank | second-output
#   desktop       weston-simple-shm for ~3 s (the frame captured while it runs is
#                 "frame_client"), then weston-presentation-shm for ~3 s ("pres:" lines);
#                 SIGTERM; the card's state before and after ("state_idle", "state_after").
#   hotplug-fault the desktop (ctl capture), Virtual-1 disconnected and connected again, the
#                 desktop again; presentation-shm while "commit-fail errno=EBUSY count=3" is
#                 injected, then (rules cleared) a hotplug cycle; SIGTERM; weston started and
#                 stopped once more ("state_after2").
#   second-output on the two-head card: Virtual-2 plugged in and out (compositor-lib.sh).
#   shared        on a shared daemon (fakedrm run --attach): "ready: yes" once weston scans
#                 out, then weston keeps running until the file $COMP_DONE appears (30 s at most).
#   window        for scripts/wayland-host-tests.sh: "control: $FAKEDRM_CONTROL", "ready: yes" once
#                 weston scans out, weston-simple-shm until the file $COMP_DONE appears (40 s at
#                 most), the wl_output count then, SIGTERM, the card's state after.
#   vblank        under --manual-vblank: presentation-shm advanced by `fakedrm ctl vblank step`
#                 one vblank at a time, then by `vblank rate 120` for 1 s, then frozen (rate 0).
# Env: COMP_FAKEDRM (fakedrm executable, for ctl), COMP_CAPTURE (the --capture directory),
#      COMP_OUT (a directory for ctl captures), COMP_LOG_OUT (copy of weston.log),
#      COMP_WESTON_CONFIG (a weston.ini for weston --config).
set -u
. "$(dirname "$0")/compositor-lib.sh"
comp_setup
scenario=${1:-desktop}
pres="$xdg/pres.txt"

state_line idle
weston_start ${COMP_WESTON_CONFIG:+--config="$COMP_WESTON_CONFIG"}
wait_socket || { comp_log .; kill -KILL "$comp" 2>/dev/null; comp_cleanup; exit 1; }
output_info

case $scenario in
desktop)
    timeout 3 weston-simple-shm &
    c=$!
    sleep 2.5   # desktop-shell fades new windows in
    mark_frame client
    wait $c; echo "simple_shm_rc: $?"
    # presentation-shm prints one line per presented frame (stdbuf: line-buffered, so nothing
    # is lost when timeout stops it).
    timeout 3 stdbuf -oL weston-presentation-shm >"$pres" 2>&1
    echo "presentation_shm_rc: $?"
    sed 's/^/pres: /' "$pres"
    comp_stop
    state_after after
    ;;
shared)
    wait_scanout 5
    echo "ready: yes"
    for _ in $(seq 300); do [ -e "$COMP_DONE" ] && break; sleep 0.1; done
    comp_stop
    ;;
window)
    echo "control: ${FAKEDRM_CONTROL:-}"
    echo "weston_pid: $comp"
    wait_scanout 5 && echo "ready: yes"
    weston-simple-shm &
    c=$!
    for _ in $(seq 400); do [ -e "$COMP_DONE" ] && break; sleep 0.1; done
    alive "$c" && echo "simple_shm: running"
    kill $c 2>/dev/null; wait $c 2>/dev/null
    echo "outputs_end: $(timeout 5 wayland-info 2>/dev/null | grep -c "'wl_output'")"
    comp_stop
    state_after after
    ;;
second-output)
    wait_scanout 5
    second_output weston-desktop-only
    comp_stop
    state_after after
    ;;
hotplug-fault)
    wait_scanout 5
    capture_check desktop 3 weston-desktop-only
    hotplug_cycle
    capture_check reconnected 4 weston-desktop-only
    state_line reconnected
    # a fault while a client animates
    stdbuf -oL weston-presentation-shm >"$pres" 2>&1 &
    p=$!
    fault_while_animating "commit-fail errno=EBUSY count=3"
    timeout 5 wayland-info >/dev/null 2>&1 && echo "wayland_after_fault: ok"
    # recovery: a hotplug cycle makes weston set the output up again
    hotplug_cycle after_fault_
    n2=$(frames_in "$pres")
    wait_frames "$pres" $((n2 + 30)) 3
    echo "fault_recovery: $(( $(frames_in "$pres") - n2 )) frames after the hotplug cycle"
    late_flip
    kill $p; wait $p 2>/dev/null
    sed 's/^/pres: /' "$pres"
    comp_stop
    state_after after
    cp "$xdg/compositor.log" "$xdg/compositor1.log"
    # the same compositor once more on the same card: nothing may pile up
    weston_start
    comp_name=weston_restart
    wait_socket && wait_scanout 5 && echo "restart_scanout: ok"
    comp_stop
    state_after after2
    cp "$xdg/compositor1.log" "$xdg/compositor.log"
    comp_name=weston
    ;;
vblank)
    stdbuf -oL weston-presentation-shm >"$pres" 2>&1 &
    p=$!
    i=0
    while [ "$(frames_in "$pres")" -lt 1 ] && [ $i -lt 200 ]; do ctl vblank step >/dev/null; sleep 0.02; i=$((i + 1)); done
    echo "steps_to_first_frame: $i"
    n0=$(frames_in "$pres")
    # "PENDING FB": whether CRTC 0 has a commit waiting for a vblank, and the primary's fb.
    primary() { ctl state | python3 -c 'import json,sys; s=json.load(sys.stdin); print(int(s["crtcs"][0]["pending_commit"]), next(p["fb_id"] for p in s["planes"] if p["type"] == "primary"))'; }
    st=$(primary); shown=; [ "${st%% *}" = 0 ] && shown=${st#* }
    miss=0; k=0; steps=0; restarts=0
    while [ $k -lt 30 ] && [ $steps -lt 60 ]; do
        b=$(frames_in "$pres")
        # Step once weston's next flip is queued: a vblank with nothing pending shows nothing
        # on a real card either, and when weston commits depends on this machine's load.
        st="0 $shown"
        for _ in $(seq 100); do st=$(primary); [ "${st%% *}" = 1 ] && break; sleep 0.01; done
        fb=${st#* }
        ctl vblank step >/dev/null; steps=$((steps + 1))
        if wait_frames "$pres" "$b" 1; then k=$((k + 1))
        elif [ "${st%% *}" = 1 ] && [ "$fb" = "$shown" ]; then
            # weston restarting its repaint loop from idle flips the fb already on screen to
            # learn when the next vblank is (its vblank timestamp is stale while time is
            # stepped): that flip completes with no new picture, on a real card too.
            restarts=$((restarts + 1))
        else k=$((k + 1)); miss=$((miss + 1)); fi
        shown=$fb
    done
    sleep 0.3
    n1=$(frames_in "$pres")
    echo "restart_flips: $restarts"
    echo "step_frames: $k steps, $((n1 - n0)) frames, $miss steps without a frame"
    sleep 0.5
    echo "frozen: $((n1 - n0)) -> $(( $(frames_in "$pres") - n0 )) frames after 0.5 s without a step"
    v0=$(ctl state | python3 "$COMP_CHECK" state-line | python3 -c 'import json,sys; print(json.load(sys.stdin)["crtcs"][0]["vblank"])')
    f0=$(frames_in "$pres")
    ctl vblank rate 120 >/dev/null
    sleep 1
    ctl vblank rate 0 >/dev/null
    sleep 0.2
    v1=$(ctl state | python3 "$COMP_CHECK" state-line | python3 -c 'import json,sys; print(json.load(sys.stdin)["crtcs"][0]["vblank"])')
    f1=$(frames_in "$pres")
    echo "rate_120: $((v1 - v0)) vblanks, $((f1 - f0)) frames in 1 s"
    kill $p; wait $p 2>/dev/null
    sed 's/^/pres: /' "$pres"
    ctl vblank rate 60 >/dev/null   # let weston's last commits complete while it exits
    comp_stop
    state_after after
    ;;
esac

comp_log "fatal|[Ff]ailed|rror|busy|insane"
comp_finish
