/**
 * libvirt domain XML model: parse -> typed owned parts -> apply -> render, keeping
 * every element kvmtune does not own; semantic compare of the owned parts.
 */
export { parseDomainXml, type DomainDocument } from "./dom";
export { renderDomainXml } from "./serialize";
export { readOwnedParts } from "./parts-read";
export { applyOwnedParts } from "./parts-apply";
export { validateParts } from "./validate";
export { diffOwnedParts, describeDiff } from "./compare";
export { cpusetEquals, normalizeCpuset, parseLibvirtCpuset, sizeInBytes } from "./values";
export * from "./types";
