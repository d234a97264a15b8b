import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { NumaPinnedGuest } from "./numa-pinned-guest";

/** The guest a device is attached to: a NumaPinnedGuest, or an existing domain on a host. */
export type GuestTarget = NumaPinnedGuest | { connection: pulumi.Input<ConnectionArgs>; domain: pulumi.Input<string> };

/** Connection, domain name and what the device must wait for. */
export function resolveGuest(guest: GuestTarget): { connection: pulumi.Input<ConnectionArgs>; domain: pulumi.Input<string>; dependsOn: pulumi.Resource[] } {
  if (guest instanceof NumaPinnedGuest) return { connection: guest.connection, domain: guest.domainName, dependsOn: [guest.domain] };
  return { connection: guest.connection, domain: guest.domain, dependsOn: [] };
}

/** Shows a resource's notes as warnings in the preview and update output. */
export function logNotes(notes: pulumi.Output<string[]>, on: pulumi.Resource): void {
  notes.apply((list) => {
    for (const n of list ?? []) void pulumi.log.warn(n, on);
  });
}
