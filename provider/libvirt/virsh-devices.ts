/**
 * What a device preflight needs from libvirt beyond the domain itself: the
 * libvirt networks (an interface's `network` source must exist) and the block
 * sources every domain already uses (a disk given to two guests is refused).
 * One command; names come from virsh itself and stay quoted.
 */
import type { DomainDiskAttachment } from "../plan/passthrough-block";
import type { RemoteSession } from "../transport/types";

const SCRIPT = `set -u
v() { virsh -q -c qemu:///system "$@" </dev/null; }
nets=$(v net-list --all --name) || { echo 'kvmtune: virsh net-list failed' >&2; exit 3; }
doms=$(v list --all --name) || { echo 'kvmtune: virsh list failed' >&2; exit 3; }
printf '%s\\n' "$nets" | while IFS= read -r n; do [ -n "$n" ] && printf 'net\\t%s\\n' "$n"; done
printf '%s\\n' "$doms" | while IFS= read -r d; do
  [ -n "$d" ] || continue
  v domblklist --details -- "$d" | while read -r type device target source; do printf 'disk\\t%s\\t%s\\n' "$d" "$source"; done
done
echo end
`;

export interface LibvirtInventory {
  networks: string[];
  attachments: DomainDiskAttachment[];
}

/** Parses SCRIPT's output; a missing `end` line means the output was cut. */
export function parseInventory(stdout: string): LibvirtInventory {
  const out: LibvirtInventory = { networks: [], attachments: [] };
  const lines = stdout.split("\n");
  if (!lines.includes("end")) throw new Error("libvirt inventory output ended early");
  for (const line of lines) {
    const f = line.split("\t");
    if (f[0] === "net" && f.length === 2) out.networks.push(f[1]);
    else if (f[0] === "disk" && f.length === 3) out.attachments.push({ domain: f[1], source: f[2] });
  }
  return out;
}

/** Networks and every domain's disk sources on the host: one command. */
export async function readLibvirtInventory(session: RemoteSession): Promise<LibvirtInventory> {
  const r = await session.run(SCRIPT, { label: "read libvirt networks and disks" });
  if (r.code !== 0) throw new Error(`reading libvirt networks and disks on ${session.target} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return parseInventory(r.stdout);
}
