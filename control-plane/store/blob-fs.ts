// The filesystem blob driver, the embedded default: `<dir>/sha256/<first 2 hex>/<sha256>`, with the
// wrapped data key in `<file>.key` when encrypted, and `<dir>/tmp` for staging (same filesystem, so
// placing a staged file is a rename and a reader never sees a partial artifact).
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SluiceError } from '../../lib/errors.js';
import type { BlobInfo, BlobStore, WrappedKey } from './blob-store.js';

const SHA256 = /^[0-9a-f]{64}$/;

export class FsBlobStore implements BlobStore {
  readonly kind = 'fs' as const;
  readonly tmpDir: string;

  constructor(
    readonly dir: string,
    /** Plaintext size of an encrypted file of N stored bytes (artifact-crypto's `plaintextSize`). */
    private readonly plaintextSize: (storedBytes: number) => number,
  ) {
    this.tmpDir = join(dir, 'tmp');
    mkdirSync(this.tmpDir, { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new SluiceError('SLUICE_E_VALIDATION', 'not a sha256 digest', { details: { sha256 } });
    return join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  async place(sha256: string, file: string, _size: number, key: WrappedKey | undefined): Promise<string> {
    const path = this.pathOf(sha256);
    mkdirSync(join(this.dir, 'sha256', sha256.slice(0, 2)), { recursive: true });
    try {
      if (existsSync(path) && existsSync(`${path}.key`) === (key !== undefined)) {
        rmSync(file, { force: true });
        return path;
      }
      // New, or plaintext from before encryption: the staged file takes the place, its key file first.
      if (key) writeKeyFile(path, key);
      renameSync(file, path);
    } catch (err) {
      rmSync(file, { force: true });
      throw storeFailed(err as Error);
    }
    return path;
  }

  async info(sha256: string): Promise<BlobInfo | undefined> {
    const path = this.pathOf(sha256);
    const stored = statSync(path, { throwIfNoEntry: false })?.size;
    if (stored === undefined) return undefined;
    const key = readKeyFile(path);
    return { size: key ? this.plaintextSize(stored) : stored, key };
  }

  async read(sha256: string): Promise<Readable | undefined> {
    const path = this.pathOf(sha256);
    return existsSync(path) ? createReadStream(path) : undefined;
  }

  async setKey(sha256: string, key: WrappedKey): Promise<void> {
    writeKeyFile(this.pathOf(sha256), key);
  }

  async *list(): AsyncIterable<string> {
    const root = join(this.dir, 'sha256');
    for (const prefix of existsSync(root) ? readdirSync(root) : []) {
      for (const name of readdirSync(join(root, prefix))) if (SHA256.test(name)) yield name;
    }
  }
}

function readKeyFile(path: string): WrappedKey | undefined {
  let text: string;
  try {
    text = readFileSync(`${path}.key`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storeFailed(err as Error);
  }
  return JSON.parse(text) as WrappedKey;
}

/** Write `<path>.key` (0600) by rename, so a reader sees the old key file or the new one. */
function writeKeyFile(path: string, wrapped: WrappedKey): void {
  const tmp = `${path}.key.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(wrapped)}\n`, { mode: 0o600 });
  renameSync(tmp, `${path}.key`);
}

export function storeFailed(cause: Error): SluiceError {
  return new SluiceError('SLUICE_E_STORE_FAILED', `the artifact store could not write: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`, { cause });
}
