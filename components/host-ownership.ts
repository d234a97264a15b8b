import * as pulumi from "@pulumi/pulumi";

/**
 * Which TunedHost owns which setting on which host, per program run. Two owners
 * of one key would overwrite each other and restore each other's values, so the
 * second is refused; the refusal is returned, never thrown: thrown from inside
 * an output it became "error serializing property" and hung inline Automation
 * API programs. TunedHost hands it to HostTuning's check, so preview fails.
 *
 * One ledger per run (keyed by the run's resource monitor client, as the facts
 * cache is): an Automation API process that runs a program again, with a
 * TunedHost renamed, must not find the old name still owning its keys.
 */
const runs = new WeakMap<object, Map<string, Map<string, string>>>();
const outsideRun = new Map<string, Map<string, string>>();
/** How a TunedHost made by another component is named in errors, by its name. */
const ownerLabels = new Map<string, string>();

/** Names a TunedHost another component creates, for ownership errors (e.g. a VhostNetwork's host side). */
export function labelTunedHost(name: string, label: string): void {
  ownerLabels.set(name, label);
}

function ledger(): Map<string, Map<string, string>> {
  const run = pulumi.runtime.getMonitor();
  if (!run) return outsideRun;
  let hosts = runs.get(run);
  if (!hosts) runs.set(run, (hosts = new Map()));
  return hosts;
}

/** Claims `keys` on `hostId` for `owner`; one message per key another owner claimed first in this run. */
export function claimSettings(hostId: string, owner: string, keys: string[]): string[] {
  const hosts = ledger();
  const taken = hosts.get(hostId) ?? new Map<string, string>();
  hosts.set(hostId, taken);
  const label = (n: string) => ownerLabels.get(n) ?? `TunedHost "${n}"`;
  const conflicts: string[] = [];
  for (const key of keys) {
    const other = taken.get(key);
    if (other !== undefined && other !== owner) conflicts.push(`${label(owner)} and ${label(other)} both set ${key} on ${hostId}; each setting needs exactly one owner`);
    else taken.set(key, owner);
  }
  return conflicts;
}

/**
 * This stack as the host's journal names owners: `org/project/stack`. Mocked
 * programs often set no organization; the local backend's default name stands in.
 */
export function stackIdentity(): string {
  let org = "organization";
  try {
    org = pulumi.getOrganization();
  } catch {
    // not set (unit tests with mocks)
  }
  return `${org}/${pulumi.getProject()}/${pulumi.getStack()}`;
}
