// The whole Debian test host fails fast on a console that shows a boot going nowhere.
import { strict as assert } from "node:assert";
import { consoleBootFailure } from "../support/debian-host";
import { debianMirror } from "../support/debian-image";

describe("Debian test host: console checks", function () {
  it("names a panic, GRUB's rescue shell or a missing root, and nothing on a healthy boot", function () {
    const healthy = "[    0.000000] Linux version 6.1.0\n[  OK  ] Started ssh.service - OpenBSD Secure Shell server.\n";
    assert.equal(consoleBootFailure(healthy), undefined);
    assert.equal(consoleBootFailure(`${healthy}[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n`), "the console shows: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)");
    assert.equal(consoleBootFailure("error: no such device: 72bf6b6b.\ngrub rescue> "), "the console shows: grub rescue>");
    assert.equal(consoleBootFailure("You are in emergency mode. After logging in, type \"journalctl -xb\"\n"), "the console shows: You are in emergency mode. After logging in, type \"journalctl -xb\"");
  });

  it("only reads the console after `from`, so a reboot is not failed by an earlier boot's lines", function () {
    const earlier = "Kernel panic - not syncing: test\n";
    assert.equal(consoleBootFailure(`${earlier}[  OK  ] Reached target multi-user.target\n`, earlier.length), undefined);
  });

  it("finds the Debian archive apt already uses", function () {
    assert.match(debianMirror(), /^https?:\/\/\S+$/);
  });
});
