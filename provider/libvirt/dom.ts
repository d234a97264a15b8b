/**
 * Parsing a domain into a DOM, and the small DOM edits the owned parts need:
 * find, set attributes in libvirt's order, insert children at their schema
 * position with matching indentation, remove them with their whitespace.
 */
import { DOMParser, onWarningStopParsing } from "@xmldom/xmldom";
import type { Document, Element, Node, Text } from "@xmldom/xmldom";
import { captureStartTags, type RawStartTag } from "./source-tags";

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const DOCUMENT_TYPE_NODE = 10;

// xmldom lets a bare "&" through as text; libxml2 (and so libvirt) rejects it.
const BARE_AMPERSAND = /&(?![A-Za-z_][\w.-]*;|#\d+;|#x[0-9a-fA-F]+;)/;
const UNPARSED = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>/g;

/** A parsed domain: the whole DOM, kept as parsed except where owned parts are applied. */
export interface DomainDocument {
  readonly document: Document;
  /** The `<domain>` root element. */
  readonly domain: Element;
  /** Whitespace after the root element (virsh ends its output with a blank line). */
  readonly trailer: string;
  /** Source text of each parsed start tag, reused by rendering while the element's attributes are unchanged. */
  readonly startTags: WeakMap<Element, RawStartTag>;
}

/**
 * Parses domain XML (e.g. `virsh dumpxml --inactive` output). Strict: any XML
 * warning, a DOCTYPE, or a root other than `<domain>` throws.
 */
export function parseDomainXml(xml: string): DomainDocument {
  if (typeof xml !== "string") throw new TypeError("domain XML must be a string");
  let document: Document;
  try {
    document = new DOMParser({ locator: false, onError: onWarningStopParsing }).parseFromString(xml, "text/xml");
  } catch (e) {
    throw new Error(`domain XML is not well-formed XML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (BARE_AMPERSAND.test(xml.replace(UNPARSED, ""))) {
    throw new Error("domain XML is not well-formed XML: '&' that starts no entity or character reference");
  }
  for (let n = document.firstChild; n; n = n.nextSibling) {
    // No DTDs: libvirt never writes one, and entity declarations only add risk.
    if (n.nodeType === DOCUMENT_TYPE_NODE) throw new Error("domain XML must not have a DOCTYPE");
  }
  const domain = document.documentElement;
  if (!domain || domain.nodeName !== "domain" || domain.namespaceURI) {
    throw new Error(`not a libvirt domain: root element is <${domain ? domain.nodeName : "?"}>, expected <domain>`);
  }
  return { document, domain, trailer: trailingBlanks(xml), startTags: captureStartTags(xml, domain) };
}

/** The document an element belongs to (xmldom types it as nullable). */
function docOf(el: Element): Document {
  const d = el.ownerDocument;
  if (!d) throw new Error("element has no owner document");
  return d;
}

function trailingBlanks(xml: string): string {
  let i = xml.length;
  while (i > 0 && " \t\r\n".includes(xml[i - 1])) i--;
  return xml.slice(i);
}

export function isElement(n: Node | null): n is Element {
  return n !== null && n.nodeType === ELEMENT_NODE;
}

function isBlank(n: Node | null): n is Text {
  return n !== null && n.nodeType === TEXT_NODE && /^\s*$/.test((n as Text).data);
}

/** Element children, optionally only those named `name` (qualified name). */
export function children(parent: Element, name?: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (isElement(n) && (name === undefined || n.nodeName === name)) out.push(n);
  }
  return out;
}

export function child(parent: Element, name: string): Element | null {
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (isElement(n) && n.nodeName === name) return n;
  }
  return null;
}

/** Attribute value, or undefined when absent (the DOM's "" for absent is ambiguous). */
export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name)! : undefined;
}

/** Trimmed text content of an element. */
export function text(el: Element): string {
  return (el.textContent ?? "").trim();
}

/** Replaces an element's content with one text node (the serializer escapes it). */
export function setText(el: Element, value: string): void {
  if (text(el) === value) return;
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(docOf(el).createTextNode(value));
}

/**
 * Sets (or with null removes) an attribute. A new attribute goes before the first
 * existing one that `order` ranks after it, so output reads like libvirt's; an
 * existing one keeps its place.
 */
export function setAttr(el: Element, name: string, value: string | null, order: readonly string[] = []): void {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
    return;
  }
  if (el.hasAttribute(name)) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
    return;
  }
  const rank = order.indexOf(name);
  const later: [string, string][] = [];
  if (rank >= 0) {
    const attrs = el.attributes;
    let start = -1;
    for (let i = 0; i < attrs.length; i++) {
      const r = order.indexOf(attrs.item(i)!.name);
      if (r > rank) {
        start = i;
        break;
      }
    }
    if (start >= 0) {
      for (let i = start; i < attrs.length; i++) later.push([attrs.item(i)!.name, attrs.item(i)!.value]);
      for (const [n] of later) el.removeAttribute(n);
    }
  }
  el.setAttribute(name, value);
  for (const [n, v] of later) el.setAttribute(n, v);
}

/** The indentation in front of `el` ("" when it shares a line). */
function indentOf(el: Element): string {
  const prev = el.previousSibling;
  if (isBlank(prev) && prev.data.includes("\n")) return prev.data.slice(prev.data.lastIndexOf("\n") + 1);
  let depth = 0;
  for (let p = el.parentNode; p && isElement(p); p = p.parentNode) depth++;
  return "  ".repeat(depth);
}

/** True when the document is pretty-printed around `parent` (libvirt's output always is). */
function isIndented(parent: Element): boolean {
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (isBlank(n) && n.data.includes("\n")) return true;
  }
  if (parent.firstChild) return false;
  const prev = parent.previousSibling;
  return isBlank(prev) && prev.data.includes("\n");
}

/** Inserts `node` into `parent` before `before` (null: at the end), keeping indentation. */
export function insertChild(parent: Element, node: Element, before: Element | null): Element {
  const doc = docOf(parent);
  if (!isIndented(parent)) {
    parent.insertBefore(node, before);
    return node;
  }
  const first = children(parent)[0];
  const inner = first ? indentOf(first) : indentOf(parent) + "  ";
  if (before) {
    parent.insertBefore(node, before);
    parent.insertBefore(doc.createTextNode(`\n${inner}`), before);
  } else if (isBlank(parent.lastChild)) {
    const closing = parent.lastChild;
    parent.insertBefore(doc.createTextNode(`\n${inner}`), closing);
    parent.insertBefore(node, closing);
  } else {
    parent.appendChild(doc.createTextNode(`\n${inner}`));
    parent.appendChild(node);
    parent.appendChild(doc.createTextNode(`\n${indentOf(parent)}`));
  }
  return node;
}

/** The first element child that `order` ranks after `name`; unknown elements are skipped. */
export function positionFor(parent: Element, name: string, order: readonly string[]): Element | null {
  const rank = order.indexOf(name);
  if (rank < 0) return null;
  for (const c of children(parent)) if (order.indexOf(c.nodeName) > rank) return c;
  return null;
}

/** A new, detached `<name>` in `parent`'s document with attributes in the given order. */
export function makeElement(parent: Element, name: string, attrs: [string, string][] = []): Element {
  const el = docOf(parent).createElement(name);
  for (const [n, v] of attrs) el.setAttribute(n, v);
  return el;
}

/** Creates `<name>` with attributes (in the given order) at its schema position. */
export function createChild(
  parent: Element,
  name: string,
  order: readonly string[],
  attrs: [string, string][] = [],
): Element {
  return insertChild(parent, makeElement(parent, name, attrs), positionFor(parent, name, order));
}

/** The child `<name>`, created at its schema position when missing. */
export function ensureChild(parent: Element, name: string, order: readonly string[]): Element {
  return child(parent, name) ?? createChild(parent, name, order);
}

/** Removes `el` and the whitespace in front of it; a parent left blank becomes `<x/>`. */
export function removeElement(el: Element): void {
  const parent = el.parentNode as Element | null;
  if (!parent) return;
  const prev = el.previousSibling;
  if (isBlank(prev)) parent.removeChild(prev);
  parent.removeChild(el);
  let n = parent.firstChild;
  while (n && isBlank(n)) n = n.nextSibling;
  if (n === null) while (parent.firstChild) parent.removeChild(parent.firstChild);
}

/** Removes a container element once nothing (no child element, no attribute) is left in it. */
export function removeIfEmpty(el: Element | null): void {
  if (el && children(el).length === 0 && el.attributes.length === 0 && text(el) === "") removeElement(el);
}
