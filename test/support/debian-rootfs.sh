#!/usr/bin/env bash
# Configures a debootstrapped Debian 12 tree as a whole test host: root SSH with
# the suite's keys, the suite's pinned host key, systemd-networkd DHCP on the
# management NIC only, GRUB on the serial console, tuned installed but disabled,
# libvirtd as a service (no default network),
# and a one-shot first-boot unit that installs GRUB on the disk and powers off.
# Usage: debian-rootfs.sh ROOT CLIENT_PUBKEY_FILE HOST_KEY_FILE MGMT_MAC
set -euo pipefail
root=$1 client_pub=$2 host_key=$3 mgmt_mac=$4

echo kvmt-debian >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tkvmt-debian\n' >"$root/etc/hosts"
printf 'LABEL=kvmt-root\t/\text4\terrors=remount-ro\t0\t1\n' >"$root/etc/fstab"

# SSH: key-only root login with the suite's client key; only the suite's host key.
install -d -m 700 "$root/root/.ssh"
install -m 600 "$client_pub" "$root/root/.ssh/authorized_keys"
rm -f "$root"/etc/ssh/ssh_host_*
install -m 600 "$host_key" "$root/etc/ssh/ssh_host_ed25519_key"
install -m 644 "$host_key.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
cat >"$root/etc/ssh/sshd_config.d/kvmt.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
MaxStartups 100:30:200
EOF

# Network: DHCP on the management NIC (found by MAC); other NICs stay unmanaged,
# so tests own their MTU.
cat >"$root/etc/systemd/network/10-kvmt-mgmt.network" <<EOF
[Match]
MACAddress=$mgmt_mac

[Network]
DHCP=ipv4
EOF
systemctl --root="$root" enable systemd-networkd.service >/dev/null 2>&1
# Nothing here waits for the network; the wait would only slow every boot.
systemctl --root="$root" mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1

# GRUB: no menu delay, serial console (the test reads the console on failures).
# nokaslr: a fixed physical layout. Linux 6.1 takes a boot-time 1G page for a node
# with memblock_alloc_try_nid_raw, which falls back to another node; on this 8 GiB
# host node0 has one free 1G-aligned GiB, and a randomly placed kernel sometimes
# sat in it (CI saw hugepages=0:1,1:1 give 0 and 2).
install -d "$root/etc/default/grub.d"
cat >"$root/etc/default/grub.d/00-kvmt-console.cfg" <<'EOF'
GRUB_TIMEOUT=0
GRUB_TIMEOUT_STYLE=hidden
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200 nokaslr"
GRUB_DISABLE_OS_PROBER=true
EOF

# tuned is there to be started by tests, never at boot.
systemctl --root="$root" disable tuned.service >/dev/null 2>&1 || true

# libvirt: a systemd service like on any KVM host, but without its NAT network
# (no dnsmasq here) and without libvirt-guests (test guests are not saved over a
# reboot; a paused TCG guest would only hold the shutdown up).
rm -f "$root/etc/libvirt/qemu/networks/autostart/default.xml"
systemctl --root="$root" disable libvirt-guests.service >/dev/null 2>&1 || true

# A German locale a test can give the login (/etc/default/locale); generated on first boot.
sed -i 's/^# *de_DE.UTF-8 UTF-8/de_DE.UTF-8 UTF-8/' "$root/etc/locale.gen"

# First boot (kernel given by qemu): generate locales, put GRUB on the disk, write grub.cfg, power off.
cat >"$root/usr/local/sbin/kvmt-firstboot" <<'EOF'
#!/bin/sh
set -e
locale-gen
grub-install --target=i386-pc /dev/vda
update-grub
systemctl disable kvmt-firstboot.service
echo "kvmt-firstboot: done" >/dev/ttyS0
systemctl --no-block poweroff
EOF
chmod 755 "$root/usr/local/sbin/kvmt-firstboot"
cat >"$root/etc/systemd/system/kvmt-firstboot.service" <<'EOF'
[Unit]
Description=kvmtune test host: install GRUB on first boot
After=local-fs.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kvmt-firstboot
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
EOF
systemctl --root="$root" enable kvmt-firstboot.service >/dev/null 2>&1

# Smaller image: no package caches or lists.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
