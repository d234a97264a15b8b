#!/usr/bin/env bash
# Installs everything kvmtune's tests and demo need on a fresh Debian 12 machine:
# Debian packages for the test bed (qemu, sshd, busybox, ...), the npm packages,
# and the cached real-kernel boot image. Safe to run again; later runs are quick.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages for the test bed"
bash .ci/install-testbed.sh

step "libvirt (run by the tests in a private namespace; never started on this host)"
bash .ci/install-libvirt.sh

step "npm packages"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

step "real-kernel boot image (cached after the first build)"
npm run --silent testbed:image

step "whole Debian 12 test host: disk image with systemd, udev and GRUB (cached after the first build, ~2-5 min)"
npm run --silent testbed:debian

step "Pulumi CLI for the engine tests (built from its Go modules once, then cached)"
bash scripts/build-pulumi-cli.sh | tail -1
