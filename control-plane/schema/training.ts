export const trainingTypeDefs = /* GraphQL */ `
  enum TrainingJobStatus {
    QUEUED
    RUNNING
    SUCCEEDED
    FAILED
    CANCELLED
    TIMED_OUT
  }

  "How a runner ended an attempt."
  enum TrainingOutcome {
    SUCCEEDED
    FAILED
    CANCELLED
    TIMED_OUT
  }

  enum TrainerKind {
    COMMAND
    BUILTIN
  }

  enum SweepMethod {
    GRID
    RANDOM
  }

  enum SweepGoal {
    MIN
    MAX
  }

  enum DataColumnType {
    NUMBER
    INTEGER
    STRING
  }

  type Trainer {
    kind: TrainerKind!
    "argv of a command trainer (docs/training.md: the contract)."
    command: [String!]
    "Name of a built-in trainer (weather-mlp)."
    builtin: String
    "A builtin's builtin:<name>@<version>; a command trainer's expected sha256 when the job named one."
    digest: String
  }

  type TrainingDataset {
    "Absolute path on the runner's machine, file:// or http(s):// URL."
    url: String!
    sha256: String!
  }

  type TrainingError {
    code: String!
    message: String!
    details: JSON
  }

  type TrainingAttempt {
    number: Int!
    runner: String!
    "running, succeeded, failed, cancelled, timed_out or lost (its lease ran out)"
    status: String!
    leaseExpiresAt: DateTime!
    startedAt: DateTime!
    finishedAt: DateTime
    error: TrainingError
  }

  type TrainingLogLine {
    seq: Int!
    attempt: Int!
    at: DateTime!
    "stdout or stderr"
    stream: String!
    line: String!
  }

  "Digests of what the job produced, in the artifact store."
  type TrainingArtifacts {
    model: String!
    profile: String
    trainerDigest: String!
  }

  type Sweep {
    method: SweepMethod!
    space: JSON!
    trials: Int!
    parallelism: Int!
    metric: String!
    goal: SweepGoal!
  }

  type TrainingJob {
    id: ID!
    model: String!
    status: TrainingJobStatus!
    trainer: Trainer!
    dataset: TrainingDataset!
    parameters: JSON!
    labels: [String!]!
    timeoutSeconds: Int!
    retries: Int!
    "Attempts started so far."
    attemptCount: Int!
    attempts: [TrainingAttempt!]!
    cancelRequested: Boolean!
    error: TrainingError
    "The newest value of each metric the trainer reported (metrics.json wins at the end)."
    metrics: [Metric!]!
    artifacts: TrainingArtifacts
    "The version this job registered (a sweep: its best trial's)."
    version: ModelVersion
    "The production version when the job was submitted: the one it retrains."
    parentVersion: Int
    "The sweep this job is a trial of."
    parent: TrainingJob
    trial: Int
    sweep: Sweep
    trials: [TrainingJob!]!
    bestTrial: TrainingJob
    "The data validation report: schema checks and drift against the production profile."
    validation: JSON
    drifted: Boolean!
    "Log lines after seq \`after\` (oldest first; the newest 10,000 are kept)."
    logs(after: Int, first: Int): [TrainingLogLine!]!
    createdAt: DateTime!
    createdBy: String!
    updatedAt: DateTime!
    startedAt: DateTime
    finishedAt: DateTime
  }

  type TrainingJobEdge {
    node: TrainingJob!
    cursor: String!
  }

  type TrainingJobConnection {
    edges: [TrainingJobEdge!]!
    pageInfo: PageInfo!
  }

  input TrainerInput {
    "argv: the executable and its arguments."
    command: [String!]
    "A built-in trainer: weather-mlp."
    builtin: String
    "sha256 the runner must find for the command's trainer file."
    digest: String
  }

  input TrainingDatasetInput {
    url: String!
    sha256: String!
  }

  input SweepInput {
    method: SweepMethod!
    "parameter → list of values; RANDOM also takes {min, max, log, integer}."
    space: JSON!
    "RANDOM: the number of draws (GRID: every combination)."
    trials: Int
    "Trials running at once (default 1)."
    parallelism: Int
    "The metric that picks the trial to register."
    metric: String!
    goal: SweepGoal!
    seed: Int
  }

  input SubmitTrainingJobInput {
    model: String!
    trainer: TrainerInput!
    "Default for the builtin: the dataset it ships with."
    dataset: TrainingDatasetInput
    parameters: JSON
    "Runners claim a job only when they have all of its labels."
    labels: [String!]
    "Default 3600."
    timeoutSeconds: Int
    "Attempts retried after a crash or a lost runner (default 0)."
    retries: Int
    sweep: SweepInput
  }

  input DataColumnInput {
    name: String!
    type: DataColumnType!
    min: Float
    max: Float
    categories: [String!]
    "Largest fraction of empty cells allowed (default 0)."
    maxMissingRate: Float
  }

  input DataSchemaInput {
    columns: [DataColumnInput!]!
    "PSI above which a feature counts as drifted against the production profile (default 0.2)."
    driftPsi: Float
  }

  type DataColumn {
    name: String!
    type: DataColumnType!
    min: Float
    max: Float
    categories: [String!]
    maxMissingRate: Float!
  }

  type DataSchema {
    columns: [DataColumn!]!
    driftPsi: Float!
  }

  "What a runner needs to run a claimed attempt."
  type TrainingClaim {
    job: TrainingJob!
    attempt: Int!
    leaseSeconds: Int!
    leaseExpiresAt: DateTime!
    dataSchema: DataSchema
    production: ProductionReference
  }

  type ProductionReference {
    version: Int!
    signature: TensorSignature!
    "Its drift reference profile (JSON), when it has one."
    profile: JSON
  }

  type TrainingLease {
    cancelRequested: Boolean!
    leaseExpiresAt: DateTime!
  }

  input ClaimTrainingJobInput {
    "The runner's name, recorded on the attempt."
    runner: String!
    labels: [String!]
    "The runner's region: jobs of a model restricted to regions go only to runners in one of them."
    region: String
  }

  input TrainingAttemptInput {
    jobId: ID!
    attempt: Int!
  }

  input TrainingLogLineInput {
    stream: String!
    line: String!
  }

  input ReportTrainingProgressInput {
    jobId: ID!
    attempt: Int!
    lines: [TrainingLogLineInput!]
    metrics: [MetricInput!]
    validation: JSON
    drifted: Boolean
  }

  input TrainingErrorInput {
    code: String
    message: String
    details: JSON
  }

  input FinishTrainingAttemptInput {
    jobId: ID!
    attempt: Int!
    outcome: TrainingOutcome!
    error: TrainingErrorInput
    metrics: [MetricInput!]
    "model.onnx (multipart), on success."
    model: File
    "The drift reference profile computed from the training data (multipart)."
    profile: File
    "The sha256 of the trainer's file, or the builtin's digest."
    trainerDigest: String
  }

  type TrainingProgress {
    cancelRequested: Boolean!
  }

  "A job's state, then each change, with the log lines added since the previous event."
  type TrainingJobEvent {
    job: TrainingJob!
    logs: [TrainingLogLine!]!
  }

  extend type Query {
    "Newest first."
    trainingJobs(model: String, status: TrainingJobStatus, first: Int, after: String): TrainingJobConnection!
    trainingJob(id: ID!): TrainingJob
    dataSchema(model: String!): DataSchema
  }

  extend type Mutation {
    submitTrainingJob(input: SubmitTrainingJobInput!): TrainingJob!
    cancelTrainingJob(id: ID!): TrainingJob!
    retryTrainingJob(id: ID!): TrainingJob!
    "Declare the columns a model's training data must have; runners check datasets against it before training."
    setDataSchema(model: String!, schema: DataSchemaInput!): DataSchema!
    "Runners: the oldest queued job whose labels this runner has, under a lease; null when none."
    claimTrainingJob(input: ClaimTrainingJobInput!): TrainingClaim
    "Runners: extend the lease; says whether a cancel was asked."
    renewTrainingLease(input: TrainingAttemptInput!): TrainingLease!
    reportTrainingProgress(input: ReportTrainingProgressInput!): TrainingProgress!
    finishTrainingAttempt(input: FinishTrainingAttemptInput!): TrainingJob!
  }

  extend type Subscription {
    trainingJobChanged(id: ID!): TrainingJobEvent!
  }
`;
