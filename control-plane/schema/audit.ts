export const auditTypeDefs = /* GraphQL */ `
  enum AuditOutcome {
    SUCCESS
    DENIED
    FAILED
  }

  "One entry of the hash-chained audit log."
  type AuditEvent {
    seq: Int!
    at: DateTime!
    actorId: String!
    actorName: String!
    role: String!
    action: String!
    resource: String!
    before: JSON
    after: JSON
    requestId: String!
    clientAddress: String!
    outcome: AuditOutcome!
    "Error code of a denied or failed attempt."
    reason: String
    prevHash: String!
    hash: String!
  }

  type AuditEventEdge {
    node: AuditEvent!
    cursor: String!
  }

  type AuditEventConnection {
    edges: [AuditEventEdge!]!
    pageInfo: PageInfo!
  }

  input AuditEventFilter {
    "Token id, or system."
    actorId: String
    "e.g. alias.set, model.create, token.create"
    action: String
    "e.g. model/weather/alias/production"
    resource: String
    outcome: AuditOutcome
    "Inclusive lower bound."
    since: DateTime
    "Exclusive upper bound."
    until: DateTime
  }

  enum AuditBreakReason {
    HASH_MISMATCH
    LINK_MISMATCH
    MISSING_EVENT
    HEAD_MISMATCH
  }

  type AuditBreak {
    "The first event that does not verify (for a deleted event: the seq that is missing)."
    seq: Int!
    reason: AuditBreakReason!
  }

  enum AuditCheckpointBreakReason {
    "The line's JWS does not verify under the checkpoint key (or the line is not a checkpoint)."
    BAD_SIGNATURE
    "The checkpointed event is no longer in the database: the newest events were deleted."
    EVENT_MISSING
    "The checkpointed event has another hash: the chain was rewritten."
    HASH_MISMATCH
    "A checkpoint names an older sequence than the one before it."
    OUT_OF_ORDER
  }

  type AuditCheckpointBreak {
    "Line of the checkpoint file (1-based)."
    line: Int!
    seq: Int!
    at: String!
    reason: AuditCheckpointBreakReason!
  }

  type AuditVerification {
    "The chain verifies and agrees with every checkpoint."
    ok: Boolean!
    checkedEvents: Int!
    firstBad: AuditBreak
    "Signed checkpoints checked against the database (docs/audit.md)."
    checkpoints: Int
    firstBadCheckpoint: AuditCheckpointBreak
  }

  extend type Query {
    "Newest first."
    auditEvents(first: Int, after: String, filter: AuditEventFilter): AuditEventConnection!
    "Recompute the hash chain from the first event and check it against the signed checkpoints."
    verifyAudit: AuditVerification!
  }
`;
