// Rollouts (issue 14): canary steps with analysis, blue-green, A/B, shadow. Names are part of the
// contract: rollouts, rollout, startRollout, promoteRollout, pauseRollout, resumeRollout,
// abortRollout, rolloutChanged.
export const rolloutTypeDefs = /* GraphQL */ `
  enum RolloutPhase {
    "Moving through its steps (canary), previewing (blue-green) or holding its split (A/B, shadow)."
    PROGRESSING
    "Held by pauseRollout, an indefinite pause step, or a blue-green preview waiting for promoteRollout."
    PAUSED
    "Blue-green: all traffic on the candidate; the old version stays loaded for scaleDownDelaySeconds."
    SWITCHED
    "The production alias moved to the candidate."
    PROMOTED
    "Back on the stable version; abortReason says why."
    ABORTED
  }

  enum AnalysisStatus {
    SUCCESSFUL
    FAILED
    "Too few calls, or a threshold's figure could not be measured; neither passes nor fails."
    INCONCLUSIVE
  }

  type PauseStep {
    "Null: until resumeRollout."
    seconds: Int
  }

  type AnalysisStep {
    "Successful analysis runs needed to pass the step."
    count: Int!
  }

  "One canary step: exactly one of setWeight, pause, analysis."
  type RolloutStep {
    setWeight: Int
    pause: PauseStep
    analysis: AnalysisStep
  }

  "The analysis every interval: each threshold set is a success condition."
  type AnalysisTemplate {
    intervalSeconds: Int!
    minCalls: Int!
    failureLimit: Int!
    count: Int!
    maxErrorRate: Float
    maxP99Ratio: Float
    minAgreement: Float
    maxOutputPsi: Float
  }

  "One version's figures in an analysis run, summed over every gateway (the candidate's include its mirrored copies)."
  type ArmFigures {
    version: Int!
    "Calls the version answered or failed at; errorRate is errors / calls."
    calls: Int!
    errors: Int!
    errorRate: Float
    "Client calls refused at admission for room (queue full or late, no decode slot, unloading): overload, not the version's errors, in neither calls nor errorRate."
    refused: Int!
    p50Ms: Float
    p99Ms: Float
    mirroredCalls: Int!
  }

  type AnalysisCondition {
    "errorRate, p99Ratio, agreement or outputPsi"
    metric: String!
    "<= or >="
    operator: String!
    threshold: Float!
    "Null when it could not be measured in the run."
    value: Float
    passed: Boolean
  }

  type AnalysisRun {
    id: ID!
    status: AnalysisStatus!
    stepIndex: Int!
    windowStart: DateTime!
    windowEnd: DateTime!
    message: String!
    candidate: ArmFigures!
    stable: ArmFigures!
    gateways: Int!
    p99Ratio: Float
    compared: Int!
    agreement: Float
    outputPsi: Float
    outputPsiFeature: String
    conditions: [AnalysisCondition!]!
  }

  type RolloutWeight {
    version: Int!
    weight: Int!
  }

  type Rollout {
    id: ID!
    model: String!
    stable: Int!
    candidate: Int!
    strategy: RolloutStrategy!
    phase: RolloutPhase!
    "Index into steps of the step being run (canary); steps.length once they are done."
    currentStep: Int!
    steps: [RolloutStep!]!
    "Percent of the model's calls the candidate answers now."
    weight: Int!
    weights: [RolloutWeight!]!
    analysis: AnalysisTemplate
    "Analysis runs, oldest first (the newest last of them when last is given)."
    analysisRuns(last: Int): [AnalysisRun!]!
    mirrorShare: Float!
    agreementTolerance: Float!
    scaleDownDelaySeconds: Int
    autoPromotionSeconds: Int
    message: String!
    abortReason: String
    createdAt: DateTime!
    createdBy: String!
    updatedAt: DateTime!
    stepStartedAt: DateTime!
    switchedAt: DateTime
    nextAnalysisAt: DateTime
    finishedAt: DateTime
  }

  type RolloutEdge {
    node: Rollout!
    cursor: String!
  }

  type RolloutConnection {
    edges: [RolloutEdge!]!
    pageInfo: PageInfo!
  }

  type OutputDistribution {
    feature: String!
    counts: [Int!]!
  }

  "One arm of a rollout over its life so far, summed over every gateway."
  type ArmComparison {
    version: Int!
    calls: Int!
    errors: Int!
    errorRate: Float
    "Client calls refused at admission for room, apart from calls and errors."
    refused: Int!
    p50Ms: Float
    p90Ms: Float
    p99Ms: Float
    "Per latencyBucketsMs plus one overflow bucket."
    latency: [Int!]!
    mirroredCalls: Int!
    outputs: [OutputDistribution!]!
  }

  "The A/B comparison: both arms side by side."
  type RolloutComparison {
    rollout: Rollout!
    from: DateTime!
    to: DateTime!
    latencyBucketsMs: [Float!]!
    stable: ArmComparison!
    candidate: ArmComparison!
    "Largest PSI of the candidate's outputs against the stable version's."
    outputPsi: Float
    outputPsiFeature: String
    agreement: Float
  }

  input PauseStepInput {
    "Omit to pause until resumeRollout."
    seconds: Int
  }

  input AnalysisStepInput {
    "Successful runs needed (default: analysis.count)."
    count: Int
  }

  input RolloutStepInput {
    setWeight: Int
    pause: PauseStepInput
    analysis: AnalysisStepInput
  }

  input AnalysisInput {
    "Default 10."
    intervalSeconds: Int
    "Fewer candidate calls make a run INCONCLUSIVE (default 50)."
    minCalls: Int
    "The rollout aborts when more runs than this failed (default 0)."
    failureLimit: Int
    "Successful runs that pass an analysis step or a blue-green preview (default 1)."
    count: Int
    maxErrorRate: Float
    maxP99Ratio: Float
    minAgreement: Float
    maxOutputPsi: Float
  }

  input StartRolloutInput {
    model: String!
    "The version to roll out; the stable version is the production alias."
    candidate: Int!
    strategy: RolloutStrategy!
    "CANARY only: setWeight (0-100, never decreasing), pause, analysis; the rollout promotes after the last."
    steps: [RolloutStepInput!]
    analysis: AnalysisInput
    "AB only: percent of calls to the candidate (1-99), held for the rollout's life."
    weight: Int
    "CANARY (default 0.1), SHADOW (default 0.5), BLUE_GREEN before the switch (default 0): share of calls copied to the other version."
    mirrorShare: Float
    "Regressor answers agree within this absolute or relative tolerance (default 0.001)."
    agreementTolerance: Float
    "BLUE_GREEN: seconds the old version stays loaded after the switch (default 30)."
    scaleDownDelaySeconds: Int
    "BLUE_GREEN: switch this many seconds after the analysis passed (or after the start without analysis)."
    autoPromotionSeconds: Int
    "An admin's reason to start although the candidate's promotion gate failed (audited as gate.override)."
    gateOverride: String
  }

  extend type Query {
    "Newest first."
    rollouts(model: String, first: Int, after: String): RolloutConnection!
    rollout(id: ID!): Rollout
    "Per-arm calls, errors, latency quantiles and output distributions (the A/B comparison; any strategy)."
    rolloutComparison(id: ID!): RolloutComparison
  }

  extend type Mutation {
    startRollout(input: StartRolloutInput!): Rollout!
    "Canary, A/B, shadow: promote now. Blue-green: switch traffic, or end the scale-down delay."
    promoteRollout(id: ID!): Rollout!
    pauseRollout(id: ID!): Rollout!
    resumeRollout(id: ID!): Rollout!
    abortRollout(id: ID!, reason: String): Rollout!
  }

  extend type Subscription {
    "The rollout now, then again at each change (transition or analysis run)."
    rolloutChanged(id: ID!): Rollout!
  }
`;
