// QEMU's human monitor (HMP) over a unix socket: one command per connection,
// for tests that steer the emulated hardware (e.g. blkdebug breakpoints).
import * as net from "node:net";

const PROMPT = "(qemu) ";

/** Removes the terminal escapes HMP's line editor sends with every echoed key. */
function plain(text: string): string {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, "");
}

/**
 * Sends one HMP command and returns what QEMU printed for it (without the
 * echoed command line and the next prompt), e.g. "" for a successful
 * `qemu-io d1 "break read_aio A"`. Rejects after `timeoutMs`.
 */
export function hmpCommand(socketPath: string, command: string, timeoutMs = 10_000): Promise<string> {
  if (/[\r\n]/.test(command)) return Promise.reject(new Error(`hmp: one line only: ${JSON.stringify(command)}`));
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buf = "";
    let sent = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`hmp ${JSON.stringify(command)} on ${socketPath}: no prompt within ${timeoutMs} ms; got ${JSON.stringify(plain(buf))}`));
    }, timeoutMs);
    sock.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      if (!sent) {
        // The greeting ends with the first prompt.
        if (!buf.includes(PROMPT)) return;
        sent = true;
        buf = "";
        sock.write(`${command}\n`);
        return;
      }
      if (!buf.endsWith(PROMPT)) return;
      clearTimeout(timer);
      sock.end();
      const lines = plain(buf).split("\n");
      resolve(lines.slice(1, -1).join("\n"));
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`hmp ${JSON.stringify(command)} on ${socketPath}: ${e.message}`));
    });
  });
}
