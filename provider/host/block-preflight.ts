/**
 * Resolves a block device path on a host in ONE remote command, for the
 * PassthroughDisk preflight (provider/plan/passthrough-block.ts).
 *
 * The path is checked locally first (`checkBlockPath`: absolute, no `.`/`..`
 * segments, under /dev, no control characters) and only then sent to the host,
 * on stdin: it never becomes part of the shell text.
 *
 * Output of BLOCK_RESOLVE_SCRIPT, one `key=value` per line:
 *   @@kvmtune:block 1         format version (first line)
 *   realpath=<path>           `readlink -f` of the path (absent when it cannot be resolved)
 *   kind=<kind>               block | char | directory | file | fifo | socket | other | missing
 *   majmin=<major>:<minor>    decimal, block devices only
 *   name=<kernel name>        /sys/dev/block/<majmin> (sysfs spelling, "!" for "/")
 *   disk=<kernel name>        the whole disk (== name unless a partition)
 *   partition=<n>             partition number, partitions only
 *   byid=<link>               a /dev/disk/by-id entry resolving to the same node (repeated)
 *   loop=<loop> <backing>     a loop device whose backing file is a block device (repeated)
 *   @@kvmtune:end             last line; its absence means truncated output
 */
import type { RemoteSession } from "../transport/types";

/** What the path is after following symlinks. */
export type BlockPathKind = "block" | "char" | "directory" | "file" | "fifo" | "socket" | "other" | "missing";

/** A loop device attached to a block device (losetup /dev/loopN /dev/sdX). */
export interface LoopBacking {
  /** e.g. "loop0". */
  loop: string;
  /** Kernel name of the block device it reads, e.g. "sdb" or "sdb1". */
  backing: string;
}

