/**
 * Measured placement of a running QEMU: where its threads may run and where its
 * memory is, read from /proc and the cpuset cgroup, not assumed from the XML.
 * `PLACEMENT_SCRIPT` reads (remote side), `parseObservedPlacement` interprets (pure).
 *
 * Raw text, one record per line, fields separated by one space:
 *   P <pid>                      first line; "P -" when $pid is not a live process
 *   C v2|v1|none                 cpuset cgroup flavour (v1 = the legacy cpuset hierarchy)
 *   T <tid> <lastCpu> <Cpus_allowed_list> <Mems_allowed_list> <cgroup> <comm>
 *   G <cgroup> <cpus> <cpus.effective> <mems> <mems.effective>
 *   M <sizeKiB> <perms> <numa_maps line>   size/perms joined from /proc/pid/maps
 *   X task|numa_maps             a cap (4096 threads, 4000 mappings) cut the output
 *   E                            last line; its absence means truncated output
 * <cgroup> and <comm> are percent-encoded bytes (all but [A-Za-z0-9._/:@+,-]),
 * so spaces, parentheses and newlines in a thread name cannot split a record;
 * a missing value is "-", an empty cgroup file ".".
 */
import { formatCpuList, parseCpuList } from "../host/sysfs-parse";

// String.raw keeps the shell and awk text verbatim; it contains no "${" and no
// backtick. Everything runs in one awk (no fork per thread or file) and in BEGIN.
/** POSIX sh fragment (dash, busybox ash; cat/sed/awk/printf only); reads `$pid`, prints the raw text above. */
export const PLACEMENT_SCRIPT = String.raw`case $pid in
''|*[!0-9]*) printf 'P -\nE\n' ;;
*)
kt_tids=
for kt_t in /proc/"$pid"/task/[0-9]*; do kt_tids="$kt_tids $kt_t"; done
LC_ALL=C awk -v pid="$pid" -v tids="$kt_tids" -v maxt=4096 -v maxm=4000 '
function slurp(f,  l, s) { s = ""; OK = 0
  while ((getline l < f) > 0) { s = (OK++ ? s "\n" l : l) }
  close(f); return s }
function val(f,  s) { s = slurp(f); return OK ? (s == "" ? "." : s) : "-" }
function enc(s,  i, c, o) { o = ""
  for (i = 1; i <= length(s); i++) { c = substr(s, i, 1)
    o = o (index(SAFE, c) ? c : sprintf("%%%02X", ORD[c])) }
  return o }
function field(s, k,  n, i, L) { n = split(s, L, "\n")
  for (i = 1; i <= n; i++) if (index(L[i], k ":") == 1) { s = substr(L[i], length(k) + 2); gsub(/[ \t]/, "", s); return s }
  return "-" }
function cgpath(s,  n, i, L, r, j) { n = split(s, L, "\n")
  for (i = 1; i <= n; i++) {
    if (mode == "v2" && index(L[i], "0::") == 1) return substr(L[i], 4)
    j = index(L[i], ":"); r = substr(L[i], j + 1); j = index(r, ":")
    if (mode == "v1" && index("," substr(r, 1, j - 1) ",", ",cpuset,")) return substr(r, j + 1) }
  return "" }
function hex(s,  i, n) { n = 0
  for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
  return n }
BEGIN {
  SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/:@+,-"
  for (i = 1; i < 256; i++) ORD[sprintf("%c", i)] = i
  slurp("/proc/" pid "/status"); if (!OK) { print "P -"; print "E"; exit }
  print "P " pid
  mode = "none"; base = "/sys/fs/cgroup"
  if ((getline l < "/sys/fs/cgroup/cgroup.controllers") >= 0) mode = "v2"
  else if ((getline l < "/sys/fs/cgroup/cpuset/cpuset.cpus") >= 0) { mode = "v1"; base = base "/cpuset" }
  print "C " mode
  n = split(tids, T, " ")
  if (n > maxt) { n = maxt; cut = "task" }
  for (i = 1; i <= n; i++) {
    tid = T[i]; sub(/.*\//, "", tid); d = "/proc/" pid "/task/" tid
    st = slurp(d "/status"); if (!OK) continue
    comm = slurp(d "/comm"); s = slurp(d "/stat"); j = 0
    while ((k = index(substr(s, j + 1), ")")) > 0) j += k
    split(substr(s, j + 1), F, " "); cpu = (F[37] == "" ? "-" : F[37])
    cg = cgpath(slurp(d "/cgroup"))
    if (cg != "" && !(cg in SEEN)) { SEEN[cg] = 1; CG[++ncg] = cg }
    print "T", tid, cpu, field(st, "Cpus_allowed_list"), field(st, "Mems_allowed_list"), (cg == "" ? "-" : enc(cg)), enc(comm)
  }
  if (cut != "") print "X " cut
  split(mode == "v1" ? "cpus effective_cpus mems effective_mems" : "cpus cpus.effective mems mems.effective", N, " ")
  for (i = 1; i <= ncg; i++) { g = CG[i]; o = "G " enc(g)
    for (j = 1; j <= 4; j++) o = o " " (g ~ /(^|\/)\.\.(\/|$)/ ? "-" : val(base g "/cpuset." N[j]))
    print o }
  f = "/proc/" pid "/maps"
  while ((getline l < f) > 0) { split(l, a, " "); split(a[1], r, "-"); SZ[r[1]] = (hex(r[2]) - hex(r[1])) / 1024; PR[r[1]] = a[2] }
  close(f); f = "/proc/" pid "/numa_maps"; c = 0
  while ((getline l < f) > 0) {
    if (++c > maxm) { print "X numa_maps"; break }
    split(l, a, " "); k = a[1]
    print "M", (k in SZ ? sprintf("%.0f", SZ[k]) : "-"), (k in PR ? PR[k] : "-"), l }
  close(f); print "E"
}' </dev/null
;;
esac
`;

