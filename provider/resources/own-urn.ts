import * as pulumi from "@pulumi/pulumi";
import { URN_INPUT } from "../transport/progress";

/**
 * A resource's own URN as its hidden progress input (see transport/progress).
 * A plain Promise, not createUrn's Output: that Output depends on the parent
 * component, and the SDK expands a dependency on a component to all of its
 * children, so the resource would wait for its siblings (a sibling that
 * depends on it, like TunedHost's HostReboot, deadlocks the program).
 */
export function ownUrnInput(name: string, type: string, opts?: pulumi.CustomResourceOptions): Record<string, Promise<string>> {
  const urn = pulumi.createUrn(name, `pulumi-nodejs:dynamic/kvmtune:${type}`, opts?.parent);
  return { [URN_INPUT]: new Promise<string>((resolve) => urn.apply((u) => resolve(u))) };
}
