// Promotion gates (issue 16): holdout datasets, promotion policies, gate reports, approvals.
export const gateTypeDefs = /* GraphQL */ `
  "One check of a promotion policy as measured on one version."
  type GateCheck {
    "metric_floor, no_regression, slice, slice_floor, slice_gap, parity, equal_opportunity, robustness, compatibility, evaluation"
    kind: String!
    name: String!
    passed: Boolean!
    "null when the check is not numeric (compatibility) or nothing was judged."
    measured: Float
    limit: Float
    detail: String!
  }

  "What the promotion gate found on one version, under one revision of the model's policy."
  type GateReport {
    id: ID!
    model: String!
    version: Int!
    "null: the model had no policy; nothing was checked and the report passes."
    policyRevision: Int
    "The production version the candidate was compared with (null: none). Promotion only counts a report made against the current one."
    productionVersion: Int
    passed: Boolean!
    checks: [GateCheck!]!
    createdAt: DateTime!
    createdBy: String!
  }

  "One revision of a model's promotion policy (docs/gates.md describes its fields)."
  type PromotionPolicy {
    model: String!
    revision: Int!
    policy: JSON!
    createdAt: DateTime!
    createdBy: String!
  }

  type HoldoutColumn {
    name: String!
    numeric: Boolean!
  }

  "A holdout CSV registered for a model's gates, stored by content."
  type HoldoutDataset {
    id: ID!
    model: String!
    name: String!
    sha256: String!
    "Bytes."
    size: Float!
    rows: Int!
    columns: [HoldoutColumn!]!
    createdAt: DateTime!
    createdBy: String!
  }

  type PromotionApproval {
    id: ID!
    model: String!
    version: Int!
    approver: String!
    comment: String!
    createdAt: DateTime!
  }

  extend type ModelVersion {
    "The newest gate report of this version (under any policy revision)."
    gateReport: GateReport
    approvals: [PromotionApproval!]!
  }

  input SetPromotionPolicyInput {
    model: String!
    policy: JSON!
  }

  input UploadDatasetInput {
    model: String!
    name: String!
    "The CSV, sent as a multipart upload."
    file: File!
  }

  input RegisterDatasetInput {
    model: String!
    name: String!
    "The CSV text itself."
    csv: String!
  }

  input ApprovePromotionInput {
    model: String!
    version: Int!
    comment: String
  }

  extend type Query {
    "The model's current promotion policy (null: none; promotion is not gated)."
    promotionPolicy(model: String!): PromotionPolicy
    "Every revision, oldest first."
    promotionPolicyHistory(model: String!): [PromotionPolicy!]!
    "Every gate report of the model, oldest first."
    gateReports(model: String!, version: Int): [GateReport!]!
    datasets(model: String!): [HoldoutDataset!]!
  }

  extend type Mutation {
    "Store a new revision of the model's promotion policy."
    setPromotionPolicy(input: SetPromotionPolicyInput!): PromotionPolicy!
    "Run the model's current policy on a version with ONNX Runtime and store the report."
    evaluateGates(model: String!, version: Int!): GateReport!
    uploadDataset(input: UploadDatasetInput!): HoldoutDataset!
    registerDataset(input: RegisterDatasetInput!): HoldoutDataset!
    "Approve the promotion of a version (policies with requireApproval); not by its submitter."
    approvePromotion(input: ApprovePromotionInput!): PromotionApproval!
  }
`;
