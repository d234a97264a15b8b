/**
 * The one POSIX sh script that collects host facts in a single round trip.
 *
 * It only reads (writing only into its own temp dir), and prints raw file
 * contents in tagged sections; every interpretation happens in
 * `parseHostFacts` (facts.ts), so the script stays small and works the same
 * under dash, bash and busybox ash.
 *
 * Output, one header line per section, followed by its lines:
 *   @@kvmtune:facts 1              format version (first line)
 *   @@kvmtune:file <path>          contents of a regular file
 *   @@kvmtune:grep <name>          `path:line` lines (relative paths, no colons in them)
 *   @@kvmtune:dirs <dir>/<glob>    names of sub-directories matching glob
 *   @@kvmtune:list <dir>/<glob>    names of entries matching glob (relative to dir)
 *   @@kvmtune:link <path>          the physical path a symlinked directory resolves to
 *   @@kvmtune:var <name>           a value computed by the script
 *   @@kvmtune:cmd <name>           output of an external command
 *   @@kvmtune:var unresponsive     `<dir> <seconds>` per block device that did not answer in that many seconds (below)
 *   @@kvmtune:end                  last line; its absence means truncated output
 *
 * Why these mechanisms:
 * - Regular sysfs/procfs files are read with the `read` builtin: no fork per file.
 * - sysfs *binary* attributes (node `cpulist`, topology `*_list`) return nothing
 *   to the 1-byte reads dash/ash use for `read`, so per-CPU and per-node files go
 *   through one `grep -Hs ''` per attribute instead (a few forks, not one per CPU).
 * - Symlinks to directories are resolved with `cd -P` + `$PWD` instead of a
 *   `readlink` fork; `/dev/disk/by-id` (links to device nodes) uses one `ls -l`.
 * - External commands get `</dev/null` so they cannot eat a script fed on stdin.
 *
 * Bounded block reads. A block device whose request queue is frozen (an
 * elevator switch waits for an in-flight request that never completes, holding
 * the queue's sysfs lock) makes reads of its `queue/*` files block in the
 * kernel, uninterruptibly: no timeout or signal ends them. Driver attributes
 * can wait on the device too (virtio-blk's `serial` is a request to it). So
 * each device's queue and driver files are read by a background subshell into
 * a private `mktemp -d` directory (stdin, stdout and stderr redirected, so a
 * stuck one holds nothing of the SSH session's), while the script goes on with
 * the other facts; the generic disk attributes (device link, size, ro,
 * removable, holders, slaves, partitions) never wait on the device and are read
 * in line. At the end the script polls for the readers' done markers until 5 s
 * (`KVMTUNE_FACTS_BLOCK_WAIT`, whole seconds, for tests) after the first one
 * started, prints the finished ones, and reports the rest as `unresponsive`
 * with that bound in seconds (they had at least that long; a fixed number
 * keeps the message the same from run to run); it never `wait`s for them.
 * One bound for the whole section rather than one per device: the readers run
 * side by side, so the facts read is never more than ~5 s slower however many
 * devices hang, and a host with many disks pays one fork per device, not a
 * wait per device. In the common case the readers are done long before the
 * end of the script, so no poll happens at all. Without a writable temp dir
 * the reads happen in line, unbounded, as before.
 *
 * FACTS_SCRIPT_BODY is the script without its final `exit 0`, for running in
 * line (`{ ...; } </dev/null`) before another script in the same command
 * (FACTS_AND_READ in knobs/execute.ts): it leaves the unresponsive devices'
 * directories, space-separated, in the shell variable `kt_unresponsive`.
 *
 * `KVMTUNE_FACTS_ROOT` (tests only) prefixes every path with a fake root, whose
 * /bin supplies stand-ins for `ip` and `virsh` (busybox ash runs its own `ip`
 * applet whatever PATH says), so fixtures can be produced from fake trees;
 * boot loader tools are then looked for in the tree's standard bin/sbin dirs.
 * The SSH server address comes from `KVMTUNE_SSH_CONNECTION` (exported by the
 * transport because sudo drops `SSH_CONNECTION`), else `SSH_CONNECTION`.
 */
