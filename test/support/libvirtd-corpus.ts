/**
 * Captures the corpus of REAL libvirt domain XML in test/fixtures/domains/:
 * for each case below, the XML we define (`NAME.input.xml`), `virsh dumpxml
 * --inactive` (`NAME.inactive.xml`) and, for cases that start under the test
 * bed's TCG libvirtd, `virsh dumpxml` of the running domain (`NAME.live.xml`).
 * Every file is checked with `virt-xml-validate FILE domain`; manifest.json says
 * what each case holds and the exact error of every start that failed.
 *
 *   node -r ts-node/register/transpile-only test/support/libvirtd-corpus.ts [OUT_DIR]
 *
 * Needs .ci/install-libvirt.sh. Deterministic: fixed UUIDs and MACs, image paths
 * under /var/lib/libvirt/images (the bed's own dir), domains run one at a time
 * in a fresh libvirtd (so `id` and /dev/pts numbers repeat).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { Libvirtd, startLibvirtd } from "./libvirtd";
import { stopAllProcesses } from "./processes";
import { createDiskImage, defineDomain, mustVirsh, TinyDomainOptions, tinyDomainXml } from "./libvirtd-domain";

export const CORPUS_DIR = path.join(__dirname, "..", "fixtures", "domains");
/** The bed the corpus is captured in: bridge br0 (MTU 9000) and hugetlbfs mounts, in its namespaces only. */
export const CORPUS_BED = { bridges: [{ name: "br0", mtu: 9000 }], hugetlbfs: true };
const IMAGES = "/var/lib/libvirt/images";

export interface CorpusCase {
  name: string;
  description: string;
  /** Try to start it (and record the exact error when that fails). */
  start: boolean;
  /** After the live capture: a live-only change whose result is saved as NAME.SUFFIX.xml. */
  liveChange?: { args: string[]; suffix: string };
  domain: TinyDomainOptions;
}

