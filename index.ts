// kvmtune: declarative KVM performance tuning for Pulumi.
export type { ConnectionArgs, ProxyConnectionArgs } from "./components/connection";
export { TunedHost, type TunedHostArgs } from "./components/tuned-host";
export { TunedFleet, type TunedFleetArgs } from "./components/tuned-fleet";
export { HostTuning, type HostTuningArgs } from "./provider/resources/host-tuning";
export { readHostFacts } from "./provider/host/read-facts";
export type { HostFacts } from "./provider/host/facts";
export type { HostFactsSummary } from "./provider/host/facts-summary";
export type { GroupedSettings } from "./provider/spec/tuned-host";
export { VIRTUAL_HOST_PRESET } from "./provider/spec/tuned-host";
export { NumaPinnedGuest, type NumaPinnedGuestArgs } from "./components/numa-pinned-guest";
export { LibvirtDomain, type LibvirtDomainArgs } from "./provider/resources/libvirt-domain";
export type { PlacementPlan } from "./provider/plan/placement-types";
export type { PlannedHost } from "./provider/plan/future-host";
export type { OwnedParts } from "./provider/libvirt/types";
export { VhostNetwork, type VhostNetworkArgs } from "./components/vhost-network";
export { PassthroughDisk, type PassthroughDiskArgs } from "./components/passthrough-disk";
export type { GuestTarget } from "./components/guest-target";
export { GuestDevice, type GuestDeviceArgs } from "./provider/resources/guest-device";
