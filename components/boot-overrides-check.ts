import * as pulumi from "@pulumi/pulumi";
import { planBootOverrides } from "../provider/host/boot-overrides";
import type { HostFacts } from "../provider/host/facts";
import { fileTag } from "../provider/host/knobs/persistence";
import { normaliseSettings } from "../provider/host/knobs/plan";
import { planTuningSettings } from "../provider/spec/tuned-host";
import type { ConnectionArgs } from "./connection";
import { readCachedHostFacts } from "./host-facts-cache";

/**
 * TunedHost settings that another actor on the host (a later sysctl.d file or
 * udev rule, a .link/.network file, tuned) sets differently at boot, as
 * messages, each also logged as a warning so `pulumi preview` shows it.
 *
 * kvmtune warns, it does not refuse: the operator may own that other file on
 * purpose, and after a reboot the drift check names the key anyway. A failed
 * facts read is only warned about (HostTuning reports an unreachable host).
 */
export function checkBootOverrides(
  self: pulumi.Resource,
  name: string,
  tuning: pulumi.Output<unknown>,
  hostId: pulumi.Output<string>,
  connection: pulumi.Input<ConnectionArgs>,
  given: pulumi.Input<HostFacts> | undefined,
): pulumi.Output<string[]> {
  const found = pulumi.all([tuning, hostId, connection, given]).apply(async ([plain, id, c, f]) => {
    let settings: Record<string, string>;
    try {
      settings = Object.fromEntries(normaliseSettings(planTuningSettings(plain).settings).desired);
    } catch {
      return []; // bad args: the settings input fails with them
    }
    if (Object.keys(settings).length === 0) return [];
    let facts: HostFacts;
    try {
      facts = (f as HostFacts | undefined) ?? (await readCachedHostFacts(id, c as ConnectionArgs));
    } catch (err) {
      void pulumi.log.warn(`could not read the facts of ${id} to check what else sets these settings at boot: ${(err as Error).message}`, self);
      return [];
    }
    const messages = planBootOverrides(settings, fileTag(name), facts.bootSources, facts).map((o) => o.message);
    for (const m of messages) void pulumi.log.warn(m, self);
    return messages;
  });
  // Read with the (secret) connection, but the messages name no secret.
  return pulumi.unsecret(found);
}
