// The namespace hosts of bench:fleet (test/support/ns-host.ts) are real enough to
// tune and isolated enough to tune freely: per-netns sysctls and the NIC's MTU are
// the namespace's own, everything else of this machine stays out of reach.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { applyHostTuning } from "../../provider/host/tuning";
import { startNsHost, type NsHost } from "../support/ns-host";
import { trackedProcesses } from "../support/processes";

const FIN = "/proc/sys/net/ipv4/tcp_fin_timeout";
const ARP = "/proc/sys/net/ipv4/conf/all/arp_filter";
const here = (p: string) => fs.readFileSync(p, "utf8").trim();
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("ns-host: an sshd host in its own mount, net and PID namespaces", function () {
  this.timeout(120_000);
  let a: NsHost;
  let b: NsHost;
  let masked: NsHost;
  let frozen: NsHost;
  before(async () => {
    [a, b, masked, frozen] = await Promise.all([
      startNsHost({ name: "iso-a" }),
      startNsHost({ name: "iso-b" }),
      startNsHost({ name: "iso-masked", maskPaths: [ARP] }),
      startNsHost({ name: "iso-frozen", frozenPaths: [ARP] }),
    ]);
  });
  after(async () => {
    await Promise.all([a, b, masked, frozen].map((h) => h?.stop()));
  });
  const tune = (h: NsHost) =>
    applyHostTuning(
      { host: h.host, port: h.port, privateKey: h.privateKey, hostKey: h.hostKey },
      { settings: { "sysctl:net.ipv4.conf.all.arp_filter": "1", "sysctl:net.core.somaxconn": "8192" }, tag: "masked", allowManagementInterface: false, originals: {}, previousKeys: [] },
    ).then(() => undefined, (e: Error) => e);

  it("a net sysctl written in one host changes neither this machine's value nor another host's", async () => {
    const mine = here(FIN);
    const wanted = mine === "17" ? "18" : "17";
    const w = await a.ssh(`echo ${wanted} > ${FIN} && cat ${FIN}`);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout, `${wanted}\n`);
    assert.equal(here(FIN), mine);
    assert.equal((await b.ssh(`cat ${FIN}`)).stdout, "60\n");
  });

  it("its NIC's MTU is the namespace's own", async () => {
    const w = await a.ssh("ip link set eth1 mtu 9000 && cat /sys/class/net/eth1/mtu && ls /sys/class/net");
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, /^9000\n/);
    assert.ok(!w.stdout.includes(fs.readdirSync("/sys/class/net").find((n) => n !== "lo") ?? "(none)"), "this machine's NICs are visible inside");
    assert.equal((await b.ssh("cat /sys/class/net/eth1/mtu")).stdout, "1500\n");
    assert.ok(!fs.existsSync("/sys/class/net/eth1") || here("/sys/class/net/eth1/mtu") !== "9000");
  });

  it("a vm.* or kernel.* write inside fails, and this machine keeps its value", async () => {
    // Writes this machine's own values: even a broken isolation would change nothing.
    const swappiness = here("/proc/sys/vm/swappiness");
    const pidMax = here("/proc/sys/kernel/pid_max");
    for (const [p, v] of [["/proc/sys/vm/swappiness", swappiness], ["/proc/sys/kernel/pid_max", pidMax], ["/sys/kernel/mm/transparent_hugepage/enabled", "always"]]) {
      const r = await a.ssh(`echo ${v} > ${p}`);
      assert.notEqual(r.code, 0, `${p} was writable inside`);
      assert.match(r.stderr, /Read-only file system/);
    }
    assert.equal(here("/proc/sys/vm/swappiness"), swappiness);
    const r = await a.ssh("sysctl -w vm.swappiness=" + swappiness);
    assert.notEqual(r.code, 0);
  });

  it("files written under /etc, /var/lib, /root and /tmp inside do not appear outside or in another host", async () => {
    const files = ["/etc/sysctl.d/90-ns-host-test.conf", "/etc/udev/rules.d/90-ns-host-test.rules", "/var/lib/kvmtune/journal", "/root/.ansible/tmp/x", "/tmp/ns-host-test"];
    const w = await a.ssh(files.map((f) => `mkdir -p ${f.replace(/\/[^/]+$/, "")} && echo x > ${f}.tmp && mv ${f}.tmp ${f}`).join(" && ") + " && echo 'net.core.somaxconn = 1' >> /etc/sysctl.conf");
    assert.equal(w.code, 0, w.stderr);
    assert.equal((await a.ssh(`cat ${files.join(" ")}`)).stdout, "x\n".repeat(files.length));
    for (const f of files) assert.ok(!fs.existsSync(f), `${f} appeared on this machine`);
    assert.ok(!fs.readFileSync("/etc/sysctl.conf", "utf8").includes("net.core.somaxconn = 1"));
    assert.equal((await b.ssh(`ls ${files.join(" ")} 2>/dev/null; grep -c somaxconn /etc/sysctl.conf`)).stdout, "0\n");
    const usr = await a.ssh("touch /usr/ns-host-test");
    assert.notEqual(usr.code, 0, "the rest of the root is writable inside");
  });

  it("counts logins and sessions from its own sshd log", async () => {
    const [l, c] = [b.logins(), b.commands()];
    await b.ssh("true");
    await b.ssh("true");
    assert.deepEqual([b.logins() - l, b.commands() - c], [2, 2]);
  });

  it("maskPaths: a write is accepted and vanishes, a read returns nothing; kvmtune calls the key not present and writes nothing", async () => {
    const mine = here(ARP);
    const w = await masked.ssh(`echo 1 > ${ARP}; echo "rc=$?"; cat ${ARP} | wc -c`);
    assert.equal(w.stdout, "rc=0\n0\n");
    assert.equal(here(ARP), mine);
    const err = await tune(masked);
    assert.ok(err, "kvmtune accepted a key whose file is /dev/null");
    console.log(`      kvmtune, masked key: ${err.message}`);
    assert.match(err.message, /nothing was changed[\s\S]*sysctl:net\.ipv4\.conf\.all\.arp_filter: not present on this host/);
    assert.equal((await masked.ssh("cat /proc/sys/net/core/somaxconn")).stdout, "4096\n");
  });

  it("frozenPaths: reads return the value at start, a write fails; kvmtune's apply fails naming the key and rolls the host back", async () => {
    const w = await frozen.ssh(`cat ${ARP}; echo 1 > ${ARP}; echo "rc=$?"`);
    assert.match(w.stdout, /^0\nrc=[1-9]/);
    assert.match(w.stderr, /Read-only file system/);
    const err = await tune(frozen);
    assert.ok(err, "kvmtune accepted a key it cannot write");
    console.log(`      kvmtune, frozen key: ${err.message}`);
    assert.match(err.message, /arp_filter/);
    // The rollback put the other key back too.
    assert.equal((await frozen.ssh("cat /proc/sys/net/core/somaxconn")).stdout, "4096\n");
  });

  it("stop() leaves no process and no run dir", async () => {
    const h = await startNsHost({ name: "iso-stop" });
    assert.ok(h.processes().length >= 3);
    await h.stop();
    assert.deepEqual(h.processes(), []);
    for (const pid of Object.values(h.pids)) assert.ok(!alive(pid), `pid ${pid} is still alive`);
    assert.ok(!fs.existsSync(h.dir));
    assert.ok(!trackedProcesses().some((p) => p.label.includes("iso-stop")));
  });
});
