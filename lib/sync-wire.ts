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
}

export interface WireDesiredState {
  revision: string;
  heartbeatIntervalSeconds: number;
  signingKey: { keyId: string; publicKeyPem: string };
  models: WireDesiredModel[];
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
}

/** The GraphQL selection of a desired state, which the gateway asks for. */
export const DESIRED_STATE_FIELDS = `revision heartbeatIntervalSeconds signingKey { keyId publicKeyPem }
  models { name routes { version weight } aliases { name version }
    versions { version sha256 size signature keyId downloadUrl statement statementSignature files { name sha256 size downloadUrl } } }`;
