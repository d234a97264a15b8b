/**
 * A tiny XML element tree and serialiser for renderPlacementSvg: every text and
 * attribute value is escaped here, characters XML 1.0 cannot carry become U+FFFD,
 * and numbers are rounded to 2 decimals, so the output is well-formed and
 * byte-stable. Elements whose children are all text stay on one line (SVG text
 * content is never re-indented); others are indented by two spaces per level.
 */

export type XmlChild = XmlElement | string | null | undefined | false;

export interface XmlElement {
  name: string;
  attrs: [string, string][];
  children: (XmlElement | string)[];
}

export type XmlAttrs = Record<string, string | number | null | undefined>;

/** An element; null/undefined attributes and children are dropped, numbers are rounded. */
export function el(name: string, attrs: XmlAttrs = {}, ...children: (XmlChild | XmlChild[])[]): XmlElement {
  const list: [string, string][] = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    list.push([k, typeof v === "number" ? num(v) : v]);
  }
  const kids: (XmlElement | string)[] = [];
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) kids.push(c);
  return { name, attrs: list, children: kids };
}

/** A number as SVG writes it: at most 2 decimals, no "-0", no exponent for the sizes used here. */
export function num(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`svg: not a finite number: ${n}`);
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

// Anything outside the XML 1.0 Char production (control characters, lone surrogates, U+FFFE/U+FFFF).
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text made safe for XML 1.0 content: characters XML cannot carry become U+FFFD. */
export function xmlSafe(text: string): string {
  return text.replace(NOT_XML_CHAR, "\uFFFD");
}

/** Escapes character data. */
export function escapeText(text: string): string {
  return xmlSafe(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Escapes a double-quoted attribute value (whitespace escaped so attribute normalisation keeps it). */
export function escapeAttr(text: string): string {
  return escapeText(text).replace(/"/g, "&quot;").replace(/\t/g, "&#9;").replace(/\n/g, "&#10;").replace(/\r/g, "&#13;");
}

/** Serialises an element tree (no XML declaration). */
export function serialize(root: XmlElement): string {
  const out: string[] = [];
  write(root, "", out);
  return out.join("");
}

function write(e: XmlElement, indent: string, out: string[]): void {
  const attrs = e.attrs.map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join("");
  if (e.children.length === 0) {
    out.push(`${indent}<${e.name}${attrs}/>\n`);
    return;
  }
  if (e.children.every((c) => typeof c === "string")) {
    out.push(`${indent}<${e.name}${attrs}>${e.children.map((c) => escapeText(c as string)).join("")}</${e.name}>\n`);
    return;
  }
  out.push(`${indent}<${e.name}${attrs}>\n`);
  for (const c of e.children) {
    if (typeof c === "string") out.push(`${indent}  ${escapeText(c)}\n`);
    else write(c, `${indent}  `, out);
  }
  out.push(`${indent}</${e.name}>\n`);
}
