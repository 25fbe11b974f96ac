#!/bin/bash
# A newcomer's first minutes: README.md's first command, taken from its fenced block (so this
# check and README cannot drift), run in a fresh clone of this repository as it stands
# (HEAD). Passes when it exits 0 and drm_info printed the fake card.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=$(awk '/^## Set up/{s=1} s && /^```sh/{getline; print; exit}' "$root/README.md")
if [ -z "$cmd" ]; then echo "FAIL - README.md has no sh block under '## Set up'"; exit 1; fi
work=$(mktemp -d /tmp/fakedrm-readme.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/fakedrm" || { echo "FAIL - git clone"; exit 1; }
cd "$work/fakedrm"
start=$(date +%s)
timeout 1800 bash -c "$cmd" >"$work/out.txt" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "Driver: fakedrm" "$work/out.txt"; then
    echo "ok   - README's first command in a fresh clone ($(( $(date +%s) - start )) s): $cmd"
else
    echo "FAIL - README's first command in a fresh clone (rc=$rc): $cmd"
    tail -20 "$work/out.txt" | sed 's/^/       | /'
    exit 1
fi
