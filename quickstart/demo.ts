// `npm run demo`: the quickstart against a throwaway sandbox KVM host (a real
// Linux kernel in qemu, 4 vCPUs in 2 NUMA nodes), through the real Pulumi engine
// with a local file backend: preview -> up -> a hand-made drift -> preview
// --refresh naming it -> up -> destroy restoring the originals.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { buildImage } from "../test/support/build-image";
import { startLibvirtd, type Libvirtd } from "../test/support/libvirtd";
import { inlineStack, pulumiBinDir, type EngineStack } from "../test/support/engine";
import { stopAllProcesses } from "../test/support/processes";
import { startTestVm, type TestVm } from "../test/support/vm";
import { quickstartProgram } from "./program";

const started = Date.now();
const secs = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** Runs a step, printing a progress line every 5 s so long steps never look hung. */
async function step<T>(n: number, total: number, title: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  process.stdout.write(`\n[${n}/${total}] ${title}\n`);
  const timer = setInterval(() => process.stdout.write(`      ... still working (${secs(t0)})\n`), 5000);
  try {
    const r = await fn();
    process.stdout.write(`      done in ${secs(t0)}\n`);
    return r;
  } finally {
    clearInterval(timer);
  }
}

/**
 * Drifted settings in `preview --refresh --diff` output. The refresh step prints
 * `key: "program" => "host"` first, the preview step the way back.
 */
function driftedSettings(output: string): string[] {
  const first = new Map<string, [string, string]>();
  for (const m of output.matchAll(/^\s+~ ([a-z]+:[^\s:]+)\s+: (".*?"|\S+) => (".*?"|\S+)$/gm)) if (!first.has(m[1])) first.set(m[1], [m[2], m[3]]);
  return [...first].map(([key, [wanted, found]]) => `${key}: the host has ${found}, the program wants ${wanted}`);
}

async function main(): Promise<void> {
  console.log("kvmtune demo: tuning a throwaway sandbox KVM host with the real Pulumi engine");
  const total = 7;
  let vm: TestVm | undefined;
  let lv: Libvirtd | undefined;
  let engine: EngineStack | undefined;
  let loop = "";
  const svgPath = path.resolve("kvmtune-demo-placement.svg");
  try {
    [vm, lv] = await step(1, total, "start the sandbox: a KVM host (Debian cloud kernel under qemu, 4 vCPUs, 2 NUMA nodes) and a libvirtd for the guest, with a bridge and a loop disk", async () => {
      buildImage({ log: () => undefined });
      pulumiBinDir();
      const v = await startTestVm({ name: "kvmt-demo" });
      console.log(`      ${v.name}: ssh root@${v.host} -p ${v.port}, kernel ${v.kernelRelease}, booted in ${(v.bootMs / 1000).toFixed(1)} s`);
      const l = await startLibvirtd({ bridges: [{ name: "br0" }] });
      console.log(`      libvirtd (private namespace): ssh root@${l.host} -p ${l.port}`);
      // A throwaway 16 MiB disk for the guest, never one of this machine's own.
      loop = await l.loopDevice("demo-data.raw", 16);
      console.log(`      bridge br0 and loop device ${loop} (backed by a file) for the guest's NIC and data disk`);
      return [v, l] as const;
    });
    const box = vm;
    const connection = { host: box.host, port: box.port, privateKey: pulumi.secret(box.privateKey), hostKey: box.hostKey };
    const guestHost = { host: lv.host, port: lv.port, privateKey: pulumi.secret(lv.privateKey), hostKey: lv.hostKey };
    engine = await inlineStack("kvmtune-quickstart", async () => quickstartProgram({ connection, disk: "vdb", guestHost, domainType: "qemu", placementSvgPath: svgPath, guestBridge: "br0", guestDataDisk: loop }));
    const e = engine;

    await step(2, total, "pulumi preview", async () => {
      const r = await e.run((onOutput) => e.stack.preview({ onOutput }));
      console.log(`      would create: ${JSON.stringify(r.changeSummary)}`);
      for (const note of new Set(e.output().split("\n").filter((l) => l.includes("legacy name")).map((l) => l.replace(/^.*? create (?=block:)/, "").trim()))) console.log(`      note: ${note}`);
    });

    await step(3, total, "pulumi up", async () => {
      const r = await e.run((onOutput) => e.stack.up({ onOutput }));
      const settings = r.outputs.settings.value as Record<string, Record<string, string>>;
      for (const [group, values] of Object.entries(settings)) {
        for (const [key, value] of Object.entries(values)) console.log(`      ${group.padEnd(11)} ${key} = ${value}`);
      }
      for (const note of r.outputs.notes.value as string[]) console.log(`      note: ${note}`);
      console.log(`      pending reboot: ${(r.outputs.pendingRebootKeys.value as string[]).join(", ") || "none"} (kvmtune never reboots by itself)`);
      console.log(`      guest web1 running with pins ${JSON.stringify(r.outputs.guestPins.value)}; placement map: ${svgPath}`);
      const nic = r.outputs.guestNic.value as { mac: string; xml: string; live: boolean };
      const disk = r.outputs.guestDisk.value as { source: string; live: boolean };
      const queues = /queues='(\d+)'/.exec(nic.xml)?.[1] ?? "1";
      console.log(`      web1 NIC ${nic.mac}: virtio + vhost on br0, ${queues} queues${nic.live ? ", hot-plugged" : ""}; data disk ${disk.source} as vdb (cache=none io=native)${disk.live ? ", hot-plugged" : ""}`);
    });

    await step(4, total, "someone changes a setting by hand: echo 60 > /proc/sys/vm/swappiness", async () => {
      await box.ssh("echo 60 > /proc/sys/vm/swappiness");
    });

    await step(5, total, "pulumi preview --refresh --expect-no-changes (the drift check a CI job runs)", async () => {
      try {
        await e.run((onOutput) => e.stack.preview({ onOutput, refresh: true, expectNoChanges: true, diff: true }));
        console.log("      no drift found (unexpected)");
      } catch {
        console.log("      failed, as it should; the drifted setting:");
        for (const line of driftedSettings(e.output())) console.log(`        ~ ${line}`);
      }
    });

    await step(6, total, "pulumi up --refresh (converge)", async () => {
      const r = await e.run((onOutput) => e.stack.up({ onOutput, refresh: true }));
      console.log(`      ${JSON.stringify(r.summary.resourceChanges)}; vm.swappiness on the host: ${(await box.ssh("cat /proc/sys/vm/swappiness")).stdout.trim()}`);
    });

    await step(7, total, "pulumi destroy (restores every original)", async () => {
      await e.run((onOutput) => e.stack.destroy({ onOutput }));
      const now = (await box.ssh("cat /proc/sys/vm/swappiness /sys/kernel/mm/transparent_hugepage/enabled /sys/block/vdb/queue/scheduler")).stdout.trim().split("\n");
      console.log(`      vm.swappiness=${now[0]}, THP: ${now[1]}, vdb scheduler: ${now[2]}`);
    });
    console.log(`\nDemo finished in ${secs(started)}. To tune a real host: see README "Tune a real host".`);
  } finally {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await vm?.stop();
    await lv?.stop();
    await stopAllProcesses();
  }
}

main().catch((err) => {
  console.error(`\ndemo failed: ${(err as Error).message}`);
  process.exit(1);
});
