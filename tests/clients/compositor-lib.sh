# Shared helpers for the compositor sessions (sourced by tests/clients/compositor-*.sh, which run
# *inside* `fakedrm run`, i.e. with the preload library and, when present, FAKEDRM_CONTROL).
# Every helper prints "key: value" lines that scripts/compositor-tests.sh asserts on.

comp_setup() {   # a private XDG_RUNTIME_DIR (mode 0700, owned by the user running the session)
    echo "uid: $(id -u)"
    comp_rc=1
    xdg=$(mktemp -d "${TMPDIR:-/tmp}/comp-xdg.XXXXXX")
    chmod 700 "$xdg"
    export XDG_RUNTIME_DIR=$xdg XDG_CACHE_HOME=$xdg HOME=${HOME:-$xdg}
    export WAYLAND_DISPLAY=wayland-1   # weston 10 and sway 1.7 both start numbering at 1
}

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

# weston 10: DRM backend, pixman, no input, no VT (seat1 + --drm-device), default desktop-shell.
weston_start() {
    weston --backend=drm-backend.so --use-pixman --continue-without-input --idle-time=0 \
        --seat=seat1 --drm-device=card0 --log="$xdg/compositor.log" "$@" &
    comp=$!
    comp_name=weston
}

# sway 1.7 / wlroots 0.15: DRM backend, pixman, libseat builtin (an embedded seatd fork opens the
# card and passes the fd to sway), no VT, no input devices; swaybg paints $1.
sway_start() {
    export LIBSEAT_BACKEND=builtin SEATD_VTBOUND=0 WLR_RENDERER=pixman WLR_BACKENDS=drm WLR_LIBINPUT_NO_DEVICES=1
    printf 'output * bg %s solid_color\n' "$1" >"$xdg/sway.conf"
    sway -d -c "$xdg/sway.conf" >"$xdg/compositor.log" 2>&1 &
    comp=$!
    comp_name=sway
}

wait_socket() {   # up to 15 s for the Wayland socket; prints the time it took
    local t0 i
    t0=$(ms_now)
    for i in $(seq 150); do
        [ -S "$xdg/$WAYLAND_DISPLAY" ] && { echo "socket_ms: $(( $(ms_now) - t0 ))"; return 0; }
        kill -0 "$comp" 2>/dev/null || break
        sleep 0.1
    done
    echo "socket_ms: none"
    return 1
}

# The newest completely written capture (frames are written in order by one queue, so every
# frame but the newest is complete). $1: label. Needs COMP_CAPTURE (the --capture directory).
mark_frame() {
    [ -n "${COMP_CAPTURE:-}" ] || return 0
    local f
    f=$(ls "$COMP_CAPTURE" | sort | tail -2 | head -1)
    echo "frame_$1: $f"
}

# Waits until the capture directory has a frame newer than the one named $1 (up to 5 s).
wait_new_frame() {
    [ -n "${COMP_CAPTURE:-}" ] || return 0
    local i
    for i in $(seq 50); do
        [ "$(ls "$COMP_CAPTURE" | sort | tail -1)" \> "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# SIGTERM to the compositor, bounded: prints its exit status, the time from SIGTERM to exit,
# and whether its child processes (weston-desktop-shell, weston-keyboard, swaybg, the builtin
# seatd fork) are gone within 3 s.
# wayland-info's wl_output block(s), prefixed "output: " (the current mode and its refresh).
output_info() {
    timeout 10 wayland-info 2>&1 | awk '/^interface: /{on = /'"'"'wl_output'"'"'/} on{print "output: " $0}'
}

comp_stop() {
    local kids t0 rc k left i
    kids=$(pgrep -P "$comp" | tr '\n' ' ')
    t0=$(ms_now)
    kill -TERM "$comp"
    # wait returns early on no signal of ours; a watchdog turns a hang into SIGKILL after 10 s.
    ( sleep 10; kill -KILL "$comp" 2>/dev/null ) &
    local dog=$!
    wait "$comp"
    rc=$?
    kill "$dog" 2>/dev/null; wait "$dog" 2>/dev/null
    comp_rc=$rc
    echo "${comp_name}_exit: $rc"
    echo "${comp_name}_stop_ms: $(( $(ms_now) - t0 ))"
    for i in $(seq 30); do
        left=""
        for k in $kids; do kill -0 "$k" 2>/dev/null && left="$left $k($(cat /proc/$k/comm 2>/dev/null))"; done
        [ -z "$left" ] && break
        sleep 0.1
    done
    echo "children: $(echo $kids | wc -w) left:${left:- none}"
}

# The compositor's log lines that matter (errors and DRM complaints), then the whole log to
# $COMP_LOG_OUT when set.
comp_log() {
    echo "--- ${comp_name} log (errors) ---"
    grep -E "$1" "$xdg/compositor.log" | head -${2:-20}
    echo "--- end ---"
    [ -n "${COMP_LOG_OUT:-}" ] && cp "$xdg/compositor.log" "$COMP_LOG_OUT"
    return 0
}

comp_cleanup() { rm -rf "$xdg"; }

comp_finish() { comp_cleanup; exit "$comp_rc"; }
