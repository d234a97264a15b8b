/**
 * The two edit patterns every owned part uses: one owned attribute (omitted: keep,
 * null: remove, value: set unless the present spelling already means the same), and
 * a keyed list of elements synced in place (unchanged ones are not touched).
 */
import type { Element } from "@xmldom/xmldom";
import { attr, children, createChild, insertChild, makeElement, removeElement, setAttr } from "./dom";

/**
 * Applies one owned attribute. `same` decides whether the present value already
 * means `value` (e.g. "0-3" vs "0,1,2,3"), in which case the text is left as is.
 */
export function own(
  el: Element,
  name: string,
  value: string | number | undefined | null,
  order: readonly string[],
  same: (present: string, wanted: string) => boolean = (a, b) => a === b,
): void {
  if (value === undefined) return;
  if (value === null) return setAttr(el, name, null);
  const present = attr(el, name);
  if (present !== undefined && same(present, String(value))) return;
  setAttr(el, name, String(value), order);
}

/** How to sync one kind of keyed child element. */
export interface ListSpec<T> {
  tag: string;
  /** Sibling order of the parent, to place the first one. */
  order: readonly string[];
  /** Key of an existing element (its position among its kind is given for keys libvirt may omit). */
  keyOfElement: (el: Element, index: number) => string;
  keyOf: (item: T) => string;
  /** Numeric keys sort numerically, the way libvirt prints them. */
  compare?: (a: string, b: string) => number;
  /** Attributes of a new element, in order. */
  create: (item: T) => [string, string][];
  /** Brings an existing (or just created) element to `item`. */
  update: (el: Element, item: T) => void;
}

export const numeric = (a: string, b: string): number => Number(a) - Number(b);

/**
 * Makes the `spec.tag` children of a parent exactly `items`: updates matching
 * ones in place, removes the rest (and duplicates), inserts missing ones in key
 * order. `parent` is created by `ensureParent` only when something must be added.
 */
export function syncList<T>(parent: Element | null, ensureParent: () => Element, items: readonly T[], spec: ListSpec<T>): void {
  const wanted = new Map(items.map((i) => [spec.keyOf(i), i] as const));
  const kept = new Map<string, Element>();
  (parent ? children(parent, spec.tag) : []).forEach((el, index) => {
    const key = spec.keyOfElement(el, index);
    const item = wanted.get(key);
    if (item === undefined || kept.has(key)) return removeElement(el);
    kept.set(key, el);
    spec.update(el, item);
  });
  const missing = items.filter((i) => !kept.has(spec.keyOf(i)));
  if (missing.length === 0) return;
  const p = ensureParent();
  const cmp = spec.compare ?? (() => 0);
  for (const item of [...missing].sort((a, b) => cmp(spec.keyOf(a), spec.keyOf(b)))) {
    const key = spec.keyOf(item);
    const siblings = children(p, spec.tag);
    // Before the first sibling with a later key, else right after the last sibling.
    const anchor = siblings.find((el, i) => cmp(spec.keyOfElement(el, i), key) > 0) ??
      (siblings.length > 0 ? nextElement(siblings[siblings.length - 1]) : undefined);
    const el = anchor === undefined
      ? createChild(p, spec.tag, spec.order, spec.create(item))
      : insertChild(p, makeElement(p, spec.tag, spec.create(item)), anchor);
    spec.update(el, item);
  }
}

function nextElement(el: Element): Element | null {
  for (let n = el.nextSibling; n; n = n.nextSibling) if (n.nodeType === 1) return n as Element;
  return null;
}
