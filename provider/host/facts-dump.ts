/**
 * Splits the tagged output of FACTS_SCRIPT (see facts-script.ts for the format)
 * into lookups by path. Knows the format, not what the files mean.
 */

const HEADER = "@@kvmtune:";
export const FACTS_FORMAT_VERSION = 1;

export class FactsDump {
  private readonly files = new Map<string, string[]>();
  private readonly entries = new Map<string, string[]>();
  private readonly links = new Map<string, string>();
  private readonly vars = new Map<string, string[]>();
  private readonly cmds = new Map<string, string[]>();

  /** Throws when the output is not (complete) facts output; missing sections are fine. */
  constructor(output: string) {
    const lines = output.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const first = lines.findIndex((l) => l.startsWith(HEADER));
    if (first < 0 || lines[first] !== `${HEADER}facts ${FACTS_FORMAT_VERSION}`) {
      const got = first < 0 ? "no facts header" : `"${lines[first]}"`;
      throw new Error(`not kvmtune facts output version ${FACTS_FORMAT_VERSION} (${got})`);
    }
    if (lines[lines.length - 1] !== `${HEADER}end`) {
      throw new Error("facts output is truncated (no end marker)");
    }
    let section: { kind: string; arg: string; body: string[] } | undefined;
    for (const line of lines.slice(first + 1, -1)) {
      if (!line.startsWith(HEADER)) {
        section?.body.push(line);
        continue;
      }
      const m = /^@@kvmtune:([a-z]+) (.*)$/.exec(line);
      if (!m) throw new Error(`malformed facts section header "${line}"`);
      if (section) this.store(section.kind, section.arg, section.body);
      section = { kind: m[1], arg: m[2], body: [] };
    }
    if (section) this.store(section.kind, section.arg, section.body);
  }

  private store(kind: string, arg: string, body: string[]): void {
    switch (kind) {
      case "file":
        this.files.set(arg, body);
        return;
      case "list":
      case "dirs":
        this.entries.set(`${kind} ${arg}`, body);
        return;
      case "link":
        if (body.length > 0) this.links.set(arg, body[0]);
        return;
      case "var":
        this.vars.set(arg, body);
        return;
      case "cmd":
        this.cmds.set(arg, body);
        return;
      case "grep":
        // `path:line` for colon-free relative paths; folded into the file map.
        for (const l of body) {
          const i = l.indexOf(":");
          if (i <= 0) continue;
          const path = `/${l.slice(0, i)}`;
          const lines = this.files.get(path) ?? [];
          lines.push(l.slice(i + 1));
          this.files.set(path, lines);
        }
        return;
      default:
        throw new Error(`unknown facts section kind "${kind}"`);
    }
  }

  /** Contents of a file (lines joined with "\n", no trailing newline), undefined when not read. */
  file(path: string): string | undefined {
    return this.files.get(path)?.join("\n");
  }

  /** Paths of the files read or grepped anywhere below `dir`, sorted. */
  filesUnder(dir: string): string[] {
    return [...this.files.keys()].filter((p) => p.startsWith(`${dir}/`)).sort();
  }

  /** Parses a file with `parse`, naming the file when its text is malformed; null when absent. */
  parsed<T>(path: string, parse: (text: string) => T): T | null {
    const text = this.file(path);
    if (text === undefined) return null;
    try {
      return parse(text);
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}`);
    }
  }

  /** Names from a `list` section, e.g. list("/sys/block/sda/holders") or list("/sys/devices/system/cpu", "cpu[0-9]*\/node[0-9]*"). */
  list(dir: string, glob = "*"): string[] {
    return this.entries.get(`list ${dir}/${glob}`) ?? [];
  }

  /** True when the directory was listed (exists and is readable). */
  hasList(dir: string, glob = "*"): boolean {
    return this.entries.has(`list ${dir}/${glob}`);
  }

  /** Sub-directory names from a `dirs` section. */
  dirs(dir: string, glob = "*"): string[] {
    return this.entries.get(`dirs ${dir}/${glob}`) ?? [];
  }

  /** Physical path a symlinked directory resolves to, undefined when absent. */
  link(path: string): string | undefined {
    return this.links.get(path);
  }

  /** Value of a script variable (lines joined), undefined when not emitted. */
  variable(name: string): string | undefined {
    return this.vars.get(name)?.join("\n");
  }

  /** Command sections whose name starts with `prefix`, in output order: [name, lines joined]. */
  commandsStartingWith(prefix: string): [string, string][] {
    return [...this.cmds].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k, v.join("\n")]);
  }

  /** Output lines of a command section, undefined when the command did not run. */
  command(name: string): string | undefined {
    return this.cmds.get(name)?.join("\n");
  }
}
