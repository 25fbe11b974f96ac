#!/bin/bash
# weston 10 (DRM backend, pixman, desktop-shell), unmodified, on the card of `fakedrm run`.
# Usage (inside fakedrm run): compositor-weston.sh desktop
#   desktop: wayland-info's wl_output; weston-simple-shm for ~3 s (the frame captured while it
#            runs is named "frame_client"); then weston-presentation-shm for ~3 s (its
#            per-frame lines are the pacing data); SIGTERM; exit status, stop time, children.
# Env: COMP_CAPTURE (the --capture directory, for the frame names), COMP_LOG_OUT (weston.log copy).
set -u
. "$(dirname "$0")/compositor-lib.sh"
comp_setup
scenario=${1:-desktop}

weston_start
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
    timeout 3 stdbuf -oL weston-presentation-shm >"$xdg/pres.txt" 2>&1
    echo "presentation_shm_rc: $?"
    sed 's/^/pres: /' "$xdg/pres.txt"
    ;;
esac

comp_stop
comp_log "fatal|[Ff]ailed|rror|WARN|insane"
comp_finish