// String.raw keeps the shell text verbatim; `\${` is the only escape (a template
// literal would otherwise substitute), undone here.
export const FACTS_SCRIPT_BODY = String.raw`set +e +u
unset CDPATH
LC_ALL=C
export LC_ALL
R=\${KVMTUNE_FACTS_ROOT:-}
B=
if [ -n "$R" ]; then
  B="$R/bin/"
else
  PATH="\${PATH:-/bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
fi

# In a fake root a FIFO may stand for a file whose read never returns (tests of
# the bounded block reads); real sysfs/procfs attributes are regular files.
kt_file() {
  for f_p in "$@"; do
    { [ -f "$R$f_p" ] || { [ -n "$R" ] && [ -p "$R$f_p" ]; }; } && [ -r "$R$f_p" ] || continue
    printf '@@kvmtune:file %s\n' "$f_p"
    while IFS= read -r f_l || [ -n "$f_l" ]; do printf '%s\n' "$f_l"; done 2>/dev/null <"$R$f_p"
  done
}
kt_each() {
  [ -d "$R$1" ] && [ -r "$R$1" ] && [ -x "$R$1" ] || return 0
  printf '@@kvmtune:%s %s/%s\n' "$3" "$1" "$2"
  for e_e in "$R$1"/$2; do
    if [ "$3" = dirs ]; then [ -d "$e_e" ] || continue; else [ -e "$e_e" ] || [ -L "$e_e" ] || continue; fi
    printf '%s\n' "\${e_e#"$R$1"/}"
  done
}
kt_list() { kt_each "$1" "\${2:-*}" list; }
kt_dirs() { kt_each "$1" "$2" dirs; }
kt_link() {
  for l_p in "$@"; do
    cd -P "$R$l_p" 2>/dev/null || continue
    printf '@@kvmtune:link %s\n%s\n' "$l_p" "\${PWD#"$R"}"
  done
  cd "$R/" 2>/dev/null || cd /
}
kt_var() { printf '@@kvmtune:var %s\n%s\n' "$1" "$2"; }
# A block device's files that may wait on the device: queue attributes (read
# under the queue's sysfs lock) and driver ones (virtio-blk's serial asks the device).
kt_blk() {
  kt_file "$1/queue/rotational" "$1/queue/scheduler" "$1/queue/read_ahead_kb" "$1/queue/nr_requests" \
    "$1/serial" "$1/wwid" "$1/dm/name" "$1/device/model" "$1/device/serial" "$1/device/wwid"
}
# Centiseconds since boot into n_now, empty when unknown (/proc/uptime says "S.CC";
# the "1CC - 100" keeps a leading zero from reading as octal). Real /proc, even under $R.
kt_now() {
  n_now=
  read -r n_now n_x 2>/dev/null </proc/uptime
  case $n_now in [0-9]*.[0-9][0-9]) n_now=$((\${n_now%.*} * 100 + 1\${n_now#*.} - 100)) ;; *) n_now= ;; esac
}
# POSIX sh has no "local": helpers use f_/e_/l_/n_ names, the main body kt_ names.

printf '@@kvmtune:facts 1\n'
while IFS= read -r kt_l; do
  case $kt_l in Uid:*) kt_var status-uid "$kt_l"; break ;; esac
done 2>/dev/null <"$R/proc/self/status"
kt_file /proc/sys/kernel/hostname /proc/sys/kernel/osrelease /proc/cmdline /proc/meminfo /proc/mounts /proc/swaps /proc/modules /proc/sys/net/ipv4/conf/all/arp_filter
# kvmtune's journal of originals (journal.ts): who owns which key, checked at preview.
kt_file /var/lib/kvmtune/journal
# The host's identity: the planner keys its ledger by it, not by the address it was reached at.
kt_file /etc/machine-id
if [ -r "$R/proc/cpuinfo" ]; then
  printf '@@kvmtune:cmd cpuinfo-head\n'
  while IFS= read -r kt_l; do
    case $kt_l in 'model name'*|flags*|Features*) printf '%s\n' "$kt_l" ;; esac
    case $kt_l in flags*|Features*) break ;; esac
  done 2>/dev/null <"$R/proc/cpuinfo"
fi

C=/sys/devices/system/cpu
N=/sys/devices/system/node
kt_file $C/online $C/present $C/possible $C/isolated $C/nohz_full $N/online $N/possible
kt_dirs $C 'cpu[0-9]*'
kt_list $C 'cpu[0-9]*/node[0-9]*'
kt_dirs $N 'node[0-9]*'
if cd "$R/" 2>/dev/null; then
  printf '@@kvmtune:grep cpu\n'
  for kt_a in online topology/core_id topology/physical_package_id topology/thread_siblings_list; do
    grep -Hs '' sys/devices/system/cpu/cpu[0-9]*/$kt_a 2>/dev/null </dev/null
  done
  printf '@@kvmtune:grep node\n'
  for kt_a in cpulist distance meminfo 'hugepages/hugepages-*/*_hugepages'; do
    grep -Hs '' sys/devices/system/node/node[0-9]*/$kt_a 2>/dev/null </dev/null
  done
fi

H=/sys/kernel/mm/hugepages
kt_dirs $H 'hugepages-*'
for kt_h in "$R$H"/hugepages-*; do
  kt_h=\${kt_h#"$R"}
  kt_file "$kt_h/nr_hugepages" "$kt_h/free_hugepages" "$kt_h/surplus_hugepages" "$kt_h/resv_hugepages" "$kt_h/nr_overcommit_hugepages"
done
kt_file /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag

kt_dirs /sys/block '*'
# Block devices (see "Bounded block reads" in facts-script.ts): per device, what
# never waits on the device is read here; its queue and driver files are read by
# a background reader of its own, collected at the end of the script.
kt_T=$(mktemp -d "\${TMPDIR:-/tmp}/kvmtune-facts.XXXXXX" 2>/dev/null </dev/null) || kt_T=
kt_bl=
kt_t0=
kt_unresponsive=
for kt_b in "$R"/sys/block/*; do
  [ -d "$kt_b" ] || continue
  kt_b=\${kt_b#"$R"}
  kt_d=\${kt_b##*/}
  kt_link "$kt_b/device"
  kt_file "$kt_b/size" "$kt_b/removable" "$kt_b/ro"
  kt_list "$kt_b/holders"
  kt_list "$kt_b/slaves"
  kt_dirs "$kt_b" "$kt_d*"
  for kt_p in "$R$kt_b/$kt_d"*; do
    [ -f "$kt_p/partition" ] || continue
    kt_p=\${kt_p#"$R"}
    kt_file "$kt_p/partition" "$kt_p/size"
    kt_list "$kt_p/holders"
  done
  if [ -z "$kt_T" ]; then kt_blk "$kt_b"; continue; fi
  [ -n "$kt_t0" ] || { kt_now; kt_t0=$n_now; }
  # A braced group, redirected as a whole: ash keeps copies of the session's fds
  # around a redirected simple command (to restore them), which a stuck one would
  # hold open. stderr first, so a failed open is not reported on the session's.
  { kt_blk "$kt_b"; : >"$kt_T/d.$kt_d"; } 2>/dev/null </dev/null >"$kt_T/o.$kt_d" &
  kt_bl="$kt_bl $kt_d"
done
if [ -d "$R/dev/disk/by-id" ]; then
  printf '@@kvmtune:cmd ls-by-id\n'
  ls -l "$R/dev/disk/by-id" 2>/dev/null </dev/null
fi

kt_dirs /sys/class/net '*'
for kt_i in "$R"/sys/class/net/*; do
  [ -d "$kt_i" ] || continue
  kt_i=\${kt_i#"$R"}
  kt_link "$kt_i/device" "$kt_i/device/driver" "$kt_i/device/physfn" "$kt_i/brport/bridge"
  kt_file "$kt_i/mtu" "$kt_i/address" "$kt_i/operstate" "$kt_i/device/sriov_totalvfs" "$kt_i/device/sriov_numvfs" "$kt_i/device/numa_node"
  kt_list "$kt_i/brif"
done
if kt_o=$("\${B}ip" -o addr show 2>/dev/null </dev/null); then
  printf '@@kvmtune:cmd ip-addr\n%s\n' "$kt_o"
fi
kt_o=\${KVMTUNE_SSH_CONNECTION:-\${SSH_CONNECTION:-}}
[ -z "$kt_o" ] || kt_var ssh-connection "$kt_o"

kt_dirs /sys/bus/pci/devices '*'
for kt_x in "$R"/sys/bus/pci/devices/*; do
  kt_x=\${kt_x#"$R"}
  kt_file "$kt_x/class" "$kt_x/vendor" "$kt_x/device" "$kt_x/numa_node" "$kt_x/sriov_totalvfs" "$kt_x/sriov_numvfs"
  kt_link "$kt_x/driver" "$kt_x/iommu_group" "$kt_x/physfn"
done
kt_dirs /sys/kernel/iommu_groups '*'
for kt_g in "$R"/sys/kernel/iommu_groups/*; do
  kt_list "\${kt_g#"$R"}/devices"
done

if [ -e "$R/dev/vhost-net" ]; then kt_var dev-vhost-net yes; else kt_var dev-vhost-net no; fi
if [ -e "$R/dev/kvm" ]; then kt_var dev-kvm yes; else kt_var dev-kvm no; fi
kt_list /sys/module
if kt_o=$(command -v "\${B}virsh" 2>/dev/null); then
  kt_var virsh-path "\${kt_o#"$R"}"
  kt_vp=$kt_o
  if kt_o=$("$kt_o" --version 2>/dev/null </dev/null); then kt_var virsh-version "$kt_o"; fi
  # Every libvirt domain, so the planner sees guests of other programs (facts-domains.ts).
  # Cost: one virsh call per domain (dumpxml --inactive), each bounded by timeout(1)
  # where it exists; at most 128 domains and none started after 30 s. Each XML line is
  # printed behind '|' so no text in a domain (a <description>) can start a section.
  kt_to=
  kt_o=$(command -v timeout 2>/dev/null) && kt_to="$kt_o 15"
  # LC_ALL=C: the state column ("shut off") is translated in other locales.
  kt_v() { LC_ALL=C $kt_to "$kt_vp" -q -c qemu:///system "$@" 2>/dev/null </dev/null; }
  if kt_o=$(kt_v list --all) && kt_n=$(kt_v list --all --name); then
    printf '@@kvmtune:cmd virsh-list\n%s\n' "$kt_o"
    kt_now
    kt_t1=$n_now
    kt_i=0
    kt_left=0
    while IFS= read -r kt_d; do
      [ -n "$kt_d" ] || continue
      kt_now
      if [ "$kt_i" -ge 128 ] || { [ -n "$n_now" ] && [ -n "$kt_t1" ] && [ $((n_now - kt_t1)) -ge 3000 ]; }; then
        kt_left=$((kt_left + 1))
        continue
      fi
      kt_i=$((kt_i + 1))
      if ! kt_x=$(kt_v dumpxml --inactive -- "$kt_d"); then kt_left=$((kt_left + 1)); continue; fi
      printf '@@kvmtune:cmd domain-xml %s\n' "$kt_i"
      while IFS= read -r kt_l; do printf '|%s\n' "$kt_l"; done <<KT_EOF
$kt_x
KT_EOF
    done <<KT_EOF
$kt_n
KT_EOF
    [ "$kt_left" -eq 0 ] || kt_var domains-left-out "$kt_left"
  else
    kt_var domains-unlisted yes
  fi
fi

# Boot loader tools: PATH is walked by hand (no fork; busybox's command -v also
# names files that are not executable), under $R for fake roots.
if [ -n "$R" ]; then kt_s=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; else kt_s=$PATH; fi
kt_o=
for kt_t in update-grub grub-mkconfig grub2-mkconfig grubby; do
  kt_p=$kt_s:
  while [ -n "$kt_p" ]; do
    kt_d=\${kt_p%%:*}
    kt_p=\${kt_p#*:}
    if [ -n "$kt_d" ] && [ -f "$R$kt_d/$kt_t" ] && [ -x "$R$kt_d/$kt_t" ]; then kt_o="$kt_o $kt_t"; break; fi
  done
done
kt_var boot-tools "\${kt_o# }"
kt_o=
for kt_c in /boot/grub/grub.cfg /boot/grub2/grub.cfg; do [ -f "$R$kt_c" ] && kt_o="$kt_o $kt_c"; done
kt_var boot-configs "\${kt_o# }"
kt_list /boot/loader/entries '*.conf'

# Boot-time actors that set what kvmtune persists (read by facts-boot.ts): the
# sysctl.d names and their non-comment lines, udev rules lines naming queue/ or
# {mtu}, .link/.network files with MTUBytes, tuned's state and profile chain.
# Names in /etc and /run are listed because a same-named file there masks one
# below. /lib is skipped when it is a link to usr/lib (merged /usr).
kt_lib=lib
[ -L "$R/lib" ] && kt_lib=
for kt_d in /etc /run /usr/local/lib /usr/lib \${kt_lib:+/$kt_lib}; do kt_list $kt_d/sysctl.d '*.conf'; done
for kt_d in /etc /run; do kt_list $kt_d/udev/rules.d '*.rules'; kt_list $kt_d/systemd/network; done
kt_list /etc/systemd/system '*.wants/tuned.service'
kt_list /etc/systemd/system '*.wants/systemd-networkd.service'
if [ -e "$R/run/tuned/tuned.pid" ]; then kt_var tuned-running yes; else kt_var tuned-running no; fi
kt_file /etc/tuned/active_profile /etc/tuned/post_loaded_profile
if cd "$R/" 2>/dev/null; then
  kt_g=etc/sysctl.conf
  kt_u=
  kt_n=
  for kt_d in etc run usr/local/lib usr/lib $kt_lib; do
    kt_g="$kt_g $kt_d/sysctl.d/*.conf"
    kt_u="$kt_u $kt_d/udev/rules.d/*.rules"
    kt_n="$kt_n $kt_d/systemd/network/*.link $kt_d/systemd/network/*.network"
  done
  printf '@@kvmtune:grep boot-sysctl\n'
  grep -Hsv -e '^[[:space:]]*[#;]' -e '^[[:space:]]*$' $kt_g 2>/dev/null </dev/null
  printf '@@kvmtune:grep boot-udev\n'
  grep -Hs -e 'queue/' -e '{mtu}' $kt_u 2>/dev/null </dev/null
  printf '@@kvmtune:grep boot-networkd\n'
  kt_o=$(grep -ls MTUBytes $kt_n 2>/dev/null </dev/null)
  [ -z "$kt_o" ] || grep -Hsv -e '^[[:space:]]*[#;]' -e '^[[:space:]]*$' $kt_o 2>/dev/null </dev/null
  printf '@@kvmtune:grep boot-tuned\n'
  grep -Hs '^[[:space:]]*reapply_sysctl' etc/tuned/tuned-main.conf 2>/dev/null </dev/null
else
  printf '@@kvmtune:grep boot-tuned\n'
fi
# tuned profiles: active ones and their [main] include= parents, every profile
# dir's copy (one in /etc may include the /usr/lib one of the same name), at
# most 24 names; non-comment lines, printed as grep would.
kt_q=
for kt_c in /etc/tuned/active_profile /etc/tuned/post_loaded_profile; do
  kt_o=
  [ -f "$R$kt_c" ] && [ -r "$R$kt_c" ] || continue
  { IFS= read -r kt_o || [ -n "$kt_o" ]; } 2>/dev/null <"$R$kt_c" && kt_q="$kt_q $kt_o"
done
kt_seen=' '
kt_i=0
while [ "$kt_i" -lt 24 ]; do
  kt_i=$((kt_i + 1))
  set -f
  IFS=' ,;	'
  set -- $kt_q
  unset IFS
  set +f
  [ "$#" -gt 0 ] || break
  kt_p=\${1#-}
  shift
  kt_q="$*"
  case $kt_p in ''|.|..|*[!A-Za-z0-9_.-]*) continue ;; esac
  case $kt_seen in *" $kt_p "*) continue ;; esac
  kt_seen="$kt_seen$kt_p "
  for kt_c in /etc/tuned/profiles /etc/tuned /usr/lib/tuned/profiles /usr/lib/tuned; do
    kt_c=$kt_c/$kt_p/tuned.conf
    [ -f "$R$kt_c" ] && [ -r "$R$kt_c" ] || continue
    kt_sec=
    while IFS= read -r kt_l || [ -n "$kt_l" ]; do
      case $kt_l in ''|'#'*|';'*) continue ;; '['*) kt_sec=$kt_l ;; esac
      printf '%s:%s\n' "\${kt_c#/}" "$kt_l"
      [ "$kt_sec" = '[main]' ] || continue
      case $kt_l in include*=*) kt_q="$kt_q \${kt_l#*=}" ;; esac
    done 2>/dev/null <"$R$kt_c"
  done
done

# Bounded block reads: collect the per-device readers, waiting for them until
# kt_limit centiseconds after the first one started; never "wait" (a reader
# stuck in the kernel would hold the script forever). Devices whose reader is
# not done are reported and their directories left in kt_unresponsive.
if [ -n "$kt_T" ]; then
  kt_limit=\${KVMTUNE_FACTS_BLOCK_WAIT:-5}
  case $kt_limit in ''|*[!0-9]*) kt_limit=5 ;; esac
  kt_limit=$((kt_limit * 100))
  kt_w=0
  kt_step=5
  while :; do
    kt_o=
    for kt_d in $kt_bl; do [ -e "$kt_T/d.$kt_d" ] || kt_o="$kt_o $kt_d"; done
    [ -n "$kt_o" ] || break
    kt_now
    if [ -n "$n_now" ] && [ -n "$kt_t0" ]; then kt_w=$((n_now - kt_t0)); else kt_w=$((kt_w + kt_step)); fi
    [ "$kt_w" -lt "$kt_limit" ] || break
    sleep 0.05 2>/dev/null </dev/null || { kt_step=100; sleep 1 </dev/null; }
  done
  kt_o=
  for kt_d in $kt_bl; do
    if [ -e "$kt_T/d.$kt_d" ]; then kt_o="$kt_o o.$kt_d"; else kt_unresponsive="$kt_unresponsive /sys/block/$kt_d"; fi
  done
  # One cat for every device (names have no spaces or glob characters).
  if [ -n "$kt_o" ] && cd "$kt_T" 2>/dev/null; then
    cat $kt_o 2>/dev/null </dev/null
    cd /
  fi
  if [ -n "$kt_unresponsive" ]; then
    printf '@@kvmtune:var unresponsive\n'
    for kt_d in $kt_unresponsive; do printf '%s %s\n' "$kt_d" "$((kt_limit / 100))"; done
  fi
  # In the background: nothing here needs to wait for it (its fds are not the session's).
  rm -rf "$kt_T" 2>/dev/null </dev/null >/dev/null &
fi
printf '@@kvmtune:end\n'
`.replace(/\\\$\{/g, "${");

/** The facts script as a command of its own. */
export const FACTS_SCRIPT = `${FACTS_SCRIPT_BODY}exit 0\n`;