/** The host's answer for one path. */
export interface ResolvedBlockDevice {
  /** The path as asked. */
  path: string;
  /** `readlink -f`; null when the path does not resolve (missing, symlink loop). */
  realpath: string | null;
  kind: BlockPathKind;
  /** S_ISBLK of the resolved node. */
  isBlock: boolean;
  /** "major:minor" in decimal; null unless a block device. */
  majorMinor: string | null;
  /** Kernel name of the device, e.g. "sdb", "sdb1", "dm-0". */
  name: string | null;
  /** Whole disk: `name` itself, or the disk a partition lives on. */
  disk: string | null;
  /** Partition number when `name` is a partition. */
  partition: number | null;
  /** /dev/disk/by-id paths pointing at this very device, sorted. */
  byId: string[];
  /** Every loop device on the host backed by a block device (the planner picks the ones that matter). */
  loops: LoopBacking[];
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_PATH = 4096;

/**
 * Problems with a user-given device path, found without any I/O; empty when fine.
 * `field` names the input in messages.
 */
export function checkBlockPath(path: unknown, field = "path"): string[] {
  if (typeof path !== "string") return [`${field} must be a string path under /dev, got ${typeof path}`];
  const shown = JSON.stringify(path.length > 200 ? `${path.slice(0, 197)}...` : path);
  const hint = "give an absolute path under /dev, e.g. /dev/disk/by-id/wwn-0x5000c500a1b2c3d4";
  if (path.length > MAX_PATH) return [`${field} ${shown} is longer than ${MAX_PATH} characters`];
  if (CONTROL.test(path)) return [`${field} ${shown} contains control characters; ${hint}`];
  if (!path.startsWith("/")) return [`${field} ${shown} is not absolute; ${hint}`];
  const segments = path.split("/").slice(1);
  if (segments.includes("..")) return [`${field} ${shown} has a ".." segment; ${hint} without ".."`];
  if (segments.includes(".")) return [`${field} ${shown} has a "." segment; ${hint} without "."`];
  if (segments[0] !== "dev" || segments.length < 2 || segments.every((s, i) => i === 0 || s === "")) {
    return [`${field} ${shown} is not under /dev; ${hint}`];
  }
  return [];
}

// String.raw keeps the shell text verbatim; `\${` is the only escape, undone below.
export const BLOCK_RESOLVE_SCRIPT = String.raw`set +e +u
unset CDPATH
LC_ALL=C
export LC_ALL
PATH="\${PATH:-/bin}:/usr/sbin:/usr/bin:/sbin:/bin"
nl='
'
p=
IFS= read -r p
printf '@@kvmtune:block 1\n'
kt_dev() {
  # kernel name of the block node $1 -> kt_n, kt_disk, kt_part; majmin -> kt_mm
  kt_n= kt_disk= kt_part= kt_mm=
  set -- $(stat -L -c '%t %T' "$1" 2>/dev/null </dev/null)
  [ $# -eq 2 ] || return 1
  kt_mm=$((0x$1)):$((0x$2))
  cd -P "/sys/dev/block/$kt_mm" 2>/dev/null || return 1
  kt_n=\${PWD##*/}
  kt_disk=$kt_n
  if [ -f partition ]; then
    IFS= read -r kt_part <partition
    cd -P .. 2>/dev/null && kt_disk=\${PWD##*/}
  fi
  cd /
  return 0
}
case $p in
  /*) ;;
  *) printf 'kind=missing\n@@kvmtune:end\n'; exit 0 ;;
esac
r=$(readlink -f "$p" 2>/dev/null </dev/null)
case $r in
  *"$nl"*) r= ;;
esac
t=\${r:-$p}
if [ -b "$t" ]; then k=block
elif [ -c "$t" ]; then k=char
elif [ -d "$t" ]; then k=directory
elif [ -f "$t" ]; then k=file
elif [ -p "$t" ]; then k=fifo
elif [ -S "$t" ]; then k=socket
elif [ -e "$t" ]; then k=other
else k=missing
fi
[ -z "$r" ] || printf 'realpath=%s\n' "$r"
printf 'kind=%s\n' "$k"
if [ "$k" = block ] && kt_dev "$t"; then
  printf 'majmin=%s\nname=%s\ndisk=%s\n' "$kt_mm" "$kt_n" "$kt_disk"
  [ -z "$kt_part" ] || printf 'partition=%s\n' "$kt_part"
  for l in /dev/disk/by-id/*; do
    [ -L "$l" ] || continue
    case \${l##*/} in *"$nl"*) continue ;; esac
    [ "$l" -ef "$t" ] && printf 'byid=%s\n' "\${l##*/}"
  done
  for b in /sys/block/loop*/loop/backing_file; do
    [ -f "$b" ] || continue
    f=
    IFS= read -r f <"$b"
    [ -b "$f" ] || continue
    lp=\${b%/loop/backing_file}
    lp=\${lp##*/}
    kt_dev "$f" && printf 'loop=%s %s\n' "$lp" "$kt_n"
  done
fi
printf '@@kvmtune:end\n'
exit 0
`.replace(/\\\$\{/g, "${");

const KINDS: readonly BlockPathKind[] = ["block", "char", "directory", "file", "fifo", "socket", "other", "missing"];

/** Parses BLOCK_RESOLVE_SCRIPT output for `path`; throws on output that is not complete. */
export function parseBlockResolution(path: string, output: string): ResolvedBlockDevice {
  const lines = output.split("\n");
  if (lines[0] !== "@@kvmtune:block 1") throw new Error(`unexpected block resolver output (first line ${JSON.stringify(lines[0] ?? "")})`);
  const end = lines.indexOf("@@kvmtune:end");
  if (end < 0) throw new Error("block resolver output is truncated (no end marker)");
  const out: ResolvedBlockDevice = {
    path, realpath: null, kind: "missing", isBlock: false, majorMinor: null, name: null, disk: null, partition: null, byId: [], loops: [],
  };
  let kindSeen = false;
  for (const line of lines.slice(1, end)) {
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`unexpected block resolver line ${JSON.stringify(line)}`);
    const [key, value] = [line.slice(0, eq), line.slice(eq + 1)];
    switch (key) {
      case "realpath":
        out.realpath = value;
        break;
      case "kind":
        if (!(KINDS as readonly string[]).includes(value)) throw new Error(`unexpected kind ${JSON.stringify(value)}`);
        out.kind = value as BlockPathKind;
        out.isBlock = value === "block";
        kindSeen = true;
        break;
      case "majmin":
        if (!/^\d+:\d+$/.test(value)) throw new Error(`unexpected major:minor ${JSON.stringify(value)}`);
        out.majorMinor = value;
        break;
      case "name":
        out.name = value;
        break;
      case "disk":
        out.disk = value;
        break;
      case "partition":
        out.partition = /^\d+$/.test(value) ? Number(value) : null;
        break;
      case "byid":
        out.byId.push(`/dev/disk/by-id/${value}`);
        break;
      case "loop": {
        const [loop, backing] = value.split(" ");
        if (loop && backing) out.loops.push({ loop, backing });
        break;
      }
      default:
        // newer keys from a newer script are ignored
        break;
    }
  }
  if (!kindSeen) throw new Error("block resolver output has no kind line");
  out.byId.sort();
  return out;
}

/**
 * Resolves `path` on the host behind `session` in one command, the path going
 * on stdin. An invalid path throws before anything is sent.
 */
export async function resolveBlockDevice(session: RemoteSession, path: string): Promise<ResolvedBlockDevice> {
  const problems = checkBlockPath(path);
  if (problems.length) throw new Error(`cannot resolve block device on ${session.target}: ${problems.join("; ")}`);
  const r = await session.run(BLOCK_RESOLVE_SCRIPT, { stdin: `${path}\n`, label: "resolve block device" });
  if (r.code !== 0) {
    throw new Error(`resolving ${JSON.stringify(path)} on ${session.target} failed with exit code ${r.code}: ${r.stderr.trim().slice(-500) || "no stderr"}`);
  }
  try {
    return parseBlockResolution(path, r.stdout);
  } catch (err) {
    throw new Error(`resolving ${JSON.stringify(path)} on ${session.target}: ${(err as Error).message}`);
  }
}
