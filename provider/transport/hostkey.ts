import { createHash, createHmac } from "node:crypto";
import { isIP } from "node:net";

/** A public host key as it appears in known_hosts / authorized_keys: `type base64`. */
export interface PublicHostKey {
  type: string;
  blob: Buffer;
}

/** What the caller pinned: exact keys (any of which may match) or fingerprints. */
export interface HostKeyPin {
  keys: PublicHostKey[];
  fingerprints: string[];
  /** Keys marked `@revoked` in known_hosts: a match is always refused. */
  revoked: PublicHostKey[];
}

const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-dss",
]);

/** Server host-key algorithms that present a key of the given type (so the server shows the pinned one). */
const ALGORITHMS_FOR_TYPE: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-dss": ["ssh-dss"],
};

/** OpenSSH-style fingerprint: `SHA256:` + unpadded base64 of the key blob's SHA-256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named inside an SSH wire-format key blob (first length-prefixed string). */
export function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** Parses `type base64 [comment]`; the type inside the blob must agree with the stated type. */
export function parsePublicKeyLine(text: string): PublicHostKey | undefined {
  const parts = text.trim().split(/\s+/);
  if (parts.length < 2 || !KEY_TYPES.has(parts[0]) || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) return undefined;
  const blob = Buffer.from(parts[1], "base64");
  if (blobType(blob) !== parts[0]) return undefined;
  return { type: parts[0], blob };
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * Parses a `hostKey` value: a public key line (as `@pulumi/command` takes it)
 * or an OpenSSH SHA256 fingerprint. Returns undefined when it is neither.
 */
export function parseHostKey(text: string): HostKeyPin | undefined {
  const trimmed = text.trim();
  if (FINGERPRINT.test(trimmed)) return { keys: [], fingerprints: [trimmed], revoked: [] };
  const key = parsePublicKeyLine(trimmed);
  return key ? { keys: [key], fingerprints: [], revoked: [] } : undefined;
}

/** The name known_hosts uses for a host: `host` on port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

function hashedMatches(entry: string, name: string): boolean {
  const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(entry);
  if (!m) return false;
  const mac = createHmac("sha1", Buffer.from(m[1], "base64")).update(name).digest("base64");
  return mac === m[2];
}

/** known_hosts host-pattern list semantics: any positive match and no negated match. */
function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) return hashedMatches(patterns, name);
  let matched = false;
  for (const raw of patterns.split(",")) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (globToRegExp(pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export interface KnownHostsProblem {
  line: number;
  reason: string;
}

/** Syntax check of known_hosts text; returns one problem per unusable line. */
export function checkKnownHosts(text: string): KnownHostsProblem[] {
  const problems: KnownHostsProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
    if (marker !== undefined && marker !== "@revoked" && marker !== "@cert-authority") {
      problems.push({ line: i + 1, reason: `unknown marker ${marker}` });
      return;
    }
    if (fields.length < 3 || !parsePublicKeyLine(`${fields[1]} ${fields[2]}`)) {
      problems.push({ line: i + 1, reason: "expected `hosts keytype base64-key`" });
    }
  });
  return problems;
}

/** Keys that known_hosts text lists for host:port (certificate authorities are not supported and ignored). */
export function pinFromKnownHosts(text: string, host: string, port: number): HostKeyPin {
  const names = [knownHostsName(host, port)];
  // OpenSSH also looks the bare address up for port 22 only; IPs are compared literally.
  if (isIP(host) === 6 && port === 22) names.push(`[${host}]:22`);
  const pin: HostKeyPin = { keys: [], fingerprints: [], revoked: [] };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
    if (fields.length < 3 || marker === "@cert-authority") continue;
    if (!names.some((n) => patternsMatch(fields[0], n))) continue;
    const key = parsePublicKeyLine(`${fields[1]} ${fields[2]}`);
    if (!key) continue;
    (marker === "@revoked" ? pin.revoked : pin.keys).push(key);
  }
  return pin;
}

export function mergePins(a: HostKeyPin | undefined, b: HostKeyPin | undefined): HostKeyPin | undefined {
  if (!a) return b;
  if (!b) return a;
  return { keys: [...a.keys, ...b.keys], fingerprints: [...a.fingerprints, ...b.fingerprints], revoked: [...a.revoked, ...b.revoked] };
}

export function pinIsEmpty(pin: HostKeyPin | undefined): boolean {
  return !pin || (pin.keys.length === 0 && pin.fingerprints.length === 0);
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: "revoked" | "mismatch" };

export function verifyHostKey(pin: HostKeyPin, presented: Buffer): HostKeyVerdict {
  if (pin.revoked.some((k) => k.blob.equals(presented))) return { ok: false, reason: "revoked" };
  if (pin.keys.some((k) => k.blob.equals(presented))) return { ok: true };
  if (pin.fingerprints.includes(fingerprint(presented))) return { ok: true };
  return { ok: false, reason: "mismatch" };
}

/** Host-key algorithms to offer so the server presents a pinned key type; undefined = library default. */
export function hostKeyAlgorithms(pin: HostKeyPin | undefined): string[] | undefined {
  if (!pin || pin.fingerprints.length > 0 || pin.keys.length === 0) return undefined;
  const algos: string[] = [];
  for (const key of pin.keys) {
    for (const algo of ALGORITHMS_FOR_TYPE[key.type] ?? []) if (!algos.includes(algo)) algos.push(algo);
  }
  return algos.length > 0 ? algos : undefined;
}

/** Fingerprints of what was pinned, for error messages. */
export function describePin(pin: HostKeyPin): string {
  const prints = [...pin.keys.map((k) => fingerprint(k.blob)), ...pin.fingerprints];
  return prints.join(" or ");
}

/** `type base64` line of a presented key, so a user can copy it into `hostKey`. */
export function publicKeyLine(blob: Buffer): string {
  return `${blobType(blob) ?? "unknown"} ${blob.toString("base64")}`;
}
