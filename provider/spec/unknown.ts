/** How the engine sends a value that is not known yet at preview (the SDK's rpc.unknownValue). */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when a value, or anything inside it, is still unknown: check skips it and validates at the next check. */
export const hasUnknown = (v: unknown): boolean => v === UNKNOWN_VALUE || (typeof v === "object" && v !== null && Object.values(v).some(hasUnknown));
