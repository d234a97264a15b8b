import { isIP } from "node:net";
import { z } from "zod";
import { checkKnownHosts, parseHostKey } from "../transport/hostkey";
import { redact } from "../transport/redact";
import { expected, expectedSecret, formatIssues, InputError, showValue } from "./issues";

// RFC 1123 host names; IPs are checked with node's own parser.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
// POSIX-portable login names (what useradd accepts by default, plus a trailing $ for machine accounts).
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const SOCKET_PATH = /^\/[A-Za-z0-9_.\/@:+-]{1,254}$/;

/**
 * `expected` for connection fields, whose wrong values are often secrets put in the wrong place: objects (a whole
 * connection where a string goes) and private keys are described, never shown; other text is shown bounded.
 */
function expectedHere(accepted: string) {
  return (issue: { input?: unknown }) => `${describeInput(issue.input)} is not accepted; expected ${accepted}`;
}
function describeInput(v: unknown): string {
  if (typeof v === "string" && /PRIVATE KEY|^[A-Za-z0-9+/=\s-]{200,}$/.test(v)) return "a private key or other long secret-looking text (not shown)";
  if (typeof v === "object" && v !== null) return `${Array.isArray(v) ? "a list" : "an object"} (not shown)`;
  return showValue(v);
}

const host = z
  .string({ error: expectedHere("a host name or IP address") })
  .refine((h) => isIP(h) !== 0 || HOSTNAME.test(h), { error: expectedHere("a host name (letters, digits, '-', '.') or an IPv4/IPv6 address") });
const port = z.number({ error: expected("an integer from 1 to 65535") }).int({ error: expected("an integer from 1 to 65535") }).min(1, { error: expected("an integer from 1 to 65535") }).max(65535, { error: expected("an integer from 1 to 65535") });
const user = z.string({ error: expectedHere("a login name") }).regex(USER, { error: expectedHere("a login name: a letter or '_' then letters, digits, '_', '.', '-' (at most 32)") });
const secret = (what: string) => z.string({ error: expectedSecret(what) }).min(1, { error: expectedSecret(what) });
const hostKey = z
  .string({ error: expectedHere("a public key line such as \"ssh-ed25519 AAAA...\" or a fingerprint \"SHA256:...\"") })
  .refine((k) => parseHostKey(k) !== undefined, { error: expectedHere("a public key line such as \"ssh-ed25519 AAAA...\" or a fingerprint \"SHA256:...\" (43 base64 characters)") });
const knownHosts = z.string({ error: expectedHere("the text of a known_hosts file") }).superRefine((text, ctx) => {
  for (const p of checkKnownHosts(text)) ctx.addIssue({ code: "custom", message: `line ${p.line}: ${p.reason}` });
});
const agentSocketPath = z.string({ error: expected("an absolute socket path") }).regex(SOCKET_PATH, { error: expected("an absolute socket path") });
const dialErrorLimit = z.number({ error: expected("an integer from 1 to 20") }).int({ error: expected("an integer from 1 to 20") }).min(1, { error: expected("an integer from 1 to 20 (unlimited retries are not offered: an unreachable host must fail in bounded time)") }).max(20, { error: expected("an integer from 1 to 20") });
const perDialTimeout = z.number({ error: expected("seconds from 1 to 300") }).min(1, { error: expected("seconds from 1 to 300") }).max(300, { error: expected("seconds from 1 to 300") });

const endpointFields = {
  host,
  port: port.optional(),
  user: user.optional(),
  password: secret("a password").optional(),
  privateKey: secret("an OpenSSH or PEM private key").optional(),
  privateKeyPassword: secret("the private key's passphrase").optional(),
  agentSocketPath: agentSocketPath.optional(),
  dialErrorLimit: dialErrorLimit.optional(),
  perDialTimeout: perDialTimeout.optional(),
  hostKey: hostKey.optional(),
  knownHosts: knownHosts.optional(),
  insecureIgnoreHostKey: z.boolean({ error: expected("true or false") }).optional(),
};

const proxySchema = z.object(endpointFields, { error: expected("an object with at least host and credentials") }).strict();
const connectionSchema = z
  .object(
    {
      ...endpointFields,
      proxy: proxySchema.optional(),
      sudo: z.boolean({ error: expected("true or false") }).optional(),
    },
    { error: expected("an object with at least host and credentials") },
  )
  .strict();

export const CONNECTION_FIELDS = Object.keys(connectionSchema.shape);
export const PROXY_FIELDS = Object.keys(proxySchema.shape);

type RawEndpoint = z.infer<typeof proxySchema>;

/** A validated SSH endpoint with defaults filled in. */
export interface EndpointSpec {
  host: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  agentSocketPath?: string;
  dialErrorLimit: number;
  /** Seconds. */
  perDialTimeout: number;
  hostKey?: string;
  knownHosts?: string;
  insecureIgnoreHostKey: boolean;
}

/** The validated form of a kvmtune connection. */
export interface ConnectionSpec extends EndpointSpec {
  proxy?: EndpointSpec;
  /** Run scripts through `sudo -n` (default: when user is not root). */
  sudo: boolean;
}

