import { GENERATOR_COMMANDS, GRUB_GENERATORS } from "../bootloader";
import { JOURNAL_DIR, JOURNAL_PATH } from "../journal";
import type { RemoteOp } from "./types";

/** Why an update-bootloader step without a generator fails: check refuses such hosts, so reaching it is a bug. */
export const NO_GENERATOR = "no boot loader tool kvmtune can drive on this host, so the boot loader configuration was not regenerated (check should have refused this setting)";

/**
 * Remote side of knob reads and writes. Both scripts are fixed text; what to
 * read or do arrives on stdin as data, one item per line, so no path or value
 * is ever parsed as shell. Paths come from validated keys (no spaces, no `..`).
 */

/**
 * Reads files listed on stdin (one path or glob per line). Missing files are
 * reported as such, empty ones as empty. A path under one of the directories
 * in the shell variable `kvmtune_hung` (space-separated; set by FACTS_AND_READ
 * from the facts script's unresponsive block devices) is reported as
 * `@@kvmtune:hung <path>` and not read: reading it would block in the kernel.
 */
export const READ_SCRIPT = String.raw`LC_ALL=C; export LC_ALL
while IFS= read -r p; do
  [ -n "$p" ] || continue
  for f in $p; do
    for h in $kvmtune_hung; do
      case $f in "$h"/*) printf '@@kvmtune:hung %s\n' "$f"; continue 2 ;; esac
    done
    if [ -f "$f" ] && [ -r "$f" ]; then
      printf '@@kvmtune:read %s\n' "$f"
      grep -s '' "$f" </dev/null
      printf '@@kvmtune:eof\n'
    elif [ -d "$f" ]; then
      printf '@@kvmtune:dir %s\n' "$f"
    else
      printf '@@kvmtune:missing %s\n' "$f"
    fi
  done
done
printf '@@kvmtune:end\n'
`;

/**
 * What one READ_SCRIPT run found: path -> content (undefined = missing), and
 * apart from those, `hung`: the paths it did not read because their block
 * device did not answer the facts read. A hung path is not a key of the map
 * (its content is unknown, not absent), so a knob reading it sees undefined;
 * plans refuse such keys first (planUnresponsive).
 */
export type FileReads = Map<string, string | undefined> & {
  readonly hung: readonly string[];
  /** Paths that are directories (not keys of the map either): e.g. a mount point kvmtune would otherwise create. */
  readonly dirs?: readonly string[];
};

/** Parses READ_SCRIPT output. Glob requests map to every match. */
export function parseReadOutput(output: string): FileReads {
  const files = new Map<string, string | undefined>();
  const hung: string[] = [];
  const dirs: string[] = [];
  if (!output.includes("@@kvmtune:end")) throw new Error("knob read output was truncated (no end marker)");
  const lines = output.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("@@kvmtune:missing ")) {
      files.set(line.slice("@@kvmtune:missing ".length), undefined);
    } else if (line.startsWith("@@kvmtune:dir ")) {
      dirs.push(line.slice("@@kvmtune:dir ".length));
    } else if (line.startsWith("@@kvmtune:hung ")) {
      hung.push(line.slice("@@kvmtune:hung ".length));
    } else if (line.startsWith("@@kvmtune:read ")) {
      const path = line.slice("@@kvmtune:read ".length);
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== "@@kvmtune:eof"; i++) body.push(lines[i]);
      files.set(path, body.join("\n"));
    }
  }
  return Object.assign(files, { hung, dirs });
}

/** A line that ends APPLY_SCRIPT's ops early, so another script can read the rest of stdin (a domain write after its journal ops). */
export const OPS_END = "@@kvmtune:ops-end";

/**
 * Runs ops from stdin in order and stops at the first failure, so the error
 * names the step. Each line: op TAB arg1 TAB arg2; file contents are base64.
 * Writes to persistence files go through a temp file and rename: a read-only
 * or full /etc never leaves a truncated file behind.
 */
