// The shell text of a namespace "host" (see ns-host.ts): its holder, its PID 1
// with every mount that keeps this machine's tuning out of reach, and its sshd config.
import { shQuote } from "../../provider/transport/framing";
import { pdeathsigPrefix } from "./processes";

/**
 * Everything kvmtune or Ansible may write while tuning sysctls and a NIC MTU, made private:
 * - /etc and /var: overlays on this machine's dirs, upper layers in the host's own tmpfs
 *   (sysctl.d, sysctl.conf, udev rules, tmpfiles.d, modules-load.d, modprobe.d, default/grub.d,
 *   fstab; /var/lib/kvmtune's journal, /var/tmp, /var/log). Overlays, not binds of single files,
 *   because both tools write a temp file beside the target and rename it over the target.
 * - /tmp, /root (Ansible's ~/.ansible/tmp, no rc files), /run (sshd's privsep dir): fresh tmpfs.
 * - the rest of the root: read-only (a per-mount flag of this namespace's copy).
 * - /proc/sys read-only with /proc/sys/net (per-netns) read-write on top, so a vm.* or kernel.*
 *   write fails instead of reaching this machine; a fresh sysfs (read-only; shows the namespace's
 *   NICs) with /sys/devices/virtual/net read-write for their MTU.
 */
export function initScript(nic: string, maskPaths: string[], frozenPaths: string[]): string {
  const masks = maskPaths.map((p) => `mount --bind /dev/null ${shQuote(p)}`);
  // A read-only regular file holding the path's value at start: present and readable, every write fails.
  const frozen = frozenPaths.map((p, i) =>
    `cat ${shQuote(p)} > "$D/frozen-${i}" && mount --bind "$D/frozen-${i}" ${shQuote(p)} && mount -o remount,bind,ro ${shQuote(p)}`);
  return `#!/bin/sh
# kvmtune ns host: PID 1 of the host's PID namespace (see test/support/ns-host.ts)
set -eu
D="$1"
mount --make-rprivate /
mount -t proc -o nosuid,nodev,noexec proc /proc
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro,nosuid,nodev,noexec /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw,nosuid,nodev,noexec /proc/sys/net
ip link set lo up
# The NIC whose MTU the tools set: a dummy where the kernel has it, else a veth pair kept inside.
ip link add ${nic} type dummy 2>/dev/null || ip link add ${nic} type veth peer name ${nic}-peer
ip link set ${nic} up
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -o remount,bind,ro,nosuid,nodev,noexec /sys
mount --bind /sys/devices/virtual/net /sys/devices/virtual/net
mount -o remount,bind,rw,nosuid,nodev,noexec /sys/devices/virtual/net
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
mount --bind /dev/pts/ptmx /dev/ptmx
mount -t tmpfs -o nosuid,nodev,mode=755,size=64m tmpfs /run
mkdir -p /run/sshd /run/lock /run/kvmt/dir /run/kvmt/ov
# The run dir lives under this machine's /tmp: carry it over the private /tmp at the same path.
mount --bind "$D" /run/kvmt/dir
mount -t tmpfs -o nosuid,nodev,mode=1777,size=64m tmpfs /tmp
mkdir -p "$D"
mount --bind /run/kvmt/dir "$D"
umount /run/kvmt/dir
mount -t tmpfs -o nosuid,nodev,mode=700,size=64m tmpfs /root
mount -t tmpfs -o mode=755,size=64m tmpfs /run/kvmt/ov
for d in etc var; do
  mkdir -p /run/kvmt/ov/$d /run/kvmt/ov/$d-work
  mount -t overlay overlay -o lowerdir=/$d,upperdir=/run/kvmt/ov/$d,workdir=/run/kvmt/ov/$d-work /$d
done
# As on a host with udev (this machine may have none): both tools persist the MTU there.
mkdir -p /etc/udev/rules.d
mount -o remount,bind,ro /
${[...masks, ...frozen].join("\n")}
/usr/sbin/sshd -D -f "$D/sshd_config" -E "$D/sshd.log" &
echo "init: sshd $!"
# Bound before the bridge outside connects; unix sockets are not tied to a network namespace.
/usr/bin/socat "UNIX-LISTEN:$D/ssh.sock,fork,unlink-early,mode=600" TCP:127.0.0.1:22,nodelay &
echo "init: socat $!"
set +e
wait
echo "init: all children exited"
`;
}

/** Host PID namespace, tracked and SIGTERM-able; its one child is PID 1 of the new one (killed with it). */
export function holderScript(): string {
  return `#!/bin/sh
# kvmtune ns host: namespace holder (see test/support/ns-host.ts)
D="$1"
${pdeathsigPrefix.map(shQuote).join(" ")} /bin/sh "$D/init.sh" "$D" &
init=$!
echo "holder: init $init"
trap 'kill -KILL "$init" 2>/dev/null' TERM INT HUP
rc=0
while kill -0 "$init" 2>/dev/null; do wait "$init"; rc=$?; done
echo "holder: init exited ($rc)"
exit "$rc"
`;
}

/**
 * Keys and logs live in the run dir, the one path of this machine the namespace still sees.
 * VERBOSE logs each login ("Accepted publickey for") and each session ("Starting session: command ..."). */
export function sshdConfig(dir: string): string {
  return [
    "ListenAddress 127.0.0.1",
    "Port 22",
    `HostKey ${dir}/host_ed25519`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    "PermitRootLogin prohibit-password",
    "UsePAM no",
    "StrictModes no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PrintMotd no",
    "PrintLastLog no",
    "UseDNS no",
    "LogLevel VERBOSE",
    "MaxStartups 200:30:300",
    "MaxSessions 100",
    "Subsystem sftp internal-sftp",
    "",
  ].join("\n");
}