function endpointProblems(e: RawEndpoint, where: string, parseKey: (key: string, pass?: string) => string | undefined): string[] {
  const problems: string[] = [];
  if (!e.privateKey && !e.password && !e.agentSocketPath) {
    problems.push(`${where}: no credentials; set privateKey, password or agentSocketPath`);
  }
  if (e.privateKey) {
    const err = parseKey(e.privateKey, e.privateKeyPassword);
    if (err) problems.push(`${where}.privateKey: not usable (value not shown: secret): ${err}`);
  }
  if (e.insecureIgnoreHostKey && (e.hostKey || e.knownHosts)) {
    problems.push(`${where}.insecureIgnoreHostKey: true contradicts the pinned ${e.hostKey ? "hostKey" : "knownHosts"}; set one or the other`);
  }
  return problems;
}

function withDefaults(e: RawEndpoint): EndpointSpec {
  return {
    ...e,
    port: e.port ?? 22,
    user: e.user ?? "root",
    dialErrorLimit: e.dialErrorLimit ?? 3,
    perDialTimeout: e.perDialTimeout ?? 10,
    insecureIgnoreHostKey: e.insecureIgnoreHostKey ?? false,
  };
}

/** Checks a private key with ssh2's parser; returns a reason without the key text, or undefined when usable. */
function checkPrivateKey(key: string, passphrase?: string): string | undefined {
  // Imported lazily: this module is also used by code paths that never open SSH.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { utils } = require("ssh2") as typeof import("ssh2");
  const parsed = utils.parseKey(key, passphrase);
  if (parsed instanceof Error) {
    if (/no passphrase given/i.test(parsed.message)) return "the key is encrypted; set privateKeyPassword";
    if (/bad passphrase|integrity check failed/i.test(parsed.message)) return "privateKeyPassword does not decrypt the key";
    return "not an OpenSSH or PEM private key";
  }
  const key0 = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key0 || !key0.isPrivateKey()) return "this is a public key; give the private key";
  return undefined;
}

/**
 * Validates a connection object before anything connects. Every problem is
 * reported at once; secret values are never echoed.
 */
export function parseConnection(input: unknown, root = "connection"): ConnectionSpec {
  const result = connectionSchema.safeParse(input);
  const problems = result.success
    ? []
    : formatIssues(root, result.error.issues, (path) => (path.length === 0 ? CONNECTION_FIELDS : path[0] === "proxy" ? PROXY_FIELDS : undefined));
  // Cross-field checks run even when some field failed, so one error lists everything.
  const raw = (result.success ? result.data : wellTyped(input)) as RawEndpoint & { proxy?: RawEndpoint };
  if (raw) {
    problems.push(...endpointProblems(raw, root, checkPrivateKey));
    if (raw.proxy && typeof raw.proxy === "object") problems.push(...endpointProblems(wellTyped(raw.proxy) ?? ({} as RawEndpoint), `${root}.proxy`, checkPrivateKey));
  }
  if (problems.length > 0 || !result.success) {
    // Secrets given in the wrong place (a key in hostKey, a password in user, a connection where a string goes) are not echoed.
    const secrets = secretsIn(input);
    throw new InputError(root, problems.map((p) => redact(p, secrets)));
  }
  const { proxy, sudo, ...endpoint } = result.data;
  const spec = withDefaults(endpoint);
  return { ...spec, proxy: proxy ? withDefaults(proxy) : undefined, sudo: sudo ?? spec.user !== "root" };
}

const SECRET_KEYS = new Set(["password", "privateKey", "privateKeyPassword"]);

/**
 * Every string an error about `input` must not show: credential fields at any depth (also inside an object given
 * where a string goes), and a `user` or `hostKey` that is not a login name or a public key (a pasted password or key).
 */
function secretsIn(input: unknown, depth = 0): string[] {
  if (typeof input !== "object" || input === null || depth > 4) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (typeof v === "string") {
      const pastedKey = k === "hostKey" && parseHostKey(v) === undefined && !/^(ssh-|ecdsa-|sk-|SHA256:)/.test(v);
      if (SECRET_KEYS.has(k) || (k === "user" && !USER.test(v)) || pastedKey) out.push(v);
    } else out.push(...secretsIn(v, depth + 1));
  }
  return out;
}

/** The credential fields of an unvalidated object that have the right type, for cross-field checks. */
function wellTyped(input: unknown): (RawEndpoint & { proxy?: RawEndpoint }) | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const o = input as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === "string" && (o[k] as string).length > 0 ? (o[k] as string) : undefined);
  return {
    host: String(o.host),
    privateKey: str("privateKey"),
    privateKeyPassword: str("privateKeyPassword"),
    password: str("password"),
    agentSocketPath: str("agentSocketPath"),
    hostKey: str("hostKey"),
    knownHosts: str("knownHosts"),
    insecureIgnoreHostKey: o.insecureIgnoreHostKey === true,
    proxy: o.proxy as RawEndpoint | undefined,
  };
}

/** Strings in a connection that must never reach logs, state or errors. */
export function connectionSecrets(spec: ConnectionSpec): string[] {
  const all = [spec.password, spec.privateKey, spec.privateKeyPassword, spec.proxy?.password, spec.proxy?.privateKey, spec.proxy?.privateKeyPassword];
  return all.filter((s): s is string => typeof s === "string" && s.length > 0);
}
