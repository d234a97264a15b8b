import * as pulumi from "@pulumi/pulumi";
import { ownUrnInput } from "./own-urn";

/** Serialised provider: loads its implementation by package name at call time (see host-tuning.ts). */
const hostRebootProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return require("kvmtune/dist/provider/resources/host-reboot-impl").create(inputs);
  },
  async diff(id, olds, news) {
    return require("kvmtune/dist/provider/resources/host-reboot-impl").diff(id, olds, news);
  },
  async update(id, olds, news) {
    return require("kvmtune/dist/provider/resources/host-reboot-impl").update(id, olds, news);
  },
};

export { hostRebootProvider };

export interface HostRebootArgs {
  connection: pulumi.Input<unknown>;
  /** Pending boot-time settings (`key=value`): reboot when this list changes and is not empty. */
  pending: pulumi.Input<string[]>;
  /** How long to wait for the host to come back. Default 600 s. */
  timeoutSeconds?: pulumi.Input<number>;
}

/** A one-shot reboot (no drift: a reboot is an action, not a state). */
export class HostReboot extends pulumi.dynamic.Resource {
  declare readonly rebooted: pulumi.Output<boolean>;
  declare readonly bootId: pulumi.Output<string | null>;
  declare readonly cmdline: pulumi.Output<string | null>;

  constructor(name: string, args: HostRebootArgs, opts?: pulumi.CustomResourceOptions) {
    // Its own URN as a hidden input: the provider shows the reboot's progress on this resource's row.
    super(hostRebootProvider, name, { ...args, ...ownUrnInput(name, "HostReboot", opts), connection: pulumi.secret(args.connection), rebooted: undefined, bootId: undefined, cmdline: undefined, seconds: undefined }, { ...opts, additionalSecretOutputs: ["connection"] }, "kvmtune", "HostReboot");
  }
}
