/**
 * The source text of every start tag, matched to its element. Rendering reuses it
 * for elements whose attributes did not change, so a round trip keeps each tag's
 * quoting, attribute spacing and entity spelling byte for byte, whatever wrote it
 * (libvirt's single quotes, libxml2's double quotes in <metadata>, a person).
 */
import type { Element, Node } from "@xmldom/xmldom";

/** One parsed start tag. */
export interface RawStartTag {
  /** "<name ...>" or "<name .../>" exactly as in the source. */
  text: string;
  /** The attributes when parsed, "name=value" joined by NUL, to notice edits. */
  attrs: string;
  /** The quote its attributes use; it decides how new text and attributes below it are escaped. */
  quote: "'" | '"' | null;
  /** Written as "<x></x>" rather than "<x/>". */
  emptyPair: boolean;
}

// Every "<" in well-formed XML opens one of these; text never holds a raw "<".
const TOKEN =
  /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>|<\/[^>]*>|<([^\s/>!?]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;

/** Attribute snapshot used to tell whether an element still has its parsed attributes. */
export function attributeKey(el: Element): string {
  const attrs = el.attributes;
  let key = "";
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs.item(i)!;
    key += `${a.name}=${a.value}\0`;
  }
  return key;
}

/**
 * Pairs start tags in `xml` with the elements under (and including) `root` in
 * document order. Any mismatch gives an empty map: rendering then formats every
 * tag itself, which is correct, only not byte-identical.
 */
export function captureStartTags(xml: string, root: Element): WeakMap<Element, RawStartTag> {
  const tags: RegExpExecArray[] = [];
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(xml); m; m = TOKEN.exec(xml)) if (m[1] !== undefined) tags.push(m);
  const map = new WeakMap<Element, RawStartTag>();
  let i = 0;
  const walk = (el: Element): boolean => {
    const m = tags[i++];
    if (!m || m[1] !== el.nodeName) return false;
    const q = /['"]/.exec(m[2]);
    map.set(el, {
      text: m[0],
      attrs: attributeKey(el),
      quote: q ? (q[0] as "'" | '"') : null,
      emptyPair: m[3] === "" && !el.firstChild,
    });
    for (let c: Node | null = el.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 1 && !walk(c as Element)) return false;
    }
    return true;
  };
  return walk(root) && i === tags.length ? map : new WeakMap();
}
