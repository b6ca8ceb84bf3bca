// The hook where calls complete, for the payload log (gateway/payload-log): the inference service
// asks the tap to capture a call of a version whose config has `payload_log` before the call's
// inputs move to the worker, then hands it the answer or the error. The tap decides the sample and
// does its work off the hot path; a call of a model without `payload_log` costs one field check.
import type { SluiceError } from '../../lib/errors.js';
import type { LoadedVersion } from '../models/loaded-version.js';
import type { InferenceRequest, InferenceResponse } from './request.js';

export interface PayloadTap<Captured = unknown> {
  /** A captured copy of the call when it is sampled, else undefined. Must not keep the request's buffers. */
  capture(version: LoadedVersion, request: InferenceRequest): Captured | undefined;
  answered(captured: Captured, response: InferenceResponse, ms: number): void;
  failed(captured: Captured, error: SluiceError, ms: number): void;
}
