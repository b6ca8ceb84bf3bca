// The registry's Ed25519 key. It signs a fixed message naming an artifact's SHA-256, so a gateway
// that trusts the public key can check both that the bytes are the ones registered (digest) and
// that this registry registered them (signature), before it loads anything.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { KekProvider } from './artifact-crypto.js';
import { dirname } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import { artifactSignedMessage, preAuthEncoding, STATEMENT_PAYLOAD_TYPE, versionStatement, type VersionFacts } from '../../lib/artifact-signature.js';
import { signKeyRotation } from '../../lib/registry-key-chain.js';
import { toStoreError, type Store, type Tx } from '../store/db.js';

/** The one row of `registry_keys` (0010_artifact_blobs). */
const SHARED_KEY_ROW = 'registry';

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
  /** The key file (rotation replaces it; with a KEK the key lives in `<file>.enc`). */
  file = '';
  /** The KEK the key is sealed with (issue 18), if any. */
  kek: KekProvider | undefined;
  /** Set when the key lives in the database (sealed under `kek`), shared by every replica. */
  shared: Store | undefined;

  private constructor(private privateKey: KeyObject) {
    const pub = createPublicKey(privateKey);
    this.publicKeyPem = pub.export({ type: 'spki', format: 'pem' }).toString();
    this.keyId = createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
  }

  /** The private key, for re-signing at start (services/key-rotation.ts). */
  get signingKey(): KeyObject {
    return this.privateKey;
  }

  /** Load the key (sealed under `kek` when given) and its rotation chain. */
  static async open(file: string, kek?: KekProvider): Promise<RegistryKey> {
    const key = kek ? await RegistryKey.loadOrCreateSealed(file, kek) : RegistryKey.loadOrCreate(file);
    key.file = file;
    key.kek = kek;
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

  /**
   * The key every replica on this database signs with (issue 19): one `registry_keys` row, the
   * PKCS#8 PEM sealed under `kek`, and the rotation chain. At the first start on the database the
   * row is made from this replica's key file when it has one (`importFile`, sealed or plain, with its
   * chain), else from a new key; replicas starting together agree on the first row written.
   */
  static async openShared(store: Store, kek: KekProvider, importFile: string): Promise<RegistryKey> {
    let row = await readSharedRow(store);
    if (!row) {
      const local = existsSync(`${importFile}.enc`) || existsSync(importFile) ? await RegistryKey.open(importFile, kek) : undefined;
      const privateKey = local?.privateKey ?? generateKeyPairSync('ed25519').privateKey;
      const candidate = new RegistryKey(privateKey);
      await store.db
        .insertInto('registry_keys')
        .values({
          id: SHARED_KEY_ROW,
          key_id: candidate.keyId,
          sealed: await sealedKeyFile(kek, Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }))),
          chain: JSON.stringify(local?.chain ?? []),
          updated_at: new Date().toISOString(),
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute()
        .catch((err: unknown) => {
          throw toStoreError(err, 'could not store the registry signing key');
        });
      row = await readSharedRow(store);
      if (!row) throw new SluiceError('SLUICE_E_STORE_FAILED', 'the registry signing key row is missing right after it was written');
    }
    const key = await RegistryKey.fromSharedRow(row, kek);
    key.kek = kek;
    key.shared = store;
    return key;
  }

  private static async fromSharedRow(row: { sealed: string; chain: string }, kek: KekProvider): Promise<RegistryKey> {
    const stored = JSON.parse(row.sealed) as { kek: string; wrapped: string };
    if (stored.kek !== kek.keyId) throw new SluiceError('SLUICE_E_KEK_INVALID', `the registry signing key in the database is wrapped by KEK ${stored.kek}, not the configured ${kek.keyId}`);
    const key = new RegistryKey(createPrivateKey(await kek.unwrap(Buffer.from(stored.wrapped, 'base64'))));
    key.chain = JSON.parse(row.chain) as string[];
    return key;
  }

  /**
   * A shared key rotated by another replica: take the new key and chain from the database (after a
   * change notification), so this replica signs with it too. Returns whether the key changed.
   */
  async refresh(): Promise<boolean> {
    if (!this.shared || !this.kek) return false;
    const row = await readSharedRow(this.shared);
    if (!row || row.key_id === this.keyId) return false;
    const next = await RegistryKey.fromSharedRow(row, this.kek);
    this.privateKey = next.privateKey;
    this.publicKeyPem = next.publicKeyPem;
    this.keyId = next.keyId;
    this.chain = next.chain;
    return true;
  }

  /** Re-wrap the database's key row from the KEK `from` to `to` (sluice keys rotate-kek). */
  static async rewrapShared(store: Store, from: KekProvider, to: KekProvider): Promise<boolean> {
    const row = await readSharedRow(store);
    if (!row) return false;
    const stored = JSON.parse(row.sealed) as { kek: string; wrapped: string };
    if (stored.kek === to.keyId) return false;
    if (stored.kek !== from.keyId) throw new SluiceError('SLUICE_E_KEK_INVALID', `the registry signing key in the database is wrapped by KEK ${stored.kek}; give that KEK as the old one`);
    const pem = await from.unwrap(Buffer.from(stored.wrapped, 'base64'));
    await store.db.updateTable('registry_keys').set({ sealed: await sealedKeyFile(to, pem), updated_at: new Date().toISOString() }).where('id', '=', SHARED_KEY_ROW).execute();
    return true;
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
   * the old private key is gone from disk; its public key lives on in the chain. A shared key is
   * written to its database row in `tx` instead (the rotation's transaction).
   */
  async persistRotation(prepared: PreparedRotation, tx?: Tx): Promise<void> {
    if (this.shared && this.kek) {
      const pem = Buffer.from(prepared.next.export({ type: 'pkcs8', format: 'pem' }));
      await (tx ?? this.shared.db)
        .updateTable('registry_keys')
        .set({ key_id: prepared.keyId, sealed: await sealedKeyFile(this.kek, pem), chain: JSON.stringify([...this.chain, prepared.rotation]), updated_at: new Date().toISOString() })
        .where('id', '=', SHARED_KEY_ROW)
        .execute();
      return;
    }
    if (this.file === '') throw new SluiceError('SLUICE_E_INTERNAL', 'the registry key was not opened from a file');
    const chainTmp = `${this.file}.chain.json.tmp-${process.pid}`;
    writeFileSync(chainTmp, `${JSON.stringify([...this.chain, prepared.rotation], null, 2)}\n`, { mode: 0o644 });
    const pem = prepared.next.export({ type: 'pkcs8', format: 'pem' });
    // With a KEK the new key is sealed like the first one (loadOrCreateSealed), never written in the clear.
    const target = this.kek ? `${this.file}.enc` : this.file;
    const content = this.kek ? await sealedKeyFile(this.kek, Buffer.from(pem)) : pem;
    const keyTmp = `${target}.tmp-${process.pid}`;
    writeFileSync(keyTmp, content, { mode: 0o600 });
    renameSync(chainTmp, `${this.file}.chain.json`);
    renameSync(keyTmp, target);
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
    writeFileSync(sealed, await sealedKeyFile(kek, pem), { mode: 0o600, flag: 'wx' });
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
    writeFileSync(tmp, await sealedKeyFile(to, pem), { mode: 0o600 });
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

async function readSharedRow(store: Store): Promise<{ key_id: string; sealed: string; chain: string } | undefined> {
  return store.db
    .selectFrom('registry_keys')
    .select(['key_id', 'sealed', 'chain'])
    .where('id', '=', SHARED_KEY_ROW)
    .executeTakeFirst()
    .catch((err: unknown) => {
      throw toStoreError(err, 'could not read the registry signing key');
    });
}

/** The content of a sealed key file: the PEM wrapped by `kek`, and which KEK that is. */
async function sealedKeyFile(kek: KekProvider, pem: Buffer): Promise<string> {
  return `${JSON.stringify({ kek: kek.keyId, wrapped: (await kek.wrap(pem)).toString('base64') })}\n`;
}
