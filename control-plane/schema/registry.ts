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
    trainingJob: String
    source: String
  }

  input CreateModelVersionInput {
    model: String!
    "The ONNX file (multipart upload)."
    artifact: File!
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
