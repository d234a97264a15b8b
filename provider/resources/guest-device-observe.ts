/**
 * Refresh: the inputs as the host has them. Only values that differ from the
 * planned device are replaced, so a refresh diff names exactly the setting
 * someone changed by hand (e.g. `interface.queues: 2 => 4`).
 */
import type { BlockDiskPart, DevicePart } from "../libvirt/device-xml";
import type { InterfacePart } from "../libvirt/types";
import type { GuestDeviceInputs } from "../spec/guest-device";

type Props = GuestDeviceInputs & { device: DevicePart };

function setOrDrop<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | null | undefined): void {
  if (v === null || v === undefined) delete o[k];
  else o[k] = v;
}

function sourceName(p: InterfacePart): string | undefined {
  const s = p.source;
  if (!s) return undefined;
  return s.pciAddress ?? s.attributes.bridge ?? s.attributes.network ?? s.attributes.dev;
}

export function observedInputs(props: Props, actual: DevicePart): GuestDeviceInputs {
  const out: GuestDeviceInputs = {
    connection: props.connection, domain: props.domain,
    ...(props.live !== undefined ? { live: props.live } : {}),
    ...(props.hostProblems !== undefined ? { hostProblems: props.hostProblems } : {}),
  };
  const planned = props.device;
  if (props.interface && actual.kind === "interface" && planned.kind === "interface") {
    const i = { ...props.interface };
    const p = planned.part;
    const a = actual.part;
    if (a.type !== p.type && a.type) i.type = a.type as typeof i.type;
    if (sourceName(a) !== sourceName(p)) i.source = sourceName(a) ?? "";
    for (const [field, k] of [["queues", "queues"], ["rxQueueSize", "rx_queue_size"], ["txQueueSize", "tx_queue_size"]] as const) {
      // libvirt drops queues='1', its default.
      const have = a.driver?.[k] ?? (k === "queues" && a.driver?.name === "vhost" ? 1 : null);
      if (have !== (p.driver?.[k] ?? null)) setOrDrop(i, field, have);
    }
    if ((a.mtu ?? null) !== (p.mtu ?? null)) setOrDrop(i, "mtu", a.mtu);
    if ((a.vlan ?? null) !== (p.vlan ?? null)) setOrDrop(i, "vlan", a.vlan);
    out.interface = i;
  } else if (props.disk && actual.kind === "disk" && planned.kind === "disk") {
    const d = { ...props.disk };
    const p: Partial<BlockDiskPart> = planned.part;
    const a: Partial<BlockDiskPart> = actual.part;
    if (a.source !== p.source) d.path = a.source ?? "";
    for (const k of ["device", "bus", "cache", "io"] as const) {
      if (a[k] !== p[k]) (d as Record<string, unknown>)[k] = a[k];
    }
    out.disk = d;
  } else if (props.hostdev && actual.kind === "hostdev" && planned.kind === "hostdev") {
    const h = { ...props.hostdev };
    if ((actual.part.managed ?? false) !== (planned.part.managed ?? false)) h.managed = actual.part.managed ?? false;
    out.hostdev = h;
  }
  return out;
}
