import * as pulumi from "@pulumi/pulumi";
import { describeRollout, planRollout } from "../provider/plan/rollout";
import { InputError } from "../provider/spec/issues";
import { TunedHost, type TunedHostArgs } from "./tuned-host";

/**
 * Arguments of a TunedFleet: hosts tuned in stages, a canary first, then
 * batches, each batch only after the one before it applied and read back.
 */
export interface TunedFleetArgs {
  /**
   * The hosts in rollout order: TunedHost name → that host's args (its `connection`, and any setting it needs
   * beyond `common`). Each becomes a TunedHost child with that name, so its persistence files and journal
   * owner are the same as a TunedHost of that name declared on its own.
   */
  hosts: Record<string, TunedHostArgs>;
  /** Args every host gets. A host's own field replaces the common one as a whole (`sysctl` maps are not merged). */
  common?: Omit<TunedHostArgs, "connection">;
  /** Hosts in the first batch, tuned alone before any other (0: no canary). Default 1. */
  canaries?: number;
  /** Hosts per batch after the canaries. Default: all of them in one batch. */
  batchSize?: number;
}

const FIELDS = ["hosts", "common", "canaries", "batchSize"];

/**
 * A staged rollout of host tuning. Batch k+1's TunedHosts depend on batch k's
 * (Pulumi `dependsOn`, so the engine orders them, in `up` and in `destroy`):
 * a batch starts only when every host before it applied its settings and read
 * them back (with `reboot: "when-pending"`, also rebooted and came back). A
 * host that fails (its read-back disagrees, it is unreachable) fails the `up`
 * with its name; the batches after it are not touched, while hosts already
 * running in its batch finish. `customTimeouts` and `retainOnDelete` reach
 * every host.
 */
export class TunedFleet extends pulumi.ComponentResource {
  /** The TunedHosts, by name. */
  readonly hosts: Record<string, TunedHost>;
  /** Host names per batch, in rollout order (batch 0 holds the canaries). */
  readonly batches: string[][];

  constructor(name: string, args: TunedFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    // Judged before the component registers: bad args leave nothing behind.
    const unknown = Object.keys(args ?? {}).filter((k) => !FIELDS.includes(k));
    if (unknown.length) throw new InputError(`TunedFleet "${name}" args`, unknown.map((k) => `${k}: unknown field; accepted fields: ${FIELDS.join(", ")}`));
    const names = Object.keys(args.hosts ?? {});
    const plan = planRollout({ hosts: names, canaries: args.canaries, batchSize: args.batchSize }, `TunedFleet "${name}" args`);
    super("kvmtune:index:TunedFleet", name, {}, opts);
    this.batches = plan.batches;
    this.hosts = {};
    let previous: TunedHost[] = [];
    for (const batch of plan.batches) {
      const current = batch.map(
        (host) =>
          (this.hosts[host] = new TunedHost(host, { ...args.common, ...args.hosts[host] }, {
            parent: this,
            dependsOn: previous,
            customTimeouts: opts?.customTimeouts,
            retainOnDelete: opts?.retainOnDelete,
          })),
      );
      previous = current;
    }
    void pulumi.log.info(`rollout of ${names.length} host(s): ${describeRollout(plan, args.canaries ?? Math.min(1, names.length))}`, this);
    this.registerOutputs({ batches: this.batches });
  }
}
