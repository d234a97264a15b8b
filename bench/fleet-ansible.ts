// bench:fleet's Ansible side: inventory, ansible.cfg and playbook for Debian's
// stock Ansible (ansible-core 2.14, ansible.posix), run as `ansible-playbook`.
//
// Two variants:
// - "ansible-default": stock settings (forks 5, facts gathered, interpreter
//   discovery, ssh_args "-C -o ControlMaster=auto -o ControlPersist=60s", no pipelining);
// - "ansible-tuned": what Ansible's own docs advise for speed: pipelining, forks >= N,
//   no fact gathering, a fixed interpreter (no discovery round trip), no ssh
//   compression on loopback, ControlPersist kept.
// Each operation starts cold: a fresh ControlPath dir, and its masters are told
// to exit afterwards, so no connection outlives the operation it is counted in.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { MTU, NIC, SYSCTLS } from "./fleet-tuning";

export type AnsibleVariant = "ansible-default" | "ansible-tuned";

export interface AnsibleHost {
  name: string;
  port: number;
  hostKey: string;
  clientKeyPath: string;
}

export interface AnsibleRun {
  ms: number;
  code: number;
  /** PLAY RECAP per host: ok, changed, failed, unreachable. */
  recap: Map<string, Record<string, number>>;
  output: string;
}

/** Writes inventory, known_hosts, ansible.cfg and the playbook for one variant into `dir`. */
export function writeAnsibleProject(dir: string, variant: AnsibleVariant, hosts: AnsibleHost[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const knownHosts = path.join(dir, "known_hosts");
  fs.writeFileSync(knownHosts, hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostKey}\n`).join(""), { mode: 0o600 });
  // Host keys stay pinned, as kvmtune pins them; common args add to ssh_args, they do not replace them.
  const common = `-o UserKnownHostsFile=${knownHosts} -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes`;
  fs.writeFileSync(
    path.join(dir, "inventory.ini"),
    ["[fleet]", ...hosts.map((h) => `${h.name} ansible_host=127.0.0.1 ansible_port=${h.port} ansible_user=root ansible_ssh_private_key_file=${h.clientKeyPath}`),
      "", "[fleet:vars]", `ansible_ssh_common_args='${common}'`, ""].join("\n"),
  );
  const tuned = variant === "ansible-tuned";
  fs.writeFileSync(
    path.join(dir, "ansible.cfg"),
    [
      "[defaults]",
      `inventory = ${path.join(dir, "inventory.ini")}`,
      "retry_files_enabled = False",
      ...(tuned ? [`forks = ${Math.max(5, hosts.length)}`, "gathering = explicit", "interpreter_python = /usr/bin/python3"] : []),
      "",
      "[ssh_connection]",
      ...(tuned ? ["pipelining = True", "ssh_args = -o ControlMaster=auto -o ControlPersist=60s"] : []),
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(dir, "fleet.yml"), playbook(!tuned));
}

function playbook(gatherFacts: boolean): string {
  const items = Object.entries(SYSCTLS).map(([k, v]) => `        - { name: ${k}, value: "${v}" }`).join("\n");
  // The MTU task reads first and changes only what differs, so a second run reports ok, and
  // under --check it reports the change it would make without making it.
  return `- hosts: fleet
  gather_facts: ${gatherFacts}
  tasks:
    - name: per-netns sysctls, live and in sysctl.d
      ansible.posix.sysctl:
        name: "{{ item.name }}"
        value: "{{ item.value }}"
        sysctl_file: /etc/sysctl.d/90-ansible-fleet.conf
        sysctl_set: true
        reload: true
      loop:
${items}
    - name: ${NIC} MTU ${MTU}, live
      ansible.builtin.shell: |
        cur=$(cat /sys/class/net/${NIC}/mtu)
        if [ "$cur" = ${MTU} ]; then echo same; exit 0; fi
        {% if ansible_check_mode %}echo "would change $cur"{% else %}ip link set dev ${NIC} mtu ${MTU} && echo "changed $cur"{% endif %}
      register: mtu
      changed_when: mtu.stdout != "same"
      check_mode: false
    - name: ${NIC} MTU ${MTU}, at boot (udev rule, as kvmtune persists it)
      ansible.builtin.copy:
        dest: /etc/udev/rules.d/90-ansible-fleet-net.rules
        content: |
          SUBSYSTEM=="net", ACTION=="add", KERNEL=="${NIC}", ATTR{mtu}="${MTU}"
        mode: "0644"
`;
}

/** Runs ansible-playbook in `dir` (extra args: --check --diff, ...); every controller-side path stays in `dir`. */
export async function runAnsible(dir: string, opName: string, extra: string[]): Promise<AnsibleRun> {
  const home = path.join(dir, "home");
  const cp = path.join(dir, `cp-${opName}`);
  fs.mkdirSync(cp, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANSIBLE_CONFIG: path.join(dir, "ansible.cfg"),
    ANSIBLE_HOME: home,
    ANSIBLE_LOCAL_TEMP: path.join(home, "tmp"),
    ANSIBLE_SSH_CONTROL_PATH_DIR: cp,
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_FORCE_COLOR: "0",
  };
  delete env.SSH_AUTH_SOCK;
  const t0 = performance.now();
  const { code, output } = await run("ansible-playbook", [path.join(dir, "fleet.yml"), ...extra], env, 30 * 60_000);
  const ms = performance.now() - t0;
  await closeMasters(cp, env);
  return { ms, code, recap: parseRecap(output), output };
}

/** Tells every ControlPersist master of this operation to exit (they would linger 60 s otherwise). */
async function closeMasters(cp: string, env: NodeJS.ProcessEnv): Promise<void> {
  const sockets = fs.readdirSync(cp).map((f) => path.join(cp, f));
  await Promise.all(sockets.map((s) => run("ssh", ["-o", `ControlPath=${s}`, "-O", "exit", "fleet-master"], env, 10_000)));
  fs.rmSync(cp, { recursive: true, force: true });
}

function parseRecap(output: string): Map<string, Record<string, number>> {
  const recap = new Map<string, Record<string, number>>();
  const at = output.lastIndexOf("PLAY RECAP");
  if (at < 0) return recap;
  for (const line of output.slice(at).split("\n").slice(1)) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const counts: Record<string, number> = {};
    for (const [, k, v] of m[2].matchAll(/(\w+)=(\d+)/g)) counts[k] = Number(v);
    recap.set(m[1], counts);
  }
  return recap;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === null) reject(new Error(`${cmd} ${signal === "SIGKILL" ? `timed out after ${timeoutMs} ms` : `killed by ${signal}`}\n${output.slice(-2000)}`));
      else resolve({ code, output });
    });
  });
}