export const APPLY_SCRIPT = String.raw`LC_ALL=C; export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
tab=$(printf '\t')
n=0
fail() { printf '@@kvmtune:fail %s %s\n' "$n" "$(printf '%s' "$1" | tr '\n' ' ')"; exit 3; }
while IFS="$tab" read -r op a b; do
  [ -n "$op" ] || continue
  [ "$op" != "${OPS_END}" ] || break
  case "$op" in
    write)
      for f in $a; do
        out=$( { printf '%s\n' "$b" > "$f"; } 2>&1 ) || { [ -n "$out" ] || out="the kernel refused the value (this shell gives no reason)"; fail "write $f: $out"; }
      done ;;
    modprobe)
      out=$(modprobe -- "$a" 2>&1 </dev/null) || fail "modprobe $a: $out" ;;
    rmmod)
      out=$(modprobe -r -- "$a" 2>&1 </dev/null) || fail "modprobe -r $a: $out" ;;
    mount-hugetlbfs)
      out=$( { mkdir -p "$a" && mount -t hugetlbfs -o "pagesize=$b" none "$a"; } 2>&1 </dev/null) || fail "mount hugetlbfs at $a: $out" ;;
    umount)
      out=$(umount "$a" 2>&1 </dev/null) || fail "umount $a: $out" ;;
    file)
      if [ -z "$b" ]; then
        out=$(rm -f "$a" 2>&1) || fail "remove $a: $out"
      else
        tmp="$a.kvmtune-tmp.$$"
        out=$( { mkdir -p "$(dirname "$a")" && printf '%s' "$b" | base64 -d > "$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$a"; } 2>&1 ) || { rm -f "$tmp"; fail "write $a: $out"; }
      fi ;;
    managed-block)
      begin="# BEGIN kvmtune $b"; end="# END kvmtune $b"
      IFS="$tab" read -r c
      tmp="$a.kvmtune-tmp.$$"
      out=$( { { [ -f "$a" ] && awk -v b="$begin" -v e="$end" '$0==b{s=1;next} $0==e{s=0;next} !s' "$a"; if [ -n "$c" ]; then printf '%s\n' "$begin"; printf '%s' "$c" | base64 -d; printf '%s\n' "$end"; fi; } > "$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$a"; } 2>&1 ) || { rm -f "$tmp"; fail "update $a: $out"; } ;;
    update-bootloader)
      case "$a" in
        update-grub) out=$(update-grub 2>&1 </dev/null) || fail "update-grub: $out" ;;
        grub-mkconfig) out=$(grub-mkconfig -o /boot/grub/grub.cfg 2>&1 </dev/null) || fail "grub-mkconfig -o /boot/grub/grub.cfg: $out" ;;
        grub2-mkconfig) out=$(grub2-mkconfig -o /boot/grub2/grub.cfg 2>&1 </dev/null) || fail "grub2-mkconfig -o /boot/grub2/grub.cfg: $out" ;;
        *) fail "${NO_GENERATOR}" ;;
      esac ;;
    prune)
      # Something kvmtune created and no longer needs: only an empty directory or an empty file goes.
      if [ -d "$a" ]; then rmdir "$a" 2>/dev/null; elif [ -f "$a" ] && [ ! -s "$a" ]; then rm -f "$a"; fi ;;
    journal)
      # One key's line, found by its prefix (journal.ts): compare, then replace, under a lock whose
      # holder is named by its PID (busybox has no flock); a lock whose process is gone is broken.
      IFS="$tab" read -r c
      jd=${JOURNAL_DIR}; jf=${JOURNAL_PATH}; jl=$jd/lock; jp="{\"key\":\"$a\","
      want=$(printf '%s' "$b" | base64 -d); new=$(printf '%s' "$c" | base64 -d)
      i=0
      until { mkdir -p "$jd" && chmod 700 "$jd" && ln -s "$$" "$jl"; } 2>/dev/null; do
        o=$(readlink "$jl" 2>/dev/null) && [ -n "$o" ] && ! kill -0 "$o" 2>/dev/null && rm -f "$jl"
        i=$((i+1)); [ "$i" -lt 300 ] || fail "the journal $jf stays locked by process $o (another kvmtune run on this host?)"
        sleep 0.1 2>/dev/null || sleep 1
      done
      have=$( [ -f "$jf" ] && awk -v p="$jp" 'index($0, p) == 1' "$jf" )
      if [ "$have" != "$want" ]; then rm -f "$jl"; fail "the journal entry of $a in $jf changed since it was read (another kvmtune run on this host?); run again"; fi
      tmp="$jf.kvmtune-tmp.$$"
      out=$( { umask 077; { [ ! -f "$jf" ] || awk -v p="$jp" 'index($0, p) != 1' "$jf"; [ -z "$new" ] || printf '%s\n' "$new"; } > "$tmp" && chmod 600 "$tmp" && mv -f "$tmp" "$jf"; } 2>&1 ) || { rm -f "$tmp" "$jl"; fail "update $jf: $out"; }
      [ -s "$jf" ] || rm -f "$jf"
      rm -f "$jl"
      [ -e "$jf" ] || rmdir "$jd" 2>/dev/null
      ;;
    *) fail "unknown op $op" ;;
  esac
  printf '@@kvmtune:ok %s\n' "$n"
  n=$((n+1))
done
printf '@@kvmtune:end\n'
`;

