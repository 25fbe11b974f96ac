#!/bin/bash
# sway 1.7 (wlroots 0.15 DRM backend, pixman, libseat builtin), unmodified, on the card of
# `fakedrm run`; swaybg paints a solid background. Runs inside fakedrm run; prints
# "key: value" lines for scripts/compositor-tests.sh.
#
# Usage: compositor-sway.sh desktop | hotplug-fault | virtual-time | second-output
#   desktop       weston-presentation-shm (a 250x250 xdg toplevel with min = max size, so sway
#                 floats and centres it) for ~3 s: the frame captured while it runs is
#                 "frame_client", its lines are "pres:"; SIGTERM; "state_idle"/"state_after".
#   hotplug-fault the background (ctl capture), Virtual-1 disconnected and connected again, the
#                 background again; presentation-shm while "ioctl name=MODE_ATOMIC errno=EBUSY
#                 count=3" is injected; SIGTERM; sway started and stopped once more.
#   second-output on the two-head card: Virtual-2 plugged in and out (compositor-lib.sh).
#   virtual-time  under --virtual-time: presentation-shm for 1.5 s, flat out.
# (weston-simple-shm aborts on sway: "Both buffers busy at redraw(). Server bug?", the same on
# vkms; it keeps only two buffers and wlroots holds the one it shows.)
# Env: COMP_FAKEDRM, COMP_CAPTURE, COMP_OUT, COMP_LOG_OUT, SWAY_BG (default #336699).
set -u
. "$(dirname "$0")/compositor-lib.sh"
comp_setup
scenario=${1:-desktop}
pres="$xdg/pres.txt"
bg=${SWAY_BG:-#336699}

state_line idle
sway_start "$bg"
wait_socket || { comp_log .; kill -KILL "$comp" 2>/dev/null; comp_cleanup; exit 1; }
output_info

case $scenario in
desktop)
    timeout 3 stdbuf -oL weston-presentation-shm >"$pres" 2>&1 &
    c=$!
    sleep 2
    mark_frame client
    wait $c; echo "presentation_shm_rc: $?"
    sed 's/^/pres: /' "$pres"
    comp_stop
    state_after after
    ;;
second-output)
    wait_scanout 5
    second_output sway-bg "${bg#\#}"
    comp_stop
    state_after after
    ;;
hotplug-fault)
    wait_scanout 5
    capture_check background 3 sway-bg "${bg#\#}"
    hotplug_cycle
    capture_check reconnected 4 sway-bg "${bg#\#}"
    state_line reconnected
    stdbuf -oL weston-presentation-shm >"$pres" 2>&1 &
    p=$!
    fault_while_animating "ioctl name=MODE_ATOMIC errno=EBUSY count=3"
    late_flip
    kill $p; wait $p 2>/dev/null
    sed 's/^/pres: /' "$pres"
    comp_stop
    state_after after
    cp "$xdg/compositor.log" "$xdg/compositor1.log"
    sway_start "$bg"
    comp_name=sway_restart
    wait_socket && wait_scanout 5 && echo "restart_scanout: ok"
    comp_stop
    state_after after2
    cp "$xdg/compositor1.log" "$xdg/compositor.log"
    comp_name=sway
    ;;
virtual-time)
    timeout 1.5 stdbuf -oL weston-presentation-shm >"$pres" 2>&1
    echo "presentation_shm_rc: $?"
    sed 's/^/pres: /' "$pres"
    comp_stop
    state_after after
    ;;
esac

comp_log "\[ERROR\]|[Ff]ailed|busy"
comp_finish
