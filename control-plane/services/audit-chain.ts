// The audit log's hash chain. Each event stores the SHA-256 of the event before it and its own hash
// over every stored column, so editing a row breaks its own hash and deleting one breaks the next
// event's link (or, for the newest event, the head row). Hashes are computed over the exact stored
// text (JSON columns included), so verifying needs no re-serialization that could drift.
import { createHash } from 'node:crypto';
import type { AuditEventTable } from '../store/tables.js';
import { GENESIS_HASH } from '../store/genesis.js';

export function auditEventHash(e: Omit<AuditEventTable, 'hash'>): string {
  const fields = [
    e.seq, e.at, e.actor_id, e.actor_name, e.role, e.action, e.resource, e.before_state, e.after_state,
    e.request_id, e.client_address, e.outcome, e.reason, e.prev_hash,
  ];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

export interface ChainBreak {
  seq: number;
  reason: 'hash-mismatch' | 'link-mismatch' | 'missing-event' | 'head-mismatch';
}

/**
 * Walks events in `seq` order, fed in pages, and remembers the first break. `seq` is dense (1, 2,
 * 3, ...) because appends hold the head lock, so a gap is a deleted event.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  firstBreak: ChainBreak | undefined;
  checked = 0;

  /** Returns false once a break is found (the caller stops reading). */
  feed(e: AuditEventTable): boolean {
    const seq = Number(e.seq);
    this.checked++;
    if (seq !== this.expectedSeq) {
      this.firstBreak = { seq: this.expectedSeq, reason: 'missing-event' };
      return false;
    }
    if (e.prev_hash !== this.prevHash) {
      this.firstBreak = { seq, reason: 'link-mismatch' };
      return false;
    }
    if (auditEventHash({ ...e, seq }) !== e.hash) {
      this.firstBreak = { seq, reason: 'hash-mismatch' };
      return false;
    }
    this.expectedSeq = seq + 1;
    this.prevHash = e.hash;
    return true;
  }

  /** The head row must name the last event seen: otherwise the newest events were deleted. */
  finish(head: { seq: number | string; hash: string }): void {
    if (this.firstBreak) return;
    const headSeq = Number(head.seq);
    if (headSeq !== this.expectedSeq - 1) this.firstBreak = { seq: this.expectedSeq, reason: 'missing-event' };
    else if (head.hash !== this.prevHash) this.firstBreak = { seq: headSeq, reason: 'head-mismatch' };
  }
}
