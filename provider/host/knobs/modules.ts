import { folded, oneOf, plainValue } from "./common";
import type { KnobKind } from "./types";

/** Module names as modprobe takes them; '-' and '_' are the same module. */
export const MODULE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const PARAM_NAME = /^[a-z0-9_]{1,64}$/;

/** sysfs spells module names with '_' only. */
export const sysfsModuleName = (name: string) => name.replace(/-/g, "_");

/**
 * `module:<name>` = loaded | unloaded. Read from /sys/module/<name> (present
 * for loaded and built-in modules); persisted in modules-load.d.
 */
export const moduleKind: KnobKind = {
  name: "module",
  grammar: "module:<name>",
  resolve(key) {
    if (!key.startsWith("module:")) return undefined;
    const name = key.slice("module:".length);
    if (!MODULE_NAME.test(name)) return { problem: `${JSON.stringify(name)} is not a module name; expected letters, digits, '_' and '-' (e.g. vhost_net)` };
    const probe = `/sys/module/${sysfsModuleName(name)}/uevent`;
    return {
      key,
      disruption: "live",
      reads: [probe],
      current: (files) => (files.get(probe) === undefined ? "unloaded" : "loaded"),
      normalise: (v) => oneOf(v, ["loaded", "unloaded"]),
      validate: () => [],
      apply: (value) => [{ op: value === "loaded" ? "modprobe" : "rmmod", module: name }],
      restore: (original) => (original === undefined ? [] : [{ op: original === "loaded" ? "modprobe" : "rmmod", module: name }]),
      persistence: "modules-load",
    };
  },
};

/**
 * `modparam:<module>.<param>`: a module option. Most options are read-only at
 * run time, so the value is configured in modprobe.d and takes effect when the
 * module is next loaded (a reboot, or a reload with no VMs running). State is
 * the configured value; the running one is read for `pendingReboot`.
 */
export const modparamKind: KnobKind = {
  name: "modparam",
  grammar: "modparam:<module>.<param>",
  resolve(key) {
    if (!key.startsWith("modparam:")) return undefined;
    const m = /^modparam:([^.]+)\.([^.]+)$/.exec(key);
    if (!m || !MODULE_NAME.test(m[1]) || !PARAM_NAME.test(m[2])) {
      return { problem: `${JSON.stringify(key.slice(9))} is not <module>.<parameter>; expected e.g. kvm_intel.nested` };
    }
    const [, mod, param] = m;
    const running = `/sys/module/${sysfsModuleName(mod)}/parameters/${param}`;
    return {
      key,
      disruption: "host-reboot",
      bootTime: true,
      optional: true,
      reads: [running],
      current: (files) => folded(files.get(running)),
      normalise: (v) => {
        const r = plainValue(String(v), "a module parameter value");
        if ("problem" in r) return r;
        return /^[A-Za-z0-9_.,:+-]{1,256}$/.test(r.value) ? r : { problem: `${JSON.stringify(v)} is not accepted; expected letters, digits and _ . , : + - (no spaces or quotes)` };
      },
      validate: () => [],
      apply: () => [],
      restore: () => [],
      persistence: "modprobe",
    };
  },
};
