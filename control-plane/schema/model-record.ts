// A model version's record for the people who must answer for it (issue 22): modelVersionRecord.
export const modelRecordTypeDefs = /* GraphQL */ `
  "One model version's record, from recorded data only (docs/model-record.md)."
  type ModelVersionRecord {
    model: String!
    version: Int!
    "The record as one object: model, version, lineage, gates, approvals, rollouts, served, history, audit (null without audit:read)."
    document: JSON!
    "The same record as Markdown, for filing."
    markdown: String!
  }

  extend type Query {
    "The record of a model version (absent: the newest). Readers get it; the audit events and chain check need audit:read."
    modelVersionRecord(model: String!, version: Int): ModelVersionRecord!
  }
`;
