#!/bin/bash
# Leak soak of the socket daemon: C concurrent kmsprobe clients (tests/clients/kmsprobe.c,
# `soak`: the master flips with out/in/release fences, the others make dumb buffers, fbs, blobs
# and vblank events) are SIGKILLed at random moments (5-300 ms after start) and restarted until
# N kills. Then every client is gone and the daemon must be back where it started:
# `fakedrm ctl state` summary at its baseline (files, framebuffers, user_blobs, pending_commits,
# vblank_waiters, queued_events, release_fences_pending, buffers 0; objects as on the idle
# card), open fds not above the baseline, RSS within a bound of the warmed-up value.
#
# Usage: scripts/soak.sh [--kills N] [--clients C] [--seconds S] [--rss-bound-mb M] [--virtual-time] [--faults]
#   --kills N        kills before stopping (default 60; CI runs 60, a long run 1000)
#   --clients C      concurrent clients (default 4)
#   --seconds S      give up the kill phase after S seconds (default 900): FAIL
#   --rss-bound-mb M allowed RSS growth after the warm-up (default 20)
#   --faults         keep random faults active during the kill phase (hung commits, in-fences that
#                    never signal, fence errors, failing CREATE_DUMB/ADDFB2, dropped vblanks): a
#                    client killed with faults active must leave nothing behind either
#                    (docs/faults.md, Notes); the faults are cleared after the leak check
# Env: FAKEDRM_BIN (default: swift build, as scripts/client-tests.sh), KEEP=1 keeps the work dir.
# Prints `ok`/`FAIL` lines and a summary line `soak kills=N rss_kb: start=.. end=.. fds: start=.. end=..`.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
kills=60
clients=4
seconds=900
rss_bound_mb=20
vt=()
faults=0
while [ $# -gt 0 ]; do
    case "$1" in
    --kills) kills=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rss-bound-mb) rss_bound_mb=$2; shift 2 ;;
    --virtual-time) vt=(--virtual-time); shift ;;
    --faults) faults=1; shift ;;
    *) echo "usage: $0 [--kills N] [--clients C] [--seconds S] [--rss-bound-mb M] [--virtual-time] [--faults]" >&2; exit 2 ;;
    esac
done

