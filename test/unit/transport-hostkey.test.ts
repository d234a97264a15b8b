import { strict as assert } from "node:assert";
import {
  checkKnownHosts,
  fingerprint,
  hostKeyAlgorithms,
  knownHostsName,
  parseHostKey,
  parsePublicKeyLine,
  pinFromKnownHosts,
  verifyHostKey,
} from "../../provider/transport/hostkey";

// Real keys made with ssh-keygen; fingerprints as `ssh-keygen -lf` printed them.
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx root@vm";
const HOST_FP = "SHA256:FVPjTFXVvuWbbhuV+4d9SuFNhydwfFsjmDBMMei6kg4";
const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAeyFQ8hq+hnRrPxsb8ogGarcu5dYNquqjKdwIi1FhY1";
const OTHER_FP = "SHA256:Urp0hCRj9X7lhKO+1Kt/KZxc4TO3qQ4ozTcr73I4E/Y";
// `ssh-keygen -H` of "[127.0.0.1]:2299 <HOST_KEY>".
const HASHED = "|1|Skog29HHw4HeAnHUqgAGs+Urufk=|OrXzD1CgCJDZF+KsTaM4SM3+PXM= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";

const blob = (line: string) => parsePublicKeyLine(line)!.blob;

describe("host key pinning (pure)", () => {
  it("computes OpenSSH SHA256 fingerprints", () => {
    assert.equal(fingerprint(blob(HOST_KEY)), HOST_FP);
    assert.equal(fingerprint(blob(OTHER_KEY)), OTHER_FP);
  });

  it("rejects key lines whose blob disagrees with the stated type", () => {
    assert.equal(parsePublicKeyLine(HOST_KEY.replace("ssh-ed25519", "ssh-rsa")), undefined);
    assert.equal(parsePublicKeyLine("ssh-ed25519 AAAA"), undefined);
    assert.equal(parsePublicKeyLine("ssh-ed25519 $(reboot)"), undefined);
  });

  it("accepts a key line or a fingerprint as hostKey", () => {
    assert.deepEqual(parseHostKey(HOST_FP)!.fingerprints, [HOST_FP]);
    assert.equal(parseHostKey(HOST_KEY)!.keys[0].type, "ssh-ed25519");
    assert.equal(parseHostKey("SHA256:short"), undefined);
    assert.equal(parseHostKey("MD5:aa:bb"), undefined);
  });

  it("verifies presented keys against the pin", () => {
    assert.deepEqual(verifyHostKey(parseHostKey(HOST_KEY)!, blob(HOST_KEY)), { ok: true });
    assert.deepEqual(verifyHostKey(parseHostKey(HOST_FP)!, blob(HOST_KEY)), { ok: true });
    assert.deepEqual(verifyHostKey(parseHostKey(HOST_KEY)!, blob(OTHER_KEY)), { ok: false, reason: "mismatch" });
  });

  it("names hosts as known_hosts does", () => {
    assert.equal(knownHostsName("h1", 22), "h1");
    assert.equal(knownHostsName("127.0.0.1", 2222), "[127.0.0.1]:2222");
  });

  it("finds keys in known_hosts: plain, wildcard, negated, hashed, revoked", () => {
    const text = [
      "# comment",
      `h1,h2 ${OTHER_KEY}`,
      `*.lab,!bad.lab ${HOST_KEY}`,
      HASHED,
      `@revoked h9 ${HOST_KEY}`,
      `@cert-authority *.corp ${OTHER_KEY}`,
    ].join("\n");
    assert.deepEqual(pinFromKnownHosts(text, "h2", 22).keys.map((k) => fingerprint(k.blob)), [OTHER_FP]);
    assert.deepEqual(pinFromKnownHosts(text, "db.lab", 22).keys.map((k) => fingerprint(k.blob)), [HOST_FP]);
    assert.deepEqual(pinFromKnownHosts(text, "bad.lab", 22).keys, []);
    assert.deepEqual(pinFromKnownHosts(text, "h1", 2222).keys, [], "port 2222 needs [h1]:2222");
    assert.deepEqual(pinFromKnownHosts(text, "127.0.0.1", 2299).keys.map((k) => fingerprint(k.blob)), [HOST_FP]);
    assert.deepEqual(pinFromKnownHosts(text, "127.0.0.1", 2298).keys, []);
    const revoked = pinFromKnownHosts(text, "h9", 22);
    assert.equal(revoked.keys.length, 0);
    assert.deepEqual(verifyHostKey(revoked, blob(HOST_KEY)), { ok: false, reason: "revoked" });
    assert.deepEqual(pinFromKnownHosts(text, "x.corp", 22).keys, [], "CA lines are not host keys");
  });

  it("reports unusable known_hosts lines by number", () => {
    assert.deepEqual(checkKnownHosts(`# ok\n${HASHED}\nh1 ssh-ed25519\n@weird h ${HOST_KEY}`), [
      { line: 3, reason: "expected `hosts keytype base64-key`" },
      { line: 4, reason: "unknown marker @weird" },
    ]);
  });

  it("asks the server for the pinned key type", () => {
    assert.deepEqual(hostKeyAlgorithms(parseHostKey(HOST_KEY)), ["ssh-ed25519"]);
    assert.equal(hostKeyAlgorithms(parseHostKey(HOST_FP)), undefined);
    assert.equal(hostKeyAlgorithms(undefined), undefined);
  });
});
