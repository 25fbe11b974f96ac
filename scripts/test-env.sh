# Sourced by the client test scripts (client-tests, fault-tests, compositor-tests, soak) from
# the repository root: python, the fakedrm binary (built when FAKEDRM_BIN is unset), the preload
# library next to it ($LIB), and `make_work NAME`, which creates $work (world-writable: the
# clients run as nobody) and $AS, the prefix that runs a command as nobody when we are root.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if [ -z "${FAKEDRM_BIN:-}" ]; then
    export PATH=/opt/swift/usr/bin:$PATH
    scratch=${SCRATCH:-.build}
    swift build --scratch-path "$scratch" >/dev/null || { echo "FAIL - swift build"; exit 1; }
    FAKEDRM_BIN="$(swift build --scratch-path "$scratch" --show-bin-path)/fakedrm"
fi
bindir=$(dirname "$FAKEDRM_BIN")
LIB="$bindir/libfakedrm-preload.so"
scripts/build-preload.sh "$bindir" >/dev/null || { echo "FAIL - build-preload.sh"; exit 1; }

make_work() {
    work=$(mktemp -d "/tmp/fakedrm-$1.XXXXXX")
    chmod 0777 "$work"
    mkdir -m 0777 "$work/tmp"
    if [ "$(id -u)" = 0 ]; then
        AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups env TMPDIR="$work/tmp" HOME="$work")
    else
        AS=(env TMPDIR="$work/tmp")
    fi
}
