// Alerts (issue 16): rules over fleet-wide figures, the alerts they raise, webhook targets and
// their deliveries, fleet figures themselves. Names are part of the contract: alerts, alertRules,
// webhooks, fleetFigures, createAlertRule, updateAlertRule, deleteAlertRule, createWebhook,
// deleteWebhook, silenceAlert, unsilenceAlert.
export const alertTypeDefs = /* GraphQL */ `
  enum AlertState {
    "The condition holds, not yet for the rule's forSeconds."
    PENDING
    "The condition held for forSeconds; webhooks were told (unless silenced)."
    FIRING
    "The condition stopped holding after the alert fired."
    RESOLVED
  }

  enum AlertSeverity {
    INFO
    WARNING
    CRITICAL
  }

  enum WebhookKind {
    "A JSON body with the alert's fields and status."
    GENERIC
    "Slack's incoming-webhook body: text and blocks."
    SLACK
    "A PagerDuty Events v2 event: trigger and resolve, deduplicated by the alert's fingerprint."
    PAGERDUTY
  }

  enum WebhookDeliveryState {
    PENDING
    DELIVERED
    FAILED
  }

  type AlertRule {
    id: ID!
    name: String!
    model: String!
    "An alias (production), a version number, or * for every version with figures."
    versions: String!
    "drift_psi, accuracy, error_rate, latency_p99_ms, mae, attribution_shift, slice_error_rate or slice_error_disparity"
    metric: String!
    "drift_psi: a feature, or * for each feature; attribution_shift: a feature, * for each, or null for the whole shift; slice_error_rate: a slice, or * for each."
    feature: String
    "> or <"
    comparison: String!
    threshold: Float!
    "Fewest calls (error_rate, latency_p99_ms), feedback rows (accuracy, mae), explained rows (attribution_shift) or labelled rows per slice (slice_*) a figure needs."
    minCount: Int
    "Seconds of reported figures each evaluation looks at."
    windowSeconds: Int!
    "Seconds the condition must hold before the alert fires."
    forSeconds: Int!
    severity: AlertSeverity!
    "Webhook names."
    webhooks: [String!]!
    labels: [KeyValue!]!
    silencedUntil: DateTime
    silenceReason: String
    createdAt: DateTime!
    createdBy: String!
    updatedAt: DateTime!
  }

  input AlertRuleInput {
    name: String!
    model: String!
    "Default production."
    versions: String
    metric: String!
    feature: String
    comparison: String!
    threshold: Float!
    minCount: Int
    "Default 300, at most 3600 (traffic windows are kept an hour)."
    windowSeconds: Int
    "Default 0: fire at the first evaluation that sees the condition."
    forSeconds: Int
    "Default WARNING."
    severity: AlertSeverity
    webhooks: [String!]
    labels: [KeyValueInput!]
  }

  "Any field but the name; what is left out stays."
  input AlertRulePatch {
    model: String
    versions: String
    metric: String
    feature: String
    comparison: String
    threshold: Float
    minCount: Int
    windowSeconds: Int
    forSeconds: Int
    severity: AlertSeverity
    webhooks: [String!]
    labels: [KeyValueInput!]
  }

  type Alert {
    id: ID!
    "Rule, model, version and feature: one open alert per fingerprint; PagerDuty's dedup_key."
    fingerprint: String!
    ruleId: ID!
    rule: String!
    model: String!
    version: Int!
    metric: String!
    feature: String
    severity: AlertSeverity!
    state: AlertState!
    "The last evaluated figure."
    value: Float
    threshold: Float!
    activeSince: DateTime!
    firedAt: DateTime
    resolvedAt: DateTime
    "The later of the alert's and its rule's silences."
    silencedUntil: DateTime
    silenceReason: String
    "Webhook events of this alert, newest first."
    deliveries: [WebhookDelivery!]!
  }

  type AlertEdge {
    node: Alert!
    cursor: String!
  }

  type AlertConnection {
    edges: [AlertEdge!]!
    pageInfo: PageInfo!
  }

  type Webhook {
    id: ID!
    name: String!
    url: String!
    kind: WebhookKind!
    "Deliveries carry X-Sluice-Timestamp and X-Sluice-Signature (the secret is never shown)."
    signed: Boolean!
    createdAt: DateTime!
    createdBy: String!
    "Newest first."
    deliveries(last: Int): [WebhookDelivery!]!
  }

  input WebhookInput {
    name: String!
    "http:// or https://"
    url: String!
    "Default GENERIC."
    kind: WebhookKind
    "HMAC-SHA256 key (16-256 characters) of the X-Sluice-Signature header."
    secret: String
    "PAGERDUTY: the Events v2 integration's routing key."
    routingKey: String
  }

  type WebhookDelivery {
    id: ID!
    webhook: String!
    alertId: ID!
    "firing or resolved"
    event: String!
    state: WebhookDeliveryState!
    attempts: Int!
    nextAttemptAt: DateTime!
    "HTTP status of the last attempt (null: no answer)."
    lastStatus: Int
    lastError: String
    createdAt: DateTime!
    deliveredAt: DateTime
  }

  input SilenceInput {
    "An alert's id; or"
    alert: ID
    "a rule's name (its alerts, also later ones)."
    rule: String
    until: DateTime!
    reason: String!
  }

  input UnsilenceInput {
    alert: ID
    rule: String
  }

  type FleetDrift {
    feature: String!
    "Rows-weighted mean of each gateway's latest PSI in the range (below min_rows left out)."
    psi: Float!
    rows: Int!
    gateways: Int!
    "The worst level of those snapshots: ok, warn or alert."
    level: String!
  }

  "One version's figures summed over every gateway's windows received in the range (docs/alerts.md)."
  type FleetFigures {
    version: Int!
    gateways: Int!
    calls: Int!
    errors: Int!
    errorRate: Float
    "Upper bound of the latency bucket holding the 99th percentile."
    p99Ms: Float
    feedbackCount: Int!
    feedbackCorrect: Int!
    accuracy: Float
    mae: Float
    rmse: Float
    drift: [FleetDrift!]!
    "Attribution of sampled calls (issue 22); null when no gateway sent any."
    attribution: FleetAttribution
    "Outcome and error per slice of the version's slices column (issue 22)."
    slices: [FleetSlice!]!
  }

  type FleetAttribution {
    "Explained rows behind the figures, over the gateways' latest snapshots."
    rows: Int!
    gateways: Int!
    "Rows-weighted mean total variation distance of the attribution shares from the reference (0..1)."
    shift: Float
    features: [FleetAttributionFeature!]!
  }

  type FleetAttributionFeature {
    feature: String!
    "Rows-weighted mean of |share - reference share|."
    shift: Float!
  }

  type FleetSlice {
    slice: String!
    calls: Int!
    labelled: Int!
    "Classifiers: share predicted as the positive class; regressors: mean prediction."
    outcomeRate: Float
    "Classifiers: share of labelled rows predicted wrong; regressors: MAE."
    errorRate: Float
  }

  extend type Query {
    "Newest first."
    alerts(model: String, state: AlertState, first: Int, after: String): AlertConnection!
    alert(id: ID!): Alert
    alertRules(model: String): [AlertRule!]!
    webhooks: [Webhook!]!
    "Figures of each version of model over windows received in (from, to]; to defaults to now."
    fleetFigures(model: String!, from: DateTime!, to: DateTime): [FleetFigures!]!
  }

  extend type Mutation {
    createAlertRule(input: AlertRuleInput!): AlertRule!
    updateAlertRule(name: String!, patch: AlertRulePatch!): AlertRule!
    "Its open alerts resolve."
    deleteAlertRule(name: String!): Boolean!
    createWebhook(input: WebhookInput!): Webhook!
    "Refused while a rule sends to it."
    deleteWebhook(name: String!): Boolean!
    "Hold back notifications until the time given; the alerts' states are still tracked. Returns the alerts it covers now."
    silenceAlert(input: SilenceInput!): [Alert!]!
    unsilenceAlert(input: UnsilenceInput!): [Alert!]!
  }
`;
