import type * as pulumi from "@pulumi/pulumi";

/**
 * How kvmtune reaches a host over SSH. Field names match `@pulumi/command`'s
 * remote connection, so the object you already pass to `remote.Command` works.
 * Host keys are pinned: set `hostKey` or `knownHosts`, or explicitly opt out
 * with `insecureIgnoreHostKey: true`. Mark `privateKey`, `password` and
 * `privateKeyPassword` as secrets (`pulumi.secret` / `config.requireSecret`).
 */
export interface ConnectionArgs {
  /** Host name or IP address. Shell metacharacters are refused. */
  host: pulumi.Input<string>;
  /** SSH port, 1-65535. Default 22. */
  port?: pulumi.Input<number>;
  /** Login name. Default `root`. A non-root user runs everything through `sudo -n`. */
  user?: pulumi.Input<string>;
  /** Private key text (OpenSSH or PEM). Secret. */
  privateKey?: pulumi.Input<string>;
  /** Passphrase of an encrypted private key. Secret. */
  privateKeyPassword?: pulumi.Input<string>;
  /** Password login. Secret. */
  password?: pulumi.Input<string>;
  /** Use the SSH agent listening on this socket. */
  agentSocketPath?: pulumi.Input<string>;
  /** The pinned host key: `ssh-ed25519 AAAA...` (as in known_hosts) or an OpenSSH fingerprint `SHA256:...`. */
  hostKey?: pulumi.Input<string>;
  /** Text of a known_hosts file (plain or hashed entries; `@revoked` is honoured). */
  knownHosts?: pulumi.Input<string>;
  /** Skip host-key checking. Off by default; only for throwaway hosts. */
  insecureIgnoreHostKey?: pulumi.Input<boolean>;
  /** A bastion to connect through; its host key is pinned the same way. */
  proxy?: pulumi.Input<ProxyConnectionArgs>;
  /** Run through `sudo -n`. Default: when `user` is not root. A sudo that asks for a password is an error, never a prompt. */
  sudo?: pulumi.Input<boolean>;
  /** Connection attempts on network errors, 1-20. Default 3. */
  dialErrorLimit?: pulumi.Input<number>;
  /** Seconds per connection attempt, 1-300. Default 10. */
  perDialTimeout?: pulumi.Input<number>;
}

/** A bastion host: the same fields as ConnectionArgs, without a further proxy or sudo. */
export type ProxyConnectionArgs = Omit<ConnectionArgs, "proxy" | "sudo">;
