#!/bin/bash
# Real compositors on fakedrm, unmodified (issue 8): weston 10 (DRM backend, pixman,
# desktop-shell) and sway 1.7 (wlroots 0.15, pixman, libseat builtin) under `fakedrm run`, each
# with a Wayland client inside, checked in the frames fakedrm captured and in the presentation
# timing the client reports. Run as root, everything (card and compositor) runs as `nobody`.
#
# Usage: scripts/compositor-tests.sh        (builds with swift build --scratch-path $SCRATCH)
#        FAKEDRM_BIN=/path/to/fakedrm scripts/compositor-tests.sh
# Env: SCRATCH (default .build), KEEP=1 keeps the work directory (frames, logs).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T="$root/tests/clients"

if [ -z "${FAKEDRM_BIN:-}" ]; then
    scratch=${SCRATCH:-.build}
    swift build --scratch-path "$scratch" >/dev/null || { echo "FAIL: swift build"; exit 1; }
    FAKEDRM_BIN="$(swift build --scratch-path "$scratch" --show-bin-path)/fakedrm"
fi
bindir=$(dirname "$FAKEDRM_BIN")
scripts/build-preload.sh "$bindir" >/dev/null || { echo "FAIL: build-preload.sh"; exit 1; }

work=$(mktemp -d /tmp/fakedrm-compositor-tests.XXXXXX)
chmod 0777 "$work"
mkdir -m 0777 "$work/tmp"
if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

if [ "$(id -u)" = 0 ]; then
    AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups env TMPDIR="$work/tmp" HOME="$work")
else
    AS=(env TMPDIR="$work/tmp")
fi
RUN=("${AS[@]}" "$FAKEDRM_BIN" run)

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
        [[ "$left" == *"left: none" ]]; then
        ok "$1: SIGTERM -> exit 0 in $ms ms as uid $uid, child processes ($left) gone"
    else bad "$1 shutdown (uid=$uid exit=$rc stop_ms=$ms children: $left)" "$2"; fi
}

have() { for c in "$@"; do command -v "$c" >/dev/null || { echo "skip - needs $c"; return 1; }; done; }

# --- weston 10: desktop-shell + weston-simple-shm, then weston-presentation-shm ------------------
if have weston wayland-info weston-simple-shm weston-presentation-shm stdbuf; then
    cap="$work/weston-cap"; mkdir -m 0777 "$cap"; out="$work/weston.txt"
    t0=$SECONDS
    timeout 60 "${RUN[@]}" --capture "$cap" -- env COMP_CAPTURE="$cap" COMP_LOG_OUT="$work/weston.log" \
        "$T/compositor-weston.sh" desktop >"$out" 2>&1
    rc=$?
    echo "       weston session: rc=$rc, $((SECONDS - t0)) s, $(ls "$cap" | wc -l) frames captured"
    f=$(field frame_client "$out")
    if [ $rc = 0 ] && [ -n "$f" ] && check weston-desktop "$cap/$f" >"$work/weston-px.txt" 2>&1; then
        ok "weston: desktop-shell panel + background and weston-simple-shm's window in $f ($(grep -h 'white bbox\|interior' "$work/weston-px.txt" | tr '\n' ' '))"
    else bad "weston desktop + simple-shm (rc=$rc, frame=${f:-none})" "$work/weston-px.txt"; grep -v "^pres: " "$out" | sed 's/^/       | /' | head -30; fi
    if check pacing "$out" --min-frames 100 >"$work/weston-pacing.txt" 2>&1; then
        ok "weston: weston-presentation-shm, real time: $(head -1 "$work/weston-pacing.txt")"
    else bad "weston presentation-shm pacing" "$work/weston-pacing.txt"; grep "^pres: " "$out" | head -5; fi
    clean_stop weston "$out"
fi

# --- sway 1.7: swaybg + weston-presentation-shm -------------------------------------------------
if have sway swaybg wayland-info weston-presentation-shm stdbuf; then
    cap="$work/sway-cap"; mkdir -m 0777 "$cap"; out="$work/sway.txt"
    t0=$SECONDS
    timeout 60 "${RUN[@]}" --capture "$cap" -- env COMP_CAPTURE="$cap" COMP_LOG_OUT="$work/sway.log" SWAY_BG="#336699" \
        "$T/compositor-sway.sh" desktop >"$out" 2>&1
    rc=$?
    echo "       sway session: rc=$rc, $((SECONDS - t0)) s, $(ls "$cap" | wc -l) frames captured"
    f=$(field frame_client "$out")
    if [ $rc = 0 ] && [ -n "$f" ] && check sway-client "$cap/$f" 336699 >"$work/sway-px.txt" 2>&1; then
        ok "sway: swaybg #336699 and weston-presentation-shm's floating window in $f ($(grep -h 'bbox\|window pixels' "$work/sway-px.txt" | tr '\n' ' '))"
    else bad "sway background + client (rc=$rc, frame=${f:-none})" "$work/sway-px.txt"; grep -v "^pres: " "$out" | sed 's/^/       | /' | head -30; fi
    if check pacing "$out" --min-frames 100 >"$work/sway-pacing.txt" 2>&1; then
        ok "sway: weston-presentation-shm, real time: $(head -1 "$work/sway-pacing.txt")"
    else bad "sway presentation-shm pacing" "$work/sway-pacing.txt"; grep "^pres: " "$out" | head -5; fi
    clean_stop sway "$out"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
