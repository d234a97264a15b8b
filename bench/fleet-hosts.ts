// bench:fleet's hosts: N namespace hosts started and stopped together, the
// counted window around one operation, and the hand-made drift.
import { startNsHost, type NsHost } from "../test/support/ns-host";
import { DRIFT, READ_TUNED, TUNED_OUTPUT } from "./fleet-tuning";

/** Starting more at once only queues on 2 CPUs. */
const START_BATCH = 10;

export async function startFleet(n: number, prefix: string): Promise<NsHost[]> {
  const hosts: NsHost[] = [];
  try {
    for (let i = 0; i < n; i += START_BATCH) {
      const batch = Array.from({ length: Math.min(START_BATCH, n - i) }, (_, j) => startNsHost({ name: `${prefix}${i + j}` }));
      // allSettled: every host that did start is in `hosts`, so the catch below stops it
      for (const r of await Promise.allSettled(batch)) {
        if (r.status === "fulfilled") hosts.push(r.value);
        else throw r.reason;
      }
    }
    return hosts;
  } catch (e) {
    await stopFleet(hosts);
    throw e;
  }
}

export async function stopFleet(hosts: NsHost[]): Promise<void> {
  await Promise.all(hosts.map((h) => h.stop()));
}

export interface Measured {
  ms: number;
  /** Logins and sessions in the hosts' sshd logs during the operation, per host (mean), and the spread. */
  connsPerHost: number;
  cmdsPerHost: number;
  connsRange: [number, number];
  cmdsRange: [number, number];
}

/** Wall time of `op` and what the hosts' sshd logs saw meanwhile. */
export async function measure(hosts: NsHost[], op: () => Promise<unknown>): Promise<Measured> {
  const before = hosts.map((h) => [h.logins(), h.commands()]);
  const t0 = performance.now();
  await op();
  const ms = performance.now() - t0;
  const conns = hosts.map((h, i) => h.logins() - before[i][0]);
  const cmds = hosts.map((h, i) => h.commands() - before[i][1]);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const range = (xs: number[]): [number, number] => (xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 0]);
  return {
    ms,
    connsPerHost: mean(conns),
    cmdsPerHost: mean(cmds),
    connsRange: range(conns),
    cmdsRange: range(cmds),
  };
}

/** Runs `fn` on every host, at most `limit` at a time (each is an ssh process). */
async function eachHost(hosts: NsHost[], fn: (h: NsHost) => Promise<void>, limit = 10): Promise<void> {
  for (let i = 0; i < hosts.length; i += limit) await Promise.all(hosts.slice(i, i + limit).map(fn));
}

async function sshOk(h: NsHost, cmd: string): Promise<string> {
  const r = await h.ssh(cmd);
  if (r.code !== 0) throw new Error(`${h.name}: ${cmd}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The hand-made change both tools must find: one sysctl on every host. */
export const injectDrift = (hosts: NsHost[]) => eachHost(hosts, async (h) => void (await sshOk(h, `echo ${DRIFT.drifted} > ${DRIFT.path}`)));
export const undoDrift = (hosts: NsHost[]) => eachHost(hosts, async (h) => void (await sshOk(h, `echo ${DRIFT.wanted} > ${DRIFT.path}`)));

/** Fails unless every host holds the tuned values (checked outside the counted windows). */
export async function assertTuned(hosts: NsHost[], who: string): Promise<void> {
  await eachHost(hosts, async (h) => {
    const got = await sshOk(h, READ_TUNED);
    if (got !== TUNED_OUTPUT) throw new Error(`${who}: ${h.name} reads ${JSON.stringify(got)}, expected ${JSON.stringify(TUNED_OUTPUT)}`);
  });
}
