// The registry's Ed25519 key. It signs a fixed message naming an artifact's SHA-256, so a gateway
// that trusts the public key can check both that the bytes are the ones registered (digest) and
// that this registry registered them (signature), before it loads anything.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { KekProvider } from './artifact-crypto.js';
import { dirname } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import { artifactSignedMessage, preAuthEncoding, STATEMENT_PAYLOAD_TYPE, versionStatement, type VersionFacts } from '../../lib/artifact-signature.js';

export class RegistryKey {
  readonly publicKeyPem: string;
  /** First 16 hex digits of the SHA-256 of the public key (SPKI DER): names the key in desired states. */
  readonly keyId: string;

  private constructor(private readonly privateKey: KeyObject) {
    const pub = createPublicKey(privateKey);
    this.publicKeyPem = pub.export({ type: 'spki', format: 'pem' }).toString();
    this.keyId = createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
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

  /**
   * With a KEK (issue 18): the key is kept only as `<file>.enc` (0600), its PKCS#8 PEM wrapped by the
   * KEK. A plaintext `<file>` from before is sealed into `<file>.enc` and removed; absent both, a new
   * key is made and sealed.
   */
  static async loadOrCreateSealed(file: string, kek: KekProvider): Promise<RegistryKey> {
    const sealed = `${file}.enc`;
    if (existsSync(sealed)) {
      const stored = JSON.parse(readFileSync(sealed, 'utf8')) as { kek: string; wrapped: string };
      if (stored.kek !== kek.keyId) throw new SluiceError('SLUICE_E_KEK_INVALID', `registry signing key ${sealed} is wrapped by KEK ${stored.kek}, not the configured ${kek.keyId}`);
      const pem = await kek.unwrap(Buffer.from(stored.wrapped, 'base64'));
      return new RegistryKey(createPrivateKey(pem));
    }
    const key = existsSync(file) ? RegistryKey.loadOrCreate(file).privateKey : generateKeyPairSync('ed25519').privateKey;
    const pem = Buffer.from(key.export({ type: 'pkcs8', format: 'pem' }));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(sealed, `${JSON.stringify({ kek: kek.keyId, wrapped: (await kek.wrap(pem)).toString('base64') })}\n`, { mode: 0o600, flag: 'wx' });
    rmSync(file, { force: true });
    return new RegistryKey(key);
  }

  /** Re-wrap `<file>.enc` from the KEK `from` to `to` (sluice keys rotate-kek). */
  static async rewrapSealed(file: string, from: KekProvider, to: KekProvider): Promise<boolean> {
    const sealed = `${file}.enc`;
    if (!existsSync(sealed)) return false;
    const stored = JSON.parse(readFileSync(sealed, 'utf8')) as { kek: string; wrapped: string };
    if (stored.kek === to.keyId) return false;
    const pem = await from.unwrap(Buffer.from(stored.wrapped, 'base64'));
    const tmp = `${sealed}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ kek: to.keyId, wrapped: (await to.wrap(pem)).toString('base64') })}\n`, { mode: 0o600 });
    renameSync(tmp, sealed);
    return true;
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
