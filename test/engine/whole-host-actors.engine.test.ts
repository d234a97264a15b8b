// On a whole Debian host, the real actors that override a tuning at boot (a later
// sysctl.d file, a later udev rule, a systemd-networkd MTU, the tuned daemon)
// are named at preview; after a real reboot the drift check names exactly those
// keys. Hosts whose boot loader kvmtune cannot drive (BLS entries, no
// generator) are refused at preview before anything is written.
import { strict as assert } from "node:assert";
import { TunedHost, type TunedHostArgs } from "../../components/tuned-host";
import { BLS_REFUSAL, NO_TOOL_REFUSAL } from "../../provider/host/bootloader";
import { startDebianHost, type DebianHost } from "../support/debian-host";
import { inlineStack, type EngineStack } from "../support/engine";
import { nicByMac } from "../support/host-snapshot";

describe("Whole Debian host: other actors at boot, and boot loaders kvmtune cannot drive (real engine)", function () {
  this.timeout(1_800_000);
  let host: DebianHost;
  let engine: EngineStack;
  let nic: string;
  // The program reads this, so each test sets what the host should get.
  let args: Omit<TunedHostArgs, "connection"> = {};

  before(async () => {
    host = await startDebianHost({ name: "kvmt-actors" });
    nic = await nicByMac(host, host.dataNicMac);
    engine = await inlineStack("kvmtune-actors", async () => {
      const hv = new TunedHost("actors", { connection: host.connection(), ...args });
      return { bootOverrides: hv.bootOverrides, pendingReboot: hv.pendingReboot };
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await host?.stop();
  });

  const grubState = () => host.sh("sha256sum /boot/grub/grub.cfg; ls /etc/default/grub.d");

  it("refuses kernel arguments at preview on a host that boots BLS entries, writing nothing", async () => {
    await host.sh("mkdir -p /boot/loader/entries && printf 'title Fake\\nlinux /vmlinuz\\noptions root=/dev/vda1\\n' > /boot/loader/entries/fake.conf");
    const before = await grubState();
    args = { isolateCpus: "2-3" };
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput })));
    assert.ok(engine.output().includes(`isolateCpus: "2-3" is not accepted on kvmt-debian (from its facts): ${BLS_REFUSAL}`), engine.output());
    assert.equal(await grubState(), before);
    await host.sh("rm -r /boot/loader");
  });

  it("refuses them on a host with no GRUB generator; with update-grub hidden, grub-mkconfig regenerates instead", async () => {
    await host.sh("mv /usr/sbin/update-grub /root/update-grub.hidden && chmod a-x /usr/sbin/grub-mkconfig");
    const before = await grubState();
    args = { kernelArgs: { intel_iommu: "on" } };
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput })));
    assert.ok(engine.output().includes(`kernelArgs.intel_iommu: "on" is not accepted on kvmt-debian (from its facts): ${NO_TOOL_REFUSAL}`), engine.output());
    assert.equal(await grubState(), before);

    await host.sh("chmod a+x /usr/sbin/grub-mkconfig");
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.outputs.pendingReboot.value, true);
    assert.match(await host.sh("grep -c 'linux.*intel_iommu=on' /boot/grub/grub.cfg"), /^[1-9]/);
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal(await host.sh("grep -c intel_iommu=on /boot/grub/grub.cfg || true"), "0\n");
    await host.sh("mv /root/update-grub.hidden /usr/sbin/update-grub");
  });

  it("warns at preview about each actor that sets a key after kvmtune at boot, and refresh after a reboot names exactly those keys", async () => {
    await host.sh([
      "printf 'vm.swappiness = 60\\n' > /etc/sysctl.d/99-zz-local.conf",
      `printf 'ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="vd*", ATTR{queue/scheduler}="none"\\n' > /etc/udev/rules.d/99-zz-local.rules`,
      `printf '[Match]\\nName=${nic}\\n\\n[Link]\\nMTUBytes=1400\\n' > /etc/systemd/network/20-data.network`,
      "systemctl enable --now tuned >/dev/null 2>&1",
      "tuned-adm profile virtual-host",
    ].join(" && "));
    args = { sysctl: { "vm.swappiness": 10, "vm.dirty_background_ratio": 7 }, schedulers: { vdb: "mq-deadline" }, readaheadKb: { vdb: 128 }, mtu: { [nic]: 4000 } };
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput }));
    assert.deepEqual(pre.changeSummary, { create: 3 });
    const expected = [
      `block:vdb:read_ahead_kb: tuned profile throughput-performance (/usr/lib/tuned/throughput-performance/tuned.conf) sets >4096 after kvmtune's 90-kvmtune-actors-block.rules, so the host boots with 4096, not 128`,
      `block:vdb:scheduler: /etc/udev/rules.d/99-zz-local.rules sets none after kvmtune's 90-kvmtune-actors-block.rules, so the host boots with none, not mq-deadline`,
      `mtu:${nic}: /etc/systemd/network/20-data.network sets 1400 after kvmtune's 90-kvmtune-actors-net.rules (systemd-networkd applies it), so the host boots with 1400, not 4000`,
      `sysctl:vm.swappiness: /etc/sysctl.d/99-zz-local.conf sets 60 after kvmtune's 90-kvmtune-actors.conf, so the host boots with 60, not 10`,
    ];
    for (const w of expected) assert.ok(engine.output().includes(w), `preview does not warn: ${w}\n${engine.output()}`);
    // tuned re-applies sysctl.d after its own [sysctl] (reapply_sysctl = 1): virtual-host's dirty_background_ratio=5 does not win.
    assert.ok(!engine.output().includes("sysctl:vm.dirty_background_ratio:"), engine.output());

    // The update judges the same from its own facts read: one SSH connection for this host, not a second in the program.
    const logins = async () => Number(await host.sh("journalctl -b -u ssh --no-pager | grep -c 'Accepted publickey'"));
    const before = await logins();
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal((await logins()) - before, 2, "up's one connection, plus the count's own");
    assert.deepEqual([...up.outputs.bootOverrides.value].sort(), expected);
    await engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true, expectNoChanges: true }));

    await host.reboot();
    const [swappiness, dirtyBackground, scheduler, readAhead, mtu] = (await host.sh(`cat /proc/sys/vm/swappiness /proc/sys/vm/dirty_background_ratio /sys/block/vdb/queue/scheduler /sys/block/vdb/queue/read_ahead_kb /sys/class/net/${nic}/mtu`)).split("\n");
    assert.deepEqual({ swappiness, dirtyBackground, scheduler: /\[(\S+)\]/.exec(scheduler)?.[1], readAhead, mtu }, { swappiness: "60", dirtyBackground: "7", scheduler: "none", readAhead: "4096", mtu: "1400" });
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true, expectNoChanges: true, diff: true })));
    const changed = [...new Set(engine.output().match(/^\s+~ [a-z]+:[^\s:]+(?::[a-z_]+)?(?=\s+:)/gm)?.map((l) => l.trim()))].sort();
    assert.deepEqual(changed, ["~ block:vdb:read_ahead_kb", "~ block:vdb:scheduler", `~ mtu:${nic}`, "~ sysctl:vm.swappiness"]);

    // With tuned's other profile the warning names that profile.
    await host.sh("tuned-adm profile throughput-performance");
    await engine.run((onOutput) => engine.stack.preview({ onOutput }));
    assert.ok(engine.output().includes("block:vdb:read_ahead_kb: tuned profile throughput-performance (/usr/lib/tuned/throughput-performance/tuned.conf) sets >4096"), engine.output());
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
  });
});
