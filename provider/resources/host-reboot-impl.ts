import type * as pulumi from "@pulumi/pulumi";
import { rebootHost } from "../host/reboot";

/** HostReboot CRUD: a one-shot step, run when the pending boot-time keys change and are not empty. */
export interface HostRebootInputs {
  connection: unknown;
  /** Boot-time keys waiting for a reboot (TunedHost's pendingRebootKeys). */
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
  const r = await rebootHost(inputs.connection, inputs.timeoutSeconds ?? 600);
  return { ...inputs, rebooted: true, bootId: r.bootId, cmdline: r.cmdline, seconds: r.seconds };
}

export async function create(inputs: HostRebootInputs): Promise<pulumi.dynamic.CreateResult> {
  const c = inputs.connection as { host?: unknown; port?: unknown };
  return { id: `${String(c?.host)}:${String(c?.port ?? 22)}/reboot`, outs: await maybeReboot(inputs) };
}

export async function diff(_id: string, olds: HostRebootOutputs, news: HostRebootInputs): Promise<pulumi.dynamic.DiffResult> {
  return { changes: JSON.stringify(olds.pending ?? []) !== JSON.stringify(news.pending ?? []) || olds.timeoutSeconds !== news.timeoutSeconds };
}

export async function update(_id: string, _olds: HostRebootOutputs, news: HostRebootInputs): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await maybeReboot(news) };
}
