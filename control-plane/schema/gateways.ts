export const gatewayTypeDefs = /* GraphQL */ `
  enum GatewayHealth {
    HEALTHY
    DEGRADED
    UNHEALTHY
    UNKNOWN
  }

  enum GatewayStatus {
    "Heartbeat seen within three heartbeat intervals."
    CONNECTED
    STALE
    NEVER
  }

  type LoadedVersion {
    model: String!
    version: Int!
    sha256: String
    "ready, loading or failed"
    state: String!
    "Why the gateway refused the version (state failed), whole."
    reason: String
    "The execution provider a ready version runs on (cpu, cuda); cpu when a CUDA session fell back."
    executionProvider: String
  }

  type Gateway {
    id: ID!
    name: String!
    region: String!
    labels: [KeyValue!]!
    registeredAt: DateTime!
    lastHeartbeatAt: DateTime
    status: GatewayStatus!
    loadedVersions: [LoadedVersion!]!
    health: GatewayHealth!
    healthMessage: String!
    "The base URL the gateway advertises to its peers (--advertise-url); null: none."
    advertiseUrl: String
  }

  "Another live gateway, where its peers reach it (feedback forwarding)."
  type GatewayPeer {
    name: String!
    url: String!
  }

  type GatewayEdge {
    node: Gateway!
    cursor: String!
  }

  type GatewayConnection {
    edges: [GatewayEdge!]!
    pageInfo: PageInfo!
  }

  type DesiredVersion {
    version: Int!
    sha256: String!
    size: Float!
    "base64 Ed25519 signature of the artifact, to verify with the registry key keyId."
    signature: String!
    keyId: String!
    downloadUrl: String!
    tensors: TensorSignature!
    "base64 in-toto statement (predicate https://sluice.dev/model-version/v1) naming the registry key, model, version and the digest of every file."
    statement: String!
    "base64 Ed25519 signature of the statement (DSSE pre-authentication encoding, payload type application/vnd.in-toto+json)."
    statementSignature: String!
    "model.onnx, then config.json and profile.json when the version has them."
    files: [DesiredVersionFile!]!
  }

  type DesiredVersionFile {
    "model.onnx, config.json or profile.json"
    name: String!
    sha256: String!
    size: Float!
    downloadUrl: String!
  }

  type ResolvedAlias {
    name: String!
    version: Int!
  }

  type Route {
    version: Int!
    "Percent of calls to the model without a version."
    weight: Int!
  }

  type DesiredModel {
    name: String!
    "Versions to load."
    versions: [DesiredVersion!]!
    aliases: [ResolvedAlias!]!
    "Routing table: calls to the model without a version go to these versions by weight."
    routes: [Route!]!
    "The model's active rollout: how gateways pick among the routes and what they mirror."
    rollout: RolloutPlan
  }

  enum RolloutStrategy {
    CANARY
    BLUE_GREEN
    AB
    SHADOW
  }

  "A rollout as gateways apply it (lib/sync-wire.ts WireRolloutPlan)."
  type RolloutPlan {
    id: ID!
    strategy: RolloutStrategy!
    stable: Int!
    candidate: Int!
    "Pick by a stable hash of the sluice-route-key header or parameter (A/B)."
    sticky: Boolean!
    "Share 0..1 of calls copied to the rollout's other version after the answer is sent."
    mirrorShare: Float!
    "Regressor answers agree within this absolute or relative tolerance; classifiers by argmax."
    agreementTolerance: Float!
  }

  "What a gateway should serve."
  type DesiredState {
    gateway: String
    "Equal revisions mean nothing changed."
    revision: String!
    models: [DesiredModel!]!
    signingKey: SigningKey!
    heartbeatIntervalSeconds: Int!
    "How often a gateway sends its traffic windows (reportTraffic)."
    trafficReportIntervalMs: Int!
    "Who may call the gateways (issue 17); null unless the caller is a gateway or an admin."
    access: GatewayAccess
    "The other connected gateways that advertise a URL (feedback forwarding); null unless the caller is a gateway. Not part of the revision."
    peers: [GatewayPeer!]
  }

  "A live token as gateways check it: the SHA-256 of its secret, never the secret."
  type GatewayAccessToken {
    sha256: String!
    name: String!
    scopes: [String!]!
    rateLimit: Float
    rateBurst: Int
  }

  type GatewayAccess {
    tokens: [GatewayAccessToken!]!
  }

  input RegisterGatewayInput {
    name: String!
    region: String
    labels: [KeyValueInput!]
  }

  input LoadedVersionInput {
    model: String!
    version: Int!
    sha256: String
    "ready, loading or failed"
    state: String!
    "Why a failed version was refused."
    reason: String
    "The execution provider the version runs on (cpu, cuda)."
    executionProvider: String
  }

  input HeartbeatInput {
    name: String!
    loaded: [LoadedVersionInput!]!
    health: GatewayHealth!
    message: String
    "The base URL peers reach the gateway at (scheme://host:port); absent: none."
    advertiseUrl: String
  }

  "One gateway's copies of calls for a rollout (lib/sync-wire.ts WireMirrorStats)."
  input MirrorStatsInput {
    calls: Int!
    errors: Int!
    compared: Int!
    agreed: Int!
    "Per LATENCY_BUCKETS_MS plus one overflow bucket."
    latency: [Int!]!
  }

  input OutputHistogramInput {
    feature: String!
    counts: [Int!]!
  }

  "What a gateway measured for one model version over [start, end) (lib/sync-wire.ts WireTrafficWindow)."
  input TrafficWindowInput {
    model: String!
    version: Int!
    rolloutId: ID
    start: DateTime!
    end: DateTime!
    calls: Int!
    errors: Int!
    "Client calls refused at admission for room (503 queue full or late, no decode slot, unloading), in neither calls nor latency; absent: 0 (older gateways)."
    refused: Int
    "Per LATENCY_BUCKETS_MS plus one overflow bucket."
    latency: [Int!]!
    mirrored: MirrorStatsInput!
    outputs: [OutputHistogramInput!]!
    "Ground truth joined in the window (issue 16)."
    feedback: FeedbackStatsInput
    "The version's drift monitor at the window's end (issue 16)."
    drift: [DriftSnapshotInput!]
    "Attribution window of sampled calls at the window's end (issue 22)."
    attribution: AttributionSnapshotInput
    "Per-slice counts in the window (issue 22)."
    slices: [SliceStatsInput!]
  }

  input AttributionSnapshotInput {
    rows: Int!
    shift: Float
    features: [AttributionShareInput!]!
  }

  input AttributionShareInput {
    feature: String!
    share: Float!
    referenceShare: Float!
  }

  input SliceStatsInput {
    slice: String!
    calls: Int!
    outcome: Float!
    labelled: Int!
    errors: Float!
  }

  input FeedbackStatsInput {
    count: Int!
    correct: Int!
    absError: Float!
    squaredError: Float!
  }

  input DriftSnapshotInput {
    feature: String!
    rows: Int!
    psi: Float
    "ok, warn or alert; null below the version's min_rows."
    level: String
  }

  extend type Query {
    gateways(first: Int, after: String): GatewayConnection!
    gateway(name: String!): Gateway
    "The state a gateway should serve; a gateway token gets its own (the gateway argument is for people)."
    desiredState(gateway: String): DesiredState!
  }

  extend type Mutation {
    registerGateway(input: RegisterGatewayInput!): Gateway!
    heartbeat(input: HeartbeatInput!): Gateway!
    "A gateway's traffic windows, for rollout analysis; answers how many were stored."
    reportTraffic(gateway: String!, windows: [TrafficWindowInput!]!): Int!
  }

  type Subscription {
    "The desired state now, then again each time it changes (alias moves, new or archived versions)."
    desiredStateChanged(gateway: String): DesiredState!
  }
`;
