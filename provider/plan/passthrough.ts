/** Passthrough preflights: block devices (`<disk type='block'>`) and PCI functions (`<hostdev>`). */
export { planBlockPassthrough, preferredById, DISK_BUSES, DISK_CACHES, DISK_DEVICES, DISK_IOS } from "./passthrough-block";
export type {
  BlockPassthroughContext,
  BlockPassthroughPlan,
  BlockPassthroughRequest,
  BlockPassthroughResult,
  DiskBus,
  DiskCache,
  DiskDevice,
  DiskIo,
  DomainDiskAttachment,
} from "./passthrough-block";
export { checkPciAddress, planPciAssignment } from "./passthrough-pci";
export type { GroupMemberHandling, PciAssignmentPlan, PciAssignmentRequest, PciAssignmentResult, PciGroupMember } from "./passthrough-pci";
export { blockUsage, describeUse, findBlock, managementPci, rootDisks } from "./passthrough-host";
export type { BlockEntry, BlockUse, ManagementPci, RootDisks } from "./passthrough-host";
export { checkBlockPath, resolveBlockDevice, parseBlockResolution, BLOCK_RESOLVE_SCRIPT } from "../host/block-preflight";
export type { BlockPathKind, LoopBacking, ResolvedBlockDevice } from "../host/block-preflight";
