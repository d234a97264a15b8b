// A libvirt domain in the test bed that boots a real Linux kernel: the suite's
// own test image (Debian's cloud kernel + busybox initramfs) as direct kernel
// boot, its console in a file, and spare PCIe root ports for hot-plug. Unlike
// an OS-less domain, its kernel acknowledges PCIe hot-plug and unplug, so a
// live detach really completes.
import * as fs from "node:fs";
import * as path from "node:path";
import { buildImage } from "./build-image";
import type { Libvirtd } from "./libvirtd";
import { tinyDomainXml, type TinyDomainOptions } from "./libvirtd-domain";

const BOOTED = "kvmtune-init: sshd started";

/** Copies the test image into the bed's image dir (once per bed) and returns the domain XML. */
export function bootingGuestXml(lv: Libvirtd, o: TinyDomainOptions & { rootPorts?: number }): string {
  const img = buildImage();
  for (const [from, to] of [[img.kernelPath, "vmlinuz"], [img.initrdPath, "initrd.gz"]]) {
    const dest = path.join(lv.imagesDir, to);
    if (!fs.existsSync(dest)) fs.copyFileSync(from, dest);
  }
  const dir = lv.imagesPath;
  const console = `${dir}/${o.name}.console.log`;
  const ports = Array.from({ length: o.rootPorts ?? 4 }, (_, i) => `<controller type='pci' index='${i + 1}' model='pcie-root-port'/>`).join("");
  return tinyDomainXml({ memoryMiB: 128, ...o })
    .replace(/<boot dev=["']hd["']\/>/, `<kernel>${dir}/vmlinuz</kernel><initrd>${dir}/initrd.gz</initrd><cmdline>console=ttyS0 panic=-1</cmdline>`)
    .replace(/<serial type=["']pty["']>/, `<serial type='file'><source path='${console}'/>`)
    .replace(/<console type=["']pty["']>/, `<console type='file'><source path='${console}'/>`)
    .replace("</devices>", `${ports}</devices>`);
}

/** The guest's console so far (truncated at each start). */
export function guestConsole(lv: Libvirtd, name: string): string {
  const file = path.join(lv.imagesDir, `${name}.console.log`);
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
}

/** Waits until the guest's init has run (its kernel then handles hot-plug). */
export async function waitForGuestBoot(lv: Libvirtd, name: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!guestConsole(lv, name).includes(BOOTED)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`guest ${name} did not boot in ${timeoutMs} ms; console:\n${guestConsole(lv, name).slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
