// A tracked socat from 127.0.0.1:<free port> on this machine to a unix socket:
// how a test reaches an sshd inside its own network namespace without adding
// any interface, address or route to this machine's network.
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { pdeathsigPrefix, stopProcess, track } from "./processes";
import { freePort } from "./ssh-client";

const PORT_ATTEMPTS = 3;

export interface SocatBridge {
  port: number;
  child: ChildProcess;
}

/** TCP_NODELAY on the listening side too (`nodelay`): Nagle would hold each command's output back. */
export async function startSocatBridge(socketPath: string, label: string): Promise<SocatBridge> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      pdeathsigPrefix[0],
      [...pdeathsigPrefix.slice(1), "/usr/bin/socat", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,nodelay`, `UNIX-CONNECT:${socketPath}`],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    track(child, `${label} ssh bridge :${port}`);
    let err = "";
    child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
    const bound = await waitListening(child, port, 5000);
    if (bound === true) return { port, child };
    await stopProcess(child, 500);
    // another process may have taken the port since freePort()
    if (attempt < PORT_ATTEMPTS && /Address already in use/.test(err + bound)) continue;
    throw new Error(`${label}: socat bridge on 127.0.0.1:${port} failed: ${bound} ${err}`);
  }
}

/** Resolves true once the port is in LISTEN state in /proc/net/tcp, or a reason when socat exited. */
function waitListening(child: ChildProcess, port: number, timeoutMs: number): Promise<true | string> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const until = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const tick = () => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(`socat exited (${child.exitCode ?? child.signalCode})`);
      let listening = false;
      try {
        listening = fs.readFileSync("/proc/net/tcp", "utf8").split("\n")
          .some((l) => { const f = l.trim().split(/\s+/); return f[1] === local && f[3] === "0A"; });
      } catch {
        // keep polling
      }
      if (listening) return resolve(true);
      if (Date.now() > until) return resolve(`socat did not listen within ${timeoutMs} ms`);
      setTimeout(tick, 20);
    };
    tick();
  });
}
