// LibvirtDomain's pure front: the XML of a new domain (checked by libvirt's
// schema and libvirt's own parser), osVariant ids, the io/cache rule, domain
// names, and the static input check with its exact messages.
import { strict as assert } from "node:assert";
import { diffOwnedParts, describeDiff, parseDomainXml, readOwnedParts } from "../../provider/libvirt";
import { buildMinimalDomain, domainSpecProblems, ioCacheProblem, OS_VARIANTS, resolveOsVariant, specParts } from "../../provider/libvirt/domain-builder";
import { domainNameProblem } from "../../provider/libvirt/virsh";
import { effectiveParts, inputProblems } from "../../provider/libvirt/virsh-inputs";
import { assertValidDomain, libvirtRedump } from "./domain-tools.test";

const EXPECTED = `<domain type='qemu'>
  <name>db1</name>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='MiB'>128</memory>
  <currentMemory unit='MiB'>128</currentMemory>
  <vcpu>2</vcpu>
  <cputune>
    <vcpupin vcpu='0' cpuset='0'/>
    <vcpupin vcpu='1' cpuset='1'/>
  </cputune>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' io='native'/>
      <source file='/var/lib/libvirt/images/db1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw' cache='writeback' io='threads'/>
      <source dev='/dev/disk/by-id/nvme-data'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <controller type='pci' index='1' model='pcie-root-port'/>
    <controller type='pci' index='2' model='pcie-root-port'/>
    <controller type='pci' index='3' model='pcie-root-port'/>
    <controller type='pci' index='4' model='pcie-root-port'/>
    <controller type='pci' index='5' model='pcie-root-port'/>
    <controller type='pci' index='6' model='pcie-root-port'/>
    <controller type='pci' index='7' model='pcie-root-port'/>
    <controller type='pci' index='8' model='pcie-root-port'/>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
`;

describe("buildMinimalDomain", () => {
  const spec = {
    name: "db1", memoryMiB: 128, vcpus: 2, type: "qemu" as const, osVariant: "debian12",
    disks: [{ path: "/var/lib/libvirt/images/db1.qcow2" }, { path: "/dev/disk/by-id/nvme-data", cache: "writeback" as const }],
  };
  const parts = { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }] } };

  it("builds the exact XML: q35, libosinfo, virtio disks (cache none + io native by default), serial console, parts applied", () => {
    const xml = buildMinimalDomain(spec, parts);
    assert.equal(xml, EXPECTED);
    assertValidDomain(xml, "built domain");
  });

  it("is accepted by libvirt's own parser, and what libvirt keeps is in sync with the spec's and the caller's parts", () => {
    const xml = buildMinimalDomain(spec, parts).replace("<name>db1</name>", "<name>db1</name>\n  <uuid>6b766d74-0000-4000-8000-0000000000b1</uuid>");
    const dump = libvirtRedump(xml, "6b766d74-0000-4000-8000-0000000000b1");
    const desired = effectiveParts({ mode: "define", domain: spec, parts });
    assert.deepEqual(diffOwnedParts(desired, readOwnedParts(parseDomainXml(dump))).map(describeDiff), []);
    assert.match(dump, /<memory unit='KiB'>131072<\/memory>\n  <currentMemory unit='KiB'>131072<\/currentMemory>\n  <vcpu placement='static'>2<\/vcpu>/);
  });

  it("sets user values through the DOM: markup in a name stays text", () => {
    const xml = buildMinimalDomain({ name: "a<b&'c\"", memoryMiB: 64, vcpus: 1 });
    assert.match(xml, /<name>a&lt;b&amp;&apos;c&quot;<\/name>/);
    assert.equal(readOwnedParts(parseDomainXml(xml)).vcpu?.count, 1);
    assert.equal(parseDomainXml(xml).domain.getElementsByTagName("name")[0].textContent, "a<b&'c\"");
  });

  it("defaults to type kvm and io threads when the cache is not O_DIRECT", () => {
    const xml = buildMinimalDomain({ name: "k", memoryMiB: 64, vcpus: 1, disks: [{ path: "/img/k.raw", cache: "writethrough" }] });
    assert.match(xml, /^<domain type='kvm'>/);
    assert.match(xml, /<driver name='qemu' type='raw' cache='writethrough' io='threads'\/>/);
    assert.deepEqual(specParts({ memoryMiB: 64, vcpus: 1 }), { memory: { value: 64, unit: "MiB" }, currentMemory: { value: 64, unit: "MiB" }, vcpu: { count: 1 }, disks: {} });
  });

  it("refuses a bad spec with every problem at once", () => {
    assert.throws(
      () => buildMinimalDomain({ name: "x", memoryMiB: 8, vcpus: 0, osVariant: "debian99", type: "xen" as never, disks: [{ path: "relative.img" }, { path: "/a/../etc/shadow", target: "vda", io: "native", cache: "writeback" }] }),
      {
        message: [
          "invalid domain:",
          "  - domain.memoryMiB: 8 is not accepted; expected an integer from 16 to 16777216",
          "  - domain.vcpus: 0 is not accepted; expected an integer from 1 to 4096",
          `  - domain.osVariant: "debian99" is not a short id kvmtune knows; expected a libosinfo id "http://<vendor>/<os>/<version>" (e.g. "http://debian.org/debian/12") or a short id such as debian12, ubuntu24.04, rhel9.4, rocky9, sles15sp5, win11, win2k22 (${Object.keys(OS_VARIANTS).length} short ids known; any other OS by its URI)`,
          `  - domain.type: "xen" is not accepted; expected "kvm" or "qemu"`,
          `  - domain.disks[0].path: "relative.img" is not accepted; expected an absolute path of letters, digits and . _ + : @ - (no '..')`,
          `  - domain.disks[1].path: "/a/../etc/shadow" is not accepted; expected an absolute path of letters, digits and . _ + : @ - (no '..')`,
          `  - domain.disks[1].target: "vda" is used by another disk`,
          `  - domain.disks[1]: io "native" needs cache "none" or "directsync" (O_DIRECT), got cache "writeback"; use io "threads" or "io_uring" with a host page cache`,
        ].join("\n"),
      },
    );
    assert.deepEqual(domainSpecProblems({ memoryMiB: 64, vcpus: 1, cpus: 2 }), [`domain: unknown field "cpus"; accepted fields: memoryMiB, vcpus, osVariant, type, disks`]);
  });
});

