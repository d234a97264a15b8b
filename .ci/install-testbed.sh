#!/usr/bin/env bash
# Installs the Debian 12 packages the provider test bed (test/support/) needs:
# qemu + the cloud kernel package resolution, OpenSSH, and the host files copied
# into the test VM's initramfs (busybox, sudo + PAM, kmod), and the tools that
# build the whole Debian test host's disk (debootstrap, sfdisk), and Ansible as
# bench:fleet's peer. Idempotent.
set -euo pipefail

PACKAGES=(
  qemu-system-x86 qemu-utils          # the test VMs (TCG)
  openssh-server openssh-client       # sshd in the VM and locally; ssh/ssh-keygen for the suite
  cpio gzip busybox-static            # the initramfs
  kmod                                # depmod for the module index, modprobe in the VM
  dmsetup                             # device-mapper holders inside test VMs
  sudo libpam-modules libpam-runtime  # sudo + its PAM stack, copied into the VM
  util-linux                          # setpriv --pdeathsig
  dpkg apt libc-bin                   # dpkg-deb, apt-get download, ldd
  debootstrap fdisk e2fsprogs         # the whole Debian test host's disk image (sfdisk, mkfs.ext4 -d)
  socat iproute2                      # bench:fleet's namespace hosts (loopback bridge, lo and eth1)
  ansible                             # bench:fleet's peer: Debian's Ansible 7 (ansible-core 2.14 + ansible.posix)
)

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# apt-get download of the kernel needs package lists that know linux-image-cloud-amd64
if [ ${#missing[@]} -gt 0 ] || ! apt-cache depends linux-image-cloud-amd64 2>/dev/null | grep -q 'Depends: linux-image-'; then
  apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-testbed: installing ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-testbed: all ${#PACKAGES[@]} packages present"
fi
