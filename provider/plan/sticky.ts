/**
 * Placement that stays put: the CPU sets a re-plan tries before the open search,
 * so a running guest is not moved just because CPUs elsewhere came free (another
 * guest removed, a pool grown), and a new guest does not take the CPUs of this
 * stack's other guests while free ones fit it.
 *
 * Each set is the planner's `blocked` array with more CPUs blocked; every other
 * rule (thread policy, memory, pages, device affinity) still applies, so a set
 * that no longer fits simply falls through to the next, and finally to the open
 * search.
 */
import type { Blocked } from "./cpu-select";
import type { PlacementSpec } from "./request";
import type { HostTopology, TopologyIndex } from "./topology";

/** The `blocked` arrays to try, most sticky first: own CPUs, own cores, other guests' CPUs left free; empty when there is nothing to keep. */
export function planStickyPasses(t: HostTopology, ix: TopologyIndex, spec: PlacementSpec, blocked: Blocked): Blocked[] {
  const passes: Blocked[] = [];
  const own = (t.domains ?? []).find((d) => d.name === spec.name);
  if (own && own.vcpuCpus.length > 0) {
    // Exactly where its vCPUs and helpers run now; then the whole cores around them (isolate keeps siblings idle).
    const exact = [...own.vcpuCpus, ...own.helperCpus];
    passes.push(onlyThese(blocked, exact));
    const cores = exact.flatMap((c) => [c, ...(ix.cpuById.get(c)?.siblings ?? [])]);
    passes.push(onlyThese(blocked, cores));
  }
  // This stack's other guests do not block (see TopologyDomain.sameStack), but their CPUs are the last choice.
  const others = (t.domains ?? []).filter((d) => d.sameStack && d.name !== spec.name).flatMap((d) => [...d.vcpuCpus, ...d.helperCpus]);
  if (others.some((c) => c < blocked.length && blocked[c] === 0)) {
    const b = blocked.slice();
    for (const c of others) if (c < b.length) b[c] = 1;
    passes.push(b);
  }
  return passes;
}

/** `blocked` with every CPU outside `allowed` blocked too. */
function onlyThese(blocked: Blocked, allowed: readonly number[]): Blocked {
  const b = new Uint8Array(blocked.length).fill(1);
  for (const c of allowed) if (c < b.length) b[c] = blocked[c];
  return b;
}
