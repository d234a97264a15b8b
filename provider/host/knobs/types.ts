import type { GrubGenerator } from "../bootloader";
import type { HostFacts } from "../facts";

/**
 * How disruptive a change is. `live` takes effect at once; `guest-restart`
 * needs the guest restarted; `host-reboot` only takes effect after a reboot
 * (kernel command line).
 */
export type Disruption = "live" | "guest-restart" | "host-reboot";

/**
 * One remote step. Ops travel to the host as data (one tab-separated line each,
 * on stdin) and are executed by a fixed script: no value is ever spliced into
 * shell text. Paths come from validated keys.
 */
export type RemoteOp =
  /** Write `value` + newline to a sysfs/procfs file (a glob writes every match). */
  | { op: "write"; path: string; value: string }
  /** Load a module (parameters come from modprobe.d). */
  | { op: "modprobe"; module: string }
  /** Unload a module. */
  | { op: "rmmod"; module: string }
  /** Mount hugetlbfs with the page size at `dir` (created if missing). */
  | { op: "mount-hugetlbfs"; dir: string; pageSize: string }
  | { op: "umount"; dir: string }
  /** Atomically replace a persistence file (temp file + rename); empty content removes it. */
  | { op: "file"; path: string; content: string }
  /** Replace the block between `# BEGIN kvmtune <tag>` and `# END kvmtune <tag>` in a shared file (fstab); empty content removes the block. */
  | { op: "managed-block"; path: string; tag: string; content: string }
  /** Regenerate the boot loader configuration with the generator the facts chose; "none" fails the step (check should have refused). */
  | { op: "update-bootloader"; tool: GrubGenerator | "none" }
  /**
   * Compare-and-set of one key's line in the journal of originals (journal.ts), under the journal's lock:
   * fails unless the key's line is `expected` now ("" = none); then writes `line` ("" = removes it).
   */
  | { op: "journal"; key: string; expected: string; line: string }
  /** Removes what kvmtune created (a mount point, /etc/fstab) if it is an empty directory or an empty file; never fails. */
  | { op: "prune"; path: string };

/** A setting that lives on a host: one key of the HostTuning map. */
export interface Knob {
  /** The key, e.g. `sysctl:vm.swappiness`. */
  readonly key: string;
  readonly disruption: Disruption;
  /**
   * Boot-time knobs (kernel command line, module options) are configured in a
   * file and take effect at the next boot: their state is the configured value,
   * and `current()` gives the running one, which only feeds `pendingReboot`.
   */
  readonly bootTime?: boolean;
  /** Absence is a valid state (not mounted, not on the command line); otherwise a missing file is an error. */
  readonly optional?: boolean;
  /** Files whose contents give the current value; read in one batch. */
  readonly reads: readonly string[];
  /**
   * Current value from those files (undefined content = file missing). `hint` is
   * the value kvmtune expects (desired, or recorded in its own persistence files):
   * a knob whose state can hold several values at once (hugetlbfs mounts of one
   * page size) reports the hinted one when it is there.
   */
  current(files: ReadonlyMap<string, string | undefined>, hint?: string): string | undefined;
  /** Canonical form of a desired value, or a problem text. */
  normalise(value: string): { value: string } | { problem: string };
  /** Host-specific checks of a normalised value against the facts (offered modes, sizes, ...). */
  validate(value: string, ctx: ValidationContext): string[];
  /** Live steps that set the value (empty for boot-time-only knobs). */
  apply(value: string, current?: string): RemoteOp[];
  /** Steps that put back a saved original (`undefined` = did not exist), given the value now in place. */
  restore(original: string | undefined, current: string | undefined): RemoteOp[];
  /** Where the value is persisted so it survives a reboot. */
  readonly persistence: PersistenceKind;
  /** Notes for the user, e.g. a legacy scheduler name that was mapped. */
  notes?(value: string): string[];
}

/** What host checks may consult besides the value itself. */
export interface ValidationContext {
  facts: HostFacts;
  /** The whole desired map (normalised), for checks that span keys (e.g. a scheduler whose module is also requested). */
  desired: ReadonlyMap<string, string>;
  /** Allows changing the interface that carries the SSH session. */
  allowManagementInterface: boolean;
  /** Allows changing a non-zero SR-IOV VF count (every VF is destroyed and recreated). */
  allowVfRecreate?: boolean;
}

/** Which persistence file a knob's value goes into. */
export type PersistenceKind = "sysctl" | "udev-block" | "udev-net" | "udev-sriov" | "modules-load" | "modprobe" | "tmpfiles" | "bootloader" | "fstab" | "none";

/** A knob kind: recognises its keys. */
export interface KnobKind {
  readonly name: string;
  /** Key grammar for error messages, e.g. `sysctl:<dotted.key>`. */
  readonly grammar: string;
  /** Returns the knob for a key of this kind, a problem text for a malformed key of this kind, or undefined if not this kind. */
  resolve(key: string): Knob | { problem: string } | undefined;
}
