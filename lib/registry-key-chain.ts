// Registry key rotation, shared by the control plane (which signs a rotation) and gateways (which
// follow it). A rotation statement is a compact JWS (EdDSA, via jose) signed by the OLD key whose
// payload names the old key id, the new public key and the end of the overlap: the time until which
// statements signed by the old key are still accepted. The chain is the list of rotations since the
// registry's first key, oldest first; a gateway that pinned any key of the chain reaches the current
// key by verifying each link with the key before it, and refuses a key no link leads to.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify } from 'jose';
import { SluiceError } from './errors.js';

export const ROTATION_TYPE = 'sluice-registry-key-rotation+jws';

export interface RegistryPublicKey {
  keyId: string;
  publicKeyPem: string;
}

export interface KeyRotation {
  previousKeyId: string;
  next: RegistryPublicKey;
  rotatedAt: string;
  /** Statements signed by the previous key are accepted until then (ISO time). */
  overlapUntil: string;
}

/** First 16 hex digits of the SHA-256 of the public key (SPKI DER): how desired states name a key. */
export function registryKeyId(publicKey: string | KeyObject): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The rotation from `previous` (its private key signs) to `next`, as a compact JWS. */
export async function signKeyRotation(previous: KeyObject, next: RegistryPublicKey, overlapSeconds: number, now = new Date()): Promise<string> {
  const rotation: KeyRotation = {
    previousKeyId: registryKeyId(createPublicKey(previous)),
    next: { keyId: registryKeyId(next.publicKeyPem), publicKeyPem: next.publicKeyPem },
    rotatedAt: now.toISOString(),
    overlapUntil: new Date(now.getTime() + overlapSeconds * 1000).toISOString(),
  };
  return new CompactSign(Buffer.from(JSON.stringify(rotation)))
    .setProtectedHeader({ alg: 'EdDSA', typ: ROTATION_TYPE, kid: rotation.previousKeyId })
    .sign(previous);
}

/** A key the gateway accepts statements from, until `until` (undefined: the current key, no end). */
export interface TrustedKey extends RegistryPublicKey {
  until?: string | undefined;
}

/**
 * Follow `chain` from the pinned key to `current`. Returns the keys passed on the way (the pin's
 * and every intermediate one with the end of its overlap) then the current key; throws
 * SLUICE_E_REGISTRY_KEY_UNTRUSTED when no verified link leads from the pin to `current`.
 */
export async function followKeyChain(pinned: RegistryPublicKey, chain: readonly string[], current: RegistryPublicKey): Promise<TrustedKey[]> {
  if (registryKeyId(current.publicKeyPem) !== current.keyId) {
    throw new SluiceError('SLUICE_E_REGISTRY_KEY_UNTRUSTED', `the registry key ${current.keyId} does not match its own public key`);
  }
  if (pinned.keyId === current.keyId) return [{ ...current }];
  const passed: TrustedKey[] = [];
  let at: RegistryPublicKey = pinned;
  for (const jws of chain) {
    let rotation: KeyRotation;
    try {
      const header = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: unknown; typ?: unknown };
      if (header.kid !== at.keyId) continue; // a link before the pin, or of another branch
      const { payload, protectedHeader } = await compactVerify(jws, createPublicKey(at.publicKeyPem), { algorithms: ['EdDSA'] });
      if (protectedHeader.typ !== ROTATION_TYPE) continue;
      rotation = JSON.parse(Buffer.from(payload).toString('utf8')) as KeyRotation;
    } catch {
      continue; // a link that does not verify with the key we are at leads nowhere
    }
    if (rotation.previousKeyId !== at.keyId || registryKeyId(rotation.next.publicKeyPem) !== rotation.next.keyId) continue;
    passed.push({ ...at, until: rotation.overlapUntil });
    at = rotation.next;
    if (at.keyId === current.keyId) return [...passed, { ...current }];
  }
  throw new SluiceError('SLUICE_E_REGISTRY_KEY_UNTRUSTED', `the registry key ${current.keyId} is not reached from the pinned key ${pinned.keyId} by a chain of rotations signed by each previous key`);
}
