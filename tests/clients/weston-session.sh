#!/bin/bash
# Runs weston's DRM backend (pixman, no input, no VT: seat1 + --drm-device) on the card of
# `fakedrm run`, asks wayland-info for the output, then stops weston with SIGTERM.
# Prints wayland-info's wl_output block and "weston exit=N".
set -u
xdg=$(mktemp -d "${TMPDIR:-/tmp}/weston-xdg.XXXXXX")
chmod 700 "$xdg"
export XDG_RUNTIME_DIR=$xdg XDG_CACHE_HOME=$xdg
weston --backend=drm-backend.so --use-pixman --continue-without-input --idle-time=0 \
       --seat=seat1 --drm-device=card0 --log="$xdg/weston.log" &
w=$!
for _ in $(seq 100); do [ -S "$xdg/wayland-1" ] && break; sleep 0.1; done
WAYLAND_DISPLAY=wayland-1 timeout 10 wayland-info 2>&1 | grep -A4 "'wl_output'"
sleep 1   # a few frames for the capture (the clock ticks, the panel is drawn)
kill -TERM "$w"
wait "$w"
echo "weston exit=$?"
grep -E "fatal|Failed|failed" "$xdg/weston.log" | head -5
rm -rf "$xdg"
