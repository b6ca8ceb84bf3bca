// The artifact signature format shared by the registry (which signs) and gateways (which verify):
// Ed25519 over a fixed, versioned message naming the artifact's SHA-256.
import { createPublicKey, verify } from 'node:crypto';

/** The bytes that are signed for an artifact: versioned so the format can change without ambiguity. */
export function artifactSignedMessage(sha256: string): Buffer {
  return Buffer.from(`sluice-artifact-v1:sha256:${sha256}`);
}

/** For gateways: true when `signature` (base64) is the registry's signature of the artifact `sha256`. */
export function verifyArtifactSignature(publicKeyPem: string, sha256: string, signature: string): boolean {
  try {
    return verify(null, artifactSignedMessage(sha256), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