function field(text: string, what: string): string {
  if (/[\t\n\r]/.test(text)) throw new Error(`internal: ${what} contains a tab or newline: ${JSON.stringify(text)}`);
  return text;
}

/** Encodes ops as APPLY_SCRIPT's stdin. */
export function encodeOps(ops: readonly RemoteOp[]): string {
  return ops
    .map((o) => {
      switch (o.op) {
        case "write":
          return `write\t${field(o.path, "path")}\t${field(o.value, "value")}`;
        case "modprobe":
        case "rmmod":
          return `${o.op}\t${field(o.module, "module")}\t`;
        case "mount-hugetlbfs":
          return `mount-hugetlbfs\t${field(o.dir, "dir")}\t${field(o.pageSize, "page size")}`;
        case "umount":
          return `umount\t${field(o.dir, "dir")}\t`;
        case "file":
          return `file\t${field(o.path, "path")}\t${Buffer.from(o.content, "utf8").toString("base64")}`;
        case "managed-block":
          return `managed-block\t${field(o.path, "path")}\t${field(o.tag, "tag")}\n${Buffer.from(o.content, "utf8").toString("base64")}`;
        case "update-bootloader":
          // Only a name from the allowlist travels; the host side maps it to a fixed command line.
          if (o.tool !== "none" && !GRUB_GENERATORS.includes(o.tool)) throw new Error(`internal: boot loader tool ${JSON.stringify(o.tool)} is not one kvmtune drives`);
          return `update-bootloader\t${o.tool}\t`;
        case "prune":
          return `prune\t${field(o.path, "path")}\t`;
        case "journal":
          // The key is matched on the host as text inside a JSON prefix: it must need no JSON escaping.
          if (JSON.stringify(o.key) !== `"${o.key}"` || /[\t\n]/.test(o.key)) throw new Error(`internal: journal key ${JSON.stringify(o.key)} needs escaping`);
          return `journal\t${o.key}\t${Buffer.from(o.expected, "utf8").toString("base64")}\n${Buffer.from(o.line, "utf8").toString("base64")}`;
      }
    })
    .map((l) => `${l}\n`)
    .join("");
}

export interface ApplyOutcome {
  /** Ops that completed, counted from the start. */
  done: number;
  /** Index and message of the op that failed. */
  failed?: { index: number; message: string };
  notes: string[];
  /** False when the output ended early (connection lost mid-apply). */
  complete: boolean;
}

export function parseApplyOutput(output: string): ApplyOutcome {
  let done = 0;
  let failed: ApplyOutcome["failed"];
  const notes: string[] = [];
  for (const line of output.split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^@@kvmtune:ok (\d+)$/.exec(line))) done = Number(m[1]) + 1;
    else if ((m = /^@@kvmtune:fail (\d+) (.*)$/.exec(line))) failed = { index: Number(m[1]), message: m[2].trim() };
    else if (line.startsWith("@@kvmtune:note ")) notes.push(line.slice("@@kvmtune:note ".length));
  }
  return { done, failed, notes, complete: failed !== undefined || output.includes("@@kvmtune:end") };
}

/** Short human description of an op for messages. */
export function describeOp(o: RemoteOp): string {
  switch (o.op) {
    case "write":
      return `write ${JSON.stringify(o.value)} to ${o.path}`;
    case "modprobe":
      return `load module ${o.module}`;
    case "rmmod":
      return `unload module ${o.module}`;
    case "mount-hugetlbfs":
      return `mount hugetlbfs (${o.pageSize}) at ${o.dir}`;
    case "umount":
      return `unmount ${o.dir}`;
    case "file":
      return o.content === "" ? `remove ${o.path}` : `write ${o.path}`;
    case "managed-block":
      return `${o.content === "" ? "remove" : "write"} kvmtune's block in ${o.path}`;
    case "update-bootloader":
      return `regenerate the boot loader configuration (${o.tool === "none" ? "no tool" : GENERATOR_COMMANDS[o.tool]})`;
    case "prune":
      return `remove ${o.path} if empty (kvmtune created it)`;
    case "journal":
      return o.line === "" ? `remove ${o.key} from the journal of originals` : o.expected === "" ? `record the original of ${o.key} in the journal` : `update the journal entry of ${o.key}`;
  }
}
