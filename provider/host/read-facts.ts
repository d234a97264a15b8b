/** Reads a host's facts over an open session: one remote command. */
import { withSession } from "../transport/session-pool";
import type { RemoteSession } from "../transport/types";
import { FACTS_SCRIPT } from "./facts-script";
import { parseHostFacts, type HostFacts } from "./facts";

/** Last lines of stderr for error messages (the start is usually login noise). */
function tail(text: string, maxLines = 5, maxChars = 800): string {
  const lines = text.trimEnd().split("\n");
  const t = lines.slice(-maxLines).join("\n");
  return t.length > maxChars ? `…${t.slice(-maxChars)}` : t;
}

/** Runs FACTS_SCRIPT once on `session` and parses its output; errors name `session.target`. */
export async function readHostFactsWith(session: RemoteSession): Promise<HostFacts> {
  const result = await session.run(FACTS_SCRIPT);
  const stderr = tail(result.stderr);
  const detail = stderr === "" ? "no stderr" : `stderr: ${stderr}`;
  if (result.code !== 0) {
    throw new Error(`reading host facts on ${session.target} failed with exit code ${result.code} (${detail})`);
  }
  try {
    return parseHostFacts(result.stdout);
  } catch (err) {
    throw new Error(`reading host facts on ${session.target}: ${(err as Error).message} (${detail})`);
  }
}

/** Opens one connection, reads the facts in one command, closes. */
export async function readHostFacts(connection: unknown): Promise<HostFacts> {
  return withSession(connection, readHostFactsWith);
}
