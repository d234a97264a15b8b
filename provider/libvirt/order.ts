/**
 * Where new elements and attributes go. domaincommon.rng wraps most content in
 * <interleave>, so any order validates; these lists follow the order libvirt's
 * formatter (virDomainDefFormat and friends) prints, so an edited document reads
 * like `virsh dumpxml` and libvirt's next dump moves nothing. Unknown names are
 * skipped when placing, never moved.
 */

/** Children of <domain>. */
export const DOMAIN_ORDER = [
  "name", "uuid", "genid", "title", "description", "metadata",
  "maxMemory", "memory", "currentMemory", "blkiotune", "memtune", "memoryBacking",
  "vcpu", "vcpus", "iothreads", "iothreadids", "defaultiothread", "cputune", "numatune",
  "resource", "sysinfo", "bootloader", "bootloader_args", "os", "idmap", "features", "cpu",
  "clock", "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices",
  "seclabel", "keywrap", "launchSecurity",
] as const;

/** Children of <devices>. */
export const DEVICES_ORDER = [
  "emulator", "disk", "controller", "lease", "filesystem", "interface", "smartcard", "serial",
  "parallel", "console", "channel", "input", "tpm", "graphics", "sound", "audio", "video",
  "hostdev", "redirdev", "redirfilter", "hub", "watchdog", "memballoon", "rng", "nvram",
  "panic", "shmem", "memory", "iommu", "vsock", "crypto", "pstore",
] as const;

export const CPUTUNE_ORDER = [
  "shares", "period", "quota", "global_period", "global_quota", "emulator_period",
  "emulator_quota", "iothread_period", "iothread_quota", "vcpupin", "emulatorpin",
  "iothreadpin", "vcpusched", "iothreadsched", "emulatorsched", "cachetune", "memorytune",
] as const;

export const NUMATUNE_ORDER = ["memory", "memnode"] as const;

export const MEMORY_BACKING_ORDER = [
  "hugepages", "nosharepages", "locked", "source", "access", "allocation", "discard",
] as const;

export const OS_ORDER = [
  "type", "firmware", "loader", "nvram", "kernel", "initrd", "cmdline", "shim", "dtb", "acpi",
  "boot", "bootmenu", "smbios", "bios",
] as const;

export const CPU_ORDER = ["model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa"] as const;

export const CELL_ORDER = ["distances", "cache"] as const;

export const INTERFACE_ORDER = [
  "mac", "source", "vlan", "virtualport", "ip", "route", "portForward", "script", "downscript",
  "backenddomain", "target", "guest", "model", "driver", "backend", "filterref", "tune",
  "teaming", "link", "mtu", "coalesce", "boot", "alias", "acpi", "rom", "address",
] as const;

export const HOSTDEV_ORDER = ["driver", "source", "teaming", "boot", "alias", "acpi", "rom", "address"] as const;

/** Attribute orders. */
export const ATTRS = {
  vcpu: ["placement", "cpuset", "current"],
  numatuneMemory: ["mode", "placement", "nodeset"],
  memnode: ["cellid", "mode", "nodeset"],
  page: ["size", "unit", "nodeset"],
  cpu: ["mode", "match", "check", "migratable"],
  topology: ["sockets", "dies", "clusters", "cores", "threads"],
  cell: ["id", "cpus", "memory", "unit", "memAccess", "discard"],
  osType: ["arch", "machine"],
  memory: ["unit", "dumpCore"],
  diskDriver: [
    "name", "type", "cache", "error_policy", "rerror_policy", "io", "ioeventfd", "event_idx",
    "copy_on_read", "discard", "iothread", "detect_zeroes", "queues", "queue_size",
  ],
  netDriver: ["name", "txmode", "ioeventfd", "event_idx", "queues", "rx_queue_size", "tx_queue_size"],
  interface: ["type", "managed", "trustGuestRxFilters"],
  hostdev: ["mode", "type", "managed"],
} as const;

/** Children of <disk>. */
export const DISK_ORDER = [
  "driver", "source", "backingStore", "backenddomain", "target", "iotune", "throttlefilters", "boot",
  "readonly", "shareable", "transient", "serial", "wwn", "vendor", "product", "encryption", "alias", "address",
] as const;
