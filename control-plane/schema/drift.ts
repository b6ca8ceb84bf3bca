// The gateways' current drift windows as bin counts (issue 23, services/drift-histograms.ts): what
// a gateway sends with its traffic windows, and what the console draws beside the reference profile.
export const driftTypeDefs = /* GraphQL */ `
  "One feature's counts on its profile's PSI bins (lib/sync-wire.ts WireDriftBins)."
  input DriftBinsInput {
    feature: String!
    "numeric: edges + 1 bins (open outer bins); categorical: categories + 1 (the last: any other value)."
    counts: [Int!]!
  }

  extend input TrafficWindowInput {
    "Bin counts of the drift window that drift scores (issue 23); absent: none to publish."
    driftBins: [DriftBinsInput!]
  }

  "One feature of the current window, on the same bins as the profile's proportions."
  type DriftHistogram {
    feature: String!
    "Summed over the gateways."
    counts: [Float!]!
    "The binned rows (NaN values are not binned)."
    rows: Float!
  }

  type CurrentDriftWindow {
    "Gateways whose latest report was merged."
    gateways: Int!
    "When the newest of them was received; null when none reported."
    receivedAt: DateTime
    features: [DriftHistogram!]!
  }

  extend type ModelVersion {
    "The gateways' current drift windows: each gateway's latest report of the last seconds (1 to 3600), counts added bin by bin."
    currentDrift(seconds: Int = 300): CurrentDriftWindow!
  }
`;
