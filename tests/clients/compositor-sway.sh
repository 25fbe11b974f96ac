#!/bin/bash
# sway 1.7 (wlroots 0.15 DRM backend, pixman, libseat builtin), unmodified, on the card of
# `fakedrm run`; swaybg paints a solid background.
# Usage (inside fakedrm run): compositor-sway.sh desktop
#   desktop: wayland-info's wl_output; weston-presentation-shm (a 250x250 xdg toplevel with
#            min = max size, so sway floats and centres it) for ~3 s, the frame captured while
#            it runs is "frame_client", its per-frame lines are the pacing data; SIGTERM.
# (weston-simple-shm aborts on sway: "Both buffers busy at redraw(). Server bug?", the same on
# vkms; it keeps only two buffers and wlroots holds the one it shows.)
# Env: COMP_CAPTURE, COMP_LOG_OUT, SWAY_BG (default #336699).
set -u
. "$(dirname "$0")/compositor-lib.sh"
comp_setup
scenario=${1:-desktop}

sway_start "${SWAY_BG:-#336699}"
wait_socket || { comp_log .; kill -KILL "$comp" 2>/dev/null; comp_cleanup; exit 1; }
output_info

case $scenario in
desktop)
    timeout 3 stdbuf -oL weston-presentation-shm >"$xdg/pres.txt" 2>&1 &
    c=$!
    sleep 2
    mark_frame client
    wait $c; echo "presentation_shm_rc: $?"
    sed 's/^/pres: /' "$xdg/pres.txt"
    ;;
esac

comp_stop
comp_log "\[ERROR\]|[Ff]ailed"
comp_finish