describe("osVariant ids", () => {
  it("maps short ids to libosinfo URIs and takes well-formed URIs as they are", () => {
    assert.deepEqual(resolveOsVariant("debian12"), { uri: "http://debian.org/debian/12" });
    assert.deepEqual(resolveOsVariant("rhel9.4"), { uri: "http://redhat.com/rhel/9.4" });
    assert.deepEqual(resolveOsVariant("win2k22"), { uri: "http://microsoft.com/win/2k22" });
    assert.deepEqual(resolveOsVariant("http://archlinux.org/archlinux/rolling"), { uri: "http://archlinux.org/archlinux/rolling" });
    for (const uri of Object.values(OS_VARIANTS)) assert.deepEqual(resolveOsVariant(uri), { uri });
  });

  it("rejects malformed ids, naming the value and what is accepted", () => {
    const accepted = `expected a libosinfo id "http://<vendor>/<os>/<version>" (e.g. "http://debian.org/debian/12") or a short id such as debian12, ubuntu24.04, rhel9.4, rocky9, sles15sp5, win11, win2k22`;
    assert.deepEqual(resolveOsVariant("http://debian.org/debian"), { problem: `"http://debian.org/debian" is not accepted; ${accepted}` });
    assert.deepEqual(resolveOsVariant("http://x/y/'z"), { problem: `"http://x/y/'z" is not accepted; ${accepted}` });
    assert.deepEqual(resolveOsVariant("Debian 12"), { problem: `"Debian 12" is not accepted; ${accepted} (${Object.keys(OS_VARIANTS).length} short ids known; any other OS by its URI)` });
    assert.deepEqual(resolveOsVariant(12), { problem: `12 is not accepted; ${accepted}` });
  });
});

