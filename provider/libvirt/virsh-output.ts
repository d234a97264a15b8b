/**
 * Parsing what the virsh scripts print. Each step is one line
 * `<key> <exit code> <base64 stdout> <base64 stderr>` (stdout only for reads),
 * so no virsh output, whatever it contains, can be taken for another step's.
 */
import type { IothreadPin, VcpuPin } from "./types";
import { isCpuset } from "./values";

/** One virsh call's result. */
export interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode(field: string | undefined, line: string): string {
  if (field === undefined || field === "") return "";
  if (!B64.test(field)) throw new Error(`unexpected virsh script output: ${JSON.stringify(line.slice(0, 120))}`);
  return Buffer.from(field, "base64").toString("utf8");
}

/** Step results by key, in the order printed. Lines that are not records are an error. */
export function parseSteps(stdout: string, withStdout: boolean): Map<string, StepResult> {
  const out = new Map<string, StepResult>();
  for (const line of stdout.split("\n")) {
    if (line === "") continue;
    const f = line.split(" ");
    if (f.length !== (withStdout ? 4 : 3) || !/^[a-z][a-z0-9:-]*$/.test(f[0]) || !/^\d+$/.test(f[1])) {
      throw new Error(`unexpected virsh script output: ${JSON.stringify(line.slice(0, 120))}`);
    }
    out.set(f[0], {
      code: Number(f[1]),
      stdout: withStdout ? decode(f[2], line) : "",
      stderr: decode(withStdout ? f[3] : f[2], line),
    });
  }
  return out;
}

/** virsh's error text on one line: "error: A\nerror: B" -> "A: B". */
export function virshError(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.replace(/^error:\s*/, "").trim()).filter(Boolean);
  return lines.join(": ") || "(no message)";
}

function cpusetOf(text: string, what: string): string {
  if (!isCpuset(text)) throw new Error(`unexpected ${what} output: ${JSON.stringify(text)}`);
  return text;
}

/** `virsh -q vcpupin DOM` / `iothreadinfo DOM`: " 0   0-1" rows -> id and cpuset. */
export function parsePinRows(text: string, what: string): { id: number; cpuset: string }[] {
  const rows: { id: number; cpuset: string }[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(line);
    if (!m) throw new Error(`unexpected ${what} output: ${JSON.stringify(line)}`);
    rows.push({ id: Number(m[1]), cpuset: cpusetOf(m[2], what) });
  }
  return rows;
}

/** `virsh -q emulatorpin DOM`: "0-1" (older virsh: "*: 0-1"). */
export function parseEmulatorPin(text: string): string {
  const m = /^\s*(?:\*:\s*)?(\S+)\s*$/.exec(text.trim());
  if (!m) throw new Error(`unexpected emulatorpin output: ${JSON.stringify(text)}`);
  return cpusetOf(m[1], "emulatorpin");
}

/** `virsh nodecpumap --pretty`: the "CPU map:" line, e.g. "0-1". */
export function parseNodeCpuMap(text: string): string {
  const m = /^CPU map:\s*(\S+)\s*$/m.exec(text);
  if (!m) throw new Error(`unexpected nodecpumap output: ${JSON.stringify(text)}`);
  return cpusetOf(m[1], "nodecpumap");
}

/** `virsh dominfo DOM`: the Autostart line. */
export function parseAutostart(text: string): boolean | null {
  const m = /^Autostart:\s*(\S+)/m.exec(text);
  return m ? m[1] === "enable" : null;
}

/** Pinning of a running domain as libvirt reports it (every vCPU and iothread, pinned or not). */
export interface LivePins {
  vcpupin: VcpuPin[];
  emulatorpin: string;
  iothreadpin: IothreadPin[];
}

export function parseLivePins(vcpupin: string, emulatorpin: string, iothreads: string): LivePins {
  return {
    vcpupin: parsePinRows(vcpupin, "vcpupin").map((r) => ({ vcpu: r.id, cpuset: r.cpuset })),
    emulatorpin: parseEmulatorPin(emulatorpin),
    iothreadpin: parsePinRows(iothreads, "iothreadinfo").map((r) => ({ iothread: r.id, cpuset: r.cpuset })),
  };
}
