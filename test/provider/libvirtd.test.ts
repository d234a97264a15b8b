// The libvirtd test bed: Debian's real libvirtd + QEMU (TCG) in private
// mount/net/pid namespaces, reached only the way kvmtune reaches a host: SSH to a
// real sshd, then `virsh` there. Everything is asserted with exact values.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { DOMParser, Element } from "@xmldom/xmldom";
import { withSession } from "../../provider/transport";
import { hostLibvirtFootprint, HostLibvirtFootprint, Libvirtd, namespaceProcesses, startLibvirtd } from "../support/libvirtd";
import {
  createDiskImage, defineDomain, mustVirsh, qemuPid, qemuThreads, tinyDomainXml, vcpuAffinity,
} from "../support/libvirtd-domain";
import { CORPUS, CORPUS_BED, CORPUS_DIR, CORPUS_IMAGES, validateDomainXml } from "../support/libvirtd-corpus";
import { trackedProcesses } from "../support/processes";

function hostCommand(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function parse(xml: string): Element {
  return new DOMParser().parseFromString(xml, "text/xml").documentElement as Element;
}

/** Attributes of every element with this tag, in document order. */
function attrsOf(root: Element, tag: string): Record<string, string>[] {
  return Array.from(root.getElementsByTagName(tag)).map((e) =>
    Object.fromEntries(Array.from(e.attributes).map((a) => [a.name, a.value])));
}

const PIN_TABLE = (rows: [number, string][]) =>
  ` VCPU   CPU Affinity\n----------------------\n${rows.map(([v, c]) => ` ${v}      ${c}\n`).join("")}\n`;

describe("libvirtd test bed: real libvirtd in private namespaces, through a real sshd", function () {
  this.timeout(120_000);
  let lv: Libvirtd;
  let hostBefore: HostLibvirtFootprint;
  const qemuSeen: { pid: number; net: string }[] = [];

  before(async function () {
    hostBefore = hostLibvirtFootprint();
    lv = await startLibvirtd({ bridges: CORPUS_BED.bridges });
  });

  after(async function () {
    await lv?.stop();
  });

  async function sh(cmd: string): Promise<string> {
    const r = await lv.ssh(cmd);
    assert.equal(r.code, 0, `${cmd} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  /** Host-side check that the running qemu lives in the bed's namespaces. */
  async function recordQemu(name: string): Promise<number> {
    const nspid = await qemuPid(lv, name);
    const p = lv.processes().find((x) => x.nspid === nspid);
    assert.ok(p, `qemu (pid ${nspid} in the bed) not found among the bed's processes`);
    assert.equal(p.comm, "qemu-system-x86");
    qemuSeen.push({ pid: p.pid, net: fs.readlinkSync(`/proc/${p.pid}/ns/net`) });
    return nspid;
  }

  describe("the bed", function () {
    it("answers `virsh version` through the sshd with this machine's libvirt and QEMU", async function () {
      const libvirt = /^\S*libvirtd \(libvirt\) (\S+)$/m.exec(hostCommand("/usr/sbin/libvirtd", ["--version"]))?.[1];
      const qemu = /^QEMU emulator version (\S+)/m.exec(hostCommand("/usr/bin/qemu-system-x86_64", ["--version"]))?.[1];
      assert.ok(libvirt && qemu);
      const r = await lv.virsh("version");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout,
        `Compiled against library: libvirt ${libvirt}\nUsing library: libvirt ${libvirt}\n` +
        `Using API: QEMU ${libvirt}\nRunning hypervisor: QEMU ${qemu}\n\n`);
      assert.equal(r.stderr, "");
      assert.equal(lv.user, "root");
      assert.equal(lv.host, "127.0.0.1");
      assert.match(lv.hostKey, /^ssh-ed25519 \S+$/);
      assert.match(lv.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    });

    it("is reachable with kvmtune's own SSH transport (ssh2, host key pinned)", async function () {
      const conn = { host: lv.host, port: lv.port, user: lv.user, privateKey: lv.privateKey, hostKey: lv.hostKey };
      const r = await withSession(conn, (s) => s.run("virsh -c qemu:///system list --all --name; readlink /proc/self/ns/net"));
      assert.deepEqual(r, { stdout: `\n${lv.namespaces.net}\n`, stderr: "", code: 0 });
    });

    it("runs the SSH sessions inside the bed's own mount, net and pid namespaces", async function () {
      const out = await sh("readlink /proc/self/ns/net /proc/self/ns/mnt /proc/self/ns/pid");
      assert.equal(out, `${lv.namespaces.net}\n${lv.namespaces.mnt}\n${lv.namespaces.pid}\n`);
      for (const ns of ["net", "mnt", "pid"] as const) {
        assert.notEqual(fs.readlinkSync(`/proc/self/ns/${ns}`), lv.namespaces[ns], `${ns} namespace is the host's`);
      }
      // its own network: loopback and the bridge we asked for, nothing of the host's
      assert.equal(await sh("ls /sys/class/net"), "br0\nlo\n");
      assert.equal(await sh("cat /sys/class/net/br0/mtu"), "9000\n");
      // libvirtd's sockets and its own config, in the namespace only
      assert.equal(await sh("ls /run/libvirt | grep sock"), "libvirt-admin-sock\nlibvirt-sock\nlibvirt-sock-ro\n");
      assert.equal(await sh("stat -c '%a %U' /run/libvirt/libvirt-sock"), "700 root\n");
      assert.match(await sh("cat /etc/libvirt/qemu.conf"), /^cgroup_controllers = \[ \]$/m);
      // read-only kernel interfaces and no cgroups: the bed cannot tune the host
      const mounts = (await sh("cat /proc/self/mountinfo")).trim().split("\n").map((l) => l.split(" "));
      const opts = (mp: string) => mounts.filter((f) => f[4] === mp).map((f) => f[5].split(",")[0]).pop();
      assert.equal(opts("/proc/sys"), "ro");
      assert.equal(opts("/sys"), "ro");
      assert.equal(opts("/sys/fs/cgroup"), "ro");
      assert.equal(await sh("ls -A /sys/fs/cgroup | wc -l"), "0\n");
      // (writes the value it just read: a no-op even if the mount were writable)
      const w = await lv.ssh('v=$(cat /proc/sys/vm/swappiness) && echo "$v" > /proc/sys/vm/swappiness');
      assert.equal(w.code, 1);
      assert.match(w.stderr, /Read-only file system/);
      // the host sees libvirtd, sshd and socat as processes of the bed's pid namespace
      const procs = lv.processes();
      for (const c of ["sh", "libvirtd", "sshd", "socat"]) assert.ok(procs.some((p) => p.comm === c), `${c} missing`);
      assert.deepEqual([procs[0].nspid, procs[0].pid], [1, lv.pids.init]);
      const tracked = trackedProcesses().map((t) => t.pid);
      for (const pid of [lv.pids.holder, lv.pids.bridge, lv.pids.sshMux]) assert.ok(tracked.includes(pid as number), `${pid} tracked`);
    });
  });

  describe("a pinned TCG domain with numatune and a cache=none io=native disk", function () {
    const name = "kvmt-pinned";
    let disk: string;

    before(async function () {
      disk = await createDiskImage(lv, "kvmt-pinned.raw", 16);
    });

    it("defines it and reads the persistent XML back exactly", async function () {
      assert.equal(disk, "/var/lib/libvirt/images/kvmt-pinned.raw");
      await defineDomain(lv, tinyDomainXml({
        name, uuid: "6b766d74-0000-4000-8000-0000000000a1", vcpus: 2, memoryMiB: 64,
        vcpupin: ["0", "1"], emulatorpin: "0-1", numatune: { mode: "strict", nodeset: "0" },
        disks: [{ type: "file", source: disk, target: "vda", format: "raw", cache: "none", io: "native" }],
      }));
      assert.equal(await mustVirsh(lv, ["list", "--all", "--name"]), `${name}\n\n`);
      const x = parse(await mustVirsh(lv, ["dumpxml", "--inactive", name]));
      assert.equal(x.getAttribute("type"), "qemu");
      assert.equal(x.hasAttribute("id"), false);
      assert.deepEqual(attrsOf(x, "vcpupin"), [{ vcpu: "0", cpuset: "0" }, { vcpu: "1", cpuset: "1" }]);
      assert.deepEqual(attrsOf(x, "emulatorpin"), [{ cpuset: "0-1" }]);
      const numatune = x.getElementsByTagName("numatune")[0];
      assert.deepEqual(attrsOf(numatune, "memory"), [{ mode: "strict", nodeset: "0" }]);
      assert.deepEqual(attrsOf(x, "driver"), [{ name: "qemu", type: "raw", cache: "none", io: "native" }]);
      assert.deepEqual(attrsOf(x, "source"), [{ file: disk }]);
      assert.equal(x.getElementsByTagName("memory")[0].textContent, "65536");
    });

    it("starts it; vCPU threads are pinned; qemu gets O_DIRECT, aio=native and memory bound to node 0", async function () {
      await mustVirsh(lv, ["start", name]);
      assert.equal(await mustVirsh(lv, ["domstate", name]), "running\n\n");
      const pid = await recordQemu(name);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "0", 1: "1" });
      const threads = await qemuThreads(lv, name);
      assert.deepEqual(threads.filter((th) => th.vcpu !== undefined).map((th) => th.name), ["CPU 0/TCG", "CPU 1/TCG"]);
      assert.deepEqual(threads[0], { tid: pid, name: "qemu-system-x86", cpus: "0-1" });
      const cmdline = (await sh(`tr '\\0' '\\n' < /proc/${pid}/cmdline`)).split("\n");
      assert.ok(cmdline.includes(
        `{"driver":"file","filename":"${disk}","aio":"native","node-name":"libvirt-1-storage",` +
        `"cache":{"direct":true,"no-flush":false},"auto-read-only":true,"discard":"unmap"}`), cmdline.join(" "));
      assert.ok(cmdline.includes('{"qom-type":"memory-backend-ram","id":"pc.ram","size":67108864,"host-nodes":[0],"policy":"bind"}'));
      assert.equal(cmdline[cmdline.indexOf("-accel") + 1], "tcg");
      assert.equal(await mustVirsh(lv, ["vcpupin", name]), PIN_TABLE([[0, "0"], [1, "1"]]));
    });

    it("vcpupin --live moves the vCPU threads and the live XML; the persistent XML keeps its pinning", async function () {
      await mustVirsh(lv, ["vcpupin", name, "0", "1", "--live"]);
      await mustVirsh(lv, ["vcpupin", name, "1", "0", "--live"]);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "0" });
      assert.deepEqual(attrsOf(parse(await mustVirsh(lv, ["dumpxml", name])), "vcpupin"),
        [{ vcpu: "0", cpuset: "1" }, { vcpu: "1", cpuset: "0" }]);
      assert.deepEqual(attrsOf(parse(await mustVirsh(lv, ["dumpxml", "--inactive", name])), "vcpupin"),
        [{ vcpu: "0", cpuset: "0" }, { vcpu: "1", cpuset: "1" }]);
      assert.equal(await mustVirsh(lv, ["vcpupin", name, "--live"]), PIN_TABLE([[0, "1"], [1, "0"]]));
      assert.equal(await mustVirsh(lv, ["vcpupin", name, "--config"]), PIN_TABLE([[0, "0"], [1, "1"]]));
    });

    it("vcpupin --config changes only the persistent XML, never the running threads", async function () {
      await mustVirsh(lv, ["vcpupin", name, "0", "0-1", "--config"]);
      assert.deepEqual(attrsOf(parse(await mustVirsh(lv, ["dumpxml", "--inactive", name])), "vcpupin"),
        [{ vcpu: "0", cpuset: "0-1" }, { vcpu: "1", cpuset: "1" }]);
      assert.deepEqual(attrsOf(parse(await mustVirsh(lv, ["dumpxml", name])), "vcpupin"),
        [{ vcpu: "0", cpuset: "1" }, { vcpu: "1", cpuset: "0" }]);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "0" });
    });

    it("emulatorpin --live pins qemu's main thread and leaves the vCPU threads alone", async function () {
      await mustVirsh(lv, ["emulatorpin", name, "1", "--live"]);
      const threads = await qemuThreads(lv, name);
      assert.deepEqual([threads[0].name, threads[0].cpus], ["qemu-system-x86", "1"]);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "0" });
      assert.deepEqual(attrsOf(parse(await mustVirsh(lv, ["dumpxml", name])), "emulatorpin"), [{ cpuset: "1" }]);
      assert.deepEqual(attrsOf(parse(await mustVirsh(lv, ["dumpxml", "--inactive", name])), "emulatorpin"), [{ cpuset: "0-1" }]);
    });

    it("numatune --live fails without the cpuset cgroup; numatune --config works", async function () {
      const r = await lv.virsh(["numatune", name, "--nodeset", "0", "--live"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr,
        "error: Unable to change numa parameters\n" +
        "error: Requested operation is not valid: cgroup cpuset controller is not mounted\n");
      await mustVirsh(lv, ["numatune", name, "--mode", "preferred", "--nodeset", "0", "--config"]);
      assert.equal(await mustVirsh(lv, ["numatune", name, "--config"]), "numa_mode      : preferred\nnuma_nodeset   : 0\n\n");
      assert.equal(await mustVirsh(lv, ["numatune", name, "--live"]), "numa_mode      : strict\nnuma_nodeset   : 0\n\n");
    });

    it("destroys and undefines it; its qemu is gone", async function () {
      const nspid = await qemuPid(lv, name);
      await mustVirsh(lv, ["destroy", name]);
      assert.equal(await mustVirsh(lv, ["domstate", name]), "shut off\n\n");
      assert.equal(lv.processes().find((p) => p.nspid === nspid), undefined);
      // the live-only pinning went with the process; the --config edits stay
      const x = parse(await mustVirsh(lv, ["dumpxml", name]));
      assert.deepEqual(attrsOf(x, "vcpupin"), [{ vcpu: "0", cpuset: "0-1" }, { vcpu: "1", cpuset: "1" }]);
      assert.deepEqual(attrsOf(x, "emulatorpin"), [{ cpuset: "0-1" }]);
      await mustVirsh(lv, ["undefine", name]);
      assert.equal(await mustVirsh(lv, ["list", "--all", "--name"]), "\n");
      const r = await lv.virsh(["dumpxml", name]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `error: failed to get domain '${name}'\n`);
    });
  });

  describe("networking and what does not start here", function () {
    it("starts a virtio-net interface with vhost queues and MTU 9000 on a bridge inside the namespace only", async function () {
      const name = "kvmt-net";
      await defineDomain(lv, tinyDomainXml({
        name, vcpus: 2,
        interfaces: [{ type: "bridge", source: "br0", mac: "52:54:00:6b:76:a2", driver: { name: "vhost", queues: 4 }, mtu: 9000 }],
      }));
      await mustVirsh(lv, ["start", name]);
      const pid = await recordQemu(name);
      assert.equal(await sh("cat /sys/class/net/vnet0/mtu; basename $(readlink /sys/class/net/vnet0/master)"), "9000\nbr0\n");
      const cmdline = (await sh(`tr '\\0' '\\n' < /proc/${pid}/cmdline`)).split("\n");
      // 4 tap queues and the guest told MTU 9000; under TCG libvirt silently leaves vhost out (no vhostfds)
      assert.ok(cmdline.some((a) => /^\{"type":"tap","fds":"\d+:\d+:\d+:\d+","id":"hostnet0"\}$/.test(a)), cmdline.join(" "));
      assert.ok(cmdline.includes(
        '{"driver":"virtio-net-pci","mq":true,"vectors":10,"host_mtu":9000,"netdev":"hostnet0","id":"net0",' +
        '"mac":"52:54:00:6b:76:a2","bus":"pci.1","addr":"0x0"}'));
      assert.deepEqual(attrsOf(parse(await mustVirsh(lv, ["dumpxml", name])), "target").find((a) => a.dev), { dev: "vnet0" });
      assert.deepEqual(hostLibvirtFootprint().netIfaces, hostBefore.netIfaces, "bridge and tap stay out of the host's network");
      await mustVirsh(lv, ["destroy", name]);
      await mustVirsh(lv, ["undefine", name]);
    });

    const failures: { what: string; domain: Parameters<typeof tinyDomainXml>[0]; error: string }[] = [
      {
        what: "hugepage backing without a hugetlbfs mount",
        domain: { name: "kvmt-huge", memoryBacking: { hugepages: [{ sizeKiB: 2048 }] } },
        error: "internal error: hugetlbfs filesystem is not mounted or disabled by administrator config",
      },
      {
        what: "host-passthrough CPU in a TCG domain",
        domain: { name: "kvmt-hpt", cpu: { mode: "host-passthrough" } },
        error: "unsupported configuration: CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host is not supported by hypervisor",
      },
      {
        what: "a PCI hostdev on a host without IOMMU/VFIO",
        domain: { name: "kvmt-hostdev", hostdevs: ["0000:3b:00.0"] },
        error: "unsupported configuration: host doesn't support passthrough of host PCI devices",
      },
      {
        what: "a block disk whose device does not exist",
        domain: { name: "kvmt-block", disks: [{ type: "block", source: "/dev/disk/by-id/nvme-KVMTUNE_MISSING", target: "vda", cache: "none", io: "native" }] },
        error: "Cannot access storage file '/dev/disk/by-id/nvme-KVMTUNE_MISSING': No such file or directory",
      },
    ];
    for (const f of failures) {
      it(`defines, but cannot start, ${f.what}: libvirt's exact error`, async function () {
        await defineDomain(lv, tinyDomainXml(f.domain));
        const r = await lv.virsh(["start", f.domain.name]);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, `error: Failed to start domain '${f.domain.name}'\nerror: ${f.error}\n`);
        assert.equal(await mustVirsh(lv, ["domstate", f.domain.name]), "shut off\n\n");
        await mustVirsh(lv, ["undefine", f.domain.name]);
      });
    }
  });

  describe("the fixture corpus", function () {
    it("is reproduced here: the same input, inactive and live XML for `minimal` and `tuned-guest`", async function () {
      for (const img of CORPUS_IMAGES.filter((i) => i.file === "tuned.raw")) await createDiskImage(lv, img.file, img.sizeMiB, img.format);
      for (const c of CORPUS.filter((k) => k.name === "minimal" || k.name === "tuned-guest")) {
        const fixture = (suffix: string) => fs.readFileSync(path.join(CORPUS_DIR, `${c.name}.${suffix}.xml`), "utf8");
        assert.equal(tinyDomainXml(c.domain), fixture("input"));
        await defineDomain(lv, fixture("input"));
        assert.equal(await mustVirsh(lv, ["dumpxml", "--inactive", c.name]), fixture("inactive"));
        await mustVirsh(lv, ["start", c.name]);
        await recordQemu(c.name);
        // only the domain id (a per-daemon counter) differs from the capture
        const noId = (s: string) => s.replace(/^<domain type='qemu' id='\d+'>/, "<domain type='qemu' id='N'>");
        assert.equal(noId(await mustVirsh(lv, ["dumpxml", c.name])), noId(fixture("live")));
        await mustVirsh(lv, ["destroy", c.name]);
        await mustVirsh(lv, ["undefine", c.name]);
      }
    });

    it("passes virt-xml-validate file by file, and the validator does reject a broken domain", function () {
      const manifest = JSON.parse(fs.readFileSync(path.join(CORPUS_DIR, "manifest.json"), "utf8")) as {
        cases: { name: string; files: string[]; started: boolean; startError?: string }[];
      };
      const listed = manifest.cases.flatMap((c) => c.files).sort();
      const onDisk = fs.readdirSync(CORPUS_DIR).filter((f) => f.endsWith(".xml")).sort();
      assert.deepEqual(onDisk, listed);
      assert.equal(onDisk.length, 41);
      for (const f of onDisk) assert.equal(validateDomainXml(path.join(CORPUS_DIR, f)), undefined, f);
      assert.deepEqual(manifest.cases.map((c) => c.name), CORPUS.map((c) => c.name));
      for (const c of manifest.cases) {
        assert.equal(c.files.includes(`${c.name}.live.xml`), c.started, c.name);
        assert.equal(c.startError === undefined, c.started || !CORPUS.find((k) => k.name === c.name)?.start, c.name);
      }
      const broken = path.join(lv.dir, "broken.xml");
      const pinned = fs.readFileSync(path.join(CORPUS_DIR, "pinned.inactive.xml"), "utf8");
      fs.writeFileSync(broken, pinned.replace("vcpu='0' cpuset='0'", "vcpu='zero' cpuset='0'"));
      assert.match(validateDomainXml(broken) ?? "", /fails to validate/);
    });
  });

  describe("isolation and cleanup", function () {
    it("kept every qemu in the bed's namespaces and left the host's libvirt dirs, network and cgroups untouched", function () {
      assert.equal(qemuSeen.length, 4);
      for (const q of qemuSeen) assert.equal(q.net, lv.namespaces.net);
      assert.deepEqual(hostLibvirtFootprint(), hostBefore);
    });

    it("stop() ends every process of the bed (by PID) and removes its dir", async function () {
      const { holder, bridge, sshMux } = lv.pids;
      assert.ok(sshMux, "the ssh ControlMaster is on by default");
      const dir = lv.dir;
      const pidNs = lv.namespaces.pid;
      await lv.stop();
      assert.deepEqual(namespaceProcesses(pidNs), []);
      for (const pid of [holder, bridge, sshMux]) {
        assert.equal(fs.existsSync(`/proc/${pid}`), false, `pid ${pid} still exists`);
        assert.ok(!trackedProcesses().some((t) => t.pid === pid));
      }
      assert.equal(fs.existsSync(dir), false);
      assert.deepEqual(hostLibvirtFootprint(), hostBefore);
    });
  });
});
