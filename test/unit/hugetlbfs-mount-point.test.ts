// hugetlbfs mount points (#14 safety 1): only canonical paths on a documented
// list; every other one is refused by HostTuning's check (so `pulumi preview`
// fails) and by an apply, before any connection to the host.
import { strict as assert } from "node:assert";
import { createServer, type Server, type Socket } from "node:net";
import { mountPointProblem } from "../../provider/host/knobs/mount-point";
import { normaliseSettings } from "../../provider/host/knobs/plan";
import { check } from "../../provider/resources/host-tuning-impl";
import { applyHostTuning } from "../../provider/host/tuning";
import { planTuningSettings } from "../../provider/spec/tuned-host";
import { transportCounts } from "../../provider/transport";

const EXPECTED =
  "expected a canonical absolute path of letters, digits, '/', '.', '_' and '-' (at most 255 characters): " +
  "/dev/hugepages*, /run/hugepages[/...], /var/lib/hugetlbfs[/...], a directory below /mnt/ or /srv/, " +
  "or a new top-level directory outside the system trees (such as /hugepages1G)";

const LONG = `/mnt/${"a".repeat(295)}`;

/** Every refused value and why, as the message says it (the value is shown as JSON, cut at 80 characters). */
const REFUSED: [string, string][] = [
  // The issue's list.
  ["//dev", `it is not canonical (its canonical form is "/dev")`],
  ["/dev/.", `it is not canonical (its canonical form is "/dev")`],
  ["/./dev", `it is not canonical (its canonical form is "/dev")`],
  ["/proc/sys", "it is in the system tree /proc"],
  ["/etc/ssh", "it is in the system tree /etc"],
  ["/sys/kernel", "it is in the system tree /sys"],
  ["/run", "/run is a system directory"],
  // More system trees and malformed paths.
  ["/", "it is the root directory"],
  ["/dev", "/dev is a system directory"],
  ["/dev/shm", "it is in the system tree /dev"],
  ["/var", "/var is a system directory"],
  ["/usr/lib", "it is in the system tree /usr"],
  ["/boot/efi", "it is in the system tree /boot"],
  ["/dev/hugepages/../shm", `it is not canonical (its canonical form is "/dev/shm")`],
  ["relative/path", "it is not an absolute path"],
  ["/mnt/a b", `it contains " "`],
  [LONG, "it is longer than 255 characters"],
  ["", "it is not an absolute path"],
  ["/dev/hugepages1G/", `it is not canonical (its canonical form is "/dev/hugepages1G")`],
  ["/mnt/x\n", `it contains "\\n"`],
  ["/mnt/x\u0000", `it contains "\\u0000"`],
  ["/mnt/\u001b[0m", `it contains "\\u001b"`],
  ["/mnt/x;reboot", `it contains ";"`],
  ["/mnt", "a mount on /mnt itself would hide what is mounted below it"],
  ["/srv", "a mount on /srv itself would hide what is mounted below it"],
  ["/dev/hugepages/kvm", "it is in the system tree /dev"],
  ["/run/user/0", "it is in the system tree /run"],
  ["/var/lib/libvirt", "it is in the system tree /var"],
  ["/lib64", "/lib64 is a system directory"],
  ["/home/kvm", "it is in the system tree /home"],
  ["/opt", "/opt is a system directory"],
  ["/root", "/root is a system directory"],
  ["/tmp/hp", "it is in the system tree /tmp"],
  ["/data/huge", "it is below /data, which is not on the list"],
];

const ACCEPTED = ["/dev/hugepages", "/dev/hugepages1G", "/dev/hugepages2M", "/mnt/huge", "/srv/hp/2M", "/run/hugepages", "/run/hugepages/kvm", "/var/lib/hugetlbfs/pagesize-2MB", "/hugepages", "/hugepages1G"];

const message = (value: string, reason: string) => {
  const shown = JSON.stringify(value);
  return `${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown} is not accepted: ${reason}; ${EXPECTED}`;
};

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";
const grouped = (live: Record<string, string>) => ({ live, "guest-restart": {}, "host-reboot": {} });

