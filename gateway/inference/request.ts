// An inference call and its answer as the transports hand them over: decoded, transport-free.
import type { CancelSignal } from '../util/cancel-signal.js';
import type { Tensor } from '../models/tensors.js';
import type { CallTrace } from '../tracing/tracing.js';

export interface RequestedOutput {
  name: string;
  /** Answer this output as raw bytes (binary extension) instead of JSON data. */
  binary?: boolean | undefined;
}

export interface InferenceRequest {
  model: string;
  /** `versions/{v}` in the URL: bypasses the routing table. */
  version?: string | undefined;
  id?: string | undefined;
  inputs: Tensor[];
  /** Outputs to return; all when undefined. */
  outputs?: RequestedOutput[] | undefined;
  /** Request-level `binary_data_output`: the default for outputs that do not say. */
  binaryOutput?: boolean | undefined;
  /** Request `parameters`; Sluice reads `priority` and `timeout_us`. */
  parameters?: Record<string, unknown> | undefined;
  /** Aborted when the client goes away: a queued call is dropped before it runs. An AbortSignal fits. */
  signal?: CancelSignal | undefined;
  /**
   * `version` was the routing table's pick (a raw or image body is decoded for the version it goes
   * to), not the caller's: the call follows the routing again if that version leaves meanwhile, and
   * it is part of a rollout's mirrored sample.
   */
  routedVersion?: boolean | undefined;
  /** The `sluice-route-key` header: pins the caller to one arm of a sticky (A/B) rollout. */
  routeKey?: string | undefined;
  /** The `sluice-preview` header was sent: the call goes to the active rollout's candidate. */
  preview?: boolean | undefined;
  /** performance.now() when the transport received the call (latency metric); defaults to now. */
  receivedAt?: number | undefined;
  /** The call's trace when tracing is on (gateway/tracing): stages stamp their times on it. */
  trace?: CallTrace | undefined;
}

export interface OutputTensor extends Tensor {
  binary: boolean;
}

export interface InferenceResponse {
  model: string;
  version: string;
  id?: string | undefined;
  outputs: OutputTensor[];
}
