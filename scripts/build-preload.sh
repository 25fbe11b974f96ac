#!/bin/sh
# Builds libfakedrm-preload.so (plain C, no Swift runtime; see docs/preload.md) and puts it
# next to the fakedrm executables, where `fakedrm run` looks for it.
# Usage: scripts/build-preload.sh [OUTDIR...]   (default: every existing .build*/{debug,release})
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
# Every .c file in preload/ (the PreloadLibrary build plugin takes the same set).
src=$(ls "$root"/preload/*.c)
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$cc -shared -fPIC -O2 -Wall -Wextra -fvisibility=hidden -o "$tmp/libfakedrm-preload.so" $src -ldl -lpthread
if [ $# -eq 0 ]; then
    for d in "$root"/.build*/debug "$root"/.build*/release; do
        [ -d "$d" ] && set -- "$@" "$d"
    done
    [ $# -eq 0 ] && { mkdir -p "$root/.build/debug"; set -- "$root/.build/debug"; }
fi
for out in "$@"; do
    mkdir -p "$out"
    # Resolve symlinks (.build/debug -> x86_64-unknown-linux-gnu/debug) so both names see it.
    dest=$(cd "$out" && pwd -P)
    cp "$tmp/libfakedrm-preload.so" "$dest/libfakedrm-preload.so.new"
    mv -f "$dest/libfakedrm-preload.so.new" "$dest/libfakedrm-preload.so"
    echo "built $dest/libfakedrm-preload.so"
done
