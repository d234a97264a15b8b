// The fenced code blocks of README.md, read by code (not copied into tests), so a
// README edit is what the tests run: each block with its language, the heading
// it sits under and its line in the file.
import * as fs from "node:fs";
import * as path from "node:path";

export interface ReadmeBlock {
  /** The info string after the fence: "ts", "sh", "" ... */
  lang: string;
  /** The nearest heading above the block, without its #s (e.g. "Tune a real host"). */
  heading: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The block's text, without the fences, ending with a newline. */
  code: string;
}

export const README_PATH = path.resolve(__dirname, "..", "..", "README.md");

/** Every fenced block of `markdown` (``` fences; an unclosed fence is an error naming its line). */
export function parseFencedBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split("\n");
  const blocks: ReadmeBlock[] = [];
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[i]);
    if (h) {
      heading = h[1];
      continue;
    }
    const open = /^```\s*([\w-]*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    if (i >= lines.length) throw new Error(`README: the code fence opened at line ${start + 1} is never closed`);
    blocks.push({ lang: open[1], heading, line: start + 1, code: body.join("\n") + "\n" });
  }
  return blocks;
}

/** README.md's blocks in language `lang` (e.g. "ts"), in file order. */
export function readmeBlocks(lang: string, file = README_PATH): ReadmeBlock[] {
  return parseFencedBlocks(fs.readFileSync(file, "utf8")).filter((b) => b.lang === lang);
}