const uuid = (i: number) => `6b766d74-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
const mac = (i: number) => `52:54:00:6b:76:${i.toString(16).padStart(2, "0")}`;

/** Image files the cases use, made with qemu-img in the bed before defining. */
export const CORPUS_IMAGES: { file: string; sizeMiB: number; format: "raw" | "qcow2" }[] = [
  { file: "pinned.raw", sizeMiB: 16, format: "raw" },
  { file: "io1.qcow2", sizeMiB: 16, format: "qcow2" },
  { file: "io2.raw", sizeMiB: 16, format: "raw" },
  { file: "tuned.raw", sizeMiB: 16, format: "raw" },
];

export const CORPUS: CorpusCase[] = [
  {
    name: "minimal",
    description: "1 vCPU, 64 MiB, no cputune/numatune, no disk; the smallest thing that starts",
    start: true,
    domain: { name: "minimal", uuid: uuid(1), vcpus: 1 },
  },
  {
    name: "pinned",
    description: "vcpupin per vCPU, emulatorpin, numatune strict, raw file disk cache=none io=native; live copy after `vcpupin --live 0 1`",
    start: true,
    liveChange: { args: ["vcpupin", "pinned", "0", "1", "--live"], suffix: "live-repinned" },
    domain: {
      name: "pinned", uuid: uuid(2), vcpus: 2, vcpupin: ["0", "1"], emulatorpin: "0-1",
      numatune: { mode: "strict", nodeset: "0" },
      disks: [{ type: "file", source: `${IMAGES}/pinned.raw`, target: "vda", format: "raw", cache: "none", io: "native" }],
    },
  },
  {
    name: "numa-memnodes",
    description: "custom CPU (qemu64) 2 sockets, two guest NUMA cells with distances, numatune memory + memnode per cell",
    start: true,
    domain: {
      name: "numa-memnodes", uuid: uuid(3), vcpus: 2, memoryMiB: 128,
      cpu: {
        mode: "custom", match: "exact", model: "qemu64", fallback: "allow",
        topology: { sockets: 2, cores: 1, threads: 1 },
        cells: [{ id: 0, cpus: "0", memoryMiB: 64 }, { id: 1, cpus: "1", memoryMiB: 64 }],
        distances: [[10, 21], [21, 10]],
      },
      numatune: {
        mode: "strict", nodeset: "0",
        memnodes: [{ cellid: 0, mode: "strict", nodeset: "0" }, { cellid: 1, mode: "preferred", nodeset: "0" }],
      },
    },
  },
  {
    name: "hugepages-2m",
    description: "memoryBacking 2 MiB hugepages, numatune strict; does not start: hugetlbfs is mounted in the bed but the host reserves no pages",
    start: true,
    domain: {
      name: "hugepages-2m", uuid: uuid(4), vcpus: 1,
      memoryBacking: { hugepages: [{ sizeKiB: 2048 }] },
      numatune: { mode: "strict", nodeset: "0" },
    },
  },
  {
    name: "hugepages-numa",
    description: "two guest NUMA cells, 2 MiB pages for cell 0 and 1 GiB pages for cell 1, locked, nosharepages; define-only",
    start: false,
    domain: {
      name: "hugepages-numa", uuid: uuid(5), vcpus: 2, memoryMiB: 128,
      memoryBacking: { hugepages: [{ sizeKiB: 2048, nodeset: "0" }, { sizeKiB: 1048576, nodeset: "1" }], locked: true, nosharepages: true },
      cpu: {
        mode: "custom", match: "exact", model: "qemu64", fallback: "allow", topology: { sockets: 2, cores: 1, threads: 1 },
        cells: [{ id: 0, cpus: "0", memoryMiB: 64 }, { id: 1, cpus: "1", memoryMiB: 64 }],
      },
      numatune: { mode: "strict", nodeset: "0", memnodes: [{ cellid: 0, mode: "strict", nodeset: "0" }, { cellid: 1, mode: "strict", nodeset: "0" }] },
    },
  },
  {
    name: "locked",
    description: "memoryBacking <locked/> alone; does not start here: this machine's root lacks CAP_SYS_RESOURCE, so raising RLIMIT_MEMLOCK fails",
    start: true,
    domain: { name: "locked", uuid: uuid(15), vcpus: 1, memoryBacking: { locked: true } },
  },
  {
    name: "iothreads",
    description: "2 iothreads with iothreadpin, a qcow2 disk on iothread 1 (cache=none io=native) and a raw disk on iothread 2 (io=io_uring)",
    start: true,
    domain: {
      name: "iothreads", uuid: uuid(6), vcpus: 2, iothreads: 2, iothreadpin: ["0", "1"], vcpupin: ["0", "1"],
      disks: [
        { type: "file", source: `${IMAGES}/io1.qcow2`, target: "vda", format: "qcow2", cache: "none", io: "native", iothread: 1 },
        { type: "file", source: `${IMAGES}/io2.raw`, target: "vdb", format: "raw", cache: "none", io: "io_uring", iothread: 2, serial: "kvmt-io2" },
      ],
    },
  },
  {
    name: "cpu-host-passthrough",
    description: "<cpu mode='host-passthrough'> with topology (a TCG domain cannot start it)",
    start: true,
    domain: {
      name: "cpu-host-passthrough", uuid: uuid(7), vcpus: 2,
      cpu: { mode: "host-passthrough", check: "none", migratable: "on", topology: { sockets: 1, dies: 1, cores: 2, threads: 1 } },
    },
  },
  {
    name: "cpu-maximum",
    description: "<cpu mode='maximum'> with topology sockets=1 dies=1 cores=2 threads=1",
    start: true,
    domain: {
      name: "cpu-maximum", uuid: uuid(8), vcpus: 2,
      cpu: { mode: "maximum", migratable: "off", topology: { sockets: 1, dies: 1, cores: 2, threads: 1 } },
    },
  },
  {
    name: "vhost-net",
    description: "virtio interface on bridge br0 (made in the bed's netns, MTU 9000) with <driver name='vhost' queues='4'/> and <mtu size='9000'/>",
    start: true,
    domain: {
      name: "vhost-net", uuid: uuid(9), vcpus: 2,
      interfaces: [{ type: "bridge", source: "br0", mac: mac(9), driver: { name: "vhost", queues: 4 }, mtu: 9000 }],
    },
  },
  {
    name: "block-disk",
    description: "type='block' disk by-id path with cache=none io=native (the device does not exist: define-only)",
    start: true,
    domain: {
      name: "block-disk", uuid: uuid(10), vcpus: 1,
      disks: [{ type: "block", source: "/dev/disk/by-id/nvme-KVMTUNE_TEST_SERIAL_0001", target: "vda", format: "raw", cache: "none", io: "native" }],
    },
  },
  {
    name: "hostdev-pci",
    description: "PCI hostdev managed='yes' 0000:3b:00.0 (no such device: define-only)",
    start: true,
    domain: { name: "hostdev-pci", uuid: uuid(11), vcpus: 1, hostdevs: ["0000:3b:00.0"] },
  },
  {
    name: "sriov-vf-interface",
    description: "<interface type='hostdev'> for an SR-IOV VF 0000:3b:02.1 with a fixed MAC (define-only)",
    start: true,
    domain: { name: "sriov-vf-interface", uuid: uuid(12), vcpus: 1, interfaces: [{ type: "hostdev", source: "0000:3b:02.1", mac: mac(12) }] },
  },
  {
    name: "osinfo",
    description: "libosinfo metadata (debian/12) and <vcpu cpuset='1'>",
    start: true,
    domain: { name: "osinfo", uuid: uuid(13), vcpus: 2, vcpuCpuset: "1", osinfo: "http://debian.org/debian/12" },
  },
  {
    name: "tuned-guest",
    description: "everything kvmtune owns that starts here: vcpupin, emulatorpin, iothreadpin, numatune+memnodes, custom CPU with cells, iothread disk cache=none io=native, vhost interface with queues and MTU, libosinfo",
    start: true,
    domain: {
      name: "tuned-guest", uuid: uuid(14), vcpus: 2, memoryMiB: 128, osinfo: "http://debian.org/debian/12",
      vcpupin: ["0", "1"], emulatorpin: "0", iothreads: 1, iothreadpin: ["1"],
      cpu: {
        mode: "custom", match: "exact", model: "qemu64", fallback: "allow", topology: { sockets: 2, cores: 1, threads: 1 },
        cells: [{ id: 0, cpus: "0", memoryMiB: 64 }, { id: 1, cpus: "1", memoryMiB: 64 }],
      },
      numatune: { mode: "strict", nodeset: "0", memnodes: [{ cellid: 0, mode: "strict", nodeset: "0" }, { cellid: 1, mode: "strict", nodeset: "0" }] },
      disks: [{ type: "file", source: `${IMAGES}/tuned.raw`, target: "vda", format: "raw", cache: "none", io: "native", iothread: 1 }],
      interfaces: [{ type: "bridge", source: "br0", mac: mac(14), driver: { name: "vhost", queues: 2 }, mtu: 9000 }],
    },
  },
  {
    name: "kvm-production-like",
    description: "type='kvm' (define-only, never started here): host-passthrough CPU with topology and two NUMA cells, 1 GiB hugepages, numatune memnodes, vcpupin/emulatorpin/iothreadpin, by-id block disk cache=none io=native on an iothread, vhost interface queues=4 mtu=9000, libosinfo",
    start: false,
    domain: {
      name: "kvm-production-like", type: "kvm", uuid: uuid(16), vcpus: 4, memoryMiB: 128, osinfo: "http://debian.org/debian/12",
      vcpupin: ["0", "1", "0", "1"], emulatorpin: "0-1", iothreads: 1, iothreadpin: ["1"],
      memoryBacking: { hugepages: [{ sizeKiB: 1048576 }], locked: true },
      cpu: {
        mode: "host-passthrough", check: "none", migratable: "on", topology: { sockets: 2, dies: 1, cores: 1, threads: 2 },
        cells: [{ id: 0, cpus: "0-1", memoryMiB: 64 }, { id: 1, cpus: "2-3", memoryMiB: 64 }],
      },
      numatune: { mode: "strict", nodeset: "0", memnodes: [{ cellid: 0, mode: "strict", nodeset: "0" }, { cellid: 1, mode: "strict", nodeset: "0" }] },
      disks: [{ type: "block", source: "/dev/disk/by-id/nvme-KVMTUNE_TEST_SERIAL_0002", target: "vda", format: "raw", cache: "none", io: "native", iothread: 1 }],
      interfaces: [{ type: "bridge", source: "br0", mac: mac(16), driver: { name: "vhost", queues: 4 }, mtu: 9000 }],
    },
  },
];

export interface CorpusEntry {
  name: string;
  description: string;
  files: string[];
  started: boolean;
  /** Exact stderr of `virsh start` when it failed. */
  startError?: string;
  timings: { defineMs: number; startMs?: number; destroyMs?: number };
}

/**
 * virsh's start error with the parts that change per run replaced: qemu's
 * timestamps ("<timestamp>") and PIDs ("process <pid>"). (Which of "qemu
 * unexpectedly closed the monitor" / "process exited while connecting to
 * monitor" libvirt says for a qemu that dies at once depends on timing.)
 */
export function normaliseStartError(stderr: string): string {
  return stderr.trim()
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, "<timestamp>")
    .replace(/\bprocess \d+/g, "process <pid>");
}

/** `virt-xml-validate FILE domain`; returns undefined when valid, else its output. */
export function validateDomainXml(file: string): string | undefined {
  const r = spawnSync("virt-xml-validate", [file, "domain"], { encoding: "utf8" });
  return r.status === 0 ? undefined : `${r.stdout}${r.stderr}`.trim() || `exit ${r.status}`;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = Date.now();
  const v = await f();
  return [v, Date.now() - t];
}

export async function captureCorpus(lv: Libvirtd, outDir: string, log: (s: string) => void = () => undefined): Promise<CorpusEntry[]> {
  fs.mkdirSync(outDir, { recursive: true });
  for (const img of CORPUS_IMAGES) await createDiskImage(lv, img.file, img.sizeMiB, img.format);
  const entries: CorpusEntry[] = [];
  for (const c of CORPUS) {
    const files: string[] = [];
    const save = (suffix: string, xml: string) => {
      const f = `${c.name}.${suffix}.xml`;
      fs.writeFileSync(path.join(outDir, f), xml);
      files.push(f);
    };
    const input = tinyDomainXml(c.domain);
    save("input", input);
    const [, defineMs] = await timed(() => defineDomain(lv, input));
    save("inactive", await mustVirsh(lv, ["dumpxml", "--inactive", c.name]));
    const entry: CorpusEntry = { name: c.name, description: c.description, files, started: false, timings: { defineMs } };
    if (c.start) {
      const [r, startMs] = await timed(() => lv.virsh(["start", c.name]));
      entry.timings.startMs = startMs;
      if (r.code === 0) {
        entry.started = true;
        save("live", await mustVirsh(lv, ["dumpxml", c.name]));
        if (c.liveChange) {
          await mustVirsh(lv, c.liveChange.args);
          save(c.liveChange.suffix, await mustVirsh(lv, ["dumpxml", c.name]));
        }
        const [, destroyMs] = await timed(() => mustVirsh(lv, ["destroy", c.name]));
        entry.timings.destroyMs = destroyMs;
      } else {
        entry.startError = normaliseStartError(r.stderr);
      }
    }
    await mustVirsh(lv, ["undefine", c.name]);
    log(`${c.name}: ${entry.started ? "started" : c.start ? `start failed: ${entry.startError}` : "define-only"} (${files.join(", ")})`);
    entries.push(entry);
  }
  const invalid = entries.flatMap((e) => e.files).map((f) => [f, validateDomainXml(path.join(outDir, f))]).filter(([, err]) => err);
  if (invalid.length) throw new Error(`virt-xml-validate rejected:\n${invalid.map(([f, e]) => `${f}: ${e}`).join("\n")}`);
  return entries;
}

/** Versions the corpus came from, for the manifest. */
export async function bedVersions(lv: Libvirtd): Promise<{ libvirt: string; qemu: string; packages: string }> {
  const v = await mustVirsh(lv, ["version"]);
  const libvirt = /Using library: libvirt (\S+)/.exec(v)?.[1] ?? "?";
  const qemu = /Running hypervisor: QEMU (\S+)/.exec(v)?.[1] ?? "?";
  const p = await lv.ssh("dpkg-query -W -f '${Package}=${Version} ' libvirt-daemon qemu-system-x86");
  return { libvirt, qemu, packages: p.stdout.trim() };
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? CORPUS_DIR);
  (async () => {
    let lv: Libvirtd | undefined;
    try {
      lv = await startLibvirtd(CORPUS_BED);
      const entries = await captureCorpus(lv, out, (s) => console.log(s));
      const manifest = { versions: await bedVersions(lv), cases: entries.map(({ timings: _t, ...e }) => e) };
      fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
      console.log(`wrote ${entries.reduce((k, e) => k + e.files.length, 0)} XML files + manifest.json to ${out}; all pass virt-xml-validate`);
      console.log(JSON.stringify(entries.map((e) => ({ name: e.name, ...e.timings }))));
    } finally {
      await lv?.stop();
      await stopAllProcesses();
    }
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
