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

  type AuditVerification {
    ok: Boolean!
    checkedEvents: Int!
    firstBad: AuditBreak
  }

  extend type Query {
    "Newest first."
    auditEvents(first: Int, after: String, filter: AuditEventFilter): AuditEventConnection!
    "Recompute the hash chain from the first event."
    verifyAudit: AuditVerification!
  }
`;
