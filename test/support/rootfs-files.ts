// Text of the files baked into the test VM's initramfs. Pure functions: no I/O.

export const KVMT_UID = 1000;
/** What the `noisy` user's login shell prints before every command. */
export const NOISY_STDOUT_LINE = "kvmtune-testbed noise: hello from .bashrc on stdout";
export const NOISY_STDERR_LINE = "kvmtune-testbed noise: hello from motd on stderr";
/** Printed on the serial console once sshd is running. */
export const SSHD_STARTED_MARK = "kvmtune-init: sshd started";
/** Printed first by rcS: the kernel booted ("quiet" prints nothing before it). */
export const INIT_STARTED_MARK = "kvmtune-init: rcS started";

/** Dirs later tests write persistence files into; empty, writable (rootfs). */
export const PERSISTENCE_DIRS = ["etc/sysctl.d", "etc/modules-load.d", "etc/modprobe.d", "etc/udev/rules.d"];

export const passwd = () =>
  [
    "root:x:0:0:root:/root:/bin/sh",
    // uid 0 under another name: its login shell prints noise like a chatty .bashrc
    "noisy:x:0:0:noisy root:/root:/usr/local/bin/noisy-shell",
    "sshd:x:100:65534::/run/sshd:/bin/false",
    `kvmt:x:${KVMT_UID}:${KVMT_UID}:kvmtune test user:/home/kvmt:/bin/sh`,
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
    "",
  ].join("\n");

export const group = () =>
  ["root:x:0:", "tty:x:5:", "sudo:x:27:kvmt", `kvmt:x:${KVMT_UID}:`, "nogroup:x:65534:", ""].join("\n");

/** `*` (no password, but not locked: sshd without PAM refuses even keys for `!` accounts). */
export const shadow = (kvmtHash: string) =>
  ["root", "noisy", "sshd", "nobody"].map((u) => `${u}:*:19000:0:99999:7:::`).join("\n") +
  `\nkvmt:${kvmtHash}:19000:0:99999:7:::\n`;

// kvmt may use sudo, but only with its password, so `sudo -n` must fail.
export const sudoers = () =>
  [
    "Defaults env_reset",
    'Defaults secure_path="/usr/sbin:/usr/bin:/sbin:/bin"',
    "root ALL=(ALL:ALL) ALL",
    "%sudo ALL=(ALL:ALL) ALL",
    "",
  ].join("\n");

export const nsswitch = () => ["passwd: files", "group: files", "shadow: files", "hosts: files", ""].join("\n");

export const sshdConfig = () =>
  [
    "Port 22",
    "ListenAddress 0.0.0.0",
    "HostKey /etc/ssh/ssh_host_ed25519_key",
    "AuthorizedKeysFile /etc/ssh/authorized_keys/%u",
    "PermitRootLogin prohibit-password",
    // kvmt's password works over SSH too, for password-auth transport tests
    "PasswordAuthentication yes",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "PrintMotd no",
    "PrintLastLog no",
    "UseDNS no",
    "PidFile /run/sshd.pid",
    "MaxStartups 200:30:300",
    "MaxSessions 100",
    "Subsystem sftp internal-sftp",
    "",
  ].join("\n");

export const noisyShell = () =>
  [
    "#!/bin/sh",
    "# Stands in for login output (.bashrc, motd) that transports must strip.",
    `echo '${NOISY_STDOUT_LINE}'`,
    `echo '${NOISY_STDERR_LINE}' >&2`,
    'exec /bin/sh "$@"',
    "",
  ].join("\n");

/** What /boot/grub/grub.cfg of the test VM says after the update-grub stand-in ran with these kernel arguments. */
export const grubCfg = (args: string[] = []) => ["# written by the update-grub stand-in of kvmtune's test VM (it boots no boot loader)", ["linux /boot/vmlinuz", ...args].join(" "), ""].join("\n");

/**
 * The test VM boots its kernel straight from qemu and has no boot loader, yet
 * kvmtune refuses kernel command-line settings on hosts without one. This
 * stand-in for Debian's update-grub collects GRUB_CMDLINE_LINUX as
 * grub-mkconfig does (/etc/default/grub, then /etc/default/grub.d/*.cfg) and
 * writes it to /boot/grub/grub.cfg (as grubCfg), so tests can read what would
 * be booted. The real update-grub and GRUB are proven on the whole Debian host tests.
 */
export const updateGrub = () => `#!/bin/sh
GRUB_CMDLINE_LINUX=
if [ -f /etc/default/grub ]; then . /etc/default/grub; fi
for f in /etc/default/grub.d/*.cfg; do
  if [ -f "$f" ]; then . "$f"; fi
done
set -f
line="linux /boot/vmlinuz"
for a in $GRUB_CMDLINE_LINUX; do line="$line $a"; done
echo "Generating grub configuration file ..." >&2
mkdir -p /boot/grub
printf '%s\\n%s\\n' "# written by the update-grub stand-in of kvmtune's test VM (it boots no boot loader)" "$line" > /boot/grub/grub.cfg.new &&
  mv -f /boot/grub/grub.cfg.new /boot/grub/grub.cfg
`;

// busybox init is PID 1 (it reaps orphans and handles poweroff); rcS does the setup.
export const inittab = () =>
  ["::sysinit:/etc/init.d/rcS", "::shutdown:/bin/sync", "::shutdown:/bin/umount -a -r", ""].join("\n");

export const rcS = (bootModules: string[]) => `#!/bin/sh
echo "${INIT_STARTED_MARK}"
export PATH=/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
for m in ${bootModules.join(" ")}; do
  modprobe "$m" || echo "kvmtune-init: modprobe $m failed"
done
name=kvmt-vm
for a in $(cat /proc/cmdline); do
  case "$a" in kvmtune.name=*) name="\${a#kvmtune.name=}" ;; esac
done
hostname "$name"
echo "$name" > /etc/hostname
printf '127.0.0.1 localhost\\n127.0.1.1 %s\\n' "$name" > /etc/hosts
# the cpio is all root-owned
chown -R ${KVMT_UID}:${KVMT_UID} /home/kvmt
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
mkdir -p /run/sshd /var/log
chmod 755 /run/sshd
if /usr/sbin/sshd -E /var/log/sshd.log; then
  echo "${SSHD_STARTED_MARK}"
else
  echo "kvmtune-init: sshd failed"
  cat /var/log/sshd.log
fi
`;