describe("hugetlbfs mount points (#14 safety 1)", function () {
  it("refuses every path on the list, naming the value, why and what is accepted", () => {
    for (const [value, reason] of REFUSED) assert.equal(mountPointProblem(value), message(value, reason), JSON.stringify(value));
    // A long value is cut in the message, which stays bounded.
    assert.equal(message(LONG, "x").startsWith(`"/mnt/${"a".repeat(71)}... is not accepted`), true);
    for (const [value] of REFUSED) assert.ok(mountPointProblem(value)!.length < 520, JSON.stringify(value));
  });

  it("accepts /dev/hugepages*, /run/hugepages, /var/lib/hugetlbfs, below /mnt and /srv, and a new top-level directory", () => {
    for (const value of ACCEPTED) assert.equal(mountPointProblem(value), undefined, value);
    // And the knob keeps them as they are (no rewriting).
    const n = normaliseSettings(Object.fromEntries(ACCEPTED.slice(0, 2).map((v, i) => [i ? "hugetlbfs:1G" : "hugetlbfs:2M", v])));
    assert.deepEqual(n.problems, []);
    assert.deepEqual([...n.desired], [["hugetlbfs:1G", "/dev/hugepages1G"], ["hugetlbfs:2M", "/dev/hugepages"]]);
  });

  it("TunedHost's default mount points pass", () => {
    const plan = planTuningSettings({ hugepages: { "2M": 512, "1G": 2 } });
    assert.equal(plan.settings["hugetlbfs:2M"], "/dev/hugepages2M");
    assert.equal(plan.settings["hugetlbfs:1G"], "/dev/hugepages1G");
    assert.deepEqual(normaliseSettings(plan.settings).problems, []);
  });

  describe("no command reaches the host for a refused mount point", function () {
    // A stand-in host: counts every TCP connection and hangs up at once.
    let server: Server;
    let port = 0;
    let accepted = 0;
    const sockets: Socket[] = [];
    const connection = () => ({ host: "127.0.0.1", port, user: "root", password: "pw12", hostKey: HOST_KEY });
    const target = () => `127.0.0.1:${port}`;

    before(async () => {
      server = createServer((s) => {
        accepted++;
        sockets.push(s);
        s.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
    });
    after(async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("HostTuning's check (what preview runs) fails for each, with the field, value and what is accepted", async () => {
      for (const [value, reason] of REFUSED) {
        for (const size of ["2M", "1G"]) {
          const r = await check({}, { connection: connection(), tag: "hv01", settings: grouped({ [`hugetlbfs:${size}`]: value, "sysctl:vm.swappiness": "10" }) });
          assert.deepEqual(r.failures, [{ property: "settings", reason: `settings["hugetlbfs:${size}"]: ${message(value, reason)}` }], JSON.stringify(value));
        }
      }
      for (const value of ACCEPTED) assert.deepEqual((await check({}, { connection: connection(), tag: "hv01", settings: grouped({ "hugetlbfs:2M": value }) })).failures, [], value);
      assert.equal(accepted, 0);
      assert.deepEqual(transportCounts(target()), { connections: 0, commands: 0 });
    });

    it("through TunedHost's args: hugetlbfs: { \"1G\": \"/etc/ssh\" } is refused before anything reaches the host", async () => {
      const why = message("/etc/ssh", "it is in the system tree /etc");
      let plan: ReturnType<typeof planTuningSettings> | undefined;
      try {
        plan = planTuningSettings({ hugepages: { "1G": 2 }, hugetlbfs: { "1G": "/etc/ssh" } });
      } catch (err) {
        // Planning the args already normalises each key (the program fails at preview, naming the field).
        assert.equal((err as Error).message, `invalid TunedHost args:\n  - args.hugetlbfs.1G: ${why}`);
      }
      if (plan) {
        // Else the key goes to HostTuning, whose check fails.
        assert.deepEqual(plan.origins["hugetlbfs:1G"], { field: "hugetlbfs.1G", value: "/etc/ssh" });
        const r = await check({}, { connection: connection(), tag: "hv01", settings: plan.grouped });
        assert.deepEqual(r.failures, [{ property: "settings", reason: `settings["hugetlbfs:1G"]: ${why}` }]);
      }
      assert.equal(accepted, 0);
    });

    it("an apply refuses each before it connects: no connection, no command", async () => {
      for (const [value, reason] of REFUSED) {
        await assert.rejects(
          applyHostTuning(connection(), { settings: { "hugetlbfs:2M": value, "sysctl:vm.swappiness": "10" }, tag: "hv01", allowManagementInterface: false, originals: {}, previousKeys: [] }),
          (err: Error) => {
            assert.equal(err.name, "InputError");
            assert.equal(err.message, `invalid settings:\n  - settings["hugetlbfs:2M"]: ${message(value, reason)}`);
            return true;
          },
        );
      }
      assert.equal(accepted, 0, "the stand-in host saw no connection");
      assert.deepEqual(transportCounts(target()), { connections: 0, commands: 0 });
    });

    it("(control) an accepted mount point does go to the host, so the stand-in would have seen a refused one", async () => {
      await assert.rejects(applyHostTuning(connection(), { settings: { "hugetlbfs:2M": "/mnt/huge" }, tag: "hv01", allowManagementInterface: false, originals: {}, previousKeys: [], timeoutMs: 10_000 }), (err: Error) => err.name !== "InputError");
      assert.ok(accepted > 0, "the stand-in host saw the connection (the SSH client may retry)");
    });
  });
});
