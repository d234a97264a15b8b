export { openSession, TransportError } from "./ssh";
export { withSession, setSessionReuse, forgetSessions, closeIdleSessions } from "./session-pool";
export { transportCounts, resetTransportCounts, type TransportCounts } from "./stats";
export { shQuote } from "./framing";
export type { RemoteSession, RunOptions, RunResult } from "./types";
