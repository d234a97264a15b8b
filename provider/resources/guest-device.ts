import * as pulumi from "@pulumi/pulumi";
import { ownUrnInput } from "./own-urn";
import type { DevicePart } from "../libvirt/device-xml";
import type { DiskDeviceInput, HostdevDeviceInput, InterfaceDeviceInput } from "../spec/guest-device";

/** The serialised provider: each method loads the implementation by package name when it runs (see host-tuning.ts). */
const guestDeviceProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    return require("kvmtune/dist/provider/resources/guest-device-impl").check(olds, news);
  },
  async diff(id, olds, news) {
    return require("kvmtune/dist/provider/resources/guest-device-impl").diff(id, olds, news);
  },
  async create(inputs) {
    return require("kvmtune/dist/provider/resources/guest-device-impl").create(inputs);
  },
  async read(id, props) {
    return require("kvmtune/dist/provider/resources/guest-device-impl").read(id, props);
  },
  async update(id, olds, news) {
    return require("kvmtune/dist/provider/resources/guest-device-impl").update(id, olds, news);
  },
  async delete(id, props) {
    return require("kvmtune/dist/provider/resources/guest-device-impl").remove(id, props);
  },
};

export { guestDeviceProvider };

export interface GuestDeviceArgs {
  /** SSH connection to the host (see ConnectionArgs); stored encrypted as a whole. */
  connection: pulumi.Input<unknown>;
  /** The existing libvirt domain the device belongs to. */
  domain: pulumi.Input<string>;
  /** A network interface keyed by MAC (give exactly one of interface, disk, hostdev). */
  interface?: pulumi.Input<InterfaceDeviceInput>;
  /** A host block device keyed by target dev. */
  disk?: pulumi.Input<DiskDeviceInput>;
  /** A PCI function keyed by address. */
  hostdev?: pulumi.Input<HostdevDeviceInput>;
  /** Hot-plug into the running domain as well (`--live --config`); default true. */
  live?: pulumi.Input<boolean>;
  /** Problems the program already found against the host's facts (VhostNetwork, PassthroughDisk); check reports them, so preview fails. */
  hostProblems?: pulumi.Input<string[]>;
  /** Who owns this device in the host's journal of originals: this stack (`org/project/stack`) and the resource's name. */
  owner?: pulumi.Input<{ stack: string; resource: string }>;
  /** Pulumi customTimeouts (durations such as "2m"): each remote command of that operation is bounded by it (default 10 minutes). */
  timeouts?: pulumi.Input<{ create?: string; update?: string; delete?: string; read?: string } | undefined>;
}

/** One device of a libvirt domain: preflighted, attached (live where libvirt can), drift-checked, detached on delete. */
export class GuestDevice extends pulumi.dynamic.Resource {
  declare readonly kind: pulumi.Output<DevicePart["kind"]>;
  declare readonly key: pulumi.Output<string>;
  declare readonly device: pulumi.Output<DevicePart>;
  declare readonly xml: pulumi.Output<string | null>;
  declare readonly attachedLive: pulumi.Output<boolean>;
  declare readonly state: pulumi.Output<string | null>;
  declare readonly drift: pulumi.Output<string[]>;
  declare readonly restartRequired: pulumi.Output<boolean>;
  declare readonly restartReasons: pulumi.Output<string[]>;
  declare readonly notes: pulumi.Output<string[]>;

  constructor(name: string, args: GuestDeviceArgs, opts?: pulumi.CustomResourceOptions) {
    // Secret as a whole: a key or password given as a plain string must not land in state in clear.
    const outs = { kind: undefined, key: undefined, device: undefined, xml: undefined, attachedLive: undefined, state: undefined, drift: undefined, restartRequired: undefined, restartReasons: undefined, notes: undefined };
    // Its own URN as a hidden input: the provider shows long steps on this resource's row.
    const self = ownUrnInput(name, "GuestDevice", opts);
    super(guestDeviceProvider, name, { ...args, ...self, connection: pulumi.secret(args.connection), ...outs }, { ...opts, additionalSecretOutputs: ["connection", ...(opts?.additionalSecretOutputs ?? [])] }, "kvmtune", "GuestDevice");
  }
}