describe("the io/cache rule and domain names", () => {
  it("io native needs an O_DIRECT cache", () => {
    assert.equal(ioCacheProblem({ io: "native", cache: "none" }), undefined);
    assert.equal(ioCacheProblem({ io: "native", cache: "directsync" }), undefined);
    assert.equal(ioCacheProblem({ io: "native" }), undefined);
    assert.equal(ioCacheProblem({ io: "threads", cache: "writeback" }), undefined);
    assert.equal(ioCacheProblem({ io: "native", cache: "unsafe" }), `io "native" needs cache "none" or "directsync" (O_DIRECT), got cache "unsafe"; use io "threads" or "io_uring" with a host page cache`);
  });

  it("accepts [A-Za-z0-9][A-Za-z0-9_.+-]{0,63} and rejects the rest naming field, value and rule", () => {
    for (const ok of ["db1", "a", "vm-01.prod+blue_x", "9".repeat(64)]) assert.equal(domainNameProblem(ok), undefined, ok);
    const rule = "expected 1 to 64 characters: a letter or digit, then letters, digits, '_', '.', '+' or '-' (no spaces, '/', '<', '&' or quotes)";
    assert.equal(domainNameProblem(`db<1&'"`), `name: "db<1&'\\"" is not accepted as a domain name; ${rule}`);
    assert.equal(domainNameProblem("a/b"), `name: "a/b" is not accepted as a domain name; ${rule}`);
    for (const bad of ["", "-x", ".x", "a b", "a\nb", "9".repeat(65), "ä"]) assert.match(domainNameProblem(bad) ?? "", /is not accepted as a domain name/, bad);
    assert.equal(domainNameProblem(undefined), `name: undefined is not accepted as a domain name; ${rule}`);
  });
});

