import { createHash } from "node:crypto";
import type { GrubGenerator } from "../bootloader";
import { knobOrder } from "./catalogue";
import { cmdlineValue } from "./cmdline";
import type { Knob, PersistenceKind, RemoteOp } from "./types";

/**
 * Renders the files that make settings survive a reboot. Every file is
 * kvmtune's own and named after the resource (`tag`), so two TunedHosts on one
 * host never write the same file; fstab is shared, so only a marked block in it
 * is ours.
 */

/** A tag as it appears in file names: lower case letters, digits and inner '-', at most 64. */
const TAG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/**
 * Resource names become file-name tags, one per name: a name that already is a tag (`web-1`) is its own;
 * any other (`Web 1`, `web_1`, `WEB.1`) is made one (`web-1`) plus 8 hex digits of its SHA-256, so
 * different TunedHosts on one host never share sysctl.d, udev or fstab files.
 */
export function fileTag(name: string): string {
  if (TAG.test(name)) return name;
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 48).replace(/-+$/, "");
  return `${slug || "tag"}-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}

export function persistencePaths(tag: string): Record<Exclude<PersistenceKind, "none">, string> {
  return {
    sysctl: `/etc/sysctl.d/90-kvmtune-${tag}.conf`,
    tmpfiles: `/etc/tmpfiles.d/kvmtune-${tag}.conf`,
    "udev-block": `/etc/udev/rules.d/90-kvmtune-${tag}-block.rules`,
    "udev-net": `/etc/udev/rules.d/90-kvmtune-${tag}-net.rules`,
    "udev-sriov": `/etc/udev/rules.d/90-kvmtune-${tag}-sriov.rules`,
    "modules-load": `/etc/modules-load.d/kvmtune-${tag}.conf`,
    modprobe: `/etc/modprobe.d/kvmtune-${tag}.conf`,
    bootloader: `/etc/default/grub.d/kvmtune-${tag}.cfg`,
    fstab: "/etc/fstab",
  };
}

const header = (tag: string) => `# Managed by kvmtune (${tag}). Changes here are overwritten; change the Pulumi program instead.\n`;

interface Entry {
  knob: Knob;
  value: string;
}

/** Entries of one file, in apply order: udev sets a device's scheduler before nr_requests, as the live steps do (a switch resets it). */
function group(entries: Entry[], kind: PersistenceKind): Entry[] {
  return entries.filter((e) => e.knob.persistence === kind).sort((a, b) => knobOrder(a.knob.key, b.knob.key));
}

/** Kernel command-line tokens for the bootloader drop-in, in a stable order. */
export function cmdlineTokens(entries: Entry[]): string[] {
  const tokens: string[] = [];
  for (const e of group(entries, "bootloader")) {
    if (e.knob.key.startsWith("cmdline:")) tokens.push(`${e.knob.key.slice(8)}=${e.value}`);
  }
  // 1G pools can only be reserved reliably at boot: hugepagesz=1G then hugepages=<node>:<n>,... (kernel 5.12+) or a total.
  const gig = group(entries, "bootloader").filter((e) => e.knob.key.startsWith("hugepages:1G"));
  if (gig.length > 0) {
    const perNode = gig.filter((e) => e.knob.key.includes(":node"));
    const total = gig.find((e) => !e.knob.key.includes(":node"));
    const count = perNode.length > 0 ? perNode.map((e) => `${e.knob.key.split(":node")[1]}:${e.value}`).join(",") : total!.value;
    tokens.push("hugepagesz=1G", `hugepages=${count}`);
  }
  return tokens;
}

/**
 * Last line of our boot loader drop-in. The file is first written without it,
 * the boot loader is regenerated, then the line is added: a run cut in between
 * leaves a file that differs from the wanted one, so the next run regenerates again.
 */
export const BOOTLOADER_DONE = "# kvmtune: boot loader configuration regenerated with this file";

