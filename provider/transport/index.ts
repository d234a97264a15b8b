export { openSession, withSession, TransportError } from "./ssh";
export { transportCounts, resetTransportCounts, type TransportCounts } from "./stats";
export { shQuote } from "./framing";
export type { RemoteSession, RunOptions, RunResult } from "./types";
