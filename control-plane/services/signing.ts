// The registry's Ed25519 key. It signs a fixed message naming an artifact's SHA-256, so a gateway
// that trusts the public key can check both that the bytes are the ones registered (digest) and
// that this registry registered them (signature), before it loads anything.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import { artifactSignedMessage, preAuthEncoding, STATEMENT_PAYLOAD_TYPE, versionStatement, type VersionFacts } from '../../lib/artifact-signature.js';
import { signKeyRotation } from '../../lib/registry-key-chain.js';

/** A rotation made but not yet in force: the new key and the statement the old key signed for it. */
export interface PreparedRotation {
  next: KeyObject;
  keyId: string;
  publicKeyPem: string;
  rotation: string;
}

export class RegistryKey {
  publicKeyPem: string;
  /** First 16 hex digits of the SHA-256 of the public key (SPKI DER): names the key in desired states. */
  keyId: string;
  /** The rotations since the registry's first key (compact JWS, oldest first), from `<key file>.chain.json`. */
  chain: string[] = [];
  /** The key file (rotation replaces it). */
  file = '';

  private constructor(private privateKey: KeyObject) {
    const pub = createPublicKey(privateKey);
    this.publicKeyPem = pub.export({ type: 'spki', format: 'pem' }).toString();
    this.keyId = createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
  }

  /** The private key, for re-signing at start (services/key-rotation.ts). */
  get signingKey(): KeyObject {
    return this.privateKey;
  }

  /** Load the key and its rotation chain. */
  static open(file: string): RegistryKey {
    const key = RegistryKey.loadOrCreate(file);
    key.file = file;
    const chainFile = `${file}.chain.json`;
    if (existsSync(chainFile)) {
      try {
        const chain = JSON.parse(readFileSync(chainFile, 'utf8')) as unknown;
        if (!Array.isArray(chain) || !chain.every((c) => typeof c === 'string')) throw new Error('not an array of strings');
        key.chain = chain as string[];
      } catch (err) {
        throw new SluiceError('SLUICE_E_CONFIG_INVALID', `registry key chain ${chainFile} is unreadable`, { cause: err });
      }
    }
    return key;
  }

  /** A new Ed25519 key and the rotation statement this key signs for it; nothing changes yet. */
  async prepareRotation(overlapSeconds: number): Promise<PreparedRotation> {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pub = createPublicKey(privateKey);
    const publicKeyPem = pub.export({ type: 'spki', format: 'pem' }).toString();
    const keyId = createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
    const rotation = await signKeyRotation(this.privateKey, { keyId, publicKeyPem }, overlapSeconds);
    return { next: privateKey, keyId, publicKeyPem, rotation };
  }

  /** Sign with a prepared rotation's key from now on (in memory only: `persistRotation` writes it). */
  commitRotation(prepared: PreparedRotation): void {
    this.privateKey = prepared.next;
    this.publicKeyPem = prepared.publicKeyPem;
    this.keyId = prepared.keyId;
    this.chain = [...this.chain, prepared.rotation];
  }

  /**
   * Write the key file and the chain (each to a temporary file renamed into place, the key 0600):
   * the old private key is gone from disk; its public key lives on in the chain.
   */
  persistRotation(prepared: PreparedRotation): void {
    if (this.file === '') throw new SluiceError('SLUICE_E_INTERNAL', 'the registry key was not opened from a file');
    const chainTmp = `${this.file}.chain.json.tmp-${process.pid}`;
    writeFileSync(chainTmp, `${JSON.stringify([...this.chain, prepared.rotation], null, 2)}\n`, { mode: 0o644 });
    const keyTmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(keyTmp, prepared.next.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    renameSync(chainTmp, `${this.file}.chain.json`);
    renameSync(keyTmp, this.file);
  }

  /** Load the PKCS#8 PEM at `file`, or create it (mode 0600) at first start. */
  static loadOrCreate(file: string): RegistryKey {
    if (existsSync(file)) {
      try {
        const key = createPrivateKey(readFileSync(file));
        if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${key.asymmetricKeyType}`);
        return new RegistryKey(key);
      } catch (err) {
        throw new SluiceError('SLUICE_E_CONFIG_INVALID', `registry signing key ${file} is not an Ed25519 private key`, { cause: err });
      }
    }
    const { privateKey } = generateKeyPairSync('ed25519');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    return new RegistryKey(privateKey);
  }

  signArtifact(sha256: string): string {
    return sign(null, artifactSignedMessage(sha256), this.privateKey).toString('base64');
  }

  /** The version statement (base64 JSON payload) and its signature (base64), naming this key. */
  signVersion(facts: Omit<VersionFacts, 'registryKey'>): { statement: string; signature: string } {
    const payload = Buffer.from(JSON.stringify(versionStatement({ ...facts, registryKey: this.keyId })));
    return { statement: payload.toString('base64'), signature: sign(null, preAuthEncoding(STATEMENT_PAYLOAD_TYPE, payload), this.privateKey).toString('base64') };
  }
}
