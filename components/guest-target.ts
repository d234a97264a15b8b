import * as pulumi from "@pulumi/pulumi";
import type { GuestDevice } from "../provider/resources/guest-device";
import type { ConnectionArgs } from "./connection";
import { NumaPinnedGuest } from "./numa-pinned-guest";

/** The guest a device is attached to: a NumaPinnedGuest, or an existing domain on a host. */
export type GuestTarget = NumaPinnedGuest | { connection: pulumi.Input<ConnectionArgs>; domain: pulumi.Input<string> };

/** Connection, domain name and what the device must wait for. */
export function resolveGuest(guest: GuestTarget): { connection: pulumi.Input<ConnectionArgs>; domain: pulumi.Input<string>; dependsOn: pulumi.Resource[] } {
  if (guest instanceof NumaPinnedGuest) return { connection: guest.connection, domain: guest.domainName, dependsOn: [guest.domain] };
  return { connection: guest.connection, domain: guest.domain, dependsOn: [] };
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
