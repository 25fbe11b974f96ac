#!/usr/bin/env bash
# Installs the udev rules and the systemd unit for fakedrm's CUSE card (run as root).
#
#   scripts/install-udev.sh [--bindir DIR] [--uninstall]
#
# --bindir: where the `fakedrm` binary is installed (default /usr/local/bin); the unit's
# ExecStart points there. Files: /etc/udev/rules.d/70-fakedrm.rules,
# /etc/systemd/system/fakedrm@.service. Then: `systemctl enable --now fakedrm@0`.
set -euo pipefail
cd "$(dirname "$0")/.."
bindir=/usr/local/bin uninstall=
while (($#)); do
    case $1 in
    --bindir) bindir=${2:?}; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    *) sed -n '4p' "$0" >&2; exit 2 ;;
    esac
done
rules=/etc/udev/rules.d/70-fakedrm.rules unit=/etc/systemd/system/fakedrm@.service
if [[ -n $uninstall ]]; then
    rm -f "$rules" "$unit"
else
    [[ -x $bindir/fakedrm ]] || echo "install-udev: warning: $bindir/fakedrm does not exist (yet)" >&2
    install -D -m 644 udev/70-fakedrm.rules "$rules"
    sed -e "s|@BINDIR@|$bindir|g" -e "s|@DOCDIR@|$(pwd -P)/docs|g" udev/fakedrm@.service >"$unit.tmp"
    chmod 644 "$unit.tmp" && mv "$unit.tmp" "$unit"
    echo "installed $rules and $unit"
fi
command -v udevadm >/dev/null && udevadm control --reload 2>/dev/null || true
command -v systemctl >/dev/null && systemctl daemon-reload 2>/dev/null || true
