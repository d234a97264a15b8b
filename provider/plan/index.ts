/** Pure planners: guest placement (vCPU/NUMA/hugepages) and the hugepage budget. */
export { topologyFromFacts } from "./topology";
export type { HostTopology, TopologyCpu, TopologyNode, TopologyHugepagePool } from "./topology";
export { parsePlacementRequest } from "./request";
export type { PlacementRequest, PlacementSpec, ThreadPolicy, EmulatorPolicy, NumaMode, HugepageSize } from "./request";
export { planPlacement } from "./placement";
export type { PlacementPlan, PlacementResult, PlacementOptions, GuestCellPlan, GuestCpuTopology, HugepageNeed, IothreadPin } from "./placement-types";
export { HostLedger } from "./ledger";
export { planHugepageBudget } from "./hugepages";
export type { HugepageBudget, HugepageBudgetEntry } from "./hugepages";
export { futureHostTopology, plannedHostFromSettings, spreadHostTotal } from "./future-host";
export type { FutureHost, PlannedHost, PlannedHugepagePool } from "./future-host";
export { renderPlacementSvg, GUEST_PALETTE } from "./svg";
export type { PlacementSvgOptions } from "./svg";
export * from "./passthrough";
export { planVhostInterface, stableMac, DEFAULT_QUEUE_CAP, type VhostInterfaceRequest, type VhostInterfacePlan } from "./vhost-net";
