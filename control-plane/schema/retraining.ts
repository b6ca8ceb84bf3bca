// The retraining loop and the model timeline (issue 16). Names are part of the contract:
// retrainingPolicy, retrainingPolicies, setRetrainingPolicy, retrainingState, pauseRetraining,
// resumeRetraining, retrainingRuns, retrainingRun, stopRetrainingRun, modelTimeline.
export const retrainingTypeDefs = /* GraphQL */ `
  "A revision of a model's retraining policy (docs/lifecycle.md has its fields)."
  type RetrainingPolicy {
    model: String!
    revision: Int!
    "The policy as validated: enabled, triggers, training, rollout, cooldownSeconds."
    policy: JSON!
    createdAt: DateTime!
    createdBy: String!
  }

  "Whether a person paused the model's loop: no run starts, the active one holds at its next step."
  type RetrainingState {
    model: String!
    paused: Boolean!
    reason: String
    updatedAt: DateTime
    updatedBy: String
  }

  "An alert that started a retraining run, as it was then."
  type RetrainingTrigger {
    id: ID!
    ruleName: String!
    metric: String!
    feature: String
    version: Int!
    value: Float
    threshold: Float!
    firedAt: DateTime
  }

  """
  One run of the loop: triggered → training → gating → rolling_out (or awaiting_approval) → promoted;
  or it ends aborted, gated (no rollout in the policy), gate_failed, training_failed, rollout_failed
  or stopped.
  """
  type RetrainingRun {
    id: ID!
    model: String!
    policyRevision: Int!
    state: String!
    active: Boolean!
    triggers: [RetrainingTrigger!]!
    jobId: ID
    version: Int
    gateReportId: ID
    rolloutId: ID
    message: String!
    createdAt: DateTime!
    updatedAt: DateTime!
    finishedAt: DateTime
  }

  "One event in a model's life; the ids tie it to the run, alert, job, version, gate report or rollout it is about."
  type TimelineEvent {
    at: DateTime!
    kind: String!
    summary: String!
    actor: String
    runId: ID
    alertId: ID
    jobId: ID
    version: Int
    gateReportId: ID
    rolloutId: ID
  }

  extend type Query {
    retrainingPolicy(model: String!): RetrainingPolicy
    "Every revision, newest first."
    retrainingPolicies(model: String!): [RetrainingPolicy!]!
    retrainingState(model: String!): RetrainingState!
    "Newest first."
    retrainingRuns(model: String, last: Int): [RetrainingRun!]!
    retrainingRun(id: ID!): RetrainingRun
    "Alerts, runs, jobs, versions, gate reports, rollouts and people's acts, oldest first (the newest \`last\`, default 200)."
    modelTimeline(model: String!, last: Int): [TimelineEvent!]!
  }

  extend type Mutation {
    "A new revision of the model's retraining policy."
    setRetrainingPolicy(model: String!, policy: JSON!): RetrainingPolicy!
    pauseRetraining(model: String!, reason: String): RetrainingState!
    resumeRetraining(model: String!): RetrainingState!
    "Cancel the run's job or abort its rollout, and end it."
    stopRetrainingRun(id: ID!, reason: String): RetrainingRun!
  }
`;
