// The wire types of gateway sync, as the control plane's GraphQL API presents them and the gateway
// reads them: the desired state in, what each gateway has loaded (or refused, and why) out.
import type { VersionFileName } from './artifact-signature.js';

export interface WireVersionFile {
  name: VersionFileName;
  sha256: string;
  size: number;
  /** GET with the gateway's bearer token. */
  downloadUrl: string;
}

export interface WireDesiredVersion {
  version: number;
  /** model.onnx's digest, size and artifact signature. */
  sha256: string;
  size: number;
  signature: string;
  keyId: string;
  downloadUrl: string;
  /** base64 in-toto statement naming model, version and the digest of every file below. */
  statement: string;
  /** base64 Ed25519 signature of the statement (DSSE pre-authentication encoding). */
  statementSignature: string;
  /** model.onnx, then config.json and profile.json when the version has them. */
  files: WireVersionFile[];
}

export interface WireDesiredModel {
  name: string;
  versions: WireDesiredVersion[];
  aliases: { name: string; version: number }[];
  routes: { version: number; weight: number }[];
  /** The model's active rollout, or null. */
  rollout: WireRolloutPlan | null;
}

export interface WireDesiredState {
  revision: string;
  heartbeatIntervalSeconds: number;
  /** How often a gateway sends its traffic windows (reportTraffic); shorter while a rollout is active. */
  trafficReportIntervalMs: number;
  signingKey: { keyId: string; publicKeyPem: string };
  /** Rotation statements (compact JWS, oldest first) from the registry's first key to signingKey (lib/registry-key-chain.ts). */
  signingKeyChain?: string[];
  models: WireDesiredModel[];
  /** Who may call the gateway (issue 17): the live tokens with gateway scopes. Null for callers that are not gateways. */
  access?: WireGatewayAccess | null;
  /**
   * The other live gateways (a heartbeat within three intervals) that advertise a URL, for feedback
   * that reaches a gateway other than the one that answered (docs/feedback.md). Null for callers that
   * are not gateways. Not part of the revision: it is applied on every arrival, polls included.
   */
  peers?: WirePeer[] | null;
}

/** Another gateway of the fleet, where its peers reach it. */
export interface WirePeer {
  name: string;
  /** Its --advertise-url (scheme://host:port). */
  url: string;
}

/** A live token as gateways check it: only the SHA-256 of its secret travels. */
export interface WireAccessToken {
  sha256: string;
  /** For logs and refusals (never the secret). */
  name: string;
  /** `infer:*`, `infer:<model>`, `metrics`, `repository`. */
  scopes: string[];
  /** Calls per second (token bucket), or null for the gateway's default. */
  rateLimit: number | null;
  rateBurst: number | null;
}

export interface WireGatewayAccess {
  tokens: WireAccessToken[];
}

export const LOAD_STATES = ['ready', 'loading', 'failed'] as const;
export type LoadState = (typeof LOAD_STATES)[number];

/** One model version as a gateway reports it in its heartbeat. */
export interface LoadedVersionReport {
  model: string;
  version: number;
  sha256: string | null;
  state: LoadState;
  /** Why a failed version was refused, whole. */
  reason?: string | null;
  /** The execution provider a ready version runs on (cpu, cuda): cpu after a CUDA fallback. */
  executionProvider?: string | null;
}

/** The GraphQL selection of a desired state, which the gateway asks for. */
export const DESIRED_STATE_FIELDS = `revision heartbeatIntervalSeconds trafficReportIntervalMs signingKey { keyId publicKeyPem } signingKeyChain
  models { name routes { version weight } aliases { name version }
    rollout { id strategy stable candidate sticky mirrorShare agreementTolerance }
    versions { version sha256 size signature keyId downloadUrl statement statementSignature files { name sha256 size downloadUrl } } }
  access { tokens { sha256 name scopes rateLimit rateBurst } }
  peers { name url }`;

