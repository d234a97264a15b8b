import * as pulumi from "@pulumi/pulumi";
import type { HostFacts } from "../provider/host/facts";
import { factsProblems, type GuestHints } from "../provider/plan/guest-device";
import type { GuestDevice } from "../provider/resources/guest-device";
import type { GuestDeviceInputs } from "../provider/spec/guest-device";
import type { ConnectionArgs } from "./connection";
import { cachedHostFacts } from "./host-facts-cache";
import { NumaPinnedGuest } from "./numa-pinned-guest";

/** The guest a device is attached to: a NumaPinnedGuest, or an existing domain on a host. */
export type GuestTarget = NumaPinnedGuest | { connection: pulumi.Input<ConnectionArgs>; domain: pulumi.Input<string> };

export interface ResolvedGuest {
  connection: pulumi.Input<ConnectionArgs>;
  domain: pulumi.Input<string>;
  /** What the device must wait for. */
  dependsOn: pulumi.Resource[];
  /** The host's facts, for the checks `pulumi preview` can already make. */
  facts: pulumi.Output<HostFacts | undefined>;
  hints: GuestHints;
}

/** Connection, domain name, facts and what the program knows of the guest. `facts` overrides the host read (offline, tests). */
export function resolveGuest(guest: GuestTarget, facts?: pulumi.Input<HostFacts>): ResolvedGuest {
  if (guest instanceof NumaPinnedGuest) {
    return {
      connection: guest.connection, domain: guest.domainName, dependsOn: [guest.domain],
      facts: facts !== undefined ? (pulumi.output(facts) as pulumi.Output<HostFacts | undefined>) : guest.facts,
      hints: { vcpus: guest.vcpus, tcg: guest.domainType === undefined ? undefined : guest.domainType === "qemu" },
    };
  }
  return { connection: guest.connection, domain: guest.domain, dependsOn: [], facts: cachedHostFacts(guest.connection, facts).apply((r) => r.facts), hints: {} };
}

/**
 * What the host's facts already rule out for `spec`, as the device resource's
 * `hostProblems` input: its check reports them, so `pulumi preview` fails
 * cleanly (a rejected output would leave an inline Automation API program hanging).
 */
export function hostProblems(g: ResolvedGuest, spec: pulumi.Input<Pick<GuestDeviceInputs, "interface" | "hostdev">>): pulumi.Output<string[]> {
  // Facts that could not be read: nothing to check here (the guest's check names the host); up reads the host again.
  // A spec holding another resource's output not known at preview stays unknown here too: the device's check skips it then.
  return pulumi.all([g.facts, pulumi.output(spec)]).apply(([f, s]) => (f ? factsProblems(s as Pick<GuestDeviceInputs, "interface" | "hostdev">, f, g.hints).map((p) => `${p} (on ${f.hostname ?? "the host"}, from its facts)`) : []));
}

/** What VhostNetwork and PassthroughDisk report about their device. */
export abstract class GuestDeviceComponent extends pulumi.ComponentResource {
  /** The device element as the guest's persistent definition holds it. */
  readonly xml!: pulumi.Output<string | null>;
  /** The running guest has the device. */
  readonly attachedLive!: pulumi.Output<boolean>;
  /** A change waits for the guest's next restart (restartReasons says which). */
  readonly restartRequired!: pulumi.Output<boolean>;
  readonly restartReasons!: pulumi.Output<string[]>;
  /** Values changed on the host by hand (set by refresh). */
  readonly drift!: pulumi.Output<string[]>;
  /** Things worth knowing, also shown as warnings. */
  readonly notes!: pulumi.Output<string[]>;

  /** Takes the device's outputs as the component's and shows its notes as warnings. */
  protected expose(device: GuestDevice, extra: Record<string, pulumi.Input<unknown>>): void {
    const self = this as { -readonly [K in keyof GuestDeviceComponent]: GuestDeviceComponent[K] };
    self.xml = device.xml;
    self.attachedLive = device.attachedLive;
    self.restartRequired = device.restartRequired;
    self.restartReasons = device.restartReasons;
    self.drift = device.drift;
    self.notes = device.notes;
    device.notes.apply((list) => {
      for (const n of list ?? []) void pulumi.log.warn(n, this);
    });
    this.registerOutputs({ ...extra, xml: this.xml, attachedLive: this.attachedLive, restartRequired: this.restartRequired });
  }
}
