// Guest device benchmark: prints figures, asserts nothing.
//   npm run bench:devices [-- --rounds 3]
// Starts the libvirtd test bed with a bridge, a guest running the test kernel
// (so unplug is acknowledged) and a file-backed loop device, then times each
// GuestDevice operation for a vhost NIC and a passthrough disk, with the SSH
// connections and remote commands it used.
import { create, read, remove, update, type GuestDeviceOutputs } from "../provider/resources/guest-device-impl";
import type { GuestDeviceInputs } from "../provider/spec/guest-device";
import { resetTransportCounts, transportCounts } from "../provider/transport";
import { startLibvirtd } from "../test/support/libvirtd";
import { defineDomain, mustVirsh } from "../test/support/libvirtd-domain";
import { bootingGuestXml, waitForGuestBoot } from "../test/support/libvirtd-guest";
import { stopAllProcesses } from "../test/support/processes";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const rounds = arg("rounds", 3);
  console.log(`kvmtune guest device benchmark (${new Date().toISOString()}): ${rounds} round(s) per device`);
  const lv = await startLibvirtd({ bridges: [{ name: "br0", mtu: 9000 }] });
  let loop = "";
  try {
    await defineDomain(lv, bootingGuestXml(lv, { name: "bench-g", vcpus: 4 }));
    await mustVirsh(lv, ["start", "bench-g"]);
    await waitForGuestBoot(lv, "bench-g");
    loop = await lv.loopDevice("bench.raw", 8);
    const connection = { host: lv.host, port: lv.port, user: "root", privateKey: lv.privateKey, hostKey: lv.hostKey };
    const target = `${lv.host}:${lv.port}`;
    const devices: [string, GuestDeviceInputs, GuestDeviceInputs][] = [
      ["vhost NIC", { connection, domain: "bench-g", interface: { type: "bridge", source: "br0", mac: "52:54:00:be:0c:01", mtu: 9000 } }, { connection, domain: "bench-g", interface: { type: "bridge", source: "br0", mac: "52:54:00:be:0c:01", mtu: 9000, queues: 2 } }],
      ["passthrough disk", { connection, domain: "bench-g", disk: { path: loop, target: "vdb" } }, { connection, domain: "bench-g", disk: { path: loop, target: "vdb", io: "threads" } }],
    ];
    for (const [label, inputs, changed] of devices) {
      const times: Record<string, number[]> = {};
      const counts: Record<string, string> = {};
      const time = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
        resetTransportCounts();
        const t0 = performance.now();
        const r = await fn();
        (times[op] ??= []).push(performance.now() - t0);
        const c = transportCounts(target);
        counts[op] = `${c.connections} connection(s), ${c.commands} command(s)`;
        return r;
      };
      for (let i = 0; i < rounds; i++) {
        const { id, outs } = await time("create (hot-plug)", () => create(inputs));
        await time("read (refresh)", () => read(id, outs as GuestDeviceOutputs));
        const up = await time("update (restart-required)", () => update(id, outs as GuestDeviceOutputs, changed));
        await time("delete (hot-unplug)", () => remove(id, up.outs as GuestDeviceOutputs));
      }
      console.log(`\n## ${label}`);
      for (const [op, ms] of Object.entries(times)) {
        const sorted = [...ms].sort((a, b) => a - b);
        console.log(`${op.padEnd(28)} median ${sorted[Math.floor(sorted.length / 2)].toFixed(0).padStart(5)} ms (min ${sorted[0].toFixed(0)}, max ${sorted[sorted.length - 1].toFixed(0)}); ${counts[op]}`);
      }
    }
  } finally {
    await lv.stop();
    await stopAllProcesses();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
