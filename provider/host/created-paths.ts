import type { RemoteOp } from "./knobs/types";

/**
 * What kvmtune creates besides settings: hugetlbfs mount points (mkdir before
 * the mount) and /etc/fstab on a host that had none (for kvmtune's block).
 * Each is recorded in the journal as `created:<path>` (original null) when it
 * did not exist before the write, so destroy removes it again, and only it:
 * a directory or file that was there before kvmtune is never recorded.
 */

export const CREATED = "created:";

export const isCreatedKey = (key: string): boolean => key.startsWith(CREATED);

export interface CreatedPathsInput {
  /** Desired settings (normalised). */
  desired: ReadonlyMap<string, string>;
  /** /etc/fstab, when kvmtune's block in it is wanted. */
  fstab?: string;
  /** Read now: file contents (a key with a value = exists) and directories. */
  files: ReadonlyMap<string, string | undefined> & { readonly dirs?: readonly string[] };
  /** Whether the journal already records the key for this owner. */
  recorded: (key: string) => boolean;
}

/** Paths whose existence the read must report: each desired hugetlbfs mount point. */
export function mountPoints(desired: ReadonlyMap<string, string>): string[] {
  return [...desired].filter(([key]) => key.startsWith("hugetlbfs:")).map(([, dir]) => dir);
}

/** Journal keys of what this apply needs created: already recorded, or absent on the host now. */
export function planCreatedKeys(input: CreatedPathsInput): string[] {
  const needed = [...mountPoints(input.desired), ...(input.fstab ? [input.fstab] : [])];
  const exists = (p: string) => input.files.get(p) !== undefined || (input.files.dirs ?? []).includes(p);
  return [...new Set(needed)].map((p) => `${CREATED}${p}`).filter((key) => input.recorded(key) || !exists(key.slice(CREATED.length)));
}

/** Removal of what released `created:` keys name, after the restores that emptied them (unmounts, fstab block). */
export function pruneOps(keys: readonly string[]): RemoteOp[] {
  return keys.filter(isCreatedKey).map((key) => ({ op: "prune", path: key.slice(CREATED.length) }));
}
