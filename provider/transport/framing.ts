import { randomBytes } from "node:crypto";

/** Single-quotes text for POSIX sh (the only quoting that needs no escaping inside). */
export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface FramedCommand {
  /** What goes to the SSH `exec` request. */
  command: string;
  /** Line that starts the script's own output on stdout and stderr. */
  marker: string;
  /** Prefix of the stderr line that reports a sudo refusal. */
  sudoMarker: string;
}

/**
 * Wraps a script so its output can be told apart from login noise.
 *
 * The login shell may print anything first (rc files, motd); we print a random
 * marker on both streams and keep only what follows it. Under sudo, `sudo -n true`
 * is tried first so a password prompt becomes a tagged, immediate failure.
 * `$SSH_CONNECTION` is passed on as KVMTUNE_SSH_CONNECTION because sudo drops it.
 * Every script runs with LC_ALL=C, whatever locale the login gives.
 */
export function frameCommand(script: string, sudo: boolean, nonce = randomBytes(12).toString("hex")): FramedCommand {
  const marker = `@@kvmtune-begin-${nonce}`;
  const sudoMarker = `@@kvmtune-sudo-${nonce}`;
  // LC_ALL=C for every script: kvmtune parses tools' words ("shut off", "Autostart:"), which a login locale translates.
  const run = sudo
    ? `err=$(sudo -n true 2>&1) || { printf '%s %s\\n' ${shQuote(sudoMarker)} "$err" >&2; exit 126; }; exec sudo -n env LC_ALL=C KVMTUNE_SSH_CONNECTION="$SSH_CONNECTION" /bin/sh -c ${shQuote(script)}`
    : `LC_ALL=C KVMTUNE_SSH_CONNECTION="$SSH_CONNECTION"; export LC_ALL KVMTUNE_SSH_CONNECTION; exec /bin/sh -c ${shQuote(script)}`;
  const inner = `printf '%s\\n' ${shQuote(marker)}; printf '%s\\n' ${shQuote(marker)} >&2; ${run}`;
  return { command: `exec /bin/sh -c ${shQuote(inner)}`, marker, sudoMarker };
}

/** Everything after the first marker line; undefined when the marker never came (the wrapper did not run). */
export function afterMarker(output: string, marker: string): string | undefined {
  const line = `${marker}\n`;
  const at = output.startsWith(line) ? 0 : output.indexOf(`\n${line}`);
  if (at < 0) return undefined;
  return output.slice(at === 0 ? line.length : at + 1 + line.length);
}

/** The sudo refusal text, if the wrapper reported one. */
export function sudoRefusal(stderr: string, sudoMarker: string): string | undefined {
  const at = stderr.indexOf(`${sudoMarker} `);
  if (at < 0) return undefined;
  return stderr.slice(at + sudoMarker.length + 1).split("\n")[0].trim();
}
