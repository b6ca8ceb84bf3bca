// What the registry (setAlias production) and the rollouts (start) ask before a version may be
// promoted. GateService implements it; the interface lives apart so that neither service imports
// the gates (which read the registry).
import type { CallContext } from './actor.js';

export interface PromotionRequest {
  model: string;
  version: number;
  /** The audit action asking, e.g. `rollout.start`, `alias.set`. */
  action: string;
  /** An admin's reason to promote a version whose gate failed (`gateOverride`). */
  override?: string | null | undefined;
}

export interface PromotionGate {
  /** Resolves when the version may be promoted; throws SLUICE_E_GATE_FAILED, _APPROVAL_REQUIRED or SLUICE_E_AUTH_FORBIDDEN. */
  admit(ctx: CallContext, request: PromotionRequest): Promise<void>;
}
