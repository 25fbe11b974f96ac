#!/bin/bash
# Installs the Debian packages fakedrm needs, and only those missing: to build it and run its
# main job (`fakedrm run -- drm_info`), or with --tests also everything scripts/test.sh runs.
# As root it calls apt-get itself; otherwise through sudo; with neither it stops and names
# the packages. --check only names what is missing (exit 1 when something is).
# Usage: scripts/setup.sh [--tests] [--check]
set -euo pipefail
tests=0 check=0
for a in "$@"; do
    case $a in
        --tests) tests=1 ;;
        --check) check=1 ;;
        *) echo "usage: scripts/setup.sh [--tests] [--check]" >&2; exit 2 ;;
    esac
done
export PATH=/opt/swift/usr/bin:$PATH
if ! command -v swift >/dev/null; then
    echo "scripts/setup.sh: swift is not on PATH; install Swift 6 (https://www.swift.org/install/linux/) first" >&2
    exit 1
fi

# Building: the C shims (pkg-config, libpng, libfuse3 for the CUSE front end, libwayland and
# wayland-protocols for the host Wayland display), the preload
# library and its bench client (a C compiler, the libdrm uAPI headers). The main job:
# drm_info, and umockdev's preload library for sysfs discovery.
packages=(pkg-config libpng-dev libfuse3-dev libdrm-dev libwayland-dev wayland-protocols drm-info umockdev libumockdev0)
command -v cc >/dev/null || packages+=(gcc)
if [ $tests = 1 ]; then
    packages+=(libdrm-tests kmscube python3 util-linux
        # The CUSE VM job (scripts/cuse-vm-tests.sh): QEMU, the guest's busybox, kmod, udev.
        qemu-system-x86 busybox-static kmod udev gcc
        # Compositors as real clients; wayland-info, grim for screenshots; EDID conformity.
        weston wayland-utils sway swaybg grim edid-decode
        # The vhost-user-gpu backend (QEMU's vhost-user-gpu binary).
        qemu-system-gui
        # GStreamer's kmssink putting NV12 and I420 on a plane.
        gstreamer1.0-tools gstreamer1.0-plugins-bad)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || [[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0
if [ $check = 1 ]; then
    echo "missing Debian packages: ${missing[*]} (scripts/setup.sh$([ $tests = 1 ] && echo " --tests") installs them)" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "scripts/setup.sh: need root or sudo to install: ${missing[*]}" >&2
    echo "  as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "scripts/setup.sh: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
