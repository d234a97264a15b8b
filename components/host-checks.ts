import * as pulumi from "@pulumi/pulumi";
import { planBootOverrides } from "../provider/host/boot-overrides";
import type { HostFacts } from "../provider/host/facts";
import { fileTag } from "../provider/host/knobs/persistence";
import { planOwnershipProblems, type JournalOwner, type TakeOver } from "../provider/host/journal";
import { normaliseSettings } from "../provider/host/knobs/plan";
import { planBootloaderProblems, type TuningSettingsPlan } from "../provider/spec/tuned-host";
import type { ConnectionArgs } from "./connection";
import { readCachedHostFacts } from "./host-facts-cache";

/** What a TunedHost's settings meet on the host, judged in the program from its facts. */
export interface HostChecks {
  /** Boot loader refusals (planBootloaderProblems), one per field: HostTuning's check reports them. */
  problems: string[];
  /** Other actors that set a setting differently at boot; undefined when not judged here (the update reports them). */
  bootOverrides?: string[];
}

/**
 * Judges a TunedHost's planned settings against the host's facts in the program,
 * so `pulumi preview` already refuses a boot loader kvmtune cannot drive and warns
 * about other actors at boot (kvmtune warns, it does not refuse: the operator may
 * own that other file on purpose). Facts are read only at preview (or taken from
 * `given`): during an update HostTuning reads them on its own connection and
 * refuses and reports the same, so an update opens one connection per host, not two.
 * A failed read is only warned about: HostTuning reports an unreachable host.
 */
export function checkAgainstFacts(
  self: pulumi.Resource,
  name: string,
  plan: pulumi.Output<TuningSettingsPlan>,
  hostId: pulumi.Output<string>,
  connection: pulumi.Input<ConnectionArgs>,
  given: pulumi.Input<HostFacts> | undefined,
  owner: JournalOwner,
  takeOver: pulumi.Input<TakeOver | undefined>,
): pulumi.Output<HostChecks> {
  const found = pulumi.all([plan, hostId, connection, given, takeOver]).apply(async ([p, id, c, f, t]): Promise<HostChecks> => {
    const takeOver = t as TakeOver | undefined;
    if (Object.keys(p.settings).length === 0 || (f === undefined && !pulumi.runtime.isDryRun())) return { problems: [] };
    let facts: HostFacts;
    try {
      facts = (f as HostFacts | undefined) ?? (await readCachedHostFacts(id, c as ConnectionArgs));
    } catch (err) {
      void pulumi.log.warn(`could not read the facts of ${id} to check its boot loader and what else sets these settings at boot: ${(err as Error).message}`, self);
      return { problems: [] };
    }
    const desired = Object.fromEntries(normaliseSettings(p.settings).desired);
    const bootOverrides = planBootOverrides(desired, fileTag(name), facts.bootSources, facts).map((o) => o.message);
    for (const m of bootOverrides) void pulumi.log.warn(m, self);
    // Keys another stack or resource recorded first in the host's journal: refused at preview, naming that owner.
    const ownership = facts.journal ? planOwnershipProblems(facts.journal, owner, Object.keys(p.settings), takeOver) : [];
    return { problems: [...planBootloaderProblems(p, facts), ...ownership], bootOverrides };
  });
  // Read with the (secret) connection, but the findings name no secret.
  return pulumi.unsecret(found);
}
