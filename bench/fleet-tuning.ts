// What bench:fleet asks of every host, and the hand-made drift both tools must find.
// Per-network-namespace sysctls only: the hosts are namespaces of this machine.

export const NIC = "eth1";
export const MTU = 9000;

/** net.core.somaxconn's default is already 4096 on this kernel: 8192 is a real change. */
export const SYSCTLS: Record<string, number> = {
  "net.ipv4.conf.all.arp_filter": 1,
  "net.core.somaxconn": 8192,
  "net.ipv4.tcp_fin_timeout": 15,
};

/** Set by hand on every host before each drift check, put back after it. */
export const DRIFT = { key: "net.ipv4.tcp_fin_timeout", path: "/proc/sys/net/ipv4/tcp_fin_timeout", drifted: 30, wanted: 15 };

const procPath = (key: string) => `/proc/sys/${key.replace(/\./g, "/")}`;

/** One remote command that prints the tuned values, one per line, in SYSCTLS order, then the MTU. */
export const READ_TUNED = [...Object.keys(SYSCTLS).map(procPath), `/sys/class/net/${NIC}/mtu`].map((p) => `cat ${p}`).join("; ");

/** What READ_TUNED prints on a tuned host. */
export const TUNED_OUTPUT = [...Object.values(SYSCTLS), MTU].map((v) => `${v}\n`).join("");
