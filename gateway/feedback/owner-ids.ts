// Which gateway made an answer id. Behind a load balancer (docs/feedback.md "Behind a load
// balancer") the feedback for an answer may land on any gateway; an id the gateway makes ends with
// a tag of the gateway that made it, so whichever gateway the feedback reaches can tell where the
// answer is kept without asking anyone:
//   <16 hex digits of randomness>-<sequence number in base 36>[-<owner tag: 8 hex digits>]
// The tag is the first 32 bits of SHA-256 over the gateway's name: fixed length, no host name in
// ids, and distinct for any fleet of a reasonable size. A standalone gateway (no control plane) has
// no tag and makes ids exactly as before.
import { createHash } from 'node:crypto';

/** An id the gateway made: two 32-bit checks in hex, the sequence number in base 36, the owner's tag if any. */
const GENERATED = /^([0-9a-f]{8})([0-9a-f]{8})-([0-9a-z]{1,11})(?:-([0-9a-f]{8}))?$/;

export interface GeneratedId {
  check0: number;
  check1: number;
  seq: number;
  /** The tag of the gateway that made it; undefined for an untagged (standalone) id. */
  owner: string | undefined;
}

/** The tag ids made by the gateway called `name` end with. */
export function ownerTag(name: string): string {
  return createHash('sha256').update(`sluice-gateway:${name}`).digest('hex').slice(0, 8);
}

/** The parts of an id the gateway made, or undefined for any other id (a caller's). */
export function parseGeneratedId(id: string): GeneratedId | undefined {
  const m = GENERATED.exec(id);
  if (m === null) return undefined;
  return { check0: parseInt(m[1]!, 16) | 0, check1: parseInt(m[2]!, 16) | 0, seq: parseInt(m[3]!, 36), owner: m[4] };
}
