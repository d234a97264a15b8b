/**
 * Renders a DomainDocument back to text. A start tag whose attributes did not
 * change is copied from the source (source-tags.ts), so parse -> render gives
 * back the same text. New or edited tags and all text are escaped here, in the
 * spelling of the surrounding source: libvirt's (single quotes; < > & ' " escaped
 * in text and attributes, as virBufferEscapeString does) or libxml2's (double
 * quotes, quotes left raw in text; libvirt prints `<metadata>` content with it).
 *
 * Why not xmldom's XMLSerializer: it double-quotes every attribute and leaves
 * quotes raw in text, so it would rewrite every tag of a `virsh dumpxml`. Like it,
 * this walker only ever emits DOM names and escaped values, never spliced text.
 */
import type { Attr, Element, Node } from "@xmldom/xmldom";
import type { DomainDocument } from "./dom";
import { attributeKey, type RawStartTag } from "./source-tags";

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
const COMMENT_NODE = 8;

const ENTITIES: Record<string, string> = {
  "<": "&lt;",
  ">": "&gt;",
  "&": "&amp;",
  "'": "&apos;",
  '"': "&quot;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};
const entity = (c: string): string => ENTITIES[c];

/** Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, U+FFFE/F, lone surrogates). */
const NOT_XML = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|\p{Cs}/u;

/** One spelling: which characters are escaped in text and in attributes, and the quote. */
interface Style {
  text: RegExp;
  attr: RegExp;
  quote: string;
}
// \r is escaped everywhere and \t \n in attributes, else a parser would normalise them away.
const LIBVIRT: Style = { text: /[<>&'"\r]/g, attr: /[<>&'"\t\n\r]/g, quote: "'" };
const LIBXML2: Style = { text: /[<>&\r]/g, attr: /[<>&"\t\n\r]/g, quote: '"' };

function checkChars(value: string): string {
  if (NOT_XML.test(value)) throw new Error(`cannot render a character XML does not allow in ${JSON.stringify(value)}`);
  return value;
}

function escape(value: string, re: RegExp): string {
  return checkChars(value).replace(re, entity);
}

const styleOf = (quote: "'" | '"' | null, inherited: Style): Style =>
  quote === "'" ? LIBVIRT : quote === '"' ? LIBXML2 : inherited;

function renderElement(el: Element, inherited: Style, tags: WeakMap<Element, RawStartTag>, out: string[]): void {
  const raw = tags.get(el);
  const style = styleOf(raw?.quote ?? null, inherited);
  const empty = el.firstChild === null;
  if (raw && raw.attrs === attributeKey(el)) {
    // Unchanged attributes: the source's own spelling of the tag.
    const selfClosing = raw.text.endsWith("/>");
    if (empty) out.push(selfClosing ? raw.text : raw.emptyPair ? `${raw.text}</${el.nodeName}>` : `${raw.text.slice(0, -1)}/>`);
    else out.push(selfClosing ? `${raw.text.replace(/\s*\/>$/, "")}>` : raw.text);
    if (empty) return;
  } else {
    out.push("<", el.nodeName);
    const attrs = el.attributes;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs.item(i) as Attr;
      out.push(" ", a.name, "=", style.quote, escape(a.value, style.attr), style.quote);
    }
    if (empty) {
      out.push(raw?.emptyPair ? `></${el.nodeName}>` : "/>");
      return;
    }
    out.push(">");
  }
  // libvirt hands <metadata> content to libxml2's formatter.
  const inner = el.nodeName === "metadata" && isDomainChild(el) ? LIBXML2 : style;
  for (let c: Node | null = el.firstChild; c; c = c.nextSibling) renderNode(c, inner, tags, out);
  out.push("</", el.nodeName, ">");
}

function renderNode(node: Node, style: Style, tags: WeakMap<Element, RawStartTag>, out: string[]): void {
  switch (node.nodeType) {
    case ELEMENT_NODE:
      return renderElement(node as Element, style, tags, out);
    case TEXT_NODE:
      out.push(escape((node as unknown as { data: string }).data, style.text));
      return;
    case CDATA_SECTION_NODE: {
      const data = (node as unknown as { data: string }).data;
      out.push("<![CDATA[", checkChars(data).split("]]>").join("]]]]><![CDATA[>"), "]]>");
      return;
    }
    case COMMENT_NODE: {
      const data = (node as unknown as { data: string }).data;
      if (data.includes("--") || data.endsWith("-")) throw new Error("cannot render a comment containing '--'");
      out.push("<!--", checkChars(data), "-->");
      return;
    }
    case PROCESSING_INSTRUCTION_NODE: {
      const pi = node as unknown as { target: string; data: string };
      if (pi.data.includes("?>")) throw new Error("cannot render a processing instruction containing '?>'");
      out.push("<?", pi.target, pi.data ? ` ${checkChars(pi.data)}` : "", "?>");
      return;
    }
    default:
      throw new Error(`cannot render DOM node type ${node.nodeType}`);
  }
}

function isDomainChild(el: Element): boolean {
  const p = el.parentNode;
  return p !== null && p.nodeType === ELEMENT_NODE && p.nodeName === "domain" && p.parentNode?.nodeType === 9;
}

/**
 * The domain as XML text, without an XML declaration (virsh writes none) and with
 * the source's trailing whitespace. Comments and processing instructions around
 * the root are kept.
 */
export function renderDomainXml(doc: DomainDocument): string {
  const out: string[] = [];
  let afterDeclaration = false;
  for (let n = doc.document.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === PROCESSING_INSTRUCTION_NODE && n.nodeName === "xml") {
      afterDeclaration = true;
      continue;
    }
    if (n.nodeType === TEXT_NODE) {
      // Only blanks live outside the root; the one after the declaration goes with it.
      if (!afterDeclaration) out.push((n as unknown as { data: string }).data);
    } else {
      renderNode(n, LIBVIRT, doc.startTags, out);
    }
    afterDeclaration = false;
  }
  out.push(doc.trailer);
  return out.join("");
}

/** One element (e.g. a `<disk>` for `virsh attach-device`) as XML text, in libvirt's style. */
export function renderElementXml(doc: DomainDocument, el: Element): string {
  const out: string[] = [];
  renderNode(el, LIBVIRT, doc.startTags, out);
  return out.join("");
}
