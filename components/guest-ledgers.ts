/**
 * The placement ledgers of one program run: one per host (keyed by its machine-id), shared by every
 * NumaPinnedGuest on it, with who owns which domain name and the devices each guest uses (for the map).
 */
import * as pulumi from "@pulumi/pulumi";
import type { HostFacts } from "../provider/host/facts";
import { futureHostTopology, type PlannedHost } from "../provider/plan/future-host";
import { HostLedger } from "../provider/plan/ledger";
import type { HostTopology } from "../provider/plan/topology";
import { stackIdentity } from "./host-ownership";
import type { PlacementDevice } from "../provider/plan/svg";

/**
 * One ledger per host per program run, so guests of one program never share CPUs; a guest's earlier plan
 * is replaced, not counted twice. Per run (keyed by the run's resource monitor, as the facts cache is):
 * the Automation API runs inline programs more than once in one process, and a guest dropped from the
 * program must not keep its CPUs.
 */
type LedgerEntry = { ledger: HostLedger; basis: string; owners: Map<string, string>; devices: Map<string, PlacementDevice[]>; hosts: Map<string, string | null> };
const runLedgers = new WeakMap<object, Map<string, LedgerEntry>>();
const outsideRun = new Map<string, LedgerEntry>();

function ledgersOfThisRun(): Map<string, LedgerEntry> {
  const run = pulumi.runtime.getMonitor();
  if (!run) return outsideRun;
  let m = runLedgers.get(run);
  if (!m) runLedgers.set(run, (m = new Map()));
  return m;
}

/**
 * Host `id`'s ledger without guest `name`, on the host as `planned` (its TunedHost's pools) will leave it.
 * A guest bringing other pools than the ledger was made from re-bases it (plans kept; `conflicts` names
 * those that no longer fit); a guest on a bare connection uses the ledger as it is.
 */
export function ledgerFor(
  id: string,
  resource: string,
  name: string,
  facts: HostFacts,
  planned: PlannedHost | undefined,
): { ledger: HostLedger; conflicts: string[]; duplicate?: string; devices: Map<string, PlacementDevice[]>; warnings: string[] } {
  const ledgers = ledgersOfThisRun();
  // One host reached by name and by address is one host: keyed by its machine-id when the facts have one.
  const key = facts.machineId ? `machine-id ${facts.machineId}` : id;
  const basis = planned ? JSON.stringify(planned) : "";
  const entry = ledgers.get(key);
  const warnings = hostWarnings(entry, id, facts);
  const holder = entry?.owners.get(name);
  if (entry && holder !== undefined && holder !== resource) {
    return { ledger: entry.ledger, conflicts: [], devices: entry.devices, warnings, duplicate: `domain name "${name}" is already used on this host by NumaPinnedGuest "${holder}"; NumaPinnedGuest "${resource}" asks for it too (give one a different domainName)` };
  }
  entry?.ledger.remove(name);
  entry?.devices.delete(name);
  const owners = entry?.owners ?? new Map<string, string>();
  const devices = entry?.devices ?? new Map<string, PlacementDevice[]>();
  const hosts = entry?.hosts ?? new Map<string, string | null>();
  owners.set(name, resource);
  hosts.set(id, facts.hostname);
  if (entry && (entry.basis === basis || !planned)) return { ledger: entry.ledger, conflicts: [], devices, warnings };
  const future = futureHostTopology(facts, planned);
  const topology = markSameStack(future.topology, facts);
  const options = { hugepagePoolNotes: future.notes };
  const next = entry ? entry.ledger.rebase(topology, options) : { ledger: new HostLedger(topology, options), conflicts: [] };
  ledgers.set(key, { ledger: next.ledger, basis, owners, devices, hosts });
  return { ...next, devices, warnings };
}

/**
 * Said once per host per run: domains the facts could not read (their CPUs and pages are not counted), and a
 * machine-id that two differently named hosts share (cloned images: their guests would be planned as one host's).
 */
function hostWarnings(entry: LedgerEntry | undefined, id: string, facts: HostFacts): string[] {
  if (entry?.hosts.has(id)) return [];
  const out: string[] = [];
  if (!entry) for (const p of facts.libvirtDomains?.problems ?? []) out.push(`${p}; what it holds is not counted`);
  const twin = entry ? [...entry.hosts].find(([, hostname]) => hostname !== facts.hostname) : undefined;
  if (twin) {
    out.push(
      `${id} (hostname ${facts.hostname ?? "unknown"}) and ${twin[0]} (hostname ${twin[1] ?? "unknown"}) report the same /etc/machine-id ${facts.machineId}, ` +
        `so their guests are planned as one host's; give each cloned host its own (rm /etc/machine-id && systemd-machine-id-setup)`,
    );
  }
  return out;
}

/**
 * Domains this stack defined (its owner in the host's journal, with no original: kvmtune created them, and delete
 * undefines them): a guest of this run re-planned under its own name, or one this same `up` removes after it
 * creates the new ones. Their CPUs do not block (see TopologyDomain.sameStack). An adopted domain stays on the host
 * after its delete, so it keeps its CPUs.
 */
function markSameStack(t: HostTopology, facts: HostFacts): HostTopology {
  const stack = stackIdentity();
  const ours = new Set((facts.journal?.entries ?? []).filter((e) => e.stack === stack && e.original === null && e.key.startsWith("domain:")).map((e) => e.key.slice("domain:".length)));
  if (!t.domains?.some((d) => ours.has(d.name))) return t;
  return { ...t, domains: t.domains.map((d) => (ours.has(d.name) ? { ...d, sameStack: true } : d)) };
}
