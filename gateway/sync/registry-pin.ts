// The registry key a gateway trusts, kept on disk so that a restart does not trust again on first
// use. The pin starts from `--registry-key` (a PEM file the operator got from the control plane),
// else from the pin file, else from the first desired state (trust on first use, then persisted).
// A desired state signed by another key is accepted only through the rotation chain it carries
// (lib/registry-key-chain.ts): then the new key is pinned, and the keys passed on the way stay
// trusted until their overlap ends, so cached versions signed by them still load meanwhile.
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import { followKeyChain, registryKeyId, type RegistryPublicKey, type TrustedKey } from '../../lib/registry-key-chain.js';

export const PIN_FILE = '.registry-key.json';

interface PinFile {
  /** The pinned (current) key, then the older keys still inside their overlap. */
  keys: TrustedKey[];
  pinnedAt: string;
}

export class RegistryPin {
  #keys: TrustedKey[] = [];
  /** The pin file holds #keys. */
  #persisted = false;

  private constructor(
    private readonly file: string,
    /** `--registry-key`: the chain must lead from this key, whatever the pin file says. */
    private readonly configured: RegistryPublicKey | undefined,
  ) {}

  /**
   * The pin at start: the configured key (and what the pin file says, when its chain started at
   * that key), else the pin file, else none yet.
   */
  static load(file: string, configuredPem?: string): RegistryPin {
    let configured: RegistryPublicKey | undefined;
    if (configuredPem !== undefined) {
      try {
        configured = { keyId: registryKeyId(configuredPem), publicKeyPem: configuredPem };
      } catch (err) {
        throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'the registry key given to the gateway is not a PEM public key', { cause: err, details: { flag: 'registry-key' } });
      }
    }
    const pin = new RegistryPin(file, configured);
    const stored = pin.#read();
    const keep = configured === undefined || stored.some((k) => k.keyId === configured.keyId);
    pin.#keys = keep ? stored : [configured!];
    pin.#persisted = keep;
    return pin;
  }

  /** The keys statements are checked with: the pinned one first. Empty before the first pin. */
  get keys(): readonly TrustedKey[] {
    return this.#keys;
  }

  get pinned(): RegistryPublicKey | undefined {
    return this.#keys[0];
  }

  /**
   * Accept the key of a desired state: the pinned key, a key the chain leads to from it (re-pinned
   * and persisted), or, with no pin yet, the first key seen (pinned and persisted). Throws
   * SLUICE_E_REGISTRY_KEY_UNTRUSTED otherwise.
   */
  async accept(current: RegistryPublicKey, chain: readonly string[], now = new Date()): Promise<boolean> {
    let id: string;
    try {
      id = registryKeyId(current.publicKeyPem);
    } catch (err) {
      throw new SluiceError('SLUICE_E_REGISTRY_KEY_UNTRUSTED', `the registry key ${current.keyId} is not a PEM public key`, { cause: err });
    }
    if (id !== current.keyId) throw new SluiceError('SLUICE_E_REGISTRY_KEY_UNTRUSTED', `the registry key ${current.keyId} does not match its own public key`);
    const pinned = this.pinned;
    if (pinned?.keyId === id) {
      if (!this.#persisted) this.#write();
      return false;
    }
    if (pinned === undefined) {
      this.#keys = [{ ...current }];
    } else {
      const path = await followKeyChain(pinned, chain, current);
      const stillInOverlap = [...path.slice(0, -1), ...this.#keys.slice(1)].filter((k) => k.until !== undefined && Date.parse(k.until) > now.getTime());
      this.#keys = [path[path.length - 1]!, ...dedupe(stillInOverlap)];
    }
    this.#write();
    return true;
  }

  #read(): TrustedKey[] {
    if (!existsSync(this.file)) return [];
    try {
      const pin = JSON.parse(readFileSync(this.file, 'utf8')) as PinFile;
      if (!Array.isArray(pin.keys) || pin.keys.length === 0) throw new Error('no keys');
      for (const k of pin.keys) if (registryKeyId(k.publicKeyPem) !== k.keyId) throw new Error(`key ${k.keyId} does not match its PEM`);
      return pin.keys;
    } catch (err) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', `the registry key pin ${this.file} is unreadable; remove it only if you trust the control plane's current key`, { cause: err });
    }
  }

  #write(): void {
    const body: PinFile = { keys: this.#keys, pinnedAt: new Date().toISOString() };
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o644 });
    renameSync(tmp, this.file);
    this.#persisted = true;
  }
}

function dedupe(keys: TrustedKey[]): TrustedKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => !seen.has(k.keyId) && seen.add(k.keyId));
}