. scripts/test-env.sh
make_work soak
spid=""
cleanup() {
    touch "$work/stop" 2>/dev/null
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

fail=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/       | /' "$2" | tail -20; }

probe="$work/kmsprobe"
cc -O2 -Wall -o "$probe" tests/clients/kmsprobe.c $(pkg-config --cflags --libs libdrm) 2>"$work/cc.log" ||
    { bad "compile kmsprobe" "$work/cc.log"; exit 1; }
chmod 0755 "$probe"

sock="$work/card.sock"
ctlsock="$sock.control"
"${AS[@]}" "$FAKEDRM_BIN" serve --socket "$sock" "${vt[@]}" 2>"$work/serve.log" &
spid=$!
for _ in $(seq 100); do [ -S "$sock" ] && [ -S "$ctlsock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { bad "fakedrm serve did not create $sock" "$work/serve.log"; exit 1; }
[ -S "$ctlsock" ] || { bad "fakedrm serve did not create the control socket $ctlsock (docs/control.md)" "$work/serve.log"; exit 1; }

# FAKEDRM_CONTROL (docs/control.md) rather than --control, whose place on the command line varies.
ctl() { timeout 10 "${AS[@]}" FAKEDRM_CONTROL="$ctlsock" "$FAKEDRM_BIN" ctl "$@"; }
CLIENT=("${AS[@]}" LD_PRELOAD="$LIB" FAKEDRM_SOCKET="$sock" "$probe")

# `ctl state` -> "files=.. framebuffers=.. ..." (fixed key order)
summary() {
    ctl state 2>>"$work/ctl.err" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)["summary"]
keys = ["files", "framebuffers", "user_blobs", "pending_commits", "vblank_waiters", "queued_events",
        "release_fences_pending", "buffers", "objects"]
print(" ".join("%s=%s" % (k, s.get(k, "missing")) for k in keys))' 2>>"$work/ctl.err"
}
# `ctl stats` -> "RSS_KB OPEN_FDS"
stats() {
    ctl stats 2>>"$work/ctl.err" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print(s["rss_kb"], s["open_fds"])' 2>>"$work/ctl.err"
}
proc_stats() { echo "$(awk '/^VmRSS/{print $2}' /proc/$spid/status 2>/dev/null) $(ls /proc/$spid/fd 2>/dev/null | wc -l)"; }

# Warm-up: one client that does everything once, so lazily made daemon state exists before the
# baseline is taken.
timeout 20 "${CLIENT[@]}" --timeout-ms 1000 flip 3 --out-fence --release-fence --in-fence >"$work/warmup.txt" 2>&1
grep -q "flips_ok=3" "$work/warmup.txt" || bad "warm-up client (kmsprobe flip 3)" "$work/warmup.txt"
sleep 0.3
base=$(summary)
read -r rss0 fds0 < <(stats)
if [ -z "$base" ] || [ -z "${rss0:-}" ]; then bad "ctl state/stats at baseline" "$work/ctl.err"; exit 1; fi
base_objects=$(sed -n 's/.*objects=\([0-9]*\).*/\1/p' <<<"$base")
echo "       baseline: $base; rss_kb=$rss0 open_fds=$fds0 (proc: $(proc_stats))"

if [ $faults = 1 ]; then
    for spec in "commit-hang p=0.03" "fence-never which=in p=0.03" "fence-error which=out errno=EIO p=0.1" \
        "fence-late which=release ms=40 p=0.2" "ioctl name=MODE_CREATE_DUMB errno=ENOMEM p=0.1" \
        "commit-fail errno=EINVAL p=0.05" "ioctl name=MODE_ADDFB2 errno=ENOSPC p=0.05" "vblank-drop p=0.05"; do
        ctl fault add "$spec" >/dev/null 2>>"$work/ctl.err" || bad "ctl fault add '$spec'" "$work/ctl.err"
    done
    echo "       faults active: $(ctl fault list | "$PY" -c 'import json,sys; print("; ".join(r["spec"] for r in json.load(sys.stdin)))')"
fi

# --- kill phase -----------------------------------------------------------------------------------
: >"$work/kills"
: >"$work/exits"
slot() {
    local i=$1 p ms rc
    while [ ! -e "$work/stop" ]; do
        # A simple command, so $! is the client itself (setpriv and env exec).
        "${CLIENT[@]}" soak >>"$work/slot$i.log" 2>&1 &
        p=$!
        ms=$((5 + RANDOM % 296))
        sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
        if kill -KILL "$p" 2>/dev/null; then
            wait "$p" 2>/dev/null
            echo "$i" >>"$work/kills"
        else
            wait "$p" 2>/dev/null
            rc=$?
            echo "slot $i pid $p exited by itself: status $rc" >>"$work/exits"
        fi
    done
}
slots=()
for i in $(seq "$clients"); do slot "$i" & slots+=($!); done

t0=$(date +%s)
warm_at=$((kills / 10))
[ $warm_at -lt 5 ] && warm_at=5
[ $warm_at -gt 100 ] && warm_at=100
rss_warm=""
next_sample=100
n=0
while :; do
    n=$(wc -l <"$work/kills")
    if [ -z "$rss_warm" ] && [ "$n" -ge "$warm_at" ]; then
        read -r rss_warm fds_warm < <(stats)
        echo "       warm-up at kills=$n: rss_kb=$rss_warm open_fds=$fds_warm"
    fi
    if [ "$n" -ge "$next_sample" ]; then
        read -r r f < <(stats)
        echo "       kills=$n: rss_kb=$r open_fds=$f $(summary)"
        next_sample=$((next_sample + 100))
    fi
    [ "$n" -ge "$kills" ] && break
    if ! kill -0 "$spid" 2>/dev/null; then bad "daemon died during the soak (after $n kills)" "$work/serve.log"; break; fi
    if [ $(($(date +%s) - t0)) -ge "$seconds" ]; then bad "only $n of $kills kills in ${seconds}s"; break; fi
    sleep 0.05
done
touch "$work/stop"
wait "${slots[@]}" 2>/dev/null
n=$(wc -l <"$work/kills")
dt=$(($(date +%s) - t0))
masters=$(cat "$work"/slot*.log 2>/dev/null | grep -c "master=1")
flips=$(cat "$work"/slot*.log 2>/dev/null | grep -c "^soak flips=")
selfexit=$(wc -l <"$work/exits")
echo "       $n kills in ${dt}s by $clients clients; $masters runs became master, $flips x200 flips reported; $selfexit exited by themselves"
[ "$selfexit" -gt 0 ] && sed 's/^/       | /' "$work/exits" | head -5

# --- after: back at the baseline (faults still active), then a new client works ----------------------
want="files=0 framebuffers=0 user_blobs=0 pending_commits=0 vblank_waiters=0 queued_events=0 release_fences_pending=0 buffers=0 objects=$base_objects"
quiesce() {
    local what=$1 final=""
    for _ in $(seq 100); do
        final=$(summary)
        [ "$final" = "$base" ] && break
        sleep 0.1
    done
    if [ "$final" = "$want" ] && [ "$final" = "$base" ]; then ok "ctl state summary back at baseline $what: $final"
    else
        bad "ctl state summary $what: $final (baseline: $base; expected $want)"
        ctl state >"$work/state-final.json" 2>&1 && "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("files", "framebuffers", "blobs"):
    for x in d.get(k, [])[:5]: print("       |", k, json.dumps(x))
print("       | crtcs", json.dumps(d.get("crtcs")))' "$work/state-final.json"
    fi
}
if kill -0 "$spid" 2>/dev/null; then
    quiesce "after $n kills$([ $faults = 1 ] && echo ', faults still active')"
    if [ $faults = 1 ]; then
        echo "       injections: $(ctl fault list | "$PY" -c 'import json,sys; print(", ".join("%s: %d" % (r["spec"].split()[0] + ("/" + r["spec"].split()[1] if r["spec"].startswith(("ioctl", "fence")) else ""), r["injections"]) for r in json.load(sys.stdin)))')"
        ctl fault clear >/dev/null
    fi
    timeout 20 "${CLIENT[@]}" --timeout-ms 1000 flip 5 --out-fence --release-fence >"$work/after.txt" 2>&1
    if grep -q "flips_ok=5" "$work/after.txt"; then ok "a new client after $n kills: $(grep -o 'flips_ok=5.*median_interval_us=[0-9-]*' "$work/after.txt")"
    else bad "a new client after the soak cannot flip" "$work/after.txt"; fi
    quiesce "after that client"
    read -r rss1 fds1 < <(stats)
    echo "       final: rss_kb=$rss1 open_fds=$fds1 (proc: $(proc_stats))"
    if [ "${fds1:-999999}" -le "$fds0" ]; then ok "open fds not grown: start=$fds0 end=$fds1"
    else bad "open fds grew: start=$fds0 end=$fds1"; ls -l /proc/$spid/fd 2>/dev/null | tail -n +2 | awk '{print "       | " $NF}' | sort | uniq -c | sort -rn | head -8; fi
    bound=$((rss_bound_mb * 1024))
    ref=${rss_warm:-$rss0}
    if [ "${rss1:-999999999}" -le $((ref + bound)) ]; then ok "RSS within $rss_bound_mb MB of the warm-up value: warm=$ref end=$rss1 (start=$rss0)"
    else bad "RSS grew by $(( (rss1 - ref) / 1024 )) MB after the warm-up (warm=$ref end=$rss1, bound $rss_bound_mb MB)"; fi
else
    rss1=dead; fds1=dead
fi
echo "soak kills=$n rss_kb: start=$rss0 end=$rss1 fds: start=$fds0 end=$fds1"
if [ $fail = 0 ]; then echo "soak: passed"; else echo "soak: $fail failed"; fi
[ $fail = 0 ]