/** One thread of the QEMU process. */
export interface ObservedThread {
  tid: number;
  comm: string;
  /** Normalised cpulist, e.g. "0-3,6". */
  allowedCpus: string;
  /** The CPU it last ran on (stat field 39); -1 when unknown. */
  lastCpu: number;
  allowedMems: string;
  /** Path of its cpuset cgroup (the v2 `0::` path, or on legacy hosts the v1 cpuset hierarchy's). */
  cgroup?: string;
}

/** A vCPU or I/O thread; `cgroupCpus` is its cgroup's `cpuset.cpus.effective`. */
export type ObservedWorker = Pick<ObservedThread, "tid" | "allowedCpus" | "lastCpu"> & { cgroupCpus?: string };

/** Resident MiB on one host node in one page size. */
export type ObservedMemory = { node: number; pageSizeKiB: number; hugetlb: boolean; mib: number };

/** Where a running guest's threads may run and where its memory is. */
export interface ObservedPlacement {
  pid: number;
  threads: ObservedThread[];
  /** From comm "CPU <n>/KVM" (or /TCG), sorted by vcpu. */
  vcpus: (ObservedWorker & { vcpu: number })[];
  /** From comm "IO iothread<n>" (libvirt's ids iothread1..N), sorted; QEMU's own "IO mon_iothread" is not one. */
  iothreads: (ObservedWorker & { iothread: number })[];
  /** The main thread (tid == pid) and its cgroup's effective cpus/mems. */
  emulator: { allowedCpus: string; cgroupCpus?: string; cgroupMems?: string };
  /** Resident memory per host node and page size over every mapping, like `numastat -p`. */
  memory: ObservedMemory[];
  /** The same over guest RAM mappings only (see `selectGuestRam`). */
  guestMemory: ObservedMemory[];
  /** Mapped (virtual) size of guest RAM per page size, resident or not: what backs the guest. */
  guestRam: { pageSizeKiB: number; hugetlb: boolean; mib: number }[];
  truncated: boolean;
}

/** One numa_maps line with its size and permissions from /proc/pid/maps. */
export interface ObservedMapping {
  /** Virtual size; undefined when the mapping was not in maps (it changed between the reads). */
  sizeKiB?: number;
  perms?: string;
  /** Decoded `file=` path. */
  file?: string;
  heap: boolean;
  stack: boolean;
  hugetlb: boolean;
  /** kernelpagesize_kB; older kernels lack it (4, or 2048 for hugetlb, assumed). */
  pageSizeKiB: number;
  /** Resident pages (of pageSizeKiB, also for hugetlb) per node. */
  pages: Map<number, number>;
}

/** Without the guest's size, anonymous guest RAM must be larger than this: glibc arenas reach 64 MiB. */
const LARGE_ANON_KIB = 64 * 1024;
/** Rounding slack when matching anonymous mappings to the guest's size (QEMU aligns RAM blocks to 2 MiB). */
const SLACK_KIB = 2048;

