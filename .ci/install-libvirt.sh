#!/usr/bin/env bash
# Installs the Debian 12 packages the libvirtd test bed (test/support/libvirtd.ts)
# needs: libvirtd with the QEMU driver, virsh, QEMU (TCG), virt-xml-validate,
# OpenSSH (the sshd inside the namespace), socat (the loopback <-> namespace
# bridge), unshare/setpriv and ip. Idempotent: installs only what is missing and
# runs apt-get update only when something must be installed.
#
# Nothing is started or enabled on this machine: the test bed runs its own
# libvirtd inside private mount/net/pid namespaces with its own /etc/libvirt.
# (Debian's postinst would start libvirtd if a service manager let it; on CI
# images /usr/sbin/policy-rc.d usually forbids that. We add a temporary one for
# the install when none exists, and remove it afterwards.)
set -euo pipefail

PACKAGES=(
  libvirt-daemon libvirt-daemon-driver-qemu   # libvirtd + the QEMU driver
  libvirt-daemon-system                       # libvirt-qemu user/group, dirs (libvirtd refuses to start without)
  libvirt-clients                             # virsh
  qemu-system-x86 qemu-utils                  # the TCG domains; qemu-img for disk images
  libxml2-utils                               # xmllint, needed by virt-xml-validate
  openssh-server openssh-client               # sshd in the namespace; ssh/ssh-keygen for the suite
  socat                                       # unix-socket bridge between the test's loopback and the namespace
  util-linux                                  # unshare, setpriv
  iproute2                                    # ip link set lo up inside the namespace
)

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-libvirt: all ${#PACKAGES[@]} packages present"
  exit 0
fi

# Only update the lists when apt does not know a package we need.
for p in "${missing[@]}"; do
  if ! apt-cache show "$p" >/dev/null 2>&1; then
    apt-get update -q
    break
  fi
done

policy=/usr/sbin/policy-rc.d
added_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from kvmtune .ci/install-libvirt.sh: start no services during install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

echo "install-libvirt: installing ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}"
