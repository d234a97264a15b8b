import type * as pulumi from "@pulumi/pulumi";
import { rebootHost } from "../host/reboot";
import { progress, progressScope } from "../transport/progress";

/**
 * HostReboot CRUD: a one-shot step, run when the pending boot-time settings
 * change and are not empty. Its outputs keep the list it last acted on: once
 * the reboot applied them the list read back is empty, which is no change (a
 * clean `preview --refresh --expect-no-changes`), and settings still pending
 * after it (a boot that could not apply them) never reboot twice.
 */
export interface HostRebootInputs {
  connection: unknown;
  /** Boot-time settings waiting for a reboot, as `key=value` (a changed value is a new reboot). */
  pending: string[];
  timeoutSeconds?: number;
}

export interface HostRebootOutputs extends HostRebootInputs {
  rebooted: boolean;
  bootId: string | null;
  cmdline: string | null;
  seconds: number | null;
}

async function maybeReboot(inputs: HostRebootInputs): Promise<HostRebootOutputs> {
  if (!inputs.pending || inputs.pending.length === 0) return { ...inputs, rebooted: false, bootId: null, cmdline: null, seconds: null };
  const r = await rebootHost(inputs.connection, inputs.timeoutSeconds ?? 600, (m) => progress(m));
  return { ...inputs, rebooted: true, bootId: r.bootId, cmdline: r.cmdline, seconds: r.seconds };
}

export async function create(inputs: HostRebootInputs): Promise<pulumi.dynamic.CreateResult> {
  const c = inputs.connection as { host?: unknown; port?: unknown };
  return progressScope(inputs, async () => ({ id: `${String(c?.host)}:${String(c?.port ?? 22)}/reboot`, outs: await maybeReboot(inputs) }));
}

export async function diff(_id: string, olds: HostRebootOutputs, news: HostRebootInputs): Promise<pulumi.dynamic.DiffResult> {
  // Only a setting the last reboot was not already for: what a boot could not apply stays pending without a loop.
  const done = new Set(olds.pending ?? []);
  return { changes: (news.pending ?? []).some((p) => !done.has(p)) };
}

export async function update(_id: string, _olds: HostRebootOutputs, news: HostRebootInputs): Promise<pulumi.dynamic.UpdateResult> {
  return progressScope(news, async () => ({ outs: await maybeReboot(news) }));
}