/** Content per persistence file for the given desired values ("" = no file). */
export function renderPersistence(tag: string, entries: Entry[]): Map<string, string> {
  const paths = persistencePaths(tag);
  const files = new Map<string, string>();
  const put = (kind: Exclude<PersistenceKind, "none">, lines: string[], withHeader = true) => files.set(paths[kind], lines.length ? (withHeader ? header(tag) : "") + lines.join("\n") + "\n" : "");

  put("sysctl", group(entries, "sysctl").map((e) => `${e.knob.key.slice(7)} = ${e.value}`));
  put("tmpfiles", group(entries, "tmpfiles").map((e) => `w ${e.knob.reads[0]} - - - - ${e.value}`));
  const byDev = new Map<string, string[]>();
  for (const e of group(entries, "udev-block")) {
    const [, dev, attr] = e.knob.key.split(":");
    byDev.set(dev, [...(byDev.get(dev) ?? []), `ATTR{queue/${attr}}="${e.value}"`]);
  }
  put("udev-block", [...byDev].map(([dev, attrs]) => `ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="${dev}", ${attrs.join(", ")}`));
  put("udev-net", group(entries, "udev-net").map((e) => `ACTION=="add", SUBSYSTEM=="net", KERNEL=="${e.knob.key.slice(4)}", ATTR{mtu}="${e.value}"`));
  put(
    "udev-sriov",
    group(entries, "udev-sriov").map((e) => {
      const pf = e.knob.key.slice(6, -":numvfs".length);
      return /^[0-9a-f]{4}:/.test(pf) ? `ACTION=="add", SUBSYSTEM=="pci", KERNEL=="${pf}", ATTR{sriov_numvfs}="${e.value}"` : `ACTION=="add", SUBSYSTEM=="net", KERNEL=="${pf}", ATTR{device/sriov_numvfs}="${e.value}"`;
    }),
  );
  put("modules-load", group(entries, "modules-load").filter((e) => e.value === "loaded").map((e) => e.knob.key.slice(7)));
  const options = new Map<string, string[]>();
  for (const e of group(entries, "modprobe")) {
    const [mod, param] = e.knob.key.slice(9).split(".");
    options.set(mod, [...(options.get(mod) ?? []), `${param}=${e.value}`]);
  }
  put("modprobe", [...options].map(([mod, params]) => `options ${mod} ${params.join(" ")}`));
  const tokens = cmdlineTokens(entries);
  put("bootloader", tokens.length ? [`GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ${tokens.join(" ")}"`, BOOTLOADER_DONE] : []);
  put("fstab", group(entries, "fstab").map((e) => `none ${e.value} hugetlbfs pagesize=${e.knob.key.slice(10)} 0 0`), false);
  return files;
}

/**
 * Ops that bring the persistence files from `current` content to `wanted`; only files that differ are touched.
 * A changed boot loader drop-in is followed by regenerating with `tool` (bootloaderTool of the host's facts),
 * except a removal on a host without one.
 */
export function persistenceOps(tag: string, wanted: Map<string, string>, current: ReadonlyMap<string, string | undefined>, tool: GrubGenerator | "none"): RemoteOp[] {
  const ops: RemoteOp[] = [];
  const paths = persistencePaths(tag);
  for (const [path, content] of wanted) {
    if (path === paths.fstab) {
      const block = managedBlock(current.get(path), tag);
      if (block !== content) ops.push({ op: "managed-block", path, tag, content });
      continue;
    }
    const now = current.get(path);
    if ((now ?? "") === content.replace(/\n$/, "") || (now === undefined && content === "")) continue;
    if (path !== paths.bootloader) ops.push({ op: "file", path, content });
    else if (content === "") {
      ops.push({ op: "file", path, content });
      // Without a generator a removal only removes: nothing was regenerated from the drop-in, so the host boots as
      // before (and delete is never stuck). Writing one fails at the generator step instead; check refuses that first.
      if (tool !== "none") ops.push({ op: "update-bootloader", tool });
    } else ops.push({ op: "file", path, content: content.replace(`${BOOTLOADER_DONE}\n`, "") }, { op: "update-bootloader", tool }, { op: "file", path, content });
  }
  return ops;
}

/** Our block of a shared file (without the markers), "" when absent. */
export function managedBlock(content: string | undefined, tag: string): string {
  const lines = (content ?? "").split("\n");
  const start = lines.indexOf(`# BEGIN kvmtune ${tag}`);
  const end = lines.indexOf(`# END kvmtune ${tag}`);
  return start >= 0 && end > start ? lines.slice(start + 1, end).join("\n") + (end > start + 1 ? "\n" : "") : "";
}

/** Configured values of boot-time knobs, read back from our own drop-ins (and hugetlbfs mount points, from our fstab block). */
export function configuredValue(knob: Knob, tag: string, files: ReadonlyMap<string, string | undefined>): string | undefined {
  const paths = persistencePaths(tag);
  if (knob.key.startsWith("hugetlbfs:")) {
    const size = knob.key.slice("hugetlbfs:".length);
    const line = managedBlock(files.get(paths.fstab), tag)
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f[2] === "hugetlbfs" && f[3] === `pagesize=${size}`);
    return line?.[1];
  }
  const ours = /^GRUB_CMDLINE_LINUX="\$GRUB_CMDLINE_LINUX (.*)"$/m.exec(files.get(paths.bootloader) ?? "")?.[1];
  if (knob.key.startsWith("cmdline:")) return cmdlineValue(ours, knob.key.slice(8));
  if (knob.key.startsWith("hugepages:1G")) {
    // Our drop-in writes `hugepagesz=1G hugepages=<total>` or `hugepages=<node>:<n>,...` (see cmdlineTokens).
    const count = cmdlineValue(ours, "hugepages");
    if (count === undefined) return undefined;
    const node = /:node(\d+)$/.exec(knob.key)?.[1];
    if (node === undefined) return count.includes(":") ? undefined : count;
    return count.split(",").map((p) => p.split(":")).find(([n]) => n === node)?.[1];
  }
  if (knob.key.startsWith("modparam:")) {
    const [mod, param] = knob.key.slice(9).split(".");
    for (const line of (files.get(paths.modprobe) ?? "").split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f[0] !== "options" || f[1] !== mod) continue;
      const hit = f.slice(2).find((t) => t.startsWith(`${param}=`));
      if (hit) return hit.slice(param.length + 1);
    }
    return undefined;
  }
  return undefined;
}