// ---- Rollouts (issue 14): what the gateways act on, and what they measure for analysis. ----

export const ROLLOUT_STRATEGIES = ['CANARY', 'BLUE_GREEN', 'AB', 'SHADOW'] as const;
export type RolloutStrategy = (typeof ROLLOUT_STRATEGIES)[number];

/** The request header (or OIP request parameter of the same name) that pins an A/B caller to one arm. */
export const ROUTE_KEY_HEADER = 'sluice-route-key';
/** A call carrying this header (any value) is answered by the active rollout's candidate (blue-green preview). */
export const PREVIEW_HEADER = 'sluice-preview';

/**
 * A model's active rollout as every gateway applies it. The weights themselves are the model's
 * `routes`; the plan says how to pick among them and what else to run.
 * - CANARY: routes split stable/candidate; `mirrorShare` of each version's calls is also run on the
 *   other version after the answer is sent (answer discarded, agreement recorded).
 * - BLUE_GREEN: routes all on one version; the other stays loaded (preview before, rollback after).
 * - AB: routes split; `sticky` true: the pick is a stable hash of the route key, the same on every
 *   gateway (calls without a key are picked at random by weight).
 * - SHADOW: routes all on stable; `mirrorShare` of stable's calls is copied to the candidate.
 */
export interface WireRolloutPlan {
  id: string;
  strategy: RolloutStrategy;
  stable: number;
  candidate: number;
  sticky: boolean;
  /** 0..1: the share of calls copied to the other version of the rollout after the answer is sent. */
  mirrorShare: number;
  /**
   * Two answers agree when, for every output tensor, the argmax over each row's last dimension is
   * equal (outputs with a last dimension > 1, i.e. classifiers) or every element is within
   * `agreementTolerance` absolutely or relatively (regressors).
   */
  agreementTolerance: number;
}

/** Upper bounds (ms) of the latency histogram buckets every traffic window uses; one more bucket counts the rest. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000,
];

/** Copies of calls that this version ran for a rollout (shadow or canary mirror); the answer was discarded. */
export interface WireMirrorStats {
  calls: number;
  errors: number;
  /** Copies whose answer could be compared with the answer the client got (both succeeded). */
  compared: number;
  /** Of those, answers that agree under the plan's rule. */
  agreed: number;
  /** Per LATENCY_BUCKETS_MS (+1 overflow bucket) of the copies' latency. */
  latency: number[];
}

/**
 * One output feature's distribution in the window, binned on the rollout's reference: the stable
 * version's drift profile when it has the output feature (its PSI edges or categories), otherwise
 * `argmax:<tensor>` with one bin per class. Both versions of a rollout are binned the same way, so
 * the control plane compares them feature by feature (PSI).
 */
export interface WireOutputHistogram {
  feature: string;
  counts: number[];
}

/** What one gateway measured for one model version over [start, end). Windows with no calls are not sent. */
export interface WireTrafficWindow {
  model: string;
  version: number;
  /** The rollout the window was measured under (null when the model had none). */
  rolloutId: string | null;
  start: string;
  end: string;
  /** Client calls this version answered (not counting copies). */
  calls: number;
  /** Of those, failed ones: 5xx answers, runtime failures and deadlines passed (4xx caller errors are not counted). */
  errors: number;
  /**
   * Client calls refused at admission for room (503: full or late queue, no decode slot, version
   * unloading), in neither calls nor latency: overload, not the version's quality. Absent: 0 (older gateways).
   */
  refused?: number | null;
  /** Per LATENCY_BUCKETS_MS (+1 overflow bucket), of the client calls, received to answered. */
  latency: number[];
  mirrored: WireMirrorStats;
  outputs: WireOutputHistogram[];
  /** Ground truth joined in the window to answers this version gave (issue 16); absent or null: none. */
  feedback?: WireFeedbackStats | null;
  /** The gateway's drift monitor of this version at the window's end (issue 16); absent: no drift profile. */
  drift?: WireDriftSnapshot[] | null;
  /**
   * Bin counts of the drift monitor's window that `drift` scores (issue 23, the console's current
   * histogram); absent: no drift profile, or the window is too small to publish.
   */
  driftBins?: WireDriftBins[] | null;
  /** Attribution windows of sampled calls at the window's end (issue 22); absent: explain.sample_fraction off or nothing explained yet. */
  attribution?: WireAttributionSnapshot | null;
  /** Per-slice counts in the window (issue 22, config `slices`); absent: slices off or no rows. */
  slices?: WireSliceStats[] | null;
}