describe("LibvirtDomain input check", () => {
  const connection = { host: "hv1", privateKey: undefined, password: "pw", insecureIgnoreHostKey: true };

  it("accepts a define and an adopt", () => {
    assert.deepEqual(inputProblems({ connection, name: "db1", mode: "define", domain: { memoryMiB: 64, vcpus: 2 }, parts: { cputune: { vcpupin: [{ vcpu: 1, cpuset: "1" }] } }, start: true }), []);
    assert.deepEqual(inputProblems({ connection, name: "db1", mode: "define", domain: { memoryMiB: 64, vcpus: 2 }, start: "paused", restart: "when-required", shutdownTimeoutSeconds: 0 }), []);
    assert.deepEqual(inputProblems({ connection, name: "db1", mode: "adopt", parts: { numatune: { memory: { mode: "strict", nodeset: "0" } } }, autostart: false }), []);
  });

  it("reports every problem at once, by property, with exact reasons", () => {
    const failures = inputProblems({
      connection: { host: "hv1", port: 0, password: "pw", insecureIgnoreHostKey: true },
      name: `db<1&'"`, mode: "define",
      domain: { memoryMiB: 64, vcpus: 2, osVariant: "debian99", disks: [{ path: "/img/a.raw", io: "native", cache: "writeback" }] },
      parts: { cputune: { vcpupin: [{ vcpu: 2, cpuset: "0" }], emulatorPin: { cpuset: "0" } } },
      start: "yes", colour: "blue", restart: "always", shutdownTimeoutSeconds: 600,
    });
    assert.deepEqual(failures.map((f) => `${f.property} | ${f.reason}`), [
      "colour | colour: unknown field; accepted fields: connection, name, mode, domain, parts, start, autostart, restart, shutdownTimeoutSeconds, planProblems, owner, timeouts",
      "connection | connection.port: 0 is not accepted; expected an integer from 1 to 65535",
      `name | name: "db<1&'\\"" is not accepted as a domain name; expected 1 to 64 characters: a letter or digit, then letters, digits, '_', '.', '+' or '-' (no spaces, '/', '<', '&' or quotes)`,
      `domain | domain.osVariant: "debian99" is not a short id kvmtune knows; expected a libosinfo id "http://<vendor>/<os>/<version>" (e.g. "http://debian.org/debian/12") or a short id such as debian12, ubuntu24.04, rhel9.4, rocky9, sles15sp5, win11, win2k22 (${Object.keys(OS_VARIANTS).length} short ids known; any other OS by its URI)`,
      `domain | domain.disks[0]: io "native" needs cache "none" or "directsync" (O_DIRECT), got cache "writeback"; use io "threads" or "io_uring" with a host page cache`,
      `start | start: "yes" is not accepted; expected true, false or "paused"`,
      `restart | restart: "always" is not accepted; expected "never" or "when-required"`,
      "shutdownTimeoutSeconds | shutdownTimeoutSeconds: 600 is not accepted; expected whole seconds from 0 to 540 (the write command is bounded at 600 s)",
      "parts | parts.cputune.emulatorPin: unknown field",
    ]);
  });

  it("checks pins against the vCPU count it knows and disk drivers against the spec's", () => {
    const f = inputProblems({
      connection, name: "db1", mode: "define", domain: { memoryMiB: 64, vcpus: 2, disks: [{ path: "/img/a.raw" }] },
      parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 2, cpuset: "1" }], iothreadpin: [{ iothread: 1, cpuset: "0" }] }, disks: { vda: { driver: { cache: "writeback" } } } },
    });
    assert.deepEqual(f.map((x) => x.reason), [
      "parts.cputune.vcpupin[1]: vCPU 2 does not exist; the domain has 2 vCPUs (0-1)",
      "parts.cputune.iothreadpin[0]: iothread 1 does not exist; the domain has no iothreads",
      `parts.disks[vda]: io "native" needs cache "none" or "directsync" (O_DIRECT), got cache "writeback"; use io "threads" or "io_uring" with a host page cache`,
    ]);
    // 65536 KiB is 64 MiB: the same size, no conflict.
    assert.deepEqual(inputProblems({ connection, name: "db1", mode: "define", domain: { memoryMiB: 64, vcpus: 2 }, parts: { vcpu: { count: 4 }, memory: { value: 65536 }, currentMemory: { value: 1, unit: "GiB" } } }).map((x) => x.reason), [
      `parts.currentMemory: {"value":1,"unit":"GiB"} contradicts domain.memoryMiB 64; set the size in one place`,
      "parts.vcpu.count: 4 contradicts domain.vcpus 2; set the vCPU count in one place",
    ]);
  });

  it("judges the whole domain it will define, so what libvirt's define refuses shows at preview", () => {
    const define = (parts: unknown) => inputProblems({ connection, name: "db1", mode: "define", domain: { memoryMiB: 64, vcpus: 2 }, parts }).map((x) => x.reason);
    assert.deepEqual(define({ cpu: { topology: { sockets: 2, cores: 2, threads: 1 } } }), [
      `parts.cpu.topology: sockets 2 × dies 1 × cores 2 × threads 1 = 4 CPUs, but the domain has 2 vCPUs (libvirt: "CPU topology doesn't match maximum vcpu count")`,
    ]);
    assert.deepEqual(define({ cpu: { numa: [{ id: 0, cpus: "0-3", memory: 64, unit: "MiB" }] }, numatune: { memory: { mode: "strict", nodeset: "0" }, memnode: [{ cellid: 1, mode: "strict", nodeset: "0" }] } }), [
      `parts.cpu.numa[0]: vCPU 2, 3 are beyond the domain's 2 vCPUs (libvirt: "Number of CPUs in <numa> exceeds the <vcpu> count")`,
      "parts.numatune.memnode[1]: the domain has no guest NUMA cell 1 (cells 0)",
    ]);
    assert.deepEqual(define({ cpu: { topology: { sockets: 1, cores: 2, threads: 1 } } }), []);
  });

  it("wants a domain spec in define mode only", () => {
    assert.deepEqual(inputProblems({ connection, name: "db1", mode: "define" }).map((x) => x.reason), ["domain: required in define mode (memoryMiB, vcpus, and optionally osVariant, type, disks)"]);
    assert.deepEqual(inputProblems({ connection, name: "db1", mode: "adopt", domain: { memoryMiB: 64, vcpus: 1 } }).map((x) => x.reason), ["domain: only used in define mode; an adopted domain keeps its own XML (tune it through parts)"]);
    assert.deepEqual(inputProblems({ connection, name: "db1", mode: "clone" }).map((x) => x.reason), [`mode: "clone" is not accepted; expected "define" (kvmtune creates the domain) or "adopt" (kvmtune tunes an existing one)`]);
  });
});

describe("LibvirtDomain input check at preview", () => {
  const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

  it("leaves inputs not known yet to the next check, and still checks the known ones", () => {
    assert.deepEqual(inputProblems({ connection: UNKNOWN, name: UNKNOWN, mode: "define", domain: { memoryMiB: UNKNOWN, vcpus: 2 }, parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: UNKNOWN }] } } }), []);
    assert.deepEqual(inputProblems({ connection: UNKNOWN, name: "a/b", mode: UNKNOWN, parts: { vcpu: { count: 0 } } }).map((f) => f.reason), [
      `name: "a/b" is not accepted as a domain name; expected 1 to 64 characters: a letter or digit, then letters, digits, '_', '.', '+' or '-' (no spaces, '/', '<', '&' or quotes)`,
      "parts.vcpu.count: 0 is not an integer 1..65535",
    ]);
  });
});
