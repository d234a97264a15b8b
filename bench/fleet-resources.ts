// What the machine went through during bench:fleet: memory in use (MemTotal -
// MemAvailable) and the 1-minute load, sampled twice a second, peak per phase.
import * as fs from "node:fs";

export interface PhaseResources {
  peakUsedMiB: number;
  peakLoad1: number;
  samples: number;
}

export interface ResourceSampler {
  /** Later samples count towards this phase (e.g. "N=20"). */
  phase(name: string): void;
  stop(): void;
  report(): { baselineUsedMiB: number; phases: Record<string, PhaseResources> };
  summary(): string;
}

function usedMiB(): number {
  const info = fs.readFileSync("/proc/meminfo", "utf8");
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  return (kib("MemTotal") - kib("MemAvailable")) / 1024;
}

const load1 = () => Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

export function startResourceSampler(intervalMs = 500): ResourceSampler {
  const baselineUsedMiB = usedMiB();
  const phases: Record<string, PhaseResources> = {};
  let current = "start";
  const tick = () => {
    const p = (phases[current] ??= { peakUsedMiB: 0, peakLoad1: 0, samples: 0 });
    p.peakUsedMiB = Math.max(p.peakUsedMiB, Math.round(usedMiB()));
    p.peakLoad1 = Math.max(p.peakLoad1, load1());
    p.samples++;
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    phase(name) {
      current = name;
    },
    stop() {
      clearInterval(timer);
    },
    report: () => ({ baselineUsedMiB: Math.round(baselineUsedMiB), phases }),
    summary: () =>
      `memory in use before ${Math.round(baselineUsedMiB)} MiB; ` +
      Object.entries(phases).map(([k, p]) => `${k}: peak ${p.peakUsedMiB} MiB in use, peak load ${p.peakLoad1.toFixed(2)}`).join("; "),
  };
}
