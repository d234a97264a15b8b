const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/**
 * Removes secrets from text bound for errors or logs: every known secret
 * string, and any private-key block whatever its origin.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(PEM_BLOCK, "[redacted private key]");
  // Longest first so a secret that contains another is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length < 4) continue;
    out = out.split(secret).join("[redacted]");
    // A multi-line secret may also appear line by line.
    for (const line of secret.split(/\r?\n/)) if (line.trim().length >= 16) out = out.split(line).join("[redacted]");
  }
  return out;
}
