// The suite's own SSH identities, made once and cached: a client key every test
// host authorises, a host key the VMs are built with (so it can be pinned), and
// the password of the VM's unprivileged user.
import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { testbedCacheDir } from "./cache";
import { run } from "./preflight";
import { fingerprint as blobFingerprint } from "../../provider/transport/hostkey";

export interface SuiteKeys {
  dir: string;
  clientKeyPath: string;
  /** OpenSSH private key text of the suite client key. */
  clientPrivateKey: string;
  /** "ssh-ed25519 AAAA..." (no comment). */
  clientPublicKey: string;
  hostKeyPath: string;
  /** "ssh-ed25519 AAAA..." (no comment). */
  hostPublicKey: string;
  hostKeyFingerprint: string;
  kvmtPassword: string;
}

let cached: SuiteKeys | undefined;

export function suiteKeys(): SuiteKeys {
  if (cached) return cached;
  const dir = path.join(testbedCacheDir(), "keys");
  if (!fs.existsSync(path.join(dir, "kvmt-password"))) generate(dir);
  const clientKeyPath = path.join(dir, "client_ed25519");
  const hostKeyPath = path.join(dir, "host_ed25519");
  const hostPublicKey = publicLine(hostKeyPath + ".pub");
  cached = {
    dir,
    clientKeyPath,
    clientPrivateKey: fs.readFileSync(clientKeyPath, "utf8"),
    clientPublicKey: publicLine(clientKeyPath + ".pub"),
    hostKeyPath,
    hostPublicKey,
    hostKeyFingerprint: fingerprint(hostPublicKey),
    kvmtPassword: fs.readFileSync(path.join(dir, "kvmt-password"), "utf8").trim(),
  };
  return cached;
}

/** OpenSSH's "SHA256:..." fingerprint of a "type base64" public key line. */
export function fingerprint(publicKeyLine: string): string {
  return blobFingerprint(Buffer.from(publicKeyLine.trim().split(/\s+/)[1], "base64"));
}

/** Makes a fresh ed25519 keypair at `file` / `file.pub` and returns the public line. */
export function makeKey(file: string, comment: string): string {
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  return publicLine(file + ".pub");
}

function publicLine(pubFile: string): string {
  return fs.readFileSync(pubFile, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

// Made in a temp dir and renamed into place, so two concurrent runs cannot
// end up with half of one set and half of another.
function generate(dir: string): void {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = fs.mkdtempSync(dir + ".tmp-");
  makeKey(path.join(tmp, "client_ed25519"), "kvmtune-testbed-client");
  makeKey(path.join(tmp, "host_ed25519"), "kvmtune-testbed-host");
  fs.writeFileSync(path.join(tmp, "kvmt-password"), crypto.randomBytes(15).toString("base64url") + "\n", {
    mode: 0o600,
  });
  try {
    fs.renameSync(tmp, dir); // fails if another run got there first: use theirs
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, "kvmt-password"))) throw new Error(`${dir} is incomplete; delete it: ${e}`);
  }
}