// ---- Ground truth and drift for alerts and the retraining loop (issue 16). ----

/**
 * Feedback (`POST /v2/models/{name}/feedback`, WebSocket frame `feedback`) joined in the window to
 * answers this version gave. One row of an answer is one item: a multi-row answer takes one label
 * (or value) per row.
 */
export interface WireFeedbackStats {
  /** Rows that got a label or value in the window. */
  count: number;
  /** Classifiers: of those, rows whose predicted class equals the label. */
  correct: number;
  /** Regressors: sums over the rows of |prediction − value| and (prediction − value)². 0 for classifiers. */
  absError: number;
  squaredError: number;
}

/** One input or output feature of a version's drift monitor (its current window, or the previous one when the current is still short). */
export interface WireDriftSnapshot {
  feature: string;
  /** Rows in the window the scores come from. */
  rows: number;
  /** PSI against the reference profile; null while the window is empty. */
  psi: number | null;
  /** ok / warn / alert against the version's thresholds; null below min_rows. */
  level: 'ok' | 'warn' | 'alert' | null;
}
/**
 * One feature's counts in a drift window on its profile's PSI bins: a numeric feature's `edges.length
 * + 1` bins (open outer bins), a categorical one's `categories.length + 1` (the last: any other
 * value). NaN values are not binned. The same bins as the profile's `proportions`, so the two draw
 * side by side and PSI can be recomputed from them.
 */
export interface WireDriftBins {
  feature: string;
  counts: number[];
}

/**
 * A version's attribution window (gateway/explain/attribution-windows.ts): the current one, else the
 * previous one while the current has no explained row. A snapshot (a state), not a count.
 */
export interface WireAttributionSnapshot {
  /** Rows explained in the window. */
  rows: number;
  /** Total variation distance of the attribution shares from the reference's, 0..1; null before the reference run. */
  shift: number | null;
  /** Per feature: its share of the mean |attribution| in the window and in the reference run. */
  features: { feature: string; share: number; referenceShare: number }[];
}

/**
 * One slice's counts in the window (gateway/feedback/slices.ts). Counts add across windows and
 * gateways: the error figure is errors / labelled (classifiers: the error rate; regressors: MAE).
 */
export interface WireSliceStats {
  slice: string;
  /** Rows answered. */
  calls: number;
  /** Classifiers: rows predicted as the positive class; regressors: the sum of the predictions. */
  outcome: number;
  /** Rows that got ground truth. */
  labelled: number;
  /** Classifiers: of those, rows predicted wrong; regressors: Σ |prediction − value|. */
  errors: number;
}

/**
 * GraphQL the gateway calls every `trafficReportIntervalMs` while it has windows to send:
 * `mutation($gateway: String!, $windows: [TrafficWindowInput!]!) { reportTraffic(gateway: $gateway, windows: $windows) }`
 * TrafficWindowInput has the fields of WireTrafficWindow (start/end DateTime, latency [Int!]!,
 * mirrored MirrorStatsInput!, outputs [OutputHistogramInput!]!); the answer is the count stored.
 */
export const REPORT_TRAFFIC_MUTATION = 'mutation($gateway: String!, $windows: [TrafficWindowInput!]!) { reportTraffic(gateway: $gateway, windows: $windows) }';
