import * as pulumi from "@pulumi/pulumi";
import { ownUrnInput } from "./own-urn";
import type { HostFactsSummary } from "../host/facts-summary";
import type { GroupedSettings } from "../spec/tuned-host";

/**
 * The serialised provider: every method loads the implementation by package
 * name when it runs. Resolution happens in the provider process, from the Pulumi
 * program's directory, so state holds only a require of `kvmtune` (no repo
 * paths, no copied code, no captured secrets) and delete/refresh of old state
 * use the installed kvmtune. This repo's tests link the repo as `kvmtune`.
 */
const hostTuningProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    return require("kvmtune/dist/provider/resources/host-tuning-impl").check(olds, news);
  },
  async diff(id, olds, news) {
    return require("kvmtune/dist/provider/resources/host-tuning-impl").diff(id, olds, news);
  },
  async create(inputs) {
    return require("kvmtune/dist/provider/resources/host-tuning-impl").create(inputs);
  },
  async read(id, props) {
    return require("kvmtune/dist/provider/resources/host-tuning-impl").read(id, props);
  },
  async update(id, olds, news) {
    return require("kvmtune/dist/provider/resources/host-tuning-impl").update(id, olds, news);
  },
  async delete(id, props) {
    return require("kvmtune/dist/provider/resources/host-tuning-impl").remove(id, props);
  },
};

export { hostTuningProvider };

export interface HostTuningArgs {
  /** SSH connection (see ConnectionArgs); secret fields stay secret. */
  connection: pulumi.Input<unknown>;
  /** File-name tag for this resource's persistence files. */
  tag: pulumi.Input<string>;
  allowManagementInterface?: pulumi.Input<boolean>;
  allowVfRecreate?: pulumi.Input<boolean>;
  /** Desired settings grouped by disruption class. */
  settings: pulumi.Input<GroupedSettings>;
  /** What the program already found wrong from the host's facts (e.g. a boot loader kvmtune cannot drive): check reports them, so preview fails. */
  hostProblems?: pulumi.Input<string[] | undefined>;
  /** Who owns these keys in the host's journal of originals: this stack (`org/project/stack`) and the TunedHost's name. */
  owner?: pulumi.Input<{ stack: string; resource: string }>;
  /** Keys to take over from another owner recorded in the host's journal (or "all"); the recorded original is kept. */
  takeOver?: pulumi.Input<string[] | "all" | undefined>;
  /** Pulumi customTimeouts (durations such as "2m"): each remote step of that operation is bounded by it. */
  timeouts?: pulumi.Input<{ create?: string; update?: string; delete?: string; read?: string } | undefined>;
}

/** One host's owned settings: applied, read back, drift-checked and restored on delete. */
export class HostTuning extends pulumi.dynamic.Resource {
  declare readonly settings: pulumi.Output<GroupedSettings>;
  declare readonly originals: pulumi.Output<Record<string, string | null>>;
  declare readonly pendingReboot: pulumi.Output<boolean>;
  declare readonly pendingRebootKeys: pulumi.Output<string[]>;
  declare readonly notes: pulumi.Output<string[]>;
  declare readonly hostname: pulumi.Output<string | null>;
  declare readonly kernel: pulumi.Output<string | null>;
  declare readonly facts: pulumi.Output<HostFactsSummary | null>;
  declare readonly bootOverrides: pulumi.Output<string[]>;

  constructor(name: string, args: HostTuningArgs, opts?: pulumi.CustomResourceOptions) {
    // Secret as a whole: a key or password given as a plain string must not land in state in clear.
    // Its own URN as a hidden input: the provider shows long steps on this resource's row.
    const self = ownUrnInput(name, "HostTuning", opts);
    const props = { ...args, ...self, connection: pulumi.secret(args.connection), originals: undefined, pendingReboot: undefined, pendingRebootKeys: undefined, notes: undefined, hostname: undefined, kernel: undefined, facts: undefined, bootOverrides: undefined };
    super(hostTuningProvider, name, props, { ...opts, additionalSecretOutputs: ["connection", ...(opts?.additionalSecretOutputs ?? [])] }, "kvmtune", "HostTuning");
  }
}
