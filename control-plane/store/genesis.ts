/** `prev_hash` of the first audit event: 64 zeros, the usual genesis marker of a SHA-256 chain. */
export const GENESIS_HASH = '0'.repeat(64);
