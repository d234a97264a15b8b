import { strict as assert } from "node:assert";
import { naturalCompare } from "../../provider/host/facts-devices";
import {
  basename,
  cpuListProblem,
  decodeOctalEscapes,
  formatCpuList,
  isPciAddress,
  parseBracketChoice,
  parseCpuList,
  parseFlag,
  parseHexId,
  parseIntStrict,
  parseIpAddrOneline,
  parseLsSymlinks,
  parseMeminfo,
  parseProcMounts,
  parseProcSwaps,
  pciAddressOfPath,
  textOrNull,
} from "../../provider/host/sysfs-parse";

describe("sysfs-parse", function () {
  describe("parseCpuList", function () {
    it("expands ranges and single CPUs, sorted and de-duplicated", function () {
      assert.deepEqual(parseCpuList("0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11]);
      assert.deepEqual(parseCpuList("0"), [0]);
      assert.deepEqual(parseCpuList("4-4"), [4]);
      assert.deepEqual(parseCpuList("8-9,0-1"), [0, 1, 8, 9]);
      assert.deepEqual(parseCpuList("0-3,2-5"), [0, 1, 2, 3, 4, 5]);
    });

    it("treats an empty mask (blank line) as the empty set and ignores the trailing newline", function () {
      assert.deepEqual(parseCpuList(""), []);
      assert.deepEqual(parseCpuList("\n"), []);
      assert.deepEqual(parseCpuList("0-1\n"), [0, 1]);
    });

    it("rejects malformed lists, naming the text and the bad element", function () {
      const cases: Array<[string, string]> = [
        ["0-3,,5", 'invalid cpulist "0-3,,5": bad element ""'],
        ["5-2", 'invalid cpulist "5-2": range "5-2" is descending'],
        ["a", 'invalid cpulist "a": bad element "a"'],
        ["1,", 'invalid cpulist "1,": bad element ""'],
        [",1", 'invalid cpulist ",1": bad element ""'],
        ["-1", 'invalid cpulist "-1": bad element "-1"'],
        ["1-", 'invalid cpulist "1-": bad element "1-"'],
        ["1-2-3", 'invalid cpulist "1-2-3": bad element "1-2-3"'],
        ["0 - 3", 'invalid cpulist "0 - 3": bad element "0 - 3"'],
        ["0-9:2", 'invalid cpulist "0-9:2": bad element "0-9:2"'],
        ["0x3", 'invalid cpulist "0x3": bad element "0x3"'],
        ["0-70000", 'invalid cpulist "0-70000": CPU 70000 is above 65535'],
      ];
      for (const [text, message] of cases) {
        assert.throws(() => parseCpuList(text), { message }, text);
      }
    });
  });

  describe("parseCpuList on long text", function () {
    it("quotes at most 200 characters of the list and 60 of the bad element, saying how long they were", function () {
      const long = `${"1,".repeat(3000)}x`;
      assert.throws(() => parseCpuList(long), { message: `invalid cpulist ${JSON.stringify(`${long.slice(0, 200)}\u2026`)} (6001 characters): bad element "x"` });
      const element = "9".repeat(100);
      assert.throws(() => parseCpuList(`1,${element}x`), { message: `invalid cpulist "1,${element}x": bad element ${JSON.stringify(`${"9".repeat(60)}\u2026`)} (101 characters)` });
    });
  });

  describe("cpuListProblem (a cpulist a user wrote)", function () {
    it("accepts CPU numbers and low-high ranges separated by commas", function () {
      for (const text of ["0", "2-15", "2-7,10-15", "4-4", "8-9,0-1", "0-65535"]) assert.equal(cpuListProblem(text), undefined, text);
    });

    it("says what is wrong and what to write, without repeating the list", function () {
      const cases: Array<[string, string]> = [
        ["", "the CPU list is empty"],
        ["  ", "the CPU list is empty"],
        ["3-1", `range "3-1" is reversed; write it low-high, as 1-3`],
        ["0,15-8", `range "15-8" is reversed; write it low-high, as 8-15`],
        ["1,,2", "it has an empty element (two commas in a row)"],
        [",1", "it starts with a comma"],
        ["1,", "it ends with a comma"],
        ["a", `"a" is neither a CPU number nor a range low-high`],
        ["0x3", `"0x3" is neither a CPU number nor a range low-high`],
        ["1-2-3", `"1-2-3" is neither a CPU number nor a range low-high`],
        ["0-9:2/4", `"0-9:2/4" is neither a CPU number nor a range low-high`],
        ["0-70000", "CPU 70000 is above 65535, the highest CPU number kvmtune accepts"],
      ];
      for (const [text, problem] of cases) assert.equal(cpuListProblem(text), problem, text);
    });

    it("quotes at most 60 characters of a bad element", function () {
      assert.equal(cpuListProblem(`1,${"7".repeat(500)}y`), `${JSON.stringify(`${"7".repeat(60)}\u2026`)} (501 characters) is neither a CPU number nor a range low-high`);
    });
  });

  describe("formatCpuList", function () {
    it("compresses runs, sorting and de-duplicating", function () {
      assert.equal(formatCpuList([0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
      assert.equal(formatCpuList([11, 10, 8, 3, 2, 1, 0, 0]), "0-3,8,10-11");
      assert.equal(formatCpuList([5]), "5");
      assert.equal(formatCpuList([4, 5]), "4-5");
      assert.equal(formatCpuList([]), "");
    });

    it("round-trips with parseCpuList", function () {
      for (const text of ["0-3,8,10-11", "0", "1,3,5,7", "0-127", "2-3,10-11,64"]) {
        assert.equal(formatCpuList(parseCpuList(text)), text);
      }
    });

    it("rejects numbers that are not CPU numbers", function () {
      for (const bad of [-1, 1.5, NaN, Infinity, 65536]) {
        assert.throws(() => formatCpuList([0, bad]), { message: `invalid CPU number ${bad}: expected an integer 0..65535` });
      }
    });
  });

  describe("parseBracketChoice", function () {
    it("splits THP and scheduler choice lists", function () {
      assert.deepEqual(parseBracketChoice("always [madvise] never"), { offered: ["always", "madvise", "never"], active: "madvise" });
      assert.deepEqual(parseBracketChoice("always defer defer+madvise [madvise] never\n"), {
        offered: ["always", "defer", "defer+madvise", "madvise", "never"],
        active: "madvise",
      });
      assert.deepEqual(parseBracketChoice("[none] mq-deadline kyber bfq "), { offered: ["none", "mq-deadline", "kyber", "bfq"], active: "none" });
      assert.deepEqual(parseBracketChoice("noop deadline [cfq]"), { offered: ["noop", "deadline", "cfq"], active: "cfq" });
    });

    it("reports no active choice when nothing is bracketed", function () {
      assert.deepEqual(parseBracketChoice("none"), { offered: ["none"], active: null });
      assert.deepEqual(parseBracketChoice(""), { offered: [], active: null });
    });

    it("rejects two active choices and malformed brackets", function () {
      assert.throws(() => parseBracketChoice("[always] [never]"), { message: 'invalid choice list "[always] [never]": more than one active choice' });
      assert.throws(() => parseBracketChoice("always [madvise never"), { message: 'invalid choice list "always [madvise never": malformed token "[madvise"' });
      assert.throws(() => parseBracketChoice("a]"), { message: 'invalid choice list "a]": malformed token "a]"' });
      assert.throws(() => parseBracketChoice("[]"), { message: 'invalid choice list "[]": malformed token "[]"' });
    });
  });

  it("parseIntStrict takes whole decimal integers only", function () {
    assert.equal(parseIntStrict("42\n"), 42);
    assert.equal(parseIntStrict("-1"), -1);
    assert.equal(parseIntStrict(" 7 "), 7);
    for (const bad of [undefined, "", "\n", "4k", "0x10", "1.5", "one", "99999999999999999999"]) {
      assert.equal(parseIntStrict(bad), null, String(bad));
    }
  });

  it("parseFlag reads 0/1 only", function () {
    assert.equal(parseFlag("1\n"), true);
    assert.equal(parseFlag("0"), false);
    assert.equal(parseFlag("2"), null);
    assert.equal(parseFlag(undefined), null);
  });

  it("parseMeminfo reads /proc/meminfo and per-node meminfo", function () {
    const global = parseMeminfo("MemTotal:       24684092 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\nActive(anon):     1520 kB\n");
    assert.deepEqual([...global], [["MemTotal", 24684092], ["HugePages_Total", 0], ["Hugepagesize", 2048], ["Active(anon)", 1520]]);
    const node = parseMeminfo("Node 1 MemTotal:        4942036 kB\nNode 1 MemFree:         4644020 kB\n", "Node 1 ");
    assert.deepEqual([...node], [["MemTotal", 4942036], ["MemFree", 4644020]]);
  });

  it("decodeOctalEscapes undoes the /proc/mounts escaping", function () {
    assert.equal(decodeOctalEscapes("/srv/vm\\040images\\011tab\\134back"), "/srv/vm images\ttab\\back");
  });

  it("parseProcMounts splits fields and options", function () {
    assert.deepEqual(parseProcMounts("/dev/sda2 /srv/a\\040b xfs rw,relatime 0 0\n\nbad line\n"), [
      { source: "/dev/sda2", mountPoint: "/srv/a b", fsType: "xfs", options: ["rw", "relatime"] },
    ]);
  });

  it("parseProcSwaps skips the header and garbage", function () {
    const text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1    partition\t8388604\t0\t-2\n/swap\\040file file 1024 0 x\n";
    assert.deepEqual(parseProcSwaps(text), [{ path: "/dev/dm-1", type: "partition", sizeKiB: 8388604, usedKiB: 0, priority: -2 }]);
  });

  it("parseIpAddrOneline reads iproute2 and busybox output", function () {
    const text = [
      "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
      "4: eth0    inet6 fd00::2/64 scope global flags 02 \\       valid_lft forever preferred_lft forever",
      "5: ppp0    inet 10.0.0.1 peer 10.0.0.2/32 scope global ppp0\\       valid_lft forever preferred_lft forever",
      "6: eth0.100@eth0    inet 192.0.2.9/24 brd 192.0.2.255 scope global eth0.100",
      "    link/ether 02:fc:00:00:00:01 brd ff:ff:ff:ff:ff:ff",
    ].join("\n");
    assert.deepEqual(parseIpAddrOneline(text), [
      { ifname: "lo", family: "inet", cidr: "127.0.0.1/8" },
      { ifname: "eth0", family: "inet6", cidr: "fd00::2/64" },
      { ifname: "ppp0", family: "inet", cidr: "10.0.0.1/32" },
      { ifname: "eth0.100", family: "inet", cidr: "192.0.2.9/24" },
    ]);
  });

  it("parseLsSymlinks reads GNU and busybox ls -l", function () {
    const text = [
      "total 0",
      "lrwxrwxrwx 1 root root 13 Jan  1  2024 nvme-eui.3634 -> ../../nvme0n1",
      "lrwxrwxrwx    1 root     root            10 Nov 24 16:34 ata-X-part1 -> ../../sda1",
      "-rw-r--r-- 1 root root 0 Jan  1  2024 plain",
    ].join("\n");
    assert.deepEqual([...parseLsSymlinks(text)], [["nvme-eui.3634", "../../nvme0n1"], ["ata-X-part1", "../../sda1"]]);
  });

  it("pciAddressOfPath finds the PCI function a device hangs off", function () {
    assert.equal(pciAddressOfPath("/sys/devices/pci0000:17/0000:17:00.0/0000:18:00.0"), "0000:18:00.0");
    assert.equal(pciAddressOfPath("/sys/devices/pci0000:00/0000:00:03.0/virtio2"), "0000:00:03.0");
    assert.equal(pciAddressOfPath("/sys/devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/nvme/nvme0"), "0000:5e:00.0");
    assert.equal(pciAddressOfPath("/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0"), "0000:00:17.0");
    assert.equal(pciAddressOfPath("/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0"), null);
    assert.equal(pciAddressOfPath("/sys/devices/virtual/net/br0"), null);
    assert.equal(isPciAddress("0000:5e:00.0"), true);
    assert.equal(isPciAddress("0:0:0:0"), false);
  });

  it("parseHexId, textOrNull, basename", function () {
    assert.equal(parseHexId("0x8086\n"), "8086");
    assert.equal(parseHexId("0x02000A"), "02000a");
    assert.equal(parseHexId("8086"), null);
    assert.equal(parseHexId(undefined), null);
    assert.equal(textOrNull("ST4000NM0035-1V4   \n"), "ST4000NM0035-1V4");
    assert.equal(textOrNull("  \n"), null);
    assert.equal(textOrNull(undefined), null);
    assert.equal(basename("/sys/bus/pci/drivers/vfio-pci"), "vfio-pci");
    assert.equal(basename("/"), "");
  });

  it("naturalCompare orders kernel names like a person would", function () {
    assert.deepEqual(["sdaa", "sdb", "loop10", "sda", "loop2", "nvme10n1", "nvme1n1", "nvme1n10", "nvme1n2"].sort(naturalCompare), [
      "loop2",
      "loop10",
      "nvme1n1",
      "nvme1n2",
      "nvme1n10",
      "nvme10n1",
      "sda",
      "sdaa",
      "sdb",
    ]);
  });
});
