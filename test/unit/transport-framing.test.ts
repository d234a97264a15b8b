import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import { afterMarker, frameCommand, shQuote, sudoRefusal } from "../../provider/transport/framing";
import { redact } from "../../provider/transport/redact";

describe("command framing (pure, run through a local /bin/sh)", () => {
  it("quotes any text so sh gives it back unchanged", () => {
    for (const text of ["plain", "it's", "$(reboot)", "`id`", "a\nb", "'", "''\\'", "; rm -rf /"]) {
      assert.equal(execFileSync("/bin/sh", ["-c", `printf %s ${shQuote(text)}`]).toString(), text);
    }
  });

  it("separates login noise from the script's output", () => {
    const framed = frameCommand("echo out; echo err >&2; exit 4", false, "n1");
    // A noisy login shell: prints on both streams before running the command.
    const r = spawnSync("/bin/sh", ["-c", `echo motd; echo rc-noise >&2; ${framed.command}`], { env: { ...process.env, SSH_CONNECTION: "10.0.0.1 5 10.0.0.2 22" } });
    assert.equal(r.status, 4);
    assert.equal(afterMarker(r.stdout.toString(), framed.marker), "out\n");
    assert.equal(afterMarker(r.stderr.toString(), framed.marker), "err\n");
    assert.equal(r.stdout.toString().startsWith(`motd\n${framed.marker}\n`), true);
  });

  it("passes SSH_CONNECTION on as KVMTUNE_SSH_CONNECTION", () => {
    const framed = frameCommand('printf %s "$KVMTUNE_SSH_CONNECTION"', false, "n2");
    const r = spawnSync("/bin/sh", ["-c", framed.command], { env: { PATH: process.env.PATH, SSH_CONNECTION: "10.0.0.1 5 10.0.0.2 22" } });
    assert.equal(afterMarker(r.stdout.toString(), framed.marker), "10.0.0.1 5 10.0.0.2 22");
  });

  it("runs every script with LC_ALL=C, whatever locale the login shell gives", () => {
    const framed = frameCommand('printf "%s|%s" "$LC_ALL" "$LANG"', false, "n4");
    const r = spawnSync("/bin/sh", ["-c", framed.command], { env: { PATH: process.env.PATH, LANG: "de_DE.UTF-8", LC_ALL: "de_DE.UTF-8", LANGUAGE: "de" } });
    assert.equal(afterMarker(r.stdout.toString(), framed.marker), "C|de_DE.UTF-8");
    assert.match(frameCommand("true", true, "n5").command, /exec sudo -n env LC_ALL=C KVMTUNE_SSH_CONNECTION=/);
  });

  it("finds the marker only at a line start", () => {
    assert.equal(afterMarker("x@@m\n@@m\nrest", "@@m"), "rest");
    assert.equal(afterMarker("no marker", "@@m"), undefined);
  });

  it("tags sudo refusals", () => {
    const framed = frameCommand("true", true, "n3");
    assert.match(framed.command, /sudo -n true/);
    assert.equal(sudoRefusal(`${framed.sudoMarker} sudo: a password is required\n`, framed.sudoMarker), "sudo: a password is required");
    assert.equal(sudoRefusal("sudo: a password is required\n", framed.sudoMarker), undefined);
  });
});

describe("redaction", () => {
  it("removes known secrets and any private key block", () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    assert.equal(redact(`failed: ${key} pw=hunter22`, ["hunter22"]), "failed: [redacted private key]\n pw=[redacted]");
    assert.equal(redact("line b3BlbnNzaC1rZXktdjEAAAAA leaked", [key]), "line [redacted] leaked");
    assert.equal(redact("short abc", ["abc"]), "short abc", "secrets under 4 chars would redact noise");
  });
});
