import * as pulumi from "@pulumi/pulumi";
import type { HostFacts } from "../provider/host/facts";
import { readHostFacts } from "../provider/host/read-facts";
import type { ConnectionArgs } from "./connection";

/**
 * Facts per host per program run, shared by every component that plans or
 * checks in the program (so `pulumi preview` shows plans and refusals). A
 * process may run the program more than once (Automation API), so they expire
 * after a short while.
 */
const FACTS_TTL_MS = 60_000;
const factsCache = new Map<string, { at: number; facts: Promise<HostFacts> }>();

/** The facts of host `id` ("host:port"), read over `connection` at most once per FACTS_TTL_MS. */
export function readCachedHostFacts(id: string, connection: ConnectionArgs): Promise<HostFacts> {
  const hit = factsCache.get(id);
  if (hit && Date.now() - hit.at < FACTS_TTL_MS) return hit.facts;
  const facts = readHostFacts(connection);
  factsCache.set(id, { at: Date.now(), facts });
  return facts;
}

/** "host:port" of a connection; not secret (the connection as a whole is). */
export function hostIdOf(connection: pulumi.Input<ConnectionArgs>): pulumi.Output<string> {
  return pulumi.unsecret(pulumi.output(connection).apply((c) => `${c.host}:${c.port ?? 22}`));
}

/**
 * The host's facts: `given` when set (offline planning, tests), else read once per
 * host per run. Read with the (secret) connection but not secret themselves, so the
 * preview can show what they decide.
 */
export function cachedHostFacts(connection: pulumi.Input<ConnectionArgs>, given?: pulumi.Input<HostFacts>): pulumi.Output<HostFacts> {
  if (given !== undefined) return pulumi.output(given) as pulumi.Output<HostFacts>;
  return pulumi.unsecret(pulumi.all([hostIdOf(connection), connection]).apply(([id, c]) => readCachedHostFacts(id, c as ConnectionArgs))) as pulumi.Output<HostFacts>;
}
