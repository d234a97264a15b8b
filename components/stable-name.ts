import type * as pulumi from "@pulumi/pulumi";

/**
 * The name a kvmtune component is known by on its host: the persistence file tag
 * (/etc/sysctl.d/90-kvmtune-<tag>.conf, ...), the owner recorded in the host's journal
 * of originals, a NumaPinnedGuest's default libvirt domain name, a VhostNetwork's
 * derived MAC. A rename with Pulumi `aliases` must not change any of these: a new tag
 * would replace the HostTuning (restore the host's originals, then tune it again), a
 * new domain name would define a second domain, a new MAC would swap the guest's NIC.
 *
 * The rule: when `opts.aliases` carry an old name, the identity is the FIRST alias in
 * the list that carries one (list the original name first, and keep it first when
 * renaming again: that is the name the host knows); otherwise it is `name`. An alias
 * carries a name when it is
 *   - an `Alias` object whose `name` is a plain string (`{ name: "hv-old" }`, with or
 *     without `parent`/`type`/`stack`/`project`), or
 *   - a URN string (`"urn:pulumi:stack::project::kvmtune:index:TunedHost::hv-old"`):
 *     its name is what follows the last `::`.
 * Aliases given as Outputs or Promises (a resource's `urn`, an Output-valued `name`)
 * are ignored: the identity is needed synchronously, when the children are declared,
 * and a value known only later cannot name them. Spell the old name as a literal.
 *
 * Pure: reads only `name` and `opts.aliases`. Child resource names keep the new name
 * (`<name>-tuning`, ...): Pulumi aliases a child whose name starts with its parent's
 * name from the parent's aliases by itself.
 */
export function hostIdentityName(name: string, opts?: Pick<pulumi.ResourceOptions, "aliases">): string {
  for (const alias of opts?.aliases ?? []) {
    const old = aliasName(alias);
    if (old !== undefined) return old;
  }
  return name;
}

/** The literal name an alias carries, if any (see hostIdentityName). */
export function aliasName(alias: unknown): string | undefined {
  if (typeof alias === "string") {
    if (!alias.startsWith("urn:pulumi:")) return undefined;
    const cut = alias.lastIndexOf("::");
    const tail = cut < 0 ? "" : alias.slice(cut + 2);
    return tail.length > 0 ? tail : undefined;
  }
  // An Output or Promise of an alias is an object too, but has no literal `name` string (an Output's own
  // properties are lifted Outputs, never strings), so it falls through here.
  if (alias !== null && typeof alias === "object" && !isAsync(alias)) {
    const n = (alias as { name?: unknown }).name;
    if (typeof n === "string" && n.length > 0) return n;
  }
  return undefined;
}

function isAsync(x: object): boolean {
  return typeof (x as { then?: unknown }).then === "function" || (x as { __pulumiOutput?: unknown }).__pulumiOutput === true;
}
