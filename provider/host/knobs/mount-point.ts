/**
 * Where kvmtune may mount hugetlbfs (`hugetlbfs:<size>`). The mount is made
 * live (mkdir -p + mount) and written to /etc/fstab, so a mount point over a
 * system directory (/etc/ssh, /run, /dev, ...) could cut off SSH at once or
 * break the next boot. Only canonical paths on a documented list pass:
 *
 * - `/dev/hugepages*`: one directory whose name starts with `hugepages`
 *   (systemd's default mount is /dev/hugepages; kvmtune's default /dev/hugepages<size>);
 * - `/run/hugepages` and below, `/var/lib/hugetlbfs` and below (hugeadm's tree);
 * - below `/mnt/` or `/srv/` (not /mnt or /srv themselves: a mount there hides what is mounted below);
 * - a new top-level directory such as `/hugepages1G`, when its name is not a
 *   system tree (SYSTEM_TREES: /bin, /boot, /dev, /etc, /home, /lib*, /opt, /proc,
 *   /root, /run, /sbin, /sys, /tmp, /usr, /var, ... ; /opt and /home are refused
 *   too: a mount there hides software or user data).
 *
 * Canonical: absolute, no empty, `.` or `..` segment, no trailing '/'; only
 * letters, digits, '/', '.', '_' and '-'; at most 255 characters. A path that
 * is not canonical is refused (naming its canonical form), never rewritten.
 */

export const MOUNT_POINT_MAX = 255;

/** What `hugetlbfs:<size>` accepts, as every refusal states it. */
export const MOUNT_POINT_ACCEPTED =
  "a canonical absolute path of letters, digits, '/', '.', '_' and '-' (at most 255 characters): " +
  "/dev/hugepages*, /run/hugepages[/...], /var/lib/hugetlbfs[/...], a directory below /mnt/ or /srv/, " +
  "or a new top-level directory outside the system trees (such as /hugepages1G)";

/**
 * Top-level names that are system trees (or boot files, mount roots): never a
 * mount point, nor anything below them, except the allowed subtrees above.
 * Names ending in '*' match as a prefix.
 */
export const SYSTEM_TREES: readonly string[] = [
  "bin", "boot", "cdrom", "dev", "efi", "etc", "home", "initrd*", "lib*", "media", "mnt", "nix", "opt",
  "proc", "root", "run", "sbin", "selinux", "snap", "srv", "sys", "sysroot", "tmp", "usr", "var", "vmlinuz*",
];

const isSystemTree = (name: string) => SYSTEM_TREES.some((t) => (t.endsWith("*") ? name.startsWith(t.slice(0, -1)) : name === t));

/** Short rendering of a value for the message (JSON, at most 80 characters). */
function show(value: string): string {
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The path with empty and `.` segments dropped and `..` resolved (lexically), no trailing '/'. */
export function canonicalPath(path: string): string {
  const out: string[] = [];
  for (const s of path.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") out.pop();
    else out.push(s);
  }
  return `/${out.join("/")}`;
}

/** Why `path` is not on the list (path is canonical), or undefined when it is. */
function placeProblem(path: string): string | undefined {
  if (path === "/") return "it is the root directory";
  const segs = path.slice(1).split("/");
  const top = segs[0];
  if (top === "dev" && segs.length === 2 && segs[1].startsWith("hugepages")) return undefined;
  if (path === "/run/hugepages" || path.startsWith("/run/hugepages/")) return undefined;
  if (path === "/var/lib/hugetlbfs" || path.startsWith("/var/lib/hugetlbfs/")) return undefined;
  if (top === "mnt" || top === "srv") return segs.length >= 2 ? undefined : `a mount on /${top} itself would hide what is mounted below it`;
  if (isSystemTree(top)) return segs.length === 1 ? `/${top} is a system directory` : `it is in the system tree /${top}`;
  if (segs.length === 1) return undefined;
  return `it is below /${top}, which is not on the list`;
}

/**
 * Why `path` may not be a hugetlbfs mount point, or undefined when it may.
 * The text names the value and what is accepted; the caller names the field
 * (HostTuning's check: `settings["hugetlbfs:2M"]: ...`).
 */
export function mountPointProblem(path: string): string | undefined {
  const refuse = (reason: string) => `${show(path)} is not accepted: ${reason}; expected ${MOUNT_POINT_ACCEPTED}`;
  if (typeof path !== "string") return refuse("it is not a string");
  if (path.length > MOUNT_POINT_MAX) return refuse(`it is longer than ${MOUNT_POINT_MAX} characters`);
  const bad = /[^A-Za-z0-9/._-]/.exec(path);
  if (bad) return refuse(`it contains ${JSON.stringify(bad[0])}`);
  if (!path.startsWith("/")) return refuse("it is not an absolute path");
  const canonical = canonicalPath(path);
  if (canonical !== path) return refuse(`it is not canonical (its canonical form is ${JSON.stringify(canonical)})`);
  const where = placeProblem(path);
  return where === undefined ? undefined : refuse(where);
}
