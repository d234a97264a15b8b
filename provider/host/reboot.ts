import { forgetSessions, withSession } from "../transport/session-pool";
import { waitMessage } from "../transport/progress";
import { TransportError } from "../transport/ssh";

/**
 * An opt-in, one-shot host reboot for boot-time settings (kernel command line,
 * module options). Never run unless the program asks for it.
 */

const BOOT_ID = "cat /proc/sys/kernel/random/boot_id";
// Detached (HUP ignored, no nohup needed) so the command returns before the host goes down;
// systemd hosts get a clean shutdown, others their init's reboot.
const REBOOT = `sh -c "trap '' HUP; sleep 1; if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl reboot; else reboot; fi" >/dev/null 2>&1 </dev/null &\necho scheduled`;

export interface RebootResult {
  bootIdBefore: string;
  bootId: string;
  cmdline: string;
  /** Seconds from the reboot request until SSH answered with a new boot id. */
  seconds: number;
}

/**
 * Reads the boot id and command line, then runs `then` (if any) in the same command: one connection, one round trip.
 * Always a new connection: one kept from before the reboot would be dead.
 */
async function bootId(connection: unknown, then = ""): Promise<{ id: string; cmdline: string }> {
  return withSession(connection, async (s) => {
    const r = await s.run(`${BOOT_ID}; cat /proc/cmdline${then ? `\n${then}` : ""}`, { label: then ? "request reboot" : "read boot id" });
    if (r.code !== 0) throw new Error(`reading the boot id on ${s.target} failed: ${r.stderr.trim()}`);
    const [id, cmdline] = r.stdout.split("\n");
    return { id: id.trim(), cmdline: (cmdline ?? "").trim() };
  }, { fresh: true });
}

/** Reboots the host and waits until it answers SSH with a new boot id. */
export async function rebootHost(connection: unknown, timeoutSeconds: number, progress: (msg: string) => void = () => undefined): Promise<RebootResult> {
  const t0 = Date.now();
  const host = String((connection as { host?: unknown }).host ?? "the host");
  const before = await bootId(connection, REBOOT);
  // Connections other operations keep to this host die with it.
  forgetSessions(connection);
  progress(`${host}: reboot requested`);
  let said = 0;
  // Short dials while waiting; the user's limits apply again once the host is back.
  const probe = { ...(connection as Record<string, unknown>), dialErrorLimit: 1, perDialTimeout: 5 };
  let lastError = "";
  while (Date.now() - t0 < timeoutSeconds * 1000) {
    await new Promise((r) => setTimeout(r, 2000));
    const elapsed = Math.floor((Date.now() - t0) / 1000);
    if (elapsed - said >= 10) {
      said = elapsed;
      progress(waitMessage(`waiting for ${host} to come back`, elapsed, timeoutSeconds));
    }
    try {
      const now = await bootId(probe);
      if (now.id !== before.id) {
        const seconds = Math.round((Date.now() - t0) / 1000);
        progress(`${host} is back after ${seconds} s (new boot id)`);
        return { bootIdBefore: before.id, bootId: now.id, cmdline: now.cmdline, seconds };
      }
    } catch (err) {
      // Refusals that are not about reachability (host key, auth) will not heal by waiting.
      if (err instanceof TransportError && (err.kind === "host-key" || err.kind === "auth")) throw err;
      lastError = (err as Error).message;
    }
  }
  throw new Error(`host did not come back with a new boot id within ${timeoutSeconds} s after the reboot${lastError ? ` (last error: ${lastError})` : ""}`);
}
