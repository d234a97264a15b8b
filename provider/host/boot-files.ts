/** Helpers for reading boot-time configuration the way systemd and udev order it. */
import type { BootConfFile } from "./facts-boot";

/** A source's value for one setting. */
export interface Found {
  source: string;
  value: string;
  effective: string;
  /** Said after "after kvmtune's <file>". */
  note?: string;
  /** Not certainly later than kvmtune's file (a .link file): worded "may". */
  maybe?: boolean;
}

export const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
export const dirOf = (p: string) => p.slice(0, p.lastIndexOf("/"));
export const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
export const fold = (v: string) => v.trim().replace(/\s+/g, " ");

/** Files merged the systemd way: one per name (the first of `dirs` wins), then sorted by name. */
export function mergeByName(files: BootConfFile[], dirs: readonly string[]): BootConfFile[] {
  const byName = new Map<string, BootConfFile>();
  const rank = (f: BootConfFile) => dirs.indexOf(dirOf(f.path));
  for (const f of files.filter((x) => rank(x) >= 0).sort((a, b) => rank(a) - rank(b))) if (!byName.has(base(f.path))) byName.set(base(f.path), f);
  return [...byName.values()].sort((a, b) => cmp(base(a.path), base(b.path)));
}

/** A shell glob (`*`, `?`, `[...]`, `[!...]`) as fnmatch and udev match it. */
export function globMatch(glob: string, name: string): boolean {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    const end = c === "[" ? glob.indexOf("]", i + 2) : -1;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (end > 0) {
      const body = glob.slice(i + 1, end).replace(/^[!^]/, "^").replace(/\\/g, "\\\\");
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s").test(name);
}
