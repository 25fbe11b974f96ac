#!/bin/bash
# Runs sway 1.7 (wlroots 0.15, DRM backend, pixman) on the card of `fakedrm run`: libseat's
# builtin backend (an embedded seatd fork opens the card and passes the fd to sway, which the
# preload library adopts), a config that paints a solid #336699 background with swaybg; asks
# wayland-info for the output, captures with grim when installed, then stops sway with SIGTERM.
# Prints wayland-info's wl_output block, grim's result and "sway exit=N".
set -u
xdg=$(mktemp -d "${TMPDIR:-/tmp}/sway-xdg.XXXXXX")
chmod 700 "$xdg"
export XDG_RUNTIME_DIR=$xdg HOME=$xdg XDG_CACHE_HOME=$xdg
export LIBSEAT_BACKEND=builtin SEATD_VTBOUND=0 WLR_RENDERER=pixman WLR_BACKENDS=drm WLR_LIBINPUT_NO_DEVICES=1
printf 'output * bg #336699 solid_color\n' >"$xdg/sway.conf"
sway -d -c "$xdg/sway.conf" >"$xdg/sway.log" 2>&1 &
s=$!
for _ in $(seq 150); do [ -S "$xdg/wayland-1" ] && break; sleep 0.1; done
sleep 1   # swaybg connects and paints
WAYLAND_DISPLAY=wayland-1 timeout 10 wayland-info 2>&1 | grep -A4 "'wl_output'"
if command -v grim >/dev/null; then
    WAYLAND_DISPLAY=wayland-1 timeout 10 grim "${SWAY_GRIM_OUT:-$xdg/grim.png}" && echo "grim ok"
fi
kill -TERM "$s"
wait "$s"
echo "sway exit=$?"
if [ -n "${SWAY_LOG_OUT:-}" ]; then cp "$xdg/sway.log" "$SWAY_LOG_OUT"; fi
grep -E "\[ERROR\]|Failed|failed" "$xdg/sway.log" | head -10
rm -rf "$xdg"