const num = (s: string | undefined, dflt = -1) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : dflt);
const round2 = (n: number) => Math.round(n * 100) / 100;
const decodeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
/** The script's percent-encoding is of bytes; thread names are UTF-8 (or cut mid-character at 15 bytes). */
const decodePercent = (s: string) =>
  Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8");

/** Normalised cpulist; kept as it is when it does not parse (then it only equals itself in cpusetEquals). */
function normList(text: string): string {
  try {
    return formatCpuList(parseCpuList(text));
  } catch {
    return text;
  }
}

/** Parses one numa_maps line (format: the kernel's Documentation/filesystems/proc.rst). */
export function parseNumaMapsLine(line: string, sizeKiB?: number, perms?: string): ObservedMapping | null {
  const t = line.trim().split(/\s+/);
  if (t.length < 2 || !/^[0-9a-f]+$/.test(t[0])) return null;
  const m: ObservedMapping = { sizeKiB, perms, heap: false, stack: false, hugetlb: false, pageSizeKiB: 0, pages: new Map() };
  for (const tok of t.slice(2)) {
    const node = /^N(\d+)=(\d+)$/.exec(tok);
    if (node) m.pages.set(Number(node[1]), Number(node[2]));
    else if (tok.startsWith("file=")) m.file = decodeOctal(tok.slice(5));
    else if (tok.startsWith("kernelpagesize_kB=")) m.pageSizeKiB = num(tok.slice(18), 0);
    else if (tok === "heap" || tok === "stack") m[tok] = true;
    else if (tok === "huge") m.hugetlb = true;
  }
  if (m.pageSizeKiB === 0) m.pageSizeKiB = m.hugetlb ? 2048 : 4;
  return m;
}

/** Guest RAM for sure: hugetlbfs (QEMU maps it only for memory backends) and QEMU/libvirt backend files. */
export const isGuestRamMapping = (m: ObservedMapping): boolean =>
  m.hugetlb || /(^|\/)qemu_back_mem\.|\/libvirt\/qemu\/ram\/|^\/memfd:memory-backend-memfd/.test(m.file ?? "");

/**
 * The guest RAM mappings: hugetlbfs ones, backend files (`qemu_back_mem.*` in a
 * mem-path directory, libvirt's memory_backing_dir `.../libvirt/qemu/ram/`,
 * memory-backend-memfd), plus anonymous private read-write mappings (QEMU's
 * pc.ram / memory-backend-ram; heap, stacks and TCG's rwx code buffers
 * excluded). With the guest's size known, the largest such mappings are taken,
 * in order, while they fit in what the sure ones leave of it (2 MiB slack);
 * without it, those over 64 MiB.
 */
export function selectGuestRam(maps: ObservedMapping[], memoryMiB?: number): ObservedMapping[] {
  const sure = maps.filter(isGuestRamMapping);
  const anon = maps
    .filter((m) => !m.file && !m.heap && !m.stack && m.perms === "rw-p" && m.sizeKiB !== undefined)
    .sort((a, b) => (b.sizeKiB ?? 0) - (a.sizeKiB ?? 0));
  if (memoryMiB === undefined) return [...sure, ...anon.filter((m) => (m.sizeKiB ?? 0) > LARGE_ANON_KIB)];
  let left = memoryMiB * 1024 - sure.reduce((s, m) => s + (m.sizeKiB ?? 0), 0);
  const picked: ObservedMapping[] = [];
  for (const m of anon) {
    if (left <= SLACK_KIB) break;
    if ((m.sizeKiB ?? 0) > left + SLACK_KIB) continue;
    picked.push(m);
    left -= m.sizeKiB ?? 0;
  }
  return [...sure, ...picked];
}

/** Sums KiB into rows keyed by `key`, as MiB rounded to 2 decimals. */
function sumRows<R extends { mib: number }>(items: [string, R, number][]): R[] {
  const rows = new Map<string, R>();
  for (const [k, row, kib] of items) {
    const r = rows.get(k) ?? rows.set(k, { ...row, mib: 0 }).get(k)!;
    r.mib += kib / 1024;
  }
  return [...rows.values()].map((r) => ({ ...r, mib: round2(r.mib) }));
}

const byNode = (maps: ObservedMapping[]): ObservedMemory[] =>
  sumRows(maps.flatMap((m) => [...m.pages].map(([node, pages]): [string, ObservedMemory, number] =>
    [`${node}/${m.pageSizeKiB}/${m.hugetlb}`, { node, pageSizeKiB: m.pageSizeKiB, hugetlb: m.hugetlb, mib: 0 }, pages * m.pageSizeKiB])))
    .sort((a, b) => a.node - b.node || a.pageSizeKiB - b.pageSizeKiB);

