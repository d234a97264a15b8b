// Pulumi entry point of the top-level Pulumi.yaml: tunes the host named in stack config.
//   pulumi config set host hv01.example.net
//   pulumi config set --secret privateKey "$(cat ~/.ssh/id_ed25519)"
//   pulumi config set hostKey "$(ssh-keyscan -t ed25519 hv01.example.net 2>/dev/null | cut -d' ' -f2-)"
//   pulumi config set disk nvme0n1        # the data disk to tune (default vdb)
//   pulumi config set guestBridge br0     # optional: a vhost NIC for the guest on this bridge
//   pulumi config set guestDataDisk /dev/disk/by-id/wwn-...   # optional: a whole disk for the guest
//   pulumi up
import * as pulumi from "@pulumi/pulumi";
import { quickstartProgram } from "./program";

const config = new pulumi.Config();
const host = config.get("host");
if (!host) {
  throw new Error("set stack config `host` (and `privateKey` as a secret, `hostKey`), or run `npm run demo` to try kvmtune on a throwaway sandbox host");
}

const outputs = quickstartProgram({
  connection: {
    host,
    port: config.getNumber("port") ?? 22,
    user: config.get("user") ?? "root",
    privateKey: config.requireSecret("privateKey"),
    hostKey: config.require("hostKey"),
  },
  disk: config.get("disk") ?? "vdb",
  placementSvgPath: "web1-placement.svg",
  guestBridge: config.get("guestBridge"),
  guestDataDisk: config.get("guestDataDisk"),
});

export const facts = outputs.host;
export const settings = outputs.settings;
export const pendingReboot = outputs.pendingReboot;
export const notes = outputs.notes;
export const guestPins = outputs.guestPins;
