// The fleet (issue 19): where each model is placed (a label selector on the gateways), each
// gateway's recent traffic, and per model which gateways serve which version (services/fleet.ts).
export const fleetTypeDefs = /* GraphQL */ `
  extend type Model {
    "Label selector of the gateways that serve the model (pool=gpu,region!=us); null: every gateway."
    placement: String
  }

  input SetModelPlacementInput {
    model: String!
    "key=value and key!=value terms, comma-separated, all must hold; the key region reads the gateway's region. null: every gateway."
    selector: String
  }

  "Traffic over the windows received in the last seconds (calls/s = calls / seconds)."
  type RecentTraffic {
    seconds: Int!
    calls: Int!
    errors: Int!
    callsPerSecond: Float!
    errorRate: Float
    "Upper bound of the latency bucket holding the 99th percentile."
    p99Ms: Float
  }

  extend type Gateway {
    "What the gateway answered over the windows it reported in the last seconds (1 to 3600)."
    recent(seconds: Int = 60): RecentTraffic!
  }

  "One gateway's report of a model version (its last heartbeat)."
  type FleetGateway {
    gateway: String!
    region: String!
    status: GatewayStatus!
    "ready, loading or failed"
    state: String!
    executionProvider: String
  }

  type FleetVersion {
    version: Int!
    "The gateways whose last heartbeat names the version."
    gateways: [FleetGateway!]!
    "Connected gateways with the version ready."
    serving: Int!
    callsPerSecond: Float!
    "Summed over every gateway's windows of the range; null when none reported the version."
    figures: FleetFigures
  }

  type ModelFleet {
    model: String!
    seconds: Int!
    versions: [FleetVersion!]!
  }

  extend type Query {
    "Per version of model: the gateways serving it and its fleet-wide figures over the last seconds (1 to 3600)."
    modelFleet(model: String!, seconds: Int = 60): ModelFleet!
  }

  extend type Mutation {
    "Serve a model only on the gateways a label selector picks (with its residency regions, both must allow). Operators and admins."
    setModelPlacement(input: SetModelPlacementInput!): Model!
  }
`;
