import * as pulumi from "@pulumi/pulumi";
import { GuestDevice } from "../provider/resources/guest-device";
import type { GuestDeviceInputs } from "../provider/spec/guest-device";
import { InputError } from "../provider/spec/issues";
import type { HostFacts } from "../provider/host/facts";
import { stackIdentity } from "./host-ownership";
import { hostIdentityName } from "./stable-name";
import { GuestDeviceComponent, hostProblems, resolveGuest, type GuestTarget } from "./guest-target";

/**
 * Arguments of a PassthroughDisk: a whole host block device (`<disk type='block'>`)
 * or a PCI function (`<hostdev>`, e.g. an NVMe controller) given to a guest,
 * after a preflight on the real host.
 */
export interface PassthroughDiskArgs {
  /** The guest: a NumaPinnedGuest, or `{ connection, domain }` for an existing libvirt domain. */
  guest: GuestTarget;
  /**
   * Block mode: the host block device, e.g. "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4" or "/dev/sdb".
   * It is resolved on the host to a stable /dev/disk/by-id path, and refused when it is not a block
   * device, is mounted, is swap, has holders (LVM, md, dm, loop), is the root disk, or another domain has it.
   * May be another resource's output; when it is not known at preview, it is checked at up, before any change.
   */
  path?: pulumi.Input<string>;
  /** Block mode: guest target dev, "vdX" for bus virtio (default "vdb"), "sdX" for bus scsi (default "sda"). */
  target?: string;
  /** Block mode: "disk" (default) or "lun" (SCSI commands passed through; needs bus "scsi"). */
  device?: "disk" | "lun";
  /** Block mode: "virtio" (default, virtio-blk) or "scsi" (virtio-scsi). */
  bus?: "virtio" | "scsi";
  /** Block mode: host cache, default "none" (O_DIRECT, the talk's advice). */
  cache?: "none" | "directsync" | "writethrough" | "writeback" | "unsafe";
  /** Block mode: "native" (default, Linux AIO; needs cache none/directsync), "io_uring" or "threads". */
  io?: "native" | "io_uring" | "threads";
  /**
   * PCI mode: the PCI function to assign, "DDDD:BB:DD.F". The IOMMU must be on and every device of
   * its IOMMU group assignable; a group holding the management NIC or the root disk's controller is refused.
   * May be another resource's output (e.g. a VF an SR-IOV resource made); when it is not known at preview,
   * it is checked at up, before any change.
   */
  pciAddress?: pulumi.Input<string>;
  /** PCI mode: libvirt binds vfio-pci at guest start and gives the device back at stop (default true). */
  managed?: boolean;
  /** Hot-plug into the running guest as well (default true); when libvirt refuses, the change waits for a restart (see restartRequired). */
  live?: boolean;
  /** Check against these facts instead of reading the host in the program (offline, tests). */
  facts?: pulumi.Input<HostFacts>;
}

const FIELDS = ["guest", "path", "target", "device", "bus", "cache", "io", "pciAddress", "managed", "live", "facts"];
const BLOCK_ONLY = ["path", "target", "device", "bus", "cache", "io"] as const;

function argProblems(a: PassthroughDiskArgs): string[] {
  const out = Object.keys(a).filter((k) => !FIELDS.includes(k)).map((k) => `${k}: unknown field; accepted fields: ${FIELDS.join(", ")}`);
  if ((a.path === undefined) === (a.pciAddress === undefined)) out.push("path or pciAddress: give exactly one (a block device path, or a PCI function)");
  if (a.pciAddress !== undefined) for (const k of BLOCK_ONLY) if (a[k] !== undefined) out.push(`${k}: only used with path (block mode)`);
  if (a.path !== undefined && a.managed !== undefined) out.push("managed: only used with pciAddress");
  return out;
}

/** A host block device or PCI function given to a guest: preflighted, attached live where possible, drift-checked, detached on delete. */
export class PassthroughDisk extends GuestDeviceComponent {
  /** Block mode: the source libvirt uses (a /dev/disk/by-id path when the host has one). */
  readonly source: pulumi.Output<string | null>;

  constructor(name: string, args: PassthroughDiskArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kvmtune:index:PassthroughDisk", name, {}, opts);
    const problems = argProblems(args);
    if (problems.length) throw new InputError(`PassthroughDisk "${name}" args`, problems);
    const g = resolveGuest(args.guest, args.facts);
    const { connection, domain, dependsOn } = g;
    // A PCI function's IOMMU group is checked against the host's facts already in preview; a block path needs its own read, at up.
    // path and pciAddress may be other resources' outputs: the spec is one, resolved where it is used.
    const spec: pulumi.Output<Pick<GuestDeviceInputs, "disk" | "hostdev">> = args.path !== undefined
      ? pulumi.output(args.path).apply((path) => ({
          disk: {
            path, target: args.target ?? (args.bus === "scsi" ? "sda" : "vdb"),
            ...Object.fromEntries((["device", "bus", "cache", "io"] as const).filter((k) => args[k] !== undefined).map((k) => [k, args[k]])),
          } as GuestDeviceInputs["disk"],
        }))
      : pulumi.output(args.pciAddress!).apply((address) => ({ hostdev: { address, ...(args.managed !== undefined ? { managed: args.managed } : {}) } }));
    // The journal owner keeps the old name after a rename with `aliases` (see hostIdentityName).
    const device = new GuestDevice(`${name}-dev`, { connection, domain, ...(args.path !== undefined ? { disk: spec.apply((x) => x.disk!) } : { hostdev: spec.apply((x) => x.hostdev!) }), hostProblems: hostProblems(g, spec), owner: { stack: stackIdentity(), resource: `${hostIdentityName(name, opts)}-dev` }, timeouts: opts?.customTimeouts, ...(args.live !== undefined ? { live: args.live } : {}) }, { parent: this, dependsOn, retainOnDelete: opts?.retainOnDelete });
    this.source = device.device.apply((d) => (d && d.kind === "disk" ? d.part.source : null));
    this.expose(device, { source: this.source });
  }
}
