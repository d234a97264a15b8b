import { strict as assert } from "node:assert";
import { utils } from "ssh2";
import { parseConnection } from "../../provider/spec/connection";
import { InputError } from "../../provider/spec/issues";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";
const PRIVATE_KEY = utils.generateKeyPairSync("ed25519").private;

function problems(input: unknown): string[] {
  try {
    parseConnection(input);
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return err.problems;
  }
  assert.fail("expected an InputError");
}

describe("parseConnection", () => {
  it("fills defaults: port 22, root, no sudo for root, sudo otherwise", () => {
    const spec = parseConnection({ host: "hv01.lab", privateKey: PRIVATE_KEY, hostKey: HOST_KEY });
    assert.equal(spec.port, 22);
    assert.equal(spec.user, "root");
    assert.equal(spec.sudo, false);
    assert.equal(spec.dialErrorLimit, 3);
    assert.equal(spec.perDialTimeout, 10);
    assert.equal(parseConnection({ host: "10.1.2.3", user: "ops", password: "pw12", hostKey: HOST_KEY }).sudo, true);
    assert.equal(parseConnection({ host: "fe80::1", user: "ops", sudo: false, password: "pw12", insecureIgnoreHostKey: true }).sudo, false);
  });

  it("rejects shell text in host and user, and bad ports, all at once", () => {
    assert.deepEqual(problems({ host: "h;reboot", port: 0, user: "a b", password: "pw12" }), [
      `connection.host: "h;reboot" is not accepted; expected a host name (letters, digits, '-', '.') or an IPv4/IPv6 address`,
      "connection.port: 0 is not accepted; expected an integer from 1 to 65535",
      `connection.user: "a b" is not accepted; expected a login name: a letter or '_' then letters, digits, '_', '.', '-' (at most 32)`,
    ]);
    assert.deepEqual(problems({ host: "$(id)", port: 65536, user: "`id`", password: "pw12" }).length, 3);
    assert.deepEqual(problems({ host: "h", port: 22.5, password: "pw12" }), ["connection.port: 22.5 is not accepted; expected an integer from 1 to 65535"]);
    assert.deepEqual(problems({ host: "has space", password: "pw12" })[0].startsWith(`connection.host: "has space"`), true);
  });

  it("rejects unknown fields and lists the accepted ones", () => {
    assert.deepEqual(problems({ host: "h", password: "pw12", hostkey: HOST_KEY }), [
      `connection: unknown field "hostkey"; accepted fields: host, port, user, password, privateKey, privateKeyPassword, agentSocketPath, dialErrorLimit, perDialTimeout, hostKey, knownHosts, insecureIgnoreHostKey, proxy, sudo`,
    ]);
  });

  it("rejects malformed keys without echoing the secret", () => {
    const secretish = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-really-a-key-but-secret\n-----END OPENSSH PRIVATE KEY-----";
    const found = problems({ host: "h", privateKey: secretish, hostKey: "ssh-ed25519 AAAA" });
    assert.deepEqual(found, [
      `connection.hostKey: "ssh-ed25519 AAAA" is not accepted; expected a public key line such as "ssh-ed25519 AAAA..." or a fingerprint "SHA256:..." (43 base64 characters)`,
      "connection.privateKey: not usable (value not shown: secret): not an OpenSSH or PEM private key",
    ]);
    assert.ok(!found.join("\n").includes("not-really-a-key"));
  });

  it("never echoes a secret given in the wrong field: a key in hostKey, a password in user, a connection where a string goes", () => {
    const password = "c0rrect#h0rse!";
    const all = [
      ...problems({ host: "hv01", password: "pw12", hostKey: PRIVATE_KEY }),
      ...problems({ host: "hv01", user: password, password: "pw12", hostKey: HOST_KEY }),
      ...problems({ host: { host: "hv01", password, privateKey: PRIVATE_KEY }, password: "pw12", hostKey: HOST_KEY }),
      ...problems({ host: "hv01", privateKey: PRIVATE_KEY, hostKey: HOST_KEY, proxy: { host: "bastion", user: `${password}x`, password: "pw12", hostKey: password } }),
    ];
    assert.deepEqual(all, [
      `connection.hostKey: a private key or other long secret-looking text (not shown) is not accepted; expected a public key line such as "ssh-ed25519 AAAA..." or a fingerprint "SHA256:..." (43 base64 characters)`,
      `connection.user: "[redacted]" is not accepted; expected a login name: a letter or '_' then letters, digits, '_', '.', '-' (at most 32)`,
      "connection.host: an object (not shown) is not accepted; expected a host name or IP address",
      `connection.proxy.user: "[redacted]" is not accepted; expected a login name: a letter or '_' then letters, digits, '_', '.', '-' (at most 32)`,
      `connection.proxy.hostKey: "[redacted]" is not accepted; expected a public key line such as "ssh-ed25519 AAAA..." or a fingerprint "SHA256:..." (43 base64 characters)`,
    ]);
    for (const line of all) assert.ok(!line.includes(password) && !line.includes(PRIVATE_KEY.split("\n")[1].slice(0, 20)), line);
  });

  it("says a public key was given where a private one belongs", () => {
    assert.deepEqual(problems({ host: "h", privateKey: HOST_KEY, hostKey: HOST_KEY }), ["connection.privateKey: not usable (value not shown: secret): this is a public key; give the private key"]);
  });

  it("wants credentials and a consistent host-key policy", () => {
    assert.deepEqual(problems({ host: "h" }), ["connection: no credentials; set privateKey, password or agentSocketPath"]);
    assert.deepEqual(problems({ host: "h", password: "pw12", hostKey: HOST_KEY, insecureIgnoreHostKey: true }), [
      "connection.insecureIgnoreHostKey: true contradicts the pinned hostKey; set one or the other",
    ]);
  });

  it("validates the bastion like the target", () => {
    assert.deepEqual(problems({ host: "h", password: "pw12", proxy: { host: "b|x", extra: 1 } }), [
      `connection.proxy.host: "b|x" is not accepted; expected a host name (letters, digits, '-', '.') or an IPv4/IPv6 address`,
      `connection.proxy: unknown field "extra"; accepted fields: host, port, user, password, privateKey, privateKeyPassword, agentSocketPath, dialErrorLimit, perDialTimeout, hostKey, knownHosts, insecureIgnoreHostKey`,
      "connection.proxy: no credentials; set privateKey, password or agentSocketPath",
    ]);
  });

  it("refuses unbounded retries", () => {
    assert.deepEqual(problems({ host: "h", password: "pw12", dialErrorLimit: -1 }), [
      "connection.dialErrorLimit: -1 is not accepted; expected an integer from 1 to 20 (unlimited retries are not offered: an unreachable host must fail in bounded time)",
    ]);
  });

  it("reports known_hosts lines it cannot use", () => {
    assert.deepEqual(problems({ host: "h", password: "pw12", knownHosts: `h ${HOST_KEY}\ngarbage` }), ["connection.knownHosts: line 2: expected `hosts keytype base64-key`"]);
  });

  it("rejects a non-object with a clear message", () => {
    assert.deepEqual(problems(null), ["connection: null is not accepted; expected an object with at least host and credentials"]);
  });
});
