import * as pulumi from "@pulumi/pulumi";
import type { HostFacts } from "../provider/host/facts";
import { readHostFacts } from "../provider/host/read-facts";
import type { ConnectionArgs } from "./connection";

/**
 * Facts per host per program run, shared by every component that plans or
 * checks in the program (so `pulumi preview` shows plans and refusals). A
 * process may run the program more than once (the Automation API runs inline
 * programs in one process), and a host may change between runs, so each run
 * has its own cache, keyed by that run's resource monitor client.
 */
const runCaches = new WeakMap<object, Map<string, Promise<HostFacts>>>();

/** The facts of host `id` ("host:port"), read over `connection` at most once per program run. */
export function readCachedHostFacts(id: string, connection: ConnectionArgs): Promise<HostFacts> {
  const run = pulumi.runtime.getMonitor();
  if (!run) return readHostFacts(connection); // outside any run: nothing to share with
  let cache = runCaches.get(run);
  if (!cache) runCaches.set(run, (cache = new Map()));
  let facts = cache.get(id);
  if (!facts) cache.set(id, (facts = readHostFacts(connection)));
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
export function cachedHostFacts(connection: pulumi.Input<ConnectionArgs>, given?: pulumi.Input<HostFacts>): pulumi.Output<FactsRead> {
  if (given !== undefined) return pulumi.output(given).apply((f) => ({ facts: f as HostFacts }));
  return pulumi.unsecret(
    pulumi.all([hostIdOf(connection), connection]).apply(([id, c]) =>
      readCachedHostFacts(id, c as ConnectionArgs).then(
        (facts): FactsRead => ({ facts }),
        (err: Error): FactsRead => ({ problem: `the facts of ${id} could not be read: ${err.message}` }),
      ),
    ),
  ) as pulumi.Output<FactsRead>;
}

/** The facts, or why they could not be read (never a rejected output: that hangs inline Automation API programs). */
export interface FactsRead {
  facts?: HostFacts;
  problem?: string;
}
