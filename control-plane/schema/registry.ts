export const registryTypeDefs = /* GraphQL */ `
  "A registered model: a name with numbered versions and aliases."
  type Model {
    id: ID!
    name: String!
    description: String!
    owner: String!
    tags: [KeyValue!]!
    createdAt: DateTime!
    updatedAt: DateTime!
    "Newest first."
    versions(first: Int, after: String, status: ModelVersionStatus): ModelVersionConnection!
    version(number: Int!): ModelVersion
    aliases: [Alias!]!
  }

  type ModelEdge {
    node: Model!
    cursor: String!
  }

  type ModelConnection {
    edges: [ModelEdge!]!
    pageInfo: PageInfo!
  }

  enum ModelVersionStatus {
    READY
    ARCHIVED
  }

  type TensorSpec {
    name: String!
    "Open Inference Protocol datatype: FP32, INT64, ..."
    datatype: String!
    "-1 marks a dynamic dimension."
    shape: [Int!]!
  }

  type TensorSignature {
    inputs: [TensorSpec!]!
    outputs: [TensorSpec!]!
  }

  type Metric {
    name: String!
    value: Float!
  }

  type Lineage {
    datasetDigest: String
    parameters: JSON!
    trainingJob: String
    source: String
    "The trainer's sha256, or builtin:<name>@<version> (recorded by training jobs)."
    trainerDigest: String
    "The version this one was retrained from."
    parentVersion: Int
  }

  "The uploaded model file, stored by content."
  type Artifact {
    sha256: String!
    "Bytes (a Float: GraphQL Int stops at 2^31)."
    size: Float!
    "base64 Ed25519 signature of the artifact by the registry key keyId."
    signature: String!
    keyId: String!
    "GET with Authorization: Bearer to download."
    downloadUrl: String!
  }

  type ModelVersion {
    id: ID!
    model: Model!
    number: Int!
    status: ModelVersionStatus!
    description: String!
    artifact: Artifact!
    signature: TensorSignature!
    metrics: [Metric!]!
    lineage: Lineage!
    "Names of the aliases pointing here."
    aliases: [String!]!
    createdAt: DateTime!
    createdBy: String!
    "The serving config (config.json) gateways load the version with; null when it has none."
    config: Artifact
    "The drift reference profile; null when the version has none (gateways serve it with drift off)."
    profile: Artifact
    "base64 in-toto statement naming registry key, model, version and the digests of model, config and profile."
    statement: String
    "base64 Ed25519 signature of the statement (DSSE pre-authentication encoding)."
    statementSignature: String
    "What the connected gateways report for this version: loaded, refused (with the reason) or not yet."
    fleet: FleetVersionState!
  }

  type GatewayVersionState {
    gateway: String!
    "ready, loading, failed, or pending (not reported yet)"
    state: String!
    reason: String
    reportedAt: DateTime
  }

  type FleetVersionState {
    "Gateways connected now."
    gateways: Int!
    loaded: Int!
    failed: Int!
    states: [GatewayVersionState!]!
  }

  type ModelVersionEdge {
    node: ModelVersion!
    cursor: String!
  }

  type ModelVersionConnection {
    edges: [ModelVersionEdge!]!
    pageInfo: PageInfo!
  }

  type Alias {
    name: String!
    version: ModelVersion!
    updatedAt: DateTime!
    updatedBy: String!
  }

  input ModelFilter {
    owner: String
  }

  input CreateModelInput {
    name: String!
    description: String
    "Defaults to the caller's token name."
    owner: String
    tags: [KeyValueInput!]
  }

  input UpdateModelInput {
    name: String!
    description: String
    owner: String
    "Replaces all tags when given."
    tags: [KeyValueInput!]
  }

  input MetricInput {
    name: String!
    value: Float!
  }

  input LineageInput {
    datasetDigest: String
    parameters: JSON
    "Refused here: set by the training job that registered the version."
    trainingJob: String
    source: String
  }

  input CreateModelVersionInput {
    model: String!
    "The ONNX file (multipart upload)."
    artifact: File!
    "The serving config (config.json, gateway/models/config.ts schema), multipart; default: the newest version's config."
    config: File
    "The drift reference profile (profile.json), multipart; default: none (drift off for this version)."
    profile: File
    "Register bytes that an existing version of the model already has (refused with SLUICE_E_ARTIFACT_DUPLICATE otherwise)."
    allowDuplicate: Boolean
    description: String
    metrics: [MetricInput!]
    lineage: LineageInput
  }

  input SetModelVersionStatusInput {
    model: String!
    version: Int!
    status: ModelVersionStatus!
  }

  input SetAliasInput {
    model: String!
    alias: String!
    version: Int!
    "production only: an admin's reason to move it to a version whose promotion gate failed (audited as gate.override)."
    gateOverride: String
  }

  input DeleteAliasInput {
    model: String!
    alias: String!
  }

  type DeleteAliasPayload {
    deleted: Boolean!
  }

  "The registry's Ed25519 public key: gateways verify artifact signatures with it."
  type SigningKey {
    keyId: String!
    publicKeyPem: String!
  }

  extend type Query {
    "Models by name."
    models(first: Int, after: String, filter: ModelFilter): ModelConnection!
    model(name: String!): Model
    modelVersion(model: String!, version: Int!): ModelVersion
    registryPublicKey: SigningKey!
  }

  type Mutation {
    createModel(input: CreateModelInput!): Model!
    updateModel(input: UpdateModelInput!): Model!
    createModelVersion(input: CreateModelVersionInput!): ModelVersion!
    setModelVersionStatus(input: SetModelVersionStatusInput!): ModelVersion!
    "Point an alias at a version, creating or moving it atomically."
    setAlias(input: SetAliasInput!): Alias!
    deleteAlias(input: DeleteAliasInput!): DeleteAliasPayload!
  }
`;
