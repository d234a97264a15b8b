import * as pulumi from "@pulumi/pulumi";
import { ownUrnInput } from "./own-urn";
import type { DomainSpec } from "../libvirt/domain-builder";
import type { OwnedParts } from "../libvirt/types";
import type { ObservedSummary } from "../libvirt/placement-drift";

/**
 * The serialised provider: every method loads the implementation by package
 * name when it runs (see host-tuning.ts), so state holds only a require of
 * `kvmtune` and no secrets or clients are captured in the closure.
 */
const libvirtDomainProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    return require("kvmtune/dist/provider/resources/libvirt-domain-impl").check(olds, news);
  },
  async diff(id, olds, news) {
    return require("kvmtune/dist/provider/resources/libvirt-domain-impl").diff(id, olds, news);
  },
  async create(inputs) {
    return require("kvmtune/dist/provider/resources/libvirt-domain-impl").create(inputs);
  },
  async read(id, props) {
    return require("kvmtune/dist/provider/resources/libvirt-domain-impl").read(id, props);
  },
  async update(id, olds, news) {
    return require("kvmtune/dist/provider/resources/libvirt-domain-impl").update(id, olds, news);
  },
  async delete(id, props) {
    return require("kvmtune/dist/provider/resources/libvirt-domain-impl").remove(id, props);
  },
};

export { libvirtDomainProvider };

export interface LibvirtDomainArgs {
  /** SSH connection to the host (see ConnectionArgs); secret fields stay secret. */
  connection: pulumi.Input<unknown>;
  /** The libvirt domain name: a letter or digit, then letters, digits, '_', '.', '+', '-' (at most 64). */
  name: pulumi.Input<string>;
  /** "define": kvmtune creates the domain (and undefines it on delete, keeping disk images); "adopt": it tunes an existing domain and restores the original parts on delete. */
  mode: pulumi.Input<"define" | "adopt">;
  /** What a new domain is made of (define mode only): memoryMiB, vcpus, osVariant, type, disks. */
  domain?: pulumi.Input<DomainSpec>;
  /** The tuned parts kvmtune owns (cputune, numatune, memoryBacking, cpu, ...; omitted = not owned, null = absent). */
  parts?: pulumi.Input<Partial<OwnedParts>>;
  /** Start the domain after defining it, or when this turns on; "paused": QEMU starts and holds the guest's memory, no guest code runs. */
  start?: pulumi.Input<boolean | "paused">;
  /**
   * "when-required": when a changed part can only take effect at the next start (libvirt cannot apply it live),
   * restart the running domain in the same update: ACPI shutdown, a forced stop after `shutdownTimeoutSeconds`
   * (at once for a paused domain), then start (paused again if it was). Default "never": `restartRequired` says so.
   */
  restart?: pulumi.Input<"never" | "when-required">;
  /** Seconds a restart waits for the guest's ACPI shutdown before forcing it off. Default 120. */
  shutdownTimeoutSeconds?: pulumi.Input<number>;
  /** Start the domain with the host; omitted = not owned. */
  autostart?: pulumi.Input<boolean>;
  /** Problems the program found planning the domain (NumaPinnedGuest placement); check reports them, so preview fails. */
  planProblems?: pulumi.Input<string[]>;
  /** Who owns this domain in the host's journal of originals: this stack (`org/project/stack`) and the resource's name. */
  owner?: pulumi.Input<{ stack: string; resource: string }>;
  /** Pulumi customTimeouts (durations such as "2m"): each remote command of that operation is bounded by it (default 10 minutes). */
  timeouts?: pulumi.Input<{ create?: string; update?: string; delete?: string; read?: string } | undefined>;
}

/** One libvirt domain's owned parts: applied (live where libvirt allows), drift-checked, and undone on delete. */
export class LibvirtDomain extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly parts: pulumi.Output<Partial<OwnedParts>>;
  declare readonly uuid: pulumi.Output<string | null>;
  declare readonly xml: pulumi.Output<string | null>;
  declare readonly state: pulumi.Output<string | null>;
  declare readonly drift: pulumi.Output<string[]>;
  declare readonly restartRequired: pulumi.Output<boolean>;
  declare readonly restartReasons: pulumi.Output<string[]>;
  declare readonly originals: pulumi.Output<Partial<OwnedParts> | null>;
  /** Measured placement of the running guest: thread affinities and memory per host node and page size. */
  declare readonly observed: pulumi.Output<ObservedSummary | null>;
  /** Measured placement that differs from the owned parts (memory on the wrong node, 4 KiB pages, threads off their pins). */
  declare readonly placementDrift: pulumi.Output<string[]>;

  constructor(name: string, args: LibvirtDomainArgs, opts?: pulumi.CustomResourceOptions) {
    // Secret as a whole: a key or password given as a plain string must not land in state in clear.
    // Its own URN as a hidden input: the provider shows long steps on this resource's row.
    const self = ownUrnInput(name, "LibvirtDomain", opts);
    const props = { ...args, ...self, connection: pulumi.secret(args.connection), uuid: undefined, xml: undefined, state: undefined, drift: undefined, restartRequired: undefined, restartReasons: undefined, originals: undefined, originalAutostart: undefined, observed: undefined, placementDrift: undefined };
    super(libvirtDomainProvider, name, props, { ...opts, additionalSecretOutputs: ["connection", ...(opts?.additionalSecretOutputs ?? [])] }, "kvmtune", "LibvirtDomain");
  }
}
