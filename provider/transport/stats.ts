/** Per-target counters of connections and remote commands, for benchmarks and the 1-connection/1-command rules. */
export interface TransportCounts {
  connections: number;
  commands: number;
}

const counts = new Map<string, TransportCounts>();

function entry(target: string): TransportCounts {
  let c = counts.get(target);
  if (!c) counts.set(target, (c = { connections: 0, commands: 0 }));
  return c;
}

export function recordConnection(target: string): void {
  entry(target).connections++;
}

export function recordCommand(target: string): void {
  entry(target).commands++;
}

/** A copy of the counters for `host:port` (zeros when never used). */
export function transportCounts(target: string): TransportCounts {
  return { ...entry(target) };
}

export function resetTransportCounts(): void {
  counts.clear();
}
