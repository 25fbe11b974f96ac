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

# weston 10: DRM backend, pixman (COMP_RENDERER=gl: its default gl-renderer, Mesa's llvmpipe
# through GBM), no input, no VT (seat1 + --drm-device), default desktop-shell.
weston_start() {
    local pixman=--use-pixman
    [ "${COMP_RENDERER:-pixman}" = gl ] && pixman=
    weston --backend=drm-backend.so $pixman --continue-without-input --idle-time=0 \
        --seat=seat1 --drm-device=card0 --log="$xdg/compositor.log" "$@" &
    comp=$!
    comp_name=weston
}

# sway 1.7 / wlroots 0.15: DRM backend, pixman (COMP_RENDERER=gl: gles2 on llvmpipe), libseat builtin (an embedded seatd fork opens the
# card and passes the fd to sway), no VT, no input devices; swaybg paints $1.
sway_start() {
    export LIBSEAT_BACKEND=builtin SEATD_VTBOUND=0 WLR_RENDERER=pixman WLR_BACKENDS=drm WLR_LIBINPUT_NO_DEVICES=1
    # wlroots refuses a software GL renderer unless told it may.
    [ "${COMP_RENDERER:-pixman}" = gl ] && export WLR_RENDERER=gles2 WLR_RENDERER_ALLOW_SOFTWARE=1
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

# SIGTERM to the compositor, bounded: prints its exit status, the time from SIGTERM to exit,
# and whether its child processes (weston-desktop-shell, weston-keyboard, swaybg, the builtin
# seatd fork) are gone within 3 s.
# wayland-info's wl_output block(s), prefixed "output: " (the current mode and its refresh).
output_info() {
    timeout 10 wayland-info 2>&1 | awk '/^interface: /{on = /'"'"'wl_output'"'"'/} on{print "output: " $0}'
}

alive() {   # a process that exists and is not a zombie
    local st
    st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

comp_stop() {
    local kids t0 rc k left i
    kids=$(pgrep -P "$comp" | tr '\n' ' ')
    t0=$(ms_now)
    kill -TERM "$comp"
    # bounded: a watchdog SIGKILLs it after 10 s (its sleep is killed afterwards, so nothing
    # of ours outlives the session)
    # Before the kill it notes the main thread's blocked and the process's pending signals.
    ( sleep 10 && echo "${comp_name}_signals: $(grep -E '^(SigBlk|ShdPnd)' "/proc/$comp/status" | tr -s '\t\n' '  ')" &&
        kill -KILL "$comp" 2>/dev/null && echo "${comp_name}: still running 10 s after SIGTERM, killed" ) 2>/dev/null &
    local dog=$!
    wait "$comp"
    rc=$?
    while alive "$dog"; do pkill -P "$dog" -x sleep; sleep 0.02; done
    wait "$dog" 2>/dev/null
    comp_rc=$rc
    echo "${comp_name}_exit: $rc"
    echo "${comp_name}_stop_ms: $(( $(ms_now) - t0 ))"
    for i in $(seq 30); do
        left=""
        for k in $kids; do alive "$k" && left="$left $k($(cat /proc/$k/comm 2>/dev/null))"; done
        [ -z "$left" ] && break
        sleep 0.1
    done
    echo "children: $(echo $kids | wc -w) left:${left:- none} (after $(( $(ms_now) - t0 )) ms)"
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

# --- the control socket (fakedrm ctl; FAKEDRM_CONTROL is exported by fakedrm run) -----------
# COMP_FAKEDRM: the fakedrm executable. COMP_CHECK: compositor-check.py.
COMP_CHECK=${COMP_CHECK:-$(dirname "${BASH_SOURCE[0]}")/compositor-check.py}
ctl() { "$COMP_FAKEDRM" ctl "$@"; }

# One line "state_<label>: {summary, crtc, blobs, connectors}" from `fakedrm ctl state`.
state_line() {
    echo "state_$1: $(ctl state | python3 "$COMP_CHECK" state-line)"
}

# Presented frames so far in a presentation-shm output file.
frames_in() { grep -c "p2p" "$1" 2>/dev/null || true; }

# Waits (up to $3 s) until file $1 has more than $2 presented frames.
wait_frames() {
    local i
    for i in $(seq $(( ${3:-2} * 20 ))); do
        [ "$(frames_in "$1")" -gt "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# Waits (up to $2 s) until wayland-info lists $1 wl_output globals.
wait_outputs() {
    local i n
    for i in $(seq $(( ${2:-3} * 5 ))); do
        n=$(timeout 5 wayland-info 2>/dev/null | grep -c "'wl_output'")
        [ "$n" = "$1" ] && return 0
        sleep 0.2
    done
    return 1
}

# capture_check LABEL SECONDS CHECK [ARGS...]: `fakedrm ctl capture` into $xdg, then
# `compositor-check.py CHECK FILE ARGS...`, retried for up to SECONDS (a compositor repaints a
# moment after a hotplug); prints "capture_LABEL: ok after N ms: ..." or "capture_LABEL: FAIL ...".
capture_check() {
    local label=$1 secs=$2 check=$3 i out="" f="$xdg/$1.png"
    shift 3
    for i in $(seq $(( secs * 4 ))); do
        rm -f "$f"
        if ctl capture "$f" >/dev/null 2>&1 && out=$(python3 "$COMP_CHECK" "$check" "$f" "$@" 2>&1); then
            echo "capture_$label: ok after $(( (i - 1) * 250 )) ms: $(echo "$out" | tr '\n' ' ')"
            [ -n "${COMP_OUT:-}" ] && cp "$f" "$COMP_OUT/$comp_name-$label.png"
            return 0
        fi
        [ -f "$f" ] || out="ctl capture: $(ctl capture "$f" 2>&1)"
        sleep 0.25
    done
    echo "capture_$label: FAIL $(echo "$out" | tail -n 2 | tr '\n' ' ')"
    [ -n "${COMP_OUT:-}" ] && [ -f "$f" ] && cp "$f" "$COMP_OUT/$comp_name-$label.png"
    return 1
}

# state_after LABEL: once the card has no open file left (the compositor's fds are closed when
# its process is gone; up to 2 s), one state line.
state_after() {
    local i
    for i in $(seq 40); do
        ctl state | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["summary"]["files"] != 0)' && break
        sleep 0.05
    done
    state_line "$1"
}

# Waits (up to $1 s) until the compositor shows a framebuffer (its first frame is on screen).
wait_scanout() {
    local i
    for i in $(seq $(( ${1:-5} * 10 ))); do
        ctl state | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["summary"]["framebuffers"] == 0)' && return 0
        sleep 0.1
    done
    return 1
}

# second_output CHECK [ARGS...]: on the two-head card (tests/clients/two-heads.yaml), Virtual-2
# (disconnected at start) is plugged in with an 800x600 mode: the compositor must add a second
# wl_output and show its desktop on CRTC 1; then it is unplugged again.
second_output() {
    local check=$1 f="$xdg/second.png" i out=""
    shift
    wait_outputs 1 3 && echo "outputs_before: 1"
    ctl hotplug Virtual-2 connected --modes 800x600 >/dev/null
    if wait_outputs 2 4; then echo "second_connected: ok"; else echo "second_connected: FAIL (no second wl_output)"; fi
    for i in $(seq 16); do
        rm -f "$f"
        if ctl capture --crtc 1 "$f" >/dev/null 2>&1 && out=$(python3 "$COMP_CHECK" "$check" "$f" "$@" 2>&1); then
            echo "capture_second: ok after $(( (i - 1) * 250 )) ms: $(echo "$out" | tr '\n' ' ')"
            [ -n "${COMP_OUT:-}" ] && cp "$f" "$COMP_OUT/$comp_name-second.png"
            break
        fi
        sleep 0.25
    done
    [ -f "$f" ] && [ -n "$out" ] && [[ "$out" != *Error* ]] || echo "capture_second: FAIL $(echo "$out" | tail -n 2 | tr '\n' ' ')"
    state_line two_heads
    ctl hotplug Virtual-2 disconnected >/dev/null
    if wait_outputs 1 4; then echo "second_disconnected: ok"; else echo "second_disconnected: FAIL (still two wl_outputs)"; fi
    alive "$comp" && echo "alive_second: yes"
}

# fault_while_animating SPEC: with presentation-shm ($pres) running, SPEC for one second, then
# the rules cleared; prints the rule, its injections, the frames before and during, liveness.
fault_while_animating() {
    local n0 n1
    wait_frames "$pres" 30 3
    n0=$(frames_in "$pres")
    echo "fault_rule: $(ctl fault add "$1")"
    sleep 1
    n1=$(frames_in "$pres")
    echo "fault_injections: $(ctl fault log | grep -c '"rule"')"
    ctl fault clear >/dev/null
    echo "fault_frames: $n0 before, $((n1 - n0)) in the second after the rule"
    alive "$comp" && echo "alive_fault: yes"
}

# late_flip: one flip completes 250 ms late (fault "commit-late ms=250 once") while
# presentation-shm ($pres) runs; prints the injections, the frames after it and the longest
# presentation interval since ("late_flip: ...").
late_flip() {
    local n i max
    n=$(frames_in "$pres")
    ctl fault add "commit-late ms=250 once" >/dev/null
    wait_frames "$pres" $((n + 30)) 4
    i=$(ctl fault list | python3 -c 'import json,sys; print(sum(r["injections"] for r in json.load(sys.stdin)))')
    ctl fault clear >/dev/null
    max=$(tail -n +$((n + 1)) "$pres" | grep -o 'p2p *[0-9]*' | awk '{print $2}' | sort -n | tail -1)
    echo "late_flip: injections=$i frames=$(( $(frames_in "$pres") - n )) max_p2p_us=${max:-0}"
}

# hotplug_cycle [PREFIX]: Virtual-1 disconnected until the compositor drops its wl_output, then
# connected until it is back. Prints "hotplug_disconnected/connected: ok|FAIL".
hotplug_cycle() {
    ctl hotplug Virtual-1 disconnected >/dev/null
    local p=${1:-}
    if wait_outputs 0 3; then echo "${p}hotplug_disconnected: ok"; else echo "${p}hotplug_disconnected: FAIL (wl_output still listed)"; fi
    state_line "${p}disconnected"
    alive "$comp" && echo "${p}alive_disconnected: yes"
    ctl hotplug Virtual-1 connected >/dev/null
    if wait_outputs 1 3; then echo "${p}hotplug_connected: ok"; else echo "${p}hotplug_connected: FAIL (no wl_output)"; fi
}
