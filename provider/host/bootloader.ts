/**
 * Boot loader facts and the decision whether kvmtune can change the kernel
 * command line on a host. kvmtune writes a GRUB drop-in
 * (/etc/default/grub.d/kvmtune-<tag>.cfg) and regenerates grub.cfg; that only
 * reaches the booted kernel when GRUB builds its menu from /etc/default/grub.
 * Hosts that boot Boot Loader Specification entries (RHEL/Fedora family,
 * managed by grubby) keep the kernel options in the entries, so the drop-in
 * would be written and never read: those hosts, and hosts without a known
 * generator, are refused at check time instead.
 */
import type { FactsDump } from "./facts-dump";

/** Boot loader tools FACTS_SCRIPT looks for on PATH, in this order. */
export const BOOT_TOOLS = ["update-grub", "grub-mkconfig", "grub2-mkconfig", "grubby"] as const;
export type BootTool = (typeof BOOT_TOOLS)[number];

/** GRUB configurations FACTS_SCRIPT looks for. */
export const GRUB_CONFIGS = ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"] as const;

/** What the host has for booting, as FACTS_SCRIPT found it. */
export interface BootloaderFacts {
  /** Tools on PATH, of BOOT_TOOLS, in that order. */
  tools: BootTool[];
  /** GRUB configurations that exist, of GRUB_CONFIGS. */
  grubConfigs: string[];
  /** Boot Loader Specification entries (/boot/loader/entries/*.conf), sorted; GRUB then takes the kernel options from them. */
  blsEntries: string[];
}

/** Reads the boot loader sections; null when the output has none (facts from an older kvmtune). */
export function readBootloader(dump: FactsDump): BootloaderFacts | null {
  const tools = dump.variable("boot-tools");
  if (tools === undefined) return null;
  const words = (text: string | undefined) => (text ?? "").split(/\s+/).filter((w) => w !== "");
  return {
    tools: BOOT_TOOLS.filter((t) => words(tools).includes(t)),
    grubConfigs: GRUB_CONFIGS.filter((c) => words(dump.variable("boot-configs")).includes(c)),
    blsEntries: [...dump.list("/boot/loader/entries", "*.conf")].sort(),
  };
}

/** Generators kvmtune runs after changing its drop-in; the remote side knows each one's fixed command line. */
export const GRUB_GENERATORS = ["update-grub", "grub-mkconfig", "grub2-mkconfig"] as const;
export type GrubGenerator = (typeof GRUB_GENERATORS)[number];

/** The command each generator runs as on the host (APPLY_SCRIPT has the same fixed lines). */
export const GENERATOR_COMMANDS: Readonly<Record<GrubGenerator, string>> = {
  "update-grub": "update-grub",
  "grub-mkconfig": "grub-mkconfig -o /boot/grub/grub.cfg",
  "grub2-mkconfig": "grub2-mkconfig -o /boot/grub2/grub.cfg",
};

/** How kvmtune regenerates the boot loader on a host, or why it cannot. */
export type BootloaderPlan = { tool: GrubGenerator } | { refused: string };

export const BLS_REFUSAL =
  "this host boots Boot Loader Specification entries (/boot/loader/entries, managed by grubby); kvmtune can only change the kernel command line " +
  "through GRUB's /etc/default/grub.d with update-grub or grub-mkconfig. Set it outside kvmtune (grubby --update-kernel=ALL --args=...) or remove this setting";
export const NO_TOOL_REFUSAL = "no boot loader tool kvmtune can drive on this host (looked for update-grub, grub-mkconfig and grub2-mkconfig with an existing grub.cfg)";

/**
 * Picks the generator for a host: update-grub (Debian/Ubuntu), else
 * grub-mkconfig or grub2-mkconfig when their grub.cfg exists, never on a host
 * that boots BLS entries. Facts without the boot loader sections (null, an
 * older facts read) are not refused: update-grub, which fails loudly if absent.
 */
export function planBootloader(facts: BootloaderFacts | null): BootloaderPlan {
  if (facts === null) return { tool: "update-grub" };
  if (facts.blsEntries.length > 0) return { refused: BLS_REFUSAL };
  if (facts.tools.includes("update-grub")) return { tool: "update-grub" };
  if (facts.tools.includes("grub-mkconfig") && facts.grubConfigs.includes("/boot/grub/grub.cfg")) return { tool: "grub-mkconfig" };
  if (facts.tools.includes("grub2-mkconfig") && facts.grubConfigs.includes("/boot/grub2/grub.cfg")) return { tool: "grub2-mkconfig" };
  return { refused: NO_TOOL_REFUSAL };
}

/** The tool an update-bootloader op carries: the plan's generator, or "none" (the host side then fails the step). */
export function bootloaderTool(facts: BootloaderFacts | null): GrubGenerator | "none" {
  const plan = planBootloader(facts);
  return "tool" in plan ? plan.tool : "none";
}

/** A boot loader setting's problem on a host kvmtune cannot drive (knob validation); empty when it can. */
export function bootSettingProblems(value: string, facts: BootloaderFacts | null): string[] {
  const plan = planBootloader(facts);
  return "refused" in plan ? [`${JSON.stringify(value)} is not accepted: ${plan.refused}`] : [];
}