/** Mapped size per page size; a mapping of unknown size counts its resident pages. */
const mapped = (maps: ObservedMapping[]): ObservedPlacement["guestRam"] =>
  sumRows(maps.map((m): [string, ObservedPlacement["guestRam"][number], number] =>
    [`${m.pageSizeKiB}/${m.hugetlb}`, { pageSizeKiB: m.pageSizeKiB, hugetlb: m.hugetlb, mib: 0 },
      m.sizeKiB ?? [...m.pages.values()].reduce((s, p) => s + p * m.pageSizeKiB, 0)]))
    .sort((a, b) => a.pageSizeKiB - b.pageSizeKiB);

/** Threads whose name matches `re`, with the number it captures, sorted by it. */
function workers(threads: ObservedThread[], re: RegExp, cgCpus: (t: ObservedThread) => string | undefined): [number, ObservedWorker][] {
  return threads.flatMap((t): [number, ObservedWorker][] => {
    const m = re.exec(t.comm);
    const c = cgCpus(t);
    return m ? [[Number(m[1]), { tid: t.tid, allowedCpus: t.allowedCpus, lastCpu: t.lastCpu, ...(c !== undefined ? { cgroupCpus: c } : {}) }]] : [];
  }).sort((x, y) => x[0] - y[0]);
}

/**
 * Parses `PLACEMENT_SCRIPT` output. `memoryMiB`, the guest's `<memory>`, makes
 * the guest RAM selection exact (see `selectGuestRam`). Lines it does not know
 * are ignored. Throws when the process was not found.
 */
export function parseObservedPlacement(text: string, opts: { memoryMiB?: number } = {}): ObservedPlacement {
  let pid = -1;
  let [ended, capped] = [false, false];
  const threads: ObservedThread[] = [];
  const groups = new Map<string, string[]>();
  const maps: ObservedMapping[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f[0] === "P") pid = num(f[1]);
    else if (f[0] === "E") ended = true;
    else if (f[0] === "X") capped = true;
    else if (f[0] === "G" && f.length >= 6) groups.set(decodePercent(f[1]), f.slice(2, 6));
    else if (f[0] === "T" && f.length >= 6 && num(f[1]) >= 0) {
      threads.push({
        tid: num(f[1]), comm: decodePercent(f[6] ?? ""), allowedCpus: normList(f[3]), lastCpu: num(f[2]),
        allowedMems: normList(f[4]), ...(f[5] !== "-" ? { cgroup: decodePercent(f[5]) } : {}),
      });
    } else if (f[0] === "M" && f.length >= 4) {
      const m = parseNumaMapsLine(f.slice(3).join(" "), f[1] === "-" ? undefined : num(f[1]), f[2] === "-" ? undefined : f[2]);
      if (m) maps.push(m);
    }
  }
  if (pid < 0) throw new Error("placement: the QEMU process was not found (no pid file, or it exited)");
  // G values: cpus, cpus.effective, mems, mems.effective; "-" missing, "." empty.
  const cg = (t: ObservedThread | undefined, i: number) => {
    const v = t?.cgroup === undefined ? undefined : groups.get(t.cgroup)?.[i];
    return v === undefined || v === "-" ? undefined : v === "." ? "" : normList(v);
  };
  const main = threads.find((t) => t.tid === pid);
  const [cpus, mems] = [cg(main, 1), cg(main, 3)];
  const guest = selectGuestRam(maps, opts.memoryMiB);
  return {
    pid, threads,
    vcpus: workers(threads, /^CPU (\d+)\/(?:KVM|TCG)$/, (t) => cg(t, 1)).map(([vcpu, w]) => ({ vcpu, ...w })),
    iothreads: workers(threads, /^IO iothread(\d+)$/, (t) => cg(t, 1)).map(([iothread, w]) => ({ iothread, ...w })),
    emulator: { allowedCpus: main?.allowedCpus ?? "", ...(cpus !== undefined ? { cgroupCpus: cpus } : {}), ...(mems !== undefined ? { cgroupMems: mems } : {}) },
    memory: byNode(maps),
    guestMemory: byNode(guest),
    guestRam: mapped(guest),
    truncated: !ended || capped,
  };
}
